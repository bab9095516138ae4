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
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from fileflow.chunks import chunked
from fileflow.runlog.records import IN_CLAUSE_SIZE

__all__ = ["list_runs", "get_run", "latest_run_id", "run_jobs", "get_job", "jobs_named",
           "jobs_for_path", "job_states", "file_records", "QUERIES", "RUN_COLUMNS", "JOB_COLUMNS",
           "LARGEST_ID"]

# Every column of `runs` and of `jobs`, in the tables' order.
RUN_COLUMNS = ("id", "started_at", "ended_at", "argv", "workdir", "user", "host", "pid",
               "fileflow_version", "status", "jobs_done", "jobs_failed")
JOB_COLUMNS = ("id", "run_id", "rule", "wildcards", "name", "command", "reasons", "state",
               "attempt", "exit_code", "started_at", "ended_at", "executor", "external_id",
               "host", "peak_rss_bytes", "cpu_seconds", "signature", "log_path", "message")
_RUNS = ", ".join(f'"{c}"' if c == "user" else c for c in RUN_COLUMNS)   # user: a keyword
_JOBS = ", ".join(JOB_COLUMNS)

# The statements, plain and the same on SQLite and PostgreSQL; {values} is a list of
# parameters (`_in`).
QUERIES = {
    "latest_runs": f"SELECT {_RUNS} FROM runs ORDER BY id DESC LIMIT :limit",
    "run": f"SELECT {_RUNS} FROM runs WHERE id = :id",
    "latest_run_id": "SELECT MAX(id) AS id FROM runs",
    "outputs": "SELECT job_id, path FROM job_outputs WHERE job_id IN ({values}) ORDER BY path",
    "jobs_of_run": f"SELECT {_JOBS} FROM jobs WHERE run_id = :id ORDER BY id",
    "job": f"SELECT {_JOBS} FROM jobs WHERE id = :id",
    "jobs_named": f"SELECT {_JOBS} FROM jobs WHERE name = :name ORDER BY id DESC LIMIT :limit",
    "jobs_for_path": (f"SELECT {_JOBS} FROM jobs WHERE id IN (SELECT job_id FROM job_outputs "
                      "WHERE path = :path) ORDER BY id DESC LIMIT :limit"),
    "job_states": "SELECT id, state FROM jobs WHERE id IN ({values})",
    "file_records": ("SELECT path, complete, size, digest, job_id, built_at, changed_at "
                     "FROM files WHERE path IN ({values})"),
}


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



def _in(key: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """QUERIES[key] with its list of values as parameters :p0, :p1, ... (portable across
    both drivers), and those parameters."""
    params = {f"p{i}": v for i, v in enumerate(values)}
    return QUERIES[key].format(values=", ".join(":" + k for k in params)), params


# The largest id or row count a query takes: SQL's 64-bit integers (SQLite and PostgreSQL's
# bigint) hold no more, and no run or job has a larger id.
LARGEST_ID = 2 ** 63 - 1


def list_runs(log: RowSource, limit: int = 20) -> list[dict]:
    """The latest runs, newest first."""
    limit = min(limit, LARGEST_ID)
    return [_run(r) for r in log.query(QUERIES["latest_runs"], {"limit": limit})]


def get_run(log: RowSource, run_id: int) -> dict | None:
    if not 0 <= run_id <= LARGEST_ID:
        return None
    rows = log.query(QUERIES["run"], {"id": run_id})
    return _run(rows[0]) if rows else None


def latest_run_id(log: RowSource) -> int | None:
    rows = log.query(QUERIES["latest_run_id"])
    return rows[0]["id"] if rows else None


def _with_outputs(log: RowSource, jobs: list[dict]) -> list[dict]:
    by_id = {j["id"]: j for j in jobs}
    for j in jobs:
        j["outputs"] = []
    for chunk in chunked(list(by_id), IN_CLAUSE_SIZE):
        for row in log.query(*_in("outputs", chunk)):
            by_id[row["job_id"]]["outputs"].append(row["path"])
    return jobs


def run_jobs(log: RowSource, run_id: int) -> list[dict]:
    """The jobs of a run in the order they started, each with its output paths."""
    rows = log.query(QUERIES["jobs_of_run"], {"id": run_id})
    return _with_outputs(log, [_job(r) for r in rows])


def get_job(log: RowSource, job_id: int) -> dict | None:
    if not 0 <= job_id <= LARGEST_ID:
        return None
    rows = log.query(QUERIES["job"], {"id": job_id})
    return _with_outputs(log, [_job(r) for r in rows])[0] if rows else None


def jobs_named(log: RowSource, name: str, limit: int = 10) -> list[dict]:
    """Attempts of the job with this display name (e.g. count[sample=a]), newest first."""
    rows = log.query(QUERIES["jobs_named"], {"name": name, "limit": limit})
    return _with_outputs(log, [_job(r) for r in rows])


def jobs_for_path(log: RowSource, path: str, limit: int = 10) -> list[dict]:
    """The jobs started to make `path`, newest first."""
    rows = log.query(QUERIES["jobs_for_path"], {"path": path, "limit": limit})
    return _with_outputs(log, [_job(r) for r in rows])


def job_states(log: RowSource, job_ids: Iterable[int]) -> dict[int, str]:
    """job id -> its state (running, done, failed, cancelled, skipped)."""
    wanted = sorted({int(j) for j in job_ids})
    out: dict[int, str] = {}
    for chunk in chunked(wanted, IN_CLAUSE_SIZE):
        out.update((r["id"], r["state"]) for r in log.query(*_in("job_states", chunk)))
    return out


def file_records(log: RowSource, paths: Iterable[str]) -> dict[str, dict]:
    """path -> its `files` row (complete, size, digest, job_id, built_at ...)."""
    wanted = sorted(set(paths))
    out: dict[str, dict] = {}
    for chunk in chunked(wanted, IN_CLAUSE_SIZE):
        out.update((r["path"], r) for r in log.query(*_in("file_records", chunk)))
    return out
