"""The run log: what each run did, and what is known of every file it made or read.

Layer 3. SQLite by default, at `<workdir>/.fileflow/runlog.db`; PostgreSQL for shared or busy
setups. The schema is declared (SQLAlchemy Core) in fileflow.runlog.sql; records and
constants are in fileflow.runlog.records. docs/runlog.md describes the schema.

Why a facade: importing SQLAlchemy costs a fifth of a second, more than a whole no-op
build of 10,000 jobs should take. A SQLite log is therefore read with the standard
library's sqlite3 (one SELECT of the `files` table, and the history queries of
fileflow.runlog.history) and written by a build through it too (fileflow.runlog.sqlite_writer);
SQLAlchemy is loaded to create or migrate a log, and for PostgreSQL. A dry run on a
directory without a log creates none. RunLog names every call its users make, and which
half carries it out.
"""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fileflow.chunks import chunked
from fileflow.runlog import history
from fileflow.runlog.location import sqlite_file
from fileflow.runlog.records import (
    BUSY_TIMEOUT,
    IN_CLAUSE_SIZE,
    JOB_STATES,
    NETWORK_FS_TYPES,
    RUN_STATUSES,
    SCHEMA_VERSION,
    TARGET_COLUMN_NAMES,
    JobResult,
    JobStart,
    RunLogError,
    check_sqlite_file,
    is_network_fs,
    target_rows_to_records,
)
from fileflow.runlog.writes import ABANDONED_MESSAGE, GENERATION_KEY, BuildWrites, full_disk_error
from fileflow.state import FileState, RecordedTarget

if TYPE_CHECKING:
    from fileflow.runlog.sql import SqlRunLog
    from fileflow.runlog.sqlite_writer import SqliteWriter

__all__ = [
    "SCHEMA_VERSION", "RUN_STATUSES", "JOB_STATES", "NETWORK_FS_TYPES",
    "JobStart", "JobResult", "RunLog", "RunLogError", "open_runlog", "is_network_fs",
    "VERSION_QUERY", "TARGETS_QUERY", "GENERATION_QUERY",
]

# The plain SQL of the sqlite3 reads; the targets' query takes `WHERE path IN (...)` for a
# subset.
VERSION_QUERY = "SELECT value FROM meta WHERE key = 'schema_version'"
TARGETS_QUERY = f"SELECT {', '.join(TARGET_COLUMN_NAMES)} FROM files"
GENERATION_QUERY = f"SELECT value FROM meta WHERE key = '{GENERATION_KEY}'"


