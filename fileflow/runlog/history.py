"""Reading the run log's history: runs, jobs, which job made a path. Layer 3.

Read-only queries for the commands that look back (`runs`, `log`, `report`, the state
colours of `graph`). The SQL is plain and the same on SQLite and PostgreSQL: a SQLite log
is read with the standard library's sqlite3 (as an immutable file when no writer has it
open, so looking creates nothing beside it), a server through the SQLAlchemy engine the
RunLog already has. Every function takes an open fileflow.runlog.log.RunLog and reads
through its `query`.
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Protocol

from fileflow.chunks import chunked
from fileflow.runlog.records import IN_CLAUSE_SIZE

__all__ = ["list_runs", "get_run", "latest_run_id", "run_jobs", "get_job", "jobs_named",
           "jobs_for_path", "job_states", "file_records"]

_RUN_COLUMNS = ('id, started_at, ended_at, argv, workdir, "user", host, pid, fileflow_version, '
                "status, jobs_done, jobs_failed")
_JOB_COLUMNS = ("id, run_id, rule, wildcards, name, command, reasons, state, attempt, exit_code, "
                "started_at, ended_at, executor, external_id, host, peak_rss_bytes, cpu_seconds, "
                "signature, log_path, message")


class RowSource(Protocol):
    """What the queries read through: fileflow.runlog.log.RunLog."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...


def _run(row: dict) -> dict:
    row["argv"] = json.loads(row["argv"] or "[]")
    return row


def _job(row: dict) -> dict:
    row["wildcards"] = json.loads(row["wildcards"] or "{}")
    row["reasons"] = json.loads(row["reasons"] or "[]")
    return row



def _in(name: str, values: list) -> tuple[str, dict[str, Any]]:
    """`name IN (:p0, :p1, ...)` with its parameters (portable across both drivers)."""
    params = {f"p{i}": v for i, v in enumerate(values)}
    return f"{name} IN ({', '.join(':' + k for k in params)})", params


def list_runs(log: RowSource, limit: int = 20) -> list[dict]:
    """The latest runs, newest first."""
    return [_run(r) for r in log.query(
        f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT :limit", {"limit": limit})]


def get_run(log: RowSource, run_id: int) -> dict | None:
    rows = log.query(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = :id", {"id": run_id})
    return _run(rows[0]) if rows else None


def latest_run_id(log: RowSource) -> int | None:
    rows = log.query("SELECT MAX(id) AS id FROM runs")
    return rows[0]["id"] if rows else None


def _with_outputs(log: RowSource, jobs: list[dict]) -> list[dict]:
    by_id = {j["id"]: j for j in jobs}
    for j in jobs:
        j["outputs"] = []
    for chunk in chunked(list(by_id), IN_CLAUSE_SIZE):
        where, params = _in("job_id", chunk)
        for row in log.query(f"SELECT job_id, path FROM job_outputs WHERE {where} "
                             "ORDER BY path", params):
            by_id[row["job_id"]]["outputs"].append(row["path"])
    return jobs


def run_jobs(log: RowSource, run_id: int) -> list[dict]:
    """The jobs of a run in the order they started, each with its output paths."""
    rows = log.query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE run_id = :id ORDER BY id",
                     {"id": run_id})
    return _with_outputs(log, [_job(r) for r in rows])


def get_job(log: RowSource, job_id: int) -> dict | None:
    rows = log.query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = :id", {"id": job_id})
    return _with_outputs(log, [_job(r) for r in rows])[0] if rows else None


def jobs_named(log: RowSource, name: str, limit: int = 10) -> list[dict]:
    """Attempts of the job with this display name (e.g. count[sample=a]), newest first."""
    rows = log.query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE name = :name "
                     "ORDER BY id DESC LIMIT :limit", {"name": name, "limit": limit})
    return _with_outputs(log, [_job(r) for r in rows])


def jobs_for_path(log: RowSource, path: str, limit: int = 10) -> list[dict]:
    """The jobs started to make `path`, newest first."""
    rows = log.query(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id IN (SELECT job_id FROM "
                     "job_outputs WHERE path = :path) ORDER BY id DESC LIMIT :limit",
                     {"path": path, "limit": limit})
    return _with_outputs(log, [_job(r) for r in rows])


def job_states(log: RowSource, job_ids: Iterable[int]) -> dict[int, str]:
    """job id -> its state (running, done, failed, cancelled, skipped)."""
    wanted = sorted({int(j) for j in job_ids})
    out: dict[int, str] = {}
    for chunk in chunked(wanted, IN_CLAUSE_SIZE):
        where, params = _in("id", chunk)
        out.update((r["id"], r["state"]) for r in log.query(
            f"SELECT id, state FROM jobs WHERE {where}", params))
    return out


def file_records(log: RowSource, paths: Iterable[str]) -> dict[str, dict]:
    """path -> its `files` row (complete, size, digest, job_id, built_at ...)."""
    wanted = sorted(set(paths))
    out: dict[str, dict] = {}
    for chunk in chunked(wanted, IN_CLAUSE_SIZE):
        where, params = _in("path", chunk)
        out.update((r["path"], r) for r in log.query(
            "SELECT path, complete, size, digest, job_id, built_at, changed_at FROM files "
            f"WHERE {where}", params))
    return out
