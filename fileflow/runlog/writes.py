"""What a build writes to the run log, as plain SQL on a DB-API cursor. Layer 3.

A build writes a few statements per scheduler tick, thousands of times. They are plain SQL
(the same text on SQLite and PostgreSQL, which share the ON CONFLICT syntax) run as bulk
executemany on the driver's cursor, one transaction per call. Two classes supply the
transaction: fileflow.runlog.sqlite_writer with the standard library's sqlite3, so a build on the
default log never imports SQLAlchemy (a fifth of a second, more than a no-op build), and
fileflow.runlog.sql through SQLAlchemy (PostgreSQL, and creating or migrating a schema).
Both are CursorWrites, checked against the BuildWrites protocol that fileflow.runlog.log's
RunLog sends a build's writes to.
"""
from __future__ import annotations

import json
import os
import random
import re
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from fileflow.fs import FULL_DISK_HINT, NO_SPACE_TEXTS, full_disk
from fileflow.runlog.records import (
    JOB_STATES,
    RUN_STATUSES,
    JobResult,
    JobStart,
    RunLogBusyError,
    RunLogError,
    hide_passwords,
    utf8_text,
)
from fileflow.state import HASH_ALGORITHM, REMOTE_TOKEN, FileState, RecordedTarget

__all__ = ["BuildWrites", "CursorWrites", "STATEMENTS", "ABANDONED_MESSAGE", "EXTENSION_KEY",
           "next_delay", "PLANNED_KEY",
           "RETRIES", "RETRY_BASE", "run_log_error", "busy_error", "GENERATION_KEY",
           "full_disk_error", "lost_error", "reconnect_seconds", "RECONNECT_SECONDS"]

T = TypeVar("T")

# What a job that a dead fileflow left running says once a later build has closed it.
ABANDONED_MESSAGE = "fileflow stopped while the job ran; stopped by a later build"

RETRIES = 8                  # whole-transaction retries on a transient conflict
RETRY_BASE = 0.05            # first back-off (seconds), doubled each time
_RETRY_MAX = 2.0
# How long a build keeps reconnecting to a database server that dropped its connection
# before it stops (FILEFLOW_DB_RECONNECT_SECONDS).
RECONNECT_SECONDS = 60.0

# The `meta` row counting the changes to what the log records of jobs' outcomes.
GENERATION_KEY = "generation"
PLANNED_KEY = "planned_jobs:{run}"   # a run's planned job count, in `meta`

_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode

# `changed_at` is kept when the content digest is unchanged (early cutoff).
_KEEP_CHANGED_AT = (
    "WHEN files.digest IS NOT NULL AND files.digest = excluded.digest AND "
    "files.algorithm = excluded.algorithm AND files.changed_at IS NOT NULL "
    "THEN files.changed_at")

EXTENSION_KEY = "graph extended:"  # + "RUN:N": the N-th time a run's graph grew

