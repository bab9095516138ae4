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
from fileflow.runlog.writes import PLANNED_KEY

__all__ = ["list_runs", "get_run", "latest_run_id", "run_jobs", "get_job", "jobs_named",
           "jobs_for_path", "job_states", "file_records", "QUERIES", "RUN_COLUMNS", "JOB_COLUMNS",
           "LARGEST_ID", "runs_page", "jobs_page", "attempts_of", "failed_jobs",
           "live_state", "path_history", "find_paths",
           "run_outcomes"]

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
    "runs_page": f"SELECT {_RUNS} FROM runs WHERE {{where}} ORDER BY id DESC LIMIT :limit",
    "jobs_page": (f"SELECT {_JOBS} FROM jobs WHERE run_id = :id AND id > :after{{state}} "
                  "ORDER BY id LIMIT :limit"),
    "attempts": (f"SELECT {_JOBS} FROM jobs WHERE run_id = :run_id AND name = :name "
                 "ORDER BY id LIMIT :limit"),
    "path_history": (f"SELECT {_JOBS} FROM jobs WHERE id IN (SELECT job_id FROM job_outputs "
                     "WHERE path = :path) AND id < :before ORDER BY id DESC LIMIT :limit"),
    "find_paths": ("SELECT path, size, built_at, job_id FROM files WHERE path LIKE :pattern "
                   "ESCAPE '!' ORDER BY path LIMIT :limit"),
    # One statement for a live page, its rows told apart by `kind`: the run's row; its count
    # of jobs per rule and state (in `id`: how many of them are first attempts); how many
    # jobs it planned (`name`, from meta); its running jobs.
    "live": ("SELECT 'run' AS kind, id, status AS name, ended_at AS started_at, "
             "jobs_done AS n, NULL AS rule FROM runs WHERE id = :id "
             "UNION ALL SELECT 'count', SUM(CASE WHEN attempt = 1 THEN 1 ELSE 0 END), state, "
             "NULL, COUNT(*), rule FROM jobs WHERE run_id = :id GROUP BY rule, state "
             "UNION ALL SELECT 'planned', NULL, value, NULL, NULL, NULL FROM meta "
             "WHERE key = :planned "
             "UNION ALL SELECT * FROM (SELECT 'running' AS kind, id, name, started_at, "
             "CAST(NULL AS BIGINT) AS n, rule "
             "FROM jobs WHERE run_id = :id AND state = 'running' ORDER BY id LIMIT :limit) AS r"),
    "run_outcomes": ("SELECT id, name, state, started_at, ended_at, peak_rss_bytes FROM jobs "
                     "WHERE run_id = :id ORDER BY id LIMIT :limit"),
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


# The filters of runs_page: a column and how it compares with the value given.
RUN_FILTERS = {"status": "status = :status", "user": '"user" = :user', "host": "host = :host",
               "workdir": "workdir = :workdir", "since": "started_at >= :since",
               "until": "started_at < :until", "before": "id < :before"}


def runs_page(log: RowSource, limit: int = 50, **filters: Any) -> list[dict]:
    """Runs newest first, at most `limit`, matching every filter given (RUN_FILTERS: status,
    user, host, workdir equal; started since/until, seconds since the epoch; `before` a run
    id, for the next page)."""
    given = {k: v for k, v in filters.items() if v is not None}
    unknown = set(given) - set(RUN_FILTERS)
    if unknown:
        raise ValueError(f"unknown filter {sorted(unknown)[0]!r}")
    where = " AND ".join(RUN_FILTERS[k] for k in sorted(given)) or "1 = 1"
    params = {**given, "limit": min(limit, LARGEST_ID)}
    return [_run(r) for r in log.query(QUERIES["runs_page"].format(where=where), params)]


def jobs_page(log: RowSource, run_id: int, after: int = 0, limit: int = 100,
              state: str | None = None) -> list[dict]:
    """A page of a run's jobs in the order they started: those with an id above `after`."""
    sql = QUERIES["jobs_page"].format(state=" AND state = :state" if state else "")
    params: dict[str, Any] = {"id": run_id, "after": after, "limit": min(limit, LARGEST_ID)}
    if state:
        params["state"] = state
    return _with_outputs(log, [_job(r) for r in log.query(sql, params)])


def attempts_of(log: RowSource, job: Mapping[str, Any], limit: int = 100) -> list[dict]:
    """Every attempt of a job in its run, first first (the job itself among them)."""
    rows = log.query(QUERIES["attempts"], {"run_id": job["run_id"], "name": job["name"],
                                           "limit": limit})
    return [_job(r) for r in rows]


def failed_jobs(log: RowSource, run_id: int, limit: int = 20) -> list[dict]:
    """The first failed jobs of a run."""
    return jobs_page(log, run_id, 0, limit, "failed")


def live_state(log: RowSource, run_id: int, running: int = 50) -> dict | None:
    """A run's status, its counts per state (with `waiting`: jobs planned and not started,
    when the run recorded how many it planned) and per rule and state, and its first
    `running` running jobs, read in one statement (what a live page asks for at every
    interval); None for no such run."""
    rows = log.query(QUERIES["live"], {"id": run_id, "limit": running,
                                       "planned": PLANNED_KEY.format(run=run_id)})
    run = next((r for r in rows if r["kind"] == "run"), None)
    if run is None:
        return None
    counts: dict[str, int] = {}
    by_rule: list[dict] = []
    started = 0
    for r in rows:
        if r["kind"] == "count":
            counts[r["name"]] = counts.get(r["name"], 0) + int(r["n"])
            by_rule.append({"rule": r["rule"], "state": r["name"], "n": int(r["n"])})
            started += int(r["id"] or 0)
    planned = next((r["name"] for r in rows if r["kind"] == "planned"), None)
    if planned is not None and str(planned).isdigit():
        counts["waiting"] = max(0, int(planned) - started)
    return {"status": run["name"], "ended_at": run["started_at"], "counts": counts,
            "rule_counts": by_rule,
            "running": [{"id": r["id"], "name": r["name"], "started_at": r["started_at"]}
                        for r in rows if r["kind"] == "running"]}


def path_history(log: RowSource, path: str, before: int = LARGEST_ID,
                 limit: int = 50) -> list[dict]:
    """The jobs started to make `path` with an id below `before`, newest first."""
    rows = log.query(QUERIES["path_history"], {"path": path, "before": before,
                                               "limit": min(limit, LARGEST_ID)})
    return [_job(r) for r in rows]


def find_paths(log: RowSource, text: str, limit: int = 50) -> list[dict]:
    """Recorded files whose path contains `text`, in path order."""
    pattern = "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"
    return log.query(QUERIES["find_paths"], {"pattern": pattern, "limit": min(limit, LARGEST_ID)})


def run_outcomes(log: RowSource, run_id: int, limit: int) -> dict[str, dict]:
    """job name -> its last attempt in the run (id, state, started_at, ended_at,
    peak_rss_bytes), of the run's first `limit` job rows."""
    rows = log.query(QUERIES["run_outcomes"], {"id": run_id, "limit": min(limit, LARGEST_ID)})
    return {r["name"]: r for r in rows}