class RunLog:
    """A handle on one run log. Not shared between processes: each opens its own.

    A build's writes (fileflow.runlog.writes.BuildWrites) go to `writer`; reading what is
    recorded of files goes through sqlite3 on a SQLite log whose schema is current; the
    rest, and everything on a server, goes to `sql`, the SQL half."""

    def __init__(self, url: str | None, workdir: str, busy_timeout: float = BUSY_TIMEOUT,
                 look_only: bool = False):
        self.url = url
        # Dry runs and `why` must leave every file and directory as they found it: such a
        # handle reads a SQLite log without the -wal/-shm files a reader would create.
        self.look_only = look_only
        self.workdir = workdir
        self.busy_timeout = busy_timeout
        self.sqlite_path = sqlite_file(url, workdir)
        self._sql: SqlRunLog | None = None
        self._writer: SqliteWriter | None = None

    @property
    def sql(self) -> SqlRunLog:
        """The SQL half (SQLAlchemy): connected, and the schema created or migrated, when
        first used."""
        if self._sql is None:
            from fileflow.runlog.sql import open_sql_runlog
            self._sql = open_sql_runlog(self.url, self.workdir, busy_timeout=self.busy_timeout)
        return self._sql

    @property
    def writer(self) -> BuildWrites:
        """What carries out a build's writes: sqlite3 on a SQLite log whose schema is
        current (the SQL half creates or migrates it first), else the SQL half."""
        if self._writer is None:
            if self.sqlite_path is None:
                return self.sql
            if self._sql is None and self._read_version() != SCHEMA_VERSION:
                self.sql  # noqa: B018 -- create or migrate the schema, or report a newer one
            from fileflow.runlog.sqlite_writer import SqliteWriter
            self._writer = SqliteWriter(self.sqlite_path, self.busy_timeout)
        return self._writer

    @property
    def reads_with_sqlite3(self) -> bool:
        """Whether reads go through the standard library's sqlite3: a SQLite log whose SQL
        half is not open (once it is, it has the log migrated and reads through it)."""
        return self.sqlite_path is not None and self._sql is None

    def others_wrote(self) -> bool:
        """Whether anyone but this build's writer wrote the log since the writer's first
        transaction (another build, another connection); True when that cannot be told: the
        writer is not sqlite3's, or has not written yet."""
        writer = self._writer
        return writer is None or writer.others_committed()

    # -- a build's writes: each one transaction, carried out by `writer`
    def start_run(self, argv: list[str], workdir: str, version: str, planned: int = 0) -> int:
        """Record a new run as running (argv without passwords), meaning to run `planned`
        jobs; its id."""
        return self.writer.start_run(argv, workdir, version, planned)

    def finish_run(self, run_id: int, status: str, jobs_done: int, jobs_failed: int) -> None:
        """Record how a run ended: one of RUN_STATUSES, and its counts of jobs."""
        self.writer.finish_run(run_id, status, jobs_done, jobs_failed)

    def graph_extended(self, run_id: int, number: int, checkpoints: list[str],
                       jobs_added: int, planned: int | None = None) -> None:
        """Record that a run's graph grew, the `number`-th time: the checkpoint jobs that
        ran before, and how many jobs it gained; with `planned`, how many jobs the run has
        planned in all since it started (its `planned_jobs` count)."""
        self.writer.graph_extended(run_id, number, checkpoints, jobs_added, planned)

    def extensions(self, run_id: int) -> list[dict[str, Any]]:
        """Each time the run's graph grew, in order: checkpoints, jobs_added, at."""
        import json

        from fileflow.runlog.writes import EXTENSION_KEY

        prefix = f"{EXTENSION_KEY}{run_id}:"
        rows = self.query("SELECT key, value FROM meta WHERE key LIKE :prefix",
                          {"prefix": prefix + "%"})
        found = [(int(r["key"][len(prefix):]), json.loads(r["value"])) for r in rows
                 if r["key"][len(prefix):].isdigit()]
        return [value for _, value in sorted(found, key=lambda kv: kv[0])]

    def unfinished_jobs(self, host: str) -> list[dict[str, Any]]:
        """Jobs still 'running' in runs of this host still 'running' (their fileflow may have
        died), each a dict of job and run columns."""
        return self.writer.unfinished_jobs(host)

    def close_abandoned(self, run_ids: Iterable[int], job_ids: Iterable[int],
                        message: str = ABANDONED_MESSAGE) -> None:
        """Mark runs whose fileflow died as interrupted and their jobs as cancelled."""
        self.writer.close_abandoned(run_ids, job_ids, message)

    def jobs_started(self, run_id: int, starts: list[JobStart]) -> list[int]:
        """Record jobs as running and mark their outputs incomplete; their ids, in order."""
        return self.writer.jobs_started(run_id, starts)

    def jobs_finished(self, results: list[JobResult]) -> None:
        """Record how jobs ended and, for a done job, its outputs as complete."""
        self.writer.jobs_finished(results)

    def record_tick(self, run_id: int, finished: list[JobResult], started: list[JobStart],
                    external_ids: Sequence[tuple[int, str]] = ()) -> list[int]:
        """One scheduler tick: executor ids, ended jobs, then started jobs (their ids)."""
        return self.writer.record_tick(run_id, finished, started, external_ids)

    def set_external_ids(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Record the cluster's ids of jobs, as (job id, external id) pairs."""
        self.writer.set_external_ids(pairs)

    def record_files(self, states: list[FileState]) -> None:
        """Remember observed files, so that unchanged ones are not hashed again."""
        self.writer.record_files(states)

    def mark_complete(self, targets: list[RecordedTarget]) -> None:
        """Record targets as complete exactly as given (`--touch`)."""
        self.writer.mark_complete(targets)

    def forget(self, paths: Iterable[str]) -> None:
        """Drop what is recorded of these paths (`clean`); job history is kept."""
        self.writer.forget(paths)

    # -- reads
    def schema_version(self) -> int | None:
        """The schema version the log has (SCHEMA_VERSION once open)."""
        return self.sql.schema_version()

    # -- history (fileflow.runlog.history's queries)
    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        return history.list_runs(self, limit)

    def run(self, run_id: int) -> dict[str, Any] | None:
        """One run, or None."""
        return history.get_run(self, run_id)

    def jobs_of_run(self, run_id: int) -> list[dict[str, Any]]:
        """The jobs of a run in the order they started, each with its output paths."""
        return history.run_jobs(self, run_id)

    def job(self, job_id: int) -> dict[str, Any] | None:
        """One job with its output paths, or None."""
        return history.get_job(self, job_id)

    def jobs_for_path(self, path: str, limit: int = 10) -> list[dict[str, Any]]:
        """The jobs started to make `path`, newest first."""
        return history.jobs_for_path(self, path, limit)

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """The rows of a read-only statement (`:name` parameters) as dicts: through sqlite3
        when `reads_with_sqlite3`, else through the SQL half's engine."""
        params = dict(params or {})
        if self.reads_with_sqlite3:
            return self._query_sqlite(sql, params)
        from sqlalchemy import exc as sa_exc
        from sqlalchemy import text

        try:
            with self.sql.engine.connect() as conn:
                return [dict(row) for row in conn.execute(text(sql), params).mappings()]
        except sa_exc.SQLAlchemyError as exc:
            detail = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or ["error"])[0]
            raise RunLogError(f"cannot read the run log {self.sql.where}: {detail}") from None

    def _query_sqlite(self, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        conn = self._connect(immutable=self._untouched())
        try:
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            return [dict(row) for row in conn.execute(sql, params)]
        except sqlite3.Error as exc:
            raise full_disk_error(self._sqlite_file(), str(exc)) or RunLogError(
                f"cannot read the run log {self.sqlite_path}: {exc}") from None
        finally:
            conn.close()

    def generation(self) -> int:
        """How many times what the log records of jobs has changed (every write of jobs'
        outcomes, of a run's end, `--touch` and `clean` count one): equal before and after,
        no build recorded anything in between. 0 for a log that records none yet."""
        if self.sqlite_path is not None and not os.path.exists(self.sqlite_path):
            return 0
        rows = self.query(GENERATION_QUERY)
        try:
            return int(rows[0]["value"]) if rows else 0
        except (TypeError, ValueError):
            return 0  # damaged: counted as none

    def load_targets(self, paths: Iterable[str] | None = None) -> dict[str, RecordedTarget]:
        """What is recorded of these paths (None: of every path), keyed by path."""
        if self.reads_with_sqlite3:
            found = self._read_sqlite(paths)
            if found is not None:
                return found
        return self.sql.load_targets(paths)

    def _read_sqlite(self, paths: Iterable[str] | None) -> dict[str, RecordedTarget] | None:
        """Read targets with sqlite3; None when the log needs the SQL half (to migrate)."""
        path = self._sqlite_file()
        if not os.path.exists(path):
            return {}
        if self._untouched():
            try:
                return self._read_sqlite_from(self._connect(immutable=True), paths)
            except (sqlite3.DatabaseError, RunLogError):
                pass  # changed under us by a writer: read it the ordinary way
        return self._read_sqlite_from(self._connect(), paths)

    def _untouched(self) -> bool:
        """Looking only, at a log no writer has open (no -wal file, or an empty one: all
        it holds is in the file itself): it can be read as an immutable file, which creates
        and writes nothing beside it, so looking works on a full disk too."""
        if not self.look_only:
            return False
        try:
            return os.path.getsize(self._sqlite_file() + "-wal") == 0
        except OSError:
            return True   # no -wal file

    def _sqlite_file(self) -> str:
        """The SQLite file, for the methods that run only on a SQLite log."""
        assert self.sqlite_path is not None, "not a SQLite run log"
        return self.sqlite_path

    def _connect(self, immutable: bool = False) -> sqlite3.Connection:
        path = self._sqlite_file()
        try:
            if immutable:
                from urllib.parse import quote
                # The path's own bytes, quoted: a folder name that is not UTF-8 works too.
                return sqlite3.connect(f"file:{quote(os.fsencode(path))}?immutable=1", uri=True,
                                       isolation_level=None)
            return sqlite3.connect(path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise full_disk_error(path, str(exc)) or RunLogError(
                f"cannot open the run log {path}: {exc}") from None

    def _read_sqlite_from(self, conn: sqlite3.Connection,
                          paths: Iterable[str] | None) -> dict[str, RecordedTarget] | None:
        path = self.sqlite_path
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            row = conn.execute(VERSION_QUERY).fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                return None
            out: dict[str, RecordedTarget] = {}
            if paths is None:
                target_rows_to_records(conn.execute(TARGETS_QUERY), out)
            else:
                wanted = sorted(set(paths))
                for chunk in chunked(wanted, IN_CLAUSE_SIZE):
                    marks = ",".join("?" * len(chunk))
                    target_rows_to_records(conn.execute(
                        f"{TARGETS_QUERY} WHERE path IN ({marks})", chunk), out)
            return out
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None  # an empty or older file: the SQL half creates or migrates it
            raise full_disk_error(self._sqlite_file(), str(exc)) or RunLogError(
                f"cannot read the run log {path}: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise RunLogError(
                f"the run log {path} is corrupt ({exc}); move it aside to start a new log (what "
                "is recorded as up to date is then lost and everything rebuilds), or restore it "
                "from a backup") from None
        finally:
            conn.close()

    def _read_version(self) -> int | None:
        try:
            conn = self._connect(immutable=self._untouched())
            try:
                row = conn.execute(VERSION_QUERY).fetchone()
            finally:
                conn.close()
        except (sqlite3.Error, RunLogError):
            return None
        try:
            return int(row[0]) if row else None
        except ValueError:
            return None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sql is not None:
            self._sql.close()
            self._sql = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_runlog(url: str | None, workdir: str, *, busy_timeout: float = BUSY_TIMEOUT,
                look_only: bool = False) -> RunLog:
    """Open the run log: SQLite at <workdir>/.fileflow/runlog.db when `url` is None, else the
    database at `url` (sqlite:///... or postgresql://...). Problems with an existing log
    (corrupt, written by a newer fileflow) are reported now; a missing log is created now
    (callers that must not create one, such as dry runs, check for the file first)."""
    log = RunLog(url, workdir, busy_timeout, look_only)
    path = log.sqlite_path
    if path is not None and os.path.exists(path):
        check_sqlite_file(path)
        if log._read_version() == SCHEMA_VERSION:
            return log  # current: reads need no SQL engine; writes load it when they come
    log.sql  # noqa: B018 -- connect, create, migrate, or report a newer schema, now
    return log