STATEMENTS = {
    "start_run": (
        'INSERT INTO runs (started_at, argv, workdir, "user", host, pid, fileflow_version, '
        "status, jobs_done, jobs_failed) VALUES (:started_at, :argv, :workdir, :user, :host, "
        ":pid, :fileflow_version, 'running', 0, 0)"),
    "finish_run": (
        "UPDATE runs SET status = :status, ended_at = :ended_at, jobs_done = :jobs_done, "
        "jobs_failed = :jobs_failed WHERE id = :id"),
    # A run's note in `meta`: its planned job count (PLANNED_KEY), each time its graph grew
    # after checkpoint jobs ran (EXTENSION_KEY).
    "run_note": "INSERT INTO meta (key, value) VALUES (:key, :value)",
    "forget_note": "DELETE FROM meta WHERE key = :key",
    "interrupt_run": (
        "UPDATE runs SET status = 'interrupted', ended_at = :ended_at WHERE id = :id"),
    "insert_job": (
        "INSERT INTO jobs (id, run_id, rule, wildcards, name, command, reasons, state, attempt, "
        "started_at, executor, external_id, signature, log_path, message) VALUES (:id, :run_id, "
        ":rule, :wildcards, :name, :command, :reasons, 'running', :attempt, :started_at, "
        ":executor, :external_id, :signature, :log_path, :message)"),
    "insert_output": "INSERT INTO job_outputs (job_id, path) VALUES (:job_id, :path)",
    "external_id": "UPDATE jobs SET external_id = :external_id WHERE id = :id",
    "cancel_job": (
        "UPDATE jobs SET state = 'cancelled', ended_at = :ended_at, message = :message "
        "WHERE id = :id"),
    "finish_job": (
        "UPDATE jobs SET state = :state, exit_code = :exit_code, "
        "started_at = COALESCE(CAST(:started_at AS DOUBLE PRECISION), started_at), "
        "ended_at = :ended_at, host = :host, peak_rss_bytes = :rss, cpu_seconds = :cpu, "
        "signature = :signature, message = :message, "
        "external_id = COALESCE(CAST(:external_id AS TEXT), external_id) WHERE id = :id"),
    # From the runs still running to their jobs (by ix_jobs_run_id): not a scan of every
    # job ever recorded, at the start of each build. SQLite keeps a CROSS JOIN's order.
    "unfinished_jobs": (
        "SELECT jobs.id, jobs.run_id, runs.pid, runs.started_at AS run_started, "
        "runs.workdir AS run_workdir, "
        "jobs.external_id, jobs.executor, jobs.started_at, jobs.name, jobs.command, "
        "jobs.message FROM runs CROSS JOIN jobs WHERE runs.id = jobs.run_id "
        "AND jobs.state = 'running' AND runs.status = 'running' AND runs.host = :host"),
    "mark_incomplete": (
        "INSERT INTO files (path, complete, job_id) VALUES (:path, :complete, :job_id) "
        "ON CONFLICT (path) DO UPDATE SET complete = excluded.complete, job_id = excluded.job_id"),
    # A finished job's output, or one marked up to date by --touch.
    "built": (
        "INSERT INTO files (path, complete, size, mtime_ns, ctime_ns, digest, algorithm, "
        "signature, input_digests, job_id, built_at, changed_at, seen_ns, link, code_digest, "
        "params_digest) VALUES (:path, "
        ":complete, :size, :mtime_ns, :ctime_ns, :digest, :algorithm, :signature, "
        ":input_digests, :job_id, :built_at, :changed_at, :seen_ns, :link, :code_digest, "
        ":params_digest) ON CONFLICT (path) "
        "DO UPDATE SET "
        "code_digest = excluded.code_digest, params_digest = excluded.params_digest, "
        "complete = excluded.complete, size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "ctime_ns = excluded.ctime_ns, digest = excluded.digest, algorithm = excluded.algorithm, "
        "seen_ns = excluded.seen_ns, link = excluded.link, "
        "signature = excluded.signature, input_digests = excluded.input_digests, "
        "job_id = excluded.job_id, built_at = excluded.built_at, changed_at = CASE "
        f"{_KEEP_CHANGED_AT} ELSE excluded.changed_at END"),
    # An observed source file. An output's row (it has a job) is never touched, and an
    # observation that was not hashed never replaces a hashed record: the recorded stat and
    # digest stay a matching pair (the store sees the stat differ and hashes it next time).
    "source": (
        "INSERT INTO files (path, complete, size, mtime_ns, ctime_ns, digest, algorithm, "
        "changed_at, seen_ns, link) VALUES (:path, :complete, :size, :mtime_ns, :ctime_ns, "
        ":digest, :algorithm, :changed_at, :seen_ns, :link) ON CONFLICT (path) DO UPDATE SET "
        "complete = excluded.complete, size = excluded.size, mtime_ns = excluded.mtime_ns, "
        "ctime_ns = excluded.ctime_ns, digest = excluded.digest, algorithm = excluded.algorithm, "
        "seen_ns = excluded.seen_ns, link = excluded.link, "
        "changed_at = CASE WHEN excluded.digest IS NULL THEN files.changed_at "
        f"{_KEEP_CHANGED_AT} ELSE excluded.changed_at END "
        "WHERE files.job_id IS NULL AND (excluded.digest IS NOT NULL OR files.digest IS NULL)"),
    # An output seen with the content its job made but another stat (touched, checked out):
    # its new stat, so that it is not hashed again.
    "restat": (
        "UPDATE files SET size = :size, mtime_ns = :mtime_ns, ctime_ns = :ctime_ns, "
        "seen_ns = :seen_ns, link = :link "
        "WHERE path = :path AND job_id IS NOT NULL AND complete = :complete "
        "AND digest = :digest"),
    "forget": "DELETE FROM files WHERE path = :path",
    # One more change to what the log records of jobs and their outputs: a build that planned
    # before it, and takes the build lock after, plans again (fileflow.cli.build.locked_plan).
    "bump_generation": (
        f"INSERT INTO meta (key, value) VALUES ('{GENERATION_KEY}', '1') ON CONFLICT (key) DO "
        "UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)"),
    # The running counts of a run's jobs, kept as its jobs end, so that a run whose fileflow
    # lost the log (or died) before it could record how the run ended still says what it did.
    "count_outcomes": (
        "UPDATE runs SET jobs_done = jobs_done + :done, jobs_failed = jobs_failed + :failed "
        "WHERE id = (SELECT run_id FROM jobs WHERE id = :job_id)"),
    # The ids of new jobs. SQLite: the next after the largest (the writer holds the write
    # lock); PostgreSQL: from the table's sequence.
    "last_job_id": "SELECT COALESCE(MAX(id), 0) FROM jobs",
    "new_job_ids": ("SELECT nextval(pg_get_serial_sequence('jobs', 'id')) "
                    "FROM generate_series(1, :n)"),
}


