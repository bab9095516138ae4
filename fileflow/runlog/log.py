"""The run log: what each run did, and what is known of every file it made or read.

Layer 3. SQLite by default, at `<workdir>/.fileflow/runlog.db`; PostgreSQL for shared or busy
setups. Schema and the SQL (SQLAlchemy Core) are in fileflow.runlog.sql; records and
constants in fileflow.runlog.records. docs/runlog.md describes the schema.

Why a facade: importing SQLAlchemy costs a fifth of a second, more than a whole no-op
build of 10,000 jobs should take. A SQLite log is therefore read with the standard
library's sqlite3 (one SELECT of the `files` table) and written by a build through it too
(fileflow.runlog.sqlite_writer); SQLAlchemy is loaded to create or migrate a log, for PostgreSQL,
and for history queries. A dry run on a directory without a log creates none.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Any, Iterable

from fileflow.chunks import chunked
from fileflow.runlog.records import (BUSY_TIMEOUT, IN_CLAUSE_SIZE, JOB_STATES, NETWORK_FS_TYPES, RUN_STATUSES,
                             SCHEMA_VERSION, TARGET_COLUMN_NAMES, JobResult, JobStart,
                             RunLogError, check_sqlite_file, is_network_fs,
                             target_rows_to_records)
from fileflow.runlog.writes import BUILD_WRITE_METHODS
from fileflow.state import RecordedTarget

__all__ = [
    "SCHEMA_VERSION", "RUN_STATUSES", "JOB_STATES", "NETWORK_FS_TYPES",
    "JobStart", "JobResult", "RunLog", "RunLogError", "open_runlog", "is_network_fs",
    "sqlite_file",
]


def sqlite_file(url: str | None, workdir: str) -> str | None:
    """The database file of a SQLite log (None for a server URL)."""
    if url is None:
        return os.path.join(os.path.abspath(workdir), ".fileflow", "runlog.db")
    if url.startswith("sqlite:///") and "?" not in url:
        path = url[len("sqlite:///"):]
        if path and path != ":memory:":
            return os.path.join(os.path.abspath(workdir), path)
    return None


class RunLog:
    """A handle on one run log. Not shared between processes: each opens its own.
    Every method of fileflow.runlog.sql.SqlRunLog is available here."""

    def __init__(self, url: str | None, workdir: str, busy_timeout: float = BUSY_TIMEOUT,
                 look_only: bool = False):
        self.url = url
        # Dry runs and `why` must leave every file and directory as they found it: such a
        # handle reads a SQLite log without the -wal/-shm files a reader would create.
        self.look_only = look_only
        self.workdir = workdir
        self.busy_timeout = busy_timeout
        self.sqlite_path = sqlite_file(url, workdir)
        self._sql = None
        self._writer = None

    @property
    def sql(self):
        if self._sql is None:
            from fileflow.runlog.sql import open_sql_runlog
            self._sql = open_sql_runlog(self.url, self.workdir, busy_timeout=self.busy_timeout)
        return self._sql

    @property
    def writer(self):
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

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_sql", "sql", "_writer", "writer"):
            raise AttributeError(name)
        if name in BUILD_WRITE_METHODS:
            return getattr(self.writer, name)
        return getattr(self.sql, name)

    def load_targets(self, paths: Iterable[str] | None = None) -> dict[str, RecordedTarget]:
        """What is recorded of these paths (None: of every path), keyed by path."""
        if self._sql is None and self.sqlite_path is not None:
            found = self._read_sqlite(paths)
            if found is not None:
                return found
        return self.sql.load_targets(paths)

    def _read_sqlite(self, paths: Iterable[str] | None) -> dict[str, RecordedTarget] | None:
        """Read targets with sqlite3; None when the log needs the SQL half (to migrate)."""
        path = self.sqlite_path
        if not os.path.exists(path):
            return {}
        if self._untouched():
            try:
                return self._read_sqlite_from(self._connect(immutable=True), paths)
            except (sqlite3.DatabaseError, RunLogError):
                pass  # changed under us by a writer: read it the ordinary way
        return self._read_sqlite_from(self._connect(), paths)

    def _untouched(self) -> bool:
        """Looking only, at a log no writer has open (no -wal file): it can be read as an
        immutable file, which creates nothing beside it."""
        return self.look_only and not os.path.exists(self.sqlite_path + "-wal")

    def _connect(self, immutable: bool = False) -> sqlite3.Connection:
        path = self.sqlite_path
        try:
            if immutable:
                from urllib.parse import quote
                return sqlite3.connect(f"file:{quote(path)}?immutable=1", uri=True,
                                       isolation_level=None)
            return sqlite3.connect(path, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise RunLogError(f"cannot open the run log {path}: {exc}") from None

    def _read_sqlite_from(self, conn: sqlite3.Connection,
                          paths: Iterable[str] | None) -> dict[str, RecordedTarget] | None:
        path = self.sqlite_path
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None or row[0] != str(SCHEMA_VERSION):
                return None
            out: dict[str, RecordedTarget] = {}
            columns = ", ".join(TARGET_COLUMN_NAMES)
            if paths is None:
                target_rows_to_records(conn.execute(f"SELECT {columns} FROM files"), out)
            else:
                wanted = sorted(set(paths))
                for chunk in chunked(wanted, IN_CLAUSE_SIZE):
                    marks = ",".join("?" * len(chunk))
                    target_rows_to_records(conn.execute(
                        f"SELECT {columns} FROM files WHERE path IN ({marks})", chunk), out)
            return out
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None  # an empty or older file: the SQL half creates or migrates it
            raise RunLogError(f"cannot read the run log {path}: {exc}") from None
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
                row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
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

    def __enter__(self) -> "RunLog":
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




def __getattr__(name: str) -> Any:
    # The SQL half's names (metadata, table objects ...) without importing it up front.
    if name.startswith("__"):
        raise AttributeError(name)  # import machinery probes (__path__ ...) must stay cheap
    from fileflow.runlog import sql as runlog_sql
    try:
        return getattr(runlog_sql, name)
    except AttributeError:
        raise AttributeError(f"module 'fileflow.runlog.log' has no attribute {name!r}") from None
