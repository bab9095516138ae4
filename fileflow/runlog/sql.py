"""The run log's SQL half: schema and migrations (SQLAlchemy Core), and a build's writes
(fileflow.runlog.writes) on PostgreSQL.

Layer 3. Reached through fileflow.runlog.log, which imports this module only when needed. SQLite by
default, at `<workdir>/.fileflow/runlog.db`; PostgreSQL for shared or busy setups. Every public
write is ONE transaction made of a few bulk statements, retried as a whole when the database
reports a transient conflict ("database is locked", a deadlock). Schema: docs/runlog.md.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from fileflow.chunks import chunked
from fileflow.runlog.records import (
    BUSY_TIMEOUT,
    IN_CLAUSE_SIZE,
    SCHEMA_VERSION,
    TARGET_COLUMN_NAMES,
    RunLogError,
    check_sqlite_file,
    configure_sqlite,
    hide_passwords,
    sqlite_journal_mode,
    target_rows_to_records,
)
from fileflow.runlog.writes import (
    RETRIES,
    RETRY_BASE,
    CursorWrites,
    busy_error,
    lost_error,
    next_delay,
    reconnect_seconds,
    run_log_error,
)
from fileflow.state import RecordedTarget

__all__ = ["SqlRunLog", "open_sql_runlog", "metadata"]


_PG_LOCK_KEY = 0x66666C6F77  # pg_advisory_xact_lock key for schema creation/migration


# --------------------------------------------------------------------------- schema
_ID = BigInteger().with_variant(Integer(), "sqlite")   # INTEGER PRIMARY KEY = rowid in SQLite
metadata = MetaData()

meta = Table("meta", metadata,
             Column("key", Text, primary_key=True),
             Column("value", Text, nullable=False))

runs = Table("runs", metadata,
             Column("id", _ID, primary_key=True, autoincrement=True),
             Column("started_at", Float, nullable=False),
             Column("ended_at", Float),
             Column("argv", Text, nullable=False),
             Column("workdir", Text, nullable=False),
             Column("user", Text),
             Column("host", Text),
             Column("pid", Integer),
             Column("fileflow_version", Text),
             Column("status", Text, nullable=False),
             Column("jobs_done", Integer, nullable=False),
             Column("jobs_failed", Integer, nullable=False))

jobs = Table("jobs", metadata,
             Column("id", _ID, primary_key=True, autoincrement=True),
             Column("run_id", BigInteger, ForeignKey("runs.id"), nullable=False),
             Column("rule", Text, nullable=False),
             Column("wildcards", Text, nullable=False),
             Column("name", Text, nullable=False),
             Column("command", Text),
             Column("reasons", Text, nullable=False),
             Column("state", Text, nullable=False),
             Column("attempt", Integer, nullable=False),
             Column("exit_code", Integer),
             Column("started_at", Float),
             Column("ended_at", Float),
             Column("executor", Text),
             Column("external_id", Text),
             Column("host", Text),
             Column("peak_rss_bytes", BigInteger),
             Column("cpu_seconds", Float),
             Column("signature", Text),
             Column("log_path", Text),
             Column("message", Text))
Index("ix_jobs_run_id", jobs.c.run_id)
Index("ix_jobs_external_id", jobs.c.external_id)

job_outputs = Table("job_outputs", metadata,
                    Column("job_id", BigInteger, primary_key=True),
                    Column("path", Text, primary_key=True))
Index("ix_job_outputs_path", job_outputs.c.path)

files = Table("files", metadata,
              Column("path", Text, primary_key=True),
              Column("complete", Boolean, nullable=False),
              Column("size", BigInteger),
              Column("mtime_ns", BigInteger),
              Column("digest", Text),
              Column("algorithm", Text),
              Column("signature", Text),
              Column("input_digests", Text),
              Column("job_id", BigInteger),
              Column("built_at", Float),
              Column("changed_at", Float),
              Column("ctime_ns", BigInteger),    # where the v2 migration adds it
              Column("seen_ns", BigInteger),     # the v3 migration adds these two
              Column("link", Text),
              Column("code_digest", Text),       # the v4 migration adds these two last
              Column("params_digest", Text))


def _migrate_to_2(conn: Connection) -> None:
    """v2: job messages, file ctimes, and which job made which path (history by path)."""
    conn.execute(text("ALTER TABLE jobs ADD COLUMN message TEXT"))
    conn.execute(text("ALTER TABLE files ADD COLUMN ctime_ns BIGINT"))
    conn.execute(text("CREATE TABLE job_outputs (job_id BIGINT NOT NULL, path TEXT NOT NULL, "
                      "PRIMARY KEY (job_id, path))"))
    conn.execute(text("CREATE INDEX ix_job_outputs_path ON job_outputs (path)"))


def _migrate_to_3(conn: Connection) -> None:
    """v3: when each file state was observed (the file system's clock), and symlink targets.
    Older rows keep NULL: observed at an unknown time, trusted as before."""
    conn.execute(text("ALTER TABLE files ADD COLUMN seen_ns BIGINT"))
    conn.execute(text("ALTER TABLE files ADD COLUMN link TEXT"))


def _migrate_to_4(conn: Connection) -> None:
    """v4: the signature's parts apart (code, params), for --rerun-triggers and
    --list-changes. Older rows keep NULL: which part changed is not known."""
    conn.execute(text("ALTER TABLE files ADD COLUMN code_digest TEXT"))
    conn.execute(text("ALTER TABLE files ADD COLUMN params_digest TEXT"))


# (version reached, step). Steps are written as plain DDL of their time, never from the
# current Table objects, so an old log always goes through the same path.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(2, _migrate_to_2),
                                                              (3, _migrate_to_3),
                                                              (4, _migrate_to_4)]


# --------------------------------------------------------------------------- helpers

_TARGET_COLUMNS = tuple(files.c[name] for name in TARGET_COLUMN_NAMES)


# --------------------------------------------------------------------------- the log
class SqlRunLog(CursorWrites):
    """A handle on one run log. Not shared between processes: each opens its own."""

    def __init__(self, engine: Engine, where: str, journal_mode: str | None = None):
        self.engine = engine
        self.where = where                # the file, or the URL without its password
        self.journal_mode = journal_mode  # SQLite only: "wal" or "delete"
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.paramstyle = engine.dialect.paramstyle
        self._prepared: dict[str, str] = {}
        self.reconnect_seconds = reconnect_seconds()
        self._worked = False    # a transaction went through: a lost connection is retried

    # -- context manager / lifecycle
    def __enter__(self) -> SqlRunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions
    def _transient(self, e: sa_exc.DBAPIError) -> bool:
        if e.connection_invalidated:
            return False
        if self.is_sqlite:
            msg = str(e.orig).lower()
            return "locked" in msg or "busy" in msg
        return getattr(e.orig, "sqlstate", None) in {"40001", "40P01", "55P03"}

    def _error(self, e: Exception) -> RunLogError:
        orig = getattr(e, "orig", None) or e
        return run_log_error(self.where, str(orig) or type(orig).__name__, self.is_sqlite)

    def _lost(self, e: sa_exc.DBAPIError) -> bool:
        """A server that worked before dropped the connection or refuses new ones (restarted,
        failed over, the connection killed): worth reconnecting to for a while."""
        return (not self.is_sqlite and self._worked
                and (e.connection_invalidated or isinstance(e, sa_exc.OperationalError)))

    def _run(self, fn: Callable[[Connection], Any], *, write: bool) -> Any:
        """Run fn(conn) in one transaction (BEGIN IMMEDIATE for SQLite writes); retry the
        whole transaction with back-off on a transient conflict, and on a new connection
        for up to `reconnect_seconds` when the server's connection is lost (a transaction
        that did not commit left nothing behind)."""
        delay = RETRY_BASE
        attempt = 0
        began = time.monotonic()
        while True:
            try:
                with self.engine.connect() as conn:
                    if write:
                        conn.execution_options(fileflow_write=True)
                    with conn.begin():
                        result = fn(conn)
                self._worked = True
                return result
            except sa_exc.DBAPIError as e:
                if self._transient(e):
                    if attempt < RETRIES:
                        attempt += 1
                        delay = next_delay(delay)
                        continue
                    if self.is_sqlite:
                        raise busy_error(self.where, time.monotonic() - began) from e
                if self._lost(e):
                    waited = time.monotonic() - began
                    if waited < self.reconnect_seconds:
                        delay = next_delay(min(delay, self.reconnect_seconds - waited))
                        continue
                    raise lost_error(self.where, self.reconnect_seconds, self._error(e)) from e
                raise self._error(e) from e
            except sa_exc.SQLAlchemyError as e:
                raise self._error(e) from e

    def _write(self, fn: Callable[[Connection], Any]) -> Any:
        return self._run(fn, write=True)

    def _read(self, fn: Callable[[Connection], Any]) -> Any:
        return self._run(fn, write=False)

    # -- schema
    @staticmethod
    def _version(conn: Connection) -> int | None:
        if not inspect(conn).has_table("meta"):
            return None
        value = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
        if value is None:
            return -1
        try:
            return int(value)
        except (TypeError, ValueError):
            return -1

    def _check_version(self, version: int | None) -> None:
        if version == -1:
            raise RunLogError(f"the run log {self.where} has no valid schema version; it is "
                              "damaged or not a fileflow run log")
        if version is not None and version > SCHEMA_VERSION:
            raise RunLogError(
                f"the run log {self.where} has schema version {version}, newer than this "
                f"fileflow understands ({SCHEMA_VERSION}); it was written by a newer fileflow: "
                "upgrade fileflow (pip install -U fileflow) to use it")

    def _upgrade(self, conn: Connection) -> None:
        if not self.is_sqlite:  # serialise concurrent creators/migrators
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        version = self._version(conn)
        self._check_version(version)
        if version is None:
            ours = set(inspect(conn).get_table_names()) & {"runs", "jobs", "files", "job_outputs"}
            if ours:
                raise RunLogError(f"the run log {self.where} has tables {sorted(ours)} but no "
                                  "schema version; it is damaged or not a fileflow run log")
            metadata.create_all(conn)
            conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
            return
        for reached, step in MIGRATIONS:
            if reached > version:
                step(conn)
        if version != SCHEMA_VERSION:
            conn.execute(update(meta).where(meta.c.key == "schema_version")
                         .values(value=str(SCHEMA_VERSION)))

    def ensure_schema(self) -> None:
        """Create the schema in an empty database, migrate an older one in place."""
        version = self._read(self._version)
        self._check_version(version)
        if version != SCHEMA_VERSION:
            self._write(self._upgrade)

    def schema_version(self) -> int | None:
        return self._read(self._version)

    # -- a build's writes (fileflow.runlog.writes) on the driver's cursor
    def _transaction(self, fn: Callable[[Any], Any], write: bool = True) -> Any:
        """fn(cursor) on the driver's cursor inside one transaction: the per-statement
        bookkeeping of SQLAlchemy's execution layer (events, result objects) costs about
        0.15 ms a statement, and a scheduler tick runs several."""
        dbapi = self.engine.dialect.loaded_dbapi

        def on_cursor(conn: Connection) -> Any:
            driver_conn = conn.connection.dbapi_connection
            assert driver_conn is not None, "an open connection has its driver's"
            cursor = driver_conn.cursor()
            try:
                return fn(cursor)
            except dbapi.Error as exc:
                # Wrapped as SQLAlchemy would, so _run's retry of "database is locked" applies.
                raise sa_exc.DBAPIError.instance(None, None, exc, dbapi.Error) from exc
            finally:
                cursor.close()

        return self._run(on_cursor, write=write)

    def load_targets(self, paths: Iterable[str] | None = None) -> dict[str, RecordedTarget]:
        """What is recorded of these paths (None: of every path), keyed by path."""
        def fn(conn: Connection) -> dict[str, RecordedTarget]:
            out: dict[str, RecordedTarget] = {}
            if paths is None:
                target_rows_to_records(conn.execute(select(*_TARGET_COLUMNS)).all(), out)
            else:
                for chunk in chunked(sorted(set(paths)), IN_CLAUSE_SIZE):
                    target_rows_to_records(conn.execute(select(*_TARGET_COLUMNS)
                                       .where(files.c.path.in_(chunk))).all(), out)
            return out

        return self._read(fn)


# --------------------------------------------------------------------------- opening
def _sqlite_engine(path: str, busy_timeout: float, journal_mode: str) -> Engine:
    engine = create_engine(URL.create("sqlite", database=path),
                           connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None       # SQLAlchemy emits BEGIN itself (below)
        configure_sqlite(dbapi_conn, busy_timeout, journal_mode)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front: a deferred transaction that upgrades
        # from read to write can fail with "locked" without waiting for the busy timeout.
        write = conn.get_execution_options().get("fileflow_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _parsed_url(url: str) -> URL:
    """`--db URL` parsed, or a RunLogError saying what is wrong with it (password hidden)."""
    shown = hide_passwords([url])[0]
    try:
        sa_url = make_url(url)
    except sa_exc.ArgumentError as e:
        raise RunLogError(f"invalid run log database URL {shown!r}: {e}") from e
    except ValueError:  # SQLAlchemy reads the port with int()
        raise RunLogError(f"invalid run log database URL {shown!r}: the port is not a "
                          "number (postgresql://user:password@host:5432/database)") from None
    if sa_url.port is not None and not 1 <= sa_url.port <= 65535:
        raise RunLogError(f"invalid run log database URL {shown!r}: the port must be a number "
                          f"from 1 to 65535, not {sa_url.port}")
    return sa_url


def open_sql_runlog(url: str | None, workdir: str, *,
                busy_timeout: float = BUSY_TIMEOUT) -> SqlRunLog:
    """Open (creating or migrating) the run log: SQLite at <workdir>/.fileflow/runlog.db
    when `url` is None, else the database at `url` (sqlite:///… or postgresql://…)."""
    if url is None:
        directory = os.path.join(os.path.abspath(workdir), ".fileflow")
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as e:
            raise RunLogError(f"cannot create {directory} for the run log: {e.strerror}") from e
        sa_url = URL.create("sqlite", database=os.path.join(directory, "runlog.db"))
    else:
        sa_url = _parsed_url(url)
        if sa_url.drivername in ("postgresql", "postgres"):
            sa_url = sa_url.set(drivername="postgresql+psycopg")
    backend = sa_url.get_backend_name()
    if backend == "sqlite":
        path = sa_url.database or ""
        if not path or path == ":memory:":
            raise RunLogError("the run log must be a file or a server, not an in-memory database")
        path = os.path.join(os.path.abspath(workdir), path)   # relative to the workdir
        check_sqlite_file(path)
        mode = sqlite_journal_mode(path)
        log = SqlRunLog(_sqlite_engine(path, busy_timeout, mode), path, mode)
    elif backend == "postgresql":
        where = sa_url.render_as_string(hide_password=True)
        try:
            engine = create_engine(sa_url, pool_pre_ping=True,
                                   connect_args={"connect_timeout": 10,
                                                 "application_name": "fileflow"})
        except ImportError as e:
            raise RunLogError("a PostgreSQL run log needs psycopg: "
                              "pip install 'fileflow[postgres]'") from e
        log = SqlRunLog(engine, where)
    else:
        raise RunLogError(f"unsupported run log database {backend!r} in {url!r}: use SQLite "
                          "(the default) or postgresql://user:password@host/database")
    try:
        log.ensure_schema()
    except BaseException:
        log.close()
        raise
    return log