class BuildWrites(Protocol):
    """What a build writes to the run log, and the one query it makes on the way. Every
    call is one transaction. fileflow.runlog.log's RunLog sends these to the sqlite3 writer
    on a SQLite log and to the SQL half elsewhere; CursorWrites carries them out for both."""

    def start_run(self, argv: list[str], workdir: str, version: str, planned: int = 0) -> int: ...

    def finish_run(self, run_id: int, status: str, jobs_done: int, jobs_failed: int) -> None: ...

    def graph_extended(self, run_id: int, number: int, checkpoints: list[str],
                       jobs_added: int, planned: int | None = None) -> None: ...

    def unfinished_jobs(self, host: str) -> list[dict[str, Any]]: ...

    def close_abandoned(self, run_ids: Iterable[int], job_ids: Iterable[int],
                        message: str = ABANDONED_MESSAGE) -> None: ...

    def jobs_started(self, run_id: int, starts: list[JobStart]) -> list[int]: ...

    def jobs_finished(self, results: list[JobResult]) -> None: ...

    def record_tick(self, run_id: int, finished: list[JobResult], started: list[JobStart],
                    external_ids: Sequence[tuple[int, str]] = ()) -> list[int]: ...

    def set_external_ids(self, pairs: Iterable[tuple[int, str]]) -> None: ...

    def record_files(self, states: list[FileState]) -> None: ...

    def mark_complete(self, targets: list[RecordedTarget]) -> None: ...

    def forget(self, paths: Iterable[str]) -> None: ...

    def close(self) -> None: ...


def next_delay(delay: float) -> float:
    """Sleep before retrying a transaction that met a transient conflict; the next delay."""
    time.sleep(delay * random.uniform(1.0, 2.0))
    return min(delay * 2, _RETRY_MAX)


def full_disk_error(where: str, detail: str) -> RunLogError | None:
    """The error for a run log that failed because its disk (or the server's) is full, or
    None. SQLite says "database or disk is full", or only "disk I/O error" when it cannot
    grow its shared-memory file: then the file system of `where` tells."""
    detail = (detail.strip().splitlines() or ["error"])[0]
    low = detail.lower()
    if ("disk is full" in low or any(text.lower() in low for text in NO_SPACE_TEXTS)
            or ("disk i/o error" in low and "://" not in where and full_disk([where]))):
        return RunLogError(f"no space left on device for the run log {where} ({detail}): "
                           f"{FULL_DISK_HINT}")
    return None


def reconnect_seconds() -> float:
    """RECONNECT_SECONDS, or FILEFLOW_DB_RECONNECT_SECONDS when set to a number >= 0."""
    text = os.environ.get("FILEFLOW_DB_RECONNECT_SECONDS", "")
    try:
        value = float(text)
    except ValueError:
        return RECONNECT_SECONDS
    return value if value >= 0 else RECONNECT_SECONDS


def lost_error(where: str, seconds: float, last: RunLogError) -> RunLogError:
    """The server stayed out of reach through every reconnect for `seconds`."""
    return RunLogError(f"lost the connection to the run log {where} and could not get it back "
                       f"within {seconds:g} s (FILEFLOW_DB_RECONNECT_SECONDS); the last error: "
                       f"{last}")


def run_log_error(where: str, detail: str, is_sqlite: bool) -> RunLogError:
    """The error a user sees for a database error on the run log at `where`."""
    full = full_disk_error(where, detail)
    if full is not None:
        return full
    detail = (detail.strip().splitlines() or ["error"])[0]
    low = detail.lower()
    if is_sqlite and ("not a database" in low or "malformed" in low or "corrupt" in low):
        return RunLogError(
            f"the run log {where} is corrupt ({detail}); move it aside to start a new "
            "log (what is recorded as up to date is then lost and everything rebuilds), "
            "or restore it from a backup")
    return RunLogError(f"cannot use the run log {where}: {detail}")


def busy_error(where: str, waited: float) -> RunLogBusyError:
    """A SQLite log that stayed locked through every retry: say for how long and, where this
    host shows it, which processes have it open."""
    holders = _holders(where)
    who = (f"; open in {', '.join(holders)}" if holders else
           "; another fileflow build, or a program such as a sqlite3 shell in a transaction")
    return RunLogBusyError(
        f"the run log {where} stayed locked by another process for {waited:.0f} s{who}. "
        "End that program's transaction, or wait for it and build again")


def _holders(path: str, most: int = 5) -> list[str]:
    """Other processes of this host with the database (or its WAL) open, as 'pid N (name)'."""
    try:
        import psutil
    except ImportError:
        return []
    wanted = {os.path.realpath(path), os.path.realpath(path) + "-wal"}
    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid():
            continue
        try:
            if any(f.path in wanted for f in proc.open_files()):
                found.append(f"pid {proc.pid} ({proc.info['name']})")
        except psutil.Error:
            continue
        if len(found) >= most:
            break
    return found


def _user() -> str:
    try:
        import getpass
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else ""


def _opt(value: int) -> int | None:
    """-1 means unknown in the state records; NULL in the database."""
    return None if value == -1 else value


def _algorithm(path: str, default: str = HASH_ALGORITHM) -> str:
    """What a path's recorded digest is: a content hash, or a remote file's version token."""
    if "://" in path:
        from fileflow.remote.files import is_remote
        if is_remote(path):
            return REMOTE_TOKEN
    return default


class CursorWrites(BuildWrites):
    """A build's writes as plain SQL on a DB-API cursor. A subclass sets `is_sqlite` and
    `paramstyle` ("named" or "pyformat"), runs `fn(cursor)` in ONE transaction in
    `_transaction`, retried as a whole on a transient conflict, and closes its connection."""

    is_sqlite: bool
    paramstyle: str = "named"
    _prepared: dict[str, str]

    def _transaction(self, fn: Callable[[Any], T], write: bool = True) -> T:
        raise NotImplementedError

    def _statement(self, key: str) -> str:
        """The statement in the driver's parameter style (sqlite3 :name, psycopg %(name)s)."""
        found = self._prepared.get(key)
        if found is None:
            sql = STATEMENTS[key]
            if self.paramstyle == "pyformat":
                sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
            found = self._prepared[key] = sql
        return found

    def _many(self, cursor: Any, key: str, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            cursor.executemany(self._statement(key), rows)

    # -- runs
    def start_run(self, argv: list[str], workdir: str, version: str, planned: int = 0) -> int:
        """A new run; with `planned`, how many jobs it means to run, kept in `meta` under
        PLANNED_KEY (what a live view counts the jobs not started yet from)."""
        shown = [utf8_text(a) for a in hide_passwords(argv)]
        row = dict(started_at=time.time(), argv=_dumps(shown), workdir=utf8_text(workdir),
                   user=_user(), host=socket.gethostname(), pid=os.getpid(),
                   fileflow_version=version)
        sql = self._statement("start_run")

        def fn(cursor: Any) -> int:
            if self.is_sqlite:
                cursor.execute(sql, row)
                run_id = cursor.lastrowid
            else:
                cursor.execute(sql + " RETURNING id", row)
                run_id = cursor.fetchone()[0]
            if planned:
                cursor.execute(self._statement("run_note"),
                               {"key": PLANNED_KEY.format(run=run_id), "value": str(planned)})
            return run_id

        return self._transaction(fn)

    def finish_run(self, run_id: int, status: str, jobs_done: int, jobs_failed: int) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_STATUSES)}, not {status!r}")
        row = dict(id=run_id, status=status, ended_at=time.time(), jobs_done=jobs_done,
                   jobs_failed=jobs_failed)

        def fn(cursor: Any) -> None:
            self._many(cursor, "finish_run", [row])
            self._bump_generation(cursor)

        self._transaction(fn)

    def graph_extended(self, run_id: int, number: int, checkpoints: list[str],
                       jobs_added: int, planned: int | None = None) -> None:
        """The note of the `number`-th extension; with `planned`, the run's planned job
        count (PLANNED_KEY) becomes that: every job planned so far, in every round."""
        row = dict(key=f"{EXTENSION_KEY}{run_id}:{number}", value=_dumps(
            {"checkpoints": checkpoints, "jobs_added": jobs_added, "at": time.time()}))
        count = dict(key=PLANNED_KEY.format(run=run_id), value=str(planned))

        def fn(cursor: Any) -> None:
            self._many(cursor, "run_note", [row])
            if planned is not None:
                self._many(cursor, "forget_note", [{"key": count["key"]}])
                self._many(cursor, "run_note", [count])

        self._transaction(fn)

    def _bump_generation(self, cursor: Any) -> None:
        """What the log records of jobs changed: say so to builds that planned before
        (last in its transaction, so that on a server the row is held for a moment only)."""
        cursor.execute(self._statement("bump_generation"))

    def unfinished_jobs(self, host: str) -> list[dict[str, Any]]:
        """Jobs still 'running' in runs of this host that are still 'running': after a
        crash of fileflow, their processes may live on. Each: job id, run id, run pid,
        run_started, run_workdir, job external_id, executor, started_at, name, command,
        message (a group member's note)."""
        def fn(cursor: Any) -> list[dict[str, Any]]:
            cursor.execute(self._statement("unfinished_jobs"), {"host": host})
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

        return self._transaction(fn, write=False)

    def close_abandoned(self, run_ids: Iterable[int], job_ids: Iterable[int],
                        message: str = ABANDONED_MESSAGE) -> None:
        """Mark runs whose fileflow died as interrupted and their jobs as cancelled."""
        now = time.time()
        job_rows = [{"id": j, "ended_at": now, "message": message} for j in sorted(set(job_ids))]
        run_rows = [{"id": r, "ended_at": now} for r in sorted(set(run_ids))]

        def fn(cursor: Any) -> None:
            self._many(cursor, "cancel_job", job_rows)
            self._many(cursor, "interrupt_run", run_rows)
            self._bump_generation(cursor)

        if job_rows or run_rows:
            self._transaction(fn)

    # -- jobs
    def _new_job_ids(self, cursor: Any, n: int) -> list[int]:
        """n fresh job ids in one round trip, so the rows go in as one bulk insert (a
        multi-row INSERT ... RETURNING cannot promise the order of the ids on SQLite)."""
        if self.is_sqlite:   # we hold the write lock (BEGIN IMMEDIATE): nobody else inserts
            top = cursor.execute(self._statement("last_job_id")).fetchone()[0]
            return list(range(top + 1, top + 1 + n))
        cursor.execute(self._statement("new_job_ids"), {"n": n})
        return [row[0] for row in cursor.fetchall()]

    @staticmethod
    def _start_rows(run_id: int, starts: list[JobStart]) -> list[dict[str, Any]]:
        now = time.time()
        return [dict(run_id=run_id, rule=s.rule, wildcards=_dumps(dict(s.wildcards)),
                     name=s.name, command=s.command, reasons=_dumps(list(s.reasons)),
                     attempt=s.attempt, started_at=now, executor=s.executor,
                     external_id=s.external_id, signature=s.signature, log_path=s.log_path,
                     message=s.message)
                for s in starts]

    def _insert_started(self, cursor: Any, rows: list[dict[str, Any]],
                        starts: list[JobStart], bumped: bool = False) -> list[int]:
        """`bumped`: the transaction has bumped the generation already (once is enough)."""
        ids = self._new_job_ids(cursor, len(rows))
        for row, job_id in zip(rows, ids):
            row["id"] = job_id
        self._many(cursor, "insert_job", rows)
        owners: dict[str, int] = {}
        for job_id, s in zip(ids, starts):
            for path in s.outputs:
                owners[path] = job_id
        self._many(cursor, "insert_output", [{"job_id": j, "path": p} for p, j in owners.items()])
        self._mark_incomplete(cursor, owners)
        if owners and not bumped:  # outputs marked incomplete change what a plan decides
            self._bump_generation(cursor)
        return ids

    def _mark_incomplete(self, cursor: Any, owners: dict[str, int]) -> None:
        """Upsert files rows as complete=False, made by the given job; keep the last digest
        (it is the reference for early cutoff when the job finishes)."""
        self._many(cursor, "mark_incomplete", [{"path": p, "complete": False, "job_id": owners[p]}
                                               for p in sorted(owners)])

    @staticmethod
    def _finish_rows(results: list[JobResult]):
        now = time.time()
        for r in results:
            if r.state not in JOB_STATES or r.state == "running":
                raise ValueError(f"finished job state must be done, failed, cancelled or "
                                 f"skipped, not {r.state!r}")
        job_rows = [dict(id=r.job_id, state=r.state, exit_code=r.exit_code,
                         started_at=r.started_at, ended_at=r.ended_at if r.ended_at else now,
                         host=r.host, rss=r.peak_rss_bytes, cpu=r.cpu_seconds,
                         signature=r.signature, message=r.message, external_id=r.external_id)
                    for r in results]
        built: dict[str, dict[str, Any]] = {}
        failed: dict[str, int] = {}
        for r in results:
            if r.state == "done":
                inputs = _dumps(dict(r.input_digests))
                for fs in r.outputs:
                    built[fs.path] = dict(
                        path=fs.path, complete=fs.exists, size=fs.size, mtime_ns=fs.mtime_ns,
                        ctime_ns=_opt(fs.ctime_ns), digest=fs.digest, algorithm=_algorithm(fs.path),
                        seen_ns=_opt(fs.seen_ns), link=fs.link,
                        signature=r.signature, input_digests=inputs, job_id=r.job_id,
                        built_at=now, changed_at=now, code_digest=r.code_digest,
                        params_digest=r.params_digest)
            elif r.state in ("failed", "cancelled"):
                for path in [*r.output_paths, *(fs.path for fs in r.outputs)]:
                    failed[path] = r.job_id
        counts = [dict(job_id=r.job_id, done=int(r.state == "done"), failed=int(r.state == "failed"))
                  for r in results if r.state in ("done", "failed")]
        return job_rows, [built[p] for p in sorted(built)], failed, counts

    def _update_finished(self, cursor: Any, rows) -> None:
        """Ends jobs: their rows, their outputs and their run's counts."""
        job_rows, built, failed, counts = rows
        self._many(cursor, "finish_job", job_rows)
        self._mark_incomplete(cursor, failed)
        self._many(cursor, "built", built)
        self._many(cursor, "count_outcomes", counts)

    def jobs_started(self, run_id: int, starts: list[JobStart]) -> list[int]:
        """Insert running jobs and mark their outputs incomplete, in one transaction."""
        if not starts:
            return []
        rows = self._start_rows(run_id, starts)
        return self._transaction(lambda cursor: self._insert_started(cursor, rows, starts))

    def jobs_finished(self, results: list[JobResult]) -> None:
        """Record how jobs ended. A done job's outputs become complete with their digests
        (changed_at kept when the digest is unchanged); failed or cancelled jobs' outputs
        stay complete=False; a skipped job's outputs are left as they are."""
        if results:
            rows = self._finish_rows(results)

            def fn(cursor: Any) -> None:
                self._update_finished(cursor, rows)
                self._bump_generation(cursor)

            self._transaction(fn)

    def record_tick(self, run_id: int, finished: list[JobResult], started: list[JobStart],
                    external_ids: Sequence[tuple[int, str]] = ()) -> list[int]:
        """One scheduler tick in ONE transaction: the executor ids (pids) of jobs started
        last tick, the jobs that ended, then the jobs about to start (their outputs marked
        incomplete before their processes exist)."""
        if not finished and not started and not external_ids:
            return []
        done_rows = self._finish_rows(finished) if finished else None
        start_rows = self._start_rows(run_id, started) if started else None
        id_rows = [{"id": j, "external_id": e} for j, e in external_ids]

        def fn(cursor: Any) -> list[int]:
            self._many(cursor, "external_id", id_rows)
            if done_rows is not None:
                self._update_finished(cursor, done_rows)
                self._bump_generation(cursor)
            if not start_rows:
                return []
            return self._insert_started(cursor, start_rows, started, bumped=done_rows is not None)

        return self._transaction(fn)

    def set_external_ids(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Record cluster job ids (job_id, external_id) in one transaction."""
        rows = [{"id": j, "external_id": e} for j, e in pairs]
        if rows:
            self._transaction(lambda cursor: self._many(cursor, "external_id", rows))

    # -- files
    def record_files(self, states: list[FileState]) -> None:
        """Remember observed files, so unchanged ones are not hashed again: a source's
        stat and digest; an output's new stat only when its digest is the recorded one
        (an output's row otherwise belongs to its job). A missing file is not recorded."""
        now = time.time()
        rows = {s.path: dict(path=s.path, complete=True, size=s.size, mtime_ns=s.mtime_ns,
                             ctime_ns=_opt(s.ctime_ns), digest=s.digest,
                             seen_ns=_opt(s.seen_ns), link=s.link,
                             algorithm=_algorithm(s.path), changed_at=now)
                for s in states if s.exists}
        if rows:
            ordered = [rows[p] for p in sorted(rows)]
            hashed = [row for row in ordered if row["digest"] is not None]

            def fn(cursor: Any) -> None:
                self._many(cursor, "source", ordered)
                self._many(cursor, "restat", hashed)

            self._transaction(fn)

    def mark_complete(self, targets: list[RecordedTarget]) -> None:
        """Record targets as complete exactly as given (`--touch`)."""
        now = time.time()
        rows = {t.path: dict(path=t.path, complete=True, size=t.size, mtime_ns=t.mtime_ns,
                             ctime_ns=_opt(t.ctime_ns), digest=t.digest,
                             seen_ns=_opt(t.seen_ns), link=t.link,
                             algorithm=_algorithm(t.path, t.algorithm), signature=t.signature,
                             input_digests=_dumps(dict(t.input_digests)), job_id=t.job_id,
                             built_at=t.built_at or now, changed_at=t.changed_at or now,
                             code_digest=t.code_digest, params_digest=t.params_digest)
                for t in targets}
        if rows:
            ordered = [rows[p] for p in sorted(rows)]

            def fn(cursor: Any) -> None:
                self._many(cursor, "built", ordered)
                self._bump_generation(cursor)

            self._transaction(fn)

    def forget(self, paths: Iterable[str]) -> None:
        """Drop what is recorded of these paths (`clean`); job history is kept."""
        rows = [{"path": p} for p in sorted(set(paths))]
        if rows:
            def fn(cursor: Any) -> None:
                self._many(cursor, "forget", rows)
                self._bump_generation(cursor)

            self._transaction(fn)
