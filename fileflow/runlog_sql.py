"""The run log's SQL half: schema, migrations, batched writes and queries (SQLAlchemy Core).

Layer 3. Reached through fileflow.runlog, which imports this module only when needed. SQLite by default, at
`<workdir>/.fileflow/runlog.db`; PostgreSQL for shared or busy setups. Every public write
is ONE transaction made of a few bulk statements, retried as a whole when the database
reports a transient conflict ("database is locked", a deadlock). Schema: docs/runlog.md.
"""
from __future__ import annotations

import json
import os
import random
import re
import socket
import time
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import (BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer,
                        MetaData, Table, Text, and_, bindparam, case, create_engine, delete,
                        event, insert, inspect, or_, select, text, update)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

from .runlog_records import (BUSY_TIMEOUT, JOB_STATES, RUN_STATUSES, SCHEMA_VERSION, JobResult,
                             hide_passwords,
                             JobStart, RunLogError, check_sqlite_file, is_network_fs,
                             target_rows_to_records)
from .state import HASH_ALGORITHM, REMOTE_TOKEN, FileState, RecordedTarget

__all__ = ["SqlRunLog", "open_sql_runlog", "metadata"]


_RETRIES = 8                 # whole-transaction retries on a transient conflict
_RETRY_BASE = 0.05           # first back-off (seconds), doubled each time
_RETRY_MAX = 2.0
_CHUNK = 500                 # paths per IN (...) clause
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
              Column("ctime_ns", BigInteger),
              Column("digest", Text),
              Column("algorithm", Text),
              Column("signature", Text),
              Column("input_digests", Text),
              Column("job_id", BigInteger),
              Column("built_at", Float),
              Column("changed_at", Float))


def _migrate_to_2(conn: Connection) -> None:
    """v2: job messages, file ctimes, and which job made which path (history by path)."""
    conn.execute(text("ALTER TABLE jobs ADD COLUMN message TEXT"))
    conn.execute(text("ALTER TABLE files ADD COLUMN ctime_ns BIGINT"))
    conn.execute(text("CREATE TABLE job_outputs (job_id BIGINT NOT NULL, path TEXT NOT NULL, "
                      "PRIMARY KEY (job_id, path))"))
    conn.execute(text("CREATE INDEX ix_job_outputs_path ON job_outputs (path)"))


# (version reached, step). Steps are written as plain DDL of their time, never from the
# current Table objects, so an old log always goes through the same path.
MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [(2, _migrate_to_2)]


# --------------------------------------------------------------------------- helpers
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
_decode = json.JSONDecoder().raw_decode   # our JSON has no surrounding white space


def _user() -> str:
    try:
        import getpass
        return getpass.getuser()
    except Exception:  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else ""


def _opt(value: int) -> int | None:
    """-1 means unknown in the state records; NULL in the database."""
    return None if value == -1 else value


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _algorithm(path: str, default: str = HASH_ALGORITHM) -> str:
    """What a path's recorded digest is: a content hash, or a remote file's version token."""
    if "://" in path:
        from .remote import is_remote
        if is_remote(path):
            return REMOTE_TOKEN
    return default


def _changed_at(ex: Any) -> Any:
    """Keep the recorded changed_at when the content digest is unchanged (early cutoff)."""
    same = and_(files.c.digest.is_not(None), files.c.digest == ex.digest,
                files.c.algorithm == ex.algorithm, files.c.changed_at.is_not(None))
    return case((same, files.c.changed_at), else_=ex.changed_at)


_TARGET_COLUMNS = (files.c.path, files.c.complete, files.c.size, files.c.mtime_ns, files.c.digest,
                   files.c.algorithm, files.c.signature, files.c.input_digests, files.c.job_id,
                   files.c.built_at, files.c.changed_at, files.c.ctime_ns)
# What a finished job (or --touch) sets on its output's row; changed_at is computed.
_BUILT_COLUMNS = ("complete", "size", "mtime_ns", "ctime_ns", "digest", "algorithm",
                  "signature", "input_digests", "job_id", "built_at")


def _job_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["wildcards"] = json.loads(d["wildcards"] or "{}")
    d["reasons"] = json.loads(d["reasons"] or "[]")
    return d


def _run_dict(row: Any) -> dict[str, Any]:
    d = dict(row._mapping)
    d["argv"] = json.loads(d["argv"] or "[]")
    return d


# --------------------------------------------------------------------------- the log
class SqlRunLog:
    """A handle on one run log. Not shared between processes: each opens its own."""

    def __init__(self, engine: Engine, where: str, journal_mode: str | None = None):
        self.engine = engine
        self.where = where                # the file, or the URL without its password
        self.journal_mode = journal_mode  # SQLite only: "wal" or "delete"
        self.is_sqlite = engine.dialect.name == "sqlite"
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as upsert
        else:
            from sqlalchemy.dialects.postgresql import insert as upsert
        self._upsert_insert = upsert
        self._prepared: dict[str, str] = {}

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
        detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        low = detail.lower()
        if self.is_sqlite and ("not a database" in low or "malformed" in low or "corrupt" in low):
            return RunLogError(
                f"the run log {self.where} is corrupt ({detail}); move it aside to start a new "
                "log (what is recorded as up to date is then lost and everything rebuilds), "
                "or restore it from a backup")
        return RunLogError(f"cannot use the run log {self.where}: {detail}")

    def _run(self, fn: Callable[[Connection], Any], *, write: bool) -> Any:
        """Run fn(conn) in one transaction (BEGIN IMMEDIATE for SQLite writes); retry the
        whole transaction with back-off on a transient conflict."""
        delay = _RETRY_BASE
        attempt = 0
        while True:
            try:
                with self.engine.connect() as conn:
                    if write:
                        conn.execution_options(fileflow_write=True)
                    with conn.begin():
                        return fn(conn)
            except sa_exc.DBAPIError as e:
                if attempt < _RETRIES and self._transient(e):
                    attempt += 1
                    time.sleep(delay * random.uniform(1.0, 2.0))
                    delay = min(delay * 2, _RETRY_MAX)
                    continue
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

    # -- runs
    def start_run(self, argv: list[str], workdir: str, version: str) -> int:
        row = dict(started_at=time.time(), argv=_dumps(hide_passwords(argv)), workdir=workdir,
                   user=_user(), host=socket.gethostname(), pid=os.getpid(),
                   fileflow_version=version, status="running", jobs_done=0, jobs_failed=0)
        return self._write(
            lambda c: c.execute(insert(runs).values(**row).returning(runs.c.id)).scalar_one())

    def finish_run(self, run_id: int, status: str, jobs_done: int, jobs_failed: int) -> None:
        if status not in RUN_STATUSES:
            raise ValueError(f"run status must be one of {sorted(RUN_STATUSES)}, not {status!r}")
        stmt = (update(runs).where(runs.c.id == run_id)
                .values(status=status, ended_at=time.time(), jobs_done=jobs_done,
                        jobs_failed=jobs_failed))
        self._write(lambda c: c.execute(stmt))

    # -- jobs
    # The per-job writes run once per scheduler tick, thousands of times a build: they are
    # plain SQL prepared once (the same text on SQLite and PostgreSQL, which share the
    # ON CONFLICT syntax), executed as bulk executemany through the driver, skipping the
    # statement compilation and caching SQLAlchemy would redo on every call.
    _SQL = {
        "insert_job": (
            "INSERT INTO jobs (id, run_id, rule, wildcards, name, command, reasons, state, attempt, "
            "started_at, executor, external_id, signature, log_path, message) VALUES (:id, :run_id, "
            ":rule, :wildcards, :name, :command, :reasons, 'running', :attempt, :started_at, "
            ":executor, :external_id, :signature, :log_path, '')"),
        "insert_output": "INSERT INTO job_outputs (job_id, path) VALUES (:job_id, :path)",
        "external_id": "UPDATE jobs SET external_id = :external_id WHERE id = :id",
        "mark_incomplete": (
            "INSERT INTO files (path, complete, job_id) VALUES (:path, :complete, :job_id) "
            "ON CONFLICT (path) DO UPDATE SET complete = excluded.complete, job_id = excluded.job_id"),
        "finish_job": (
            "UPDATE jobs SET state = :state, exit_code = :exit_code, "
            "started_at = COALESCE(CAST(:started_at AS DOUBLE PRECISION), started_at), "
            "ended_at = :ended_at, host = :host, peak_rss_bytes = :rss, cpu_seconds = :cpu, "
            "signature = :signature, message = :message, "
            "external_id = COALESCE(CAST(:external_id AS TEXT), external_id) WHERE id = :id"),
        "built": (
            "INSERT INTO files (path, complete, size, mtime_ns, ctime_ns, digest, algorithm, "
            "signature, input_digests, job_id, built_at, changed_at) VALUES (:path, :complete, "
            ":size, :mtime_ns, :ctime_ns, :digest, :algorithm, :signature, :input_digests, "
            ":job_id, :built_at, :changed_at) ON CONFLICT (path) DO UPDATE SET "
            "complete = excluded.complete, size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "ctime_ns = excluded.ctime_ns, digest = excluded.digest, algorithm = excluded.algorithm, "
            "signature = excluded.signature, input_digests = excluded.input_digests, "
            "job_id = excluded.job_id, built_at = excluded.built_at, changed_at = CASE "
            "WHEN files.digest IS NOT NULL AND files.digest = excluded.digest AND "
            "files.algorithm = excluded.algorithm AND files.changed_at IS NOT NULL "
            "THEN files.changed_at ELSE excluded.changed_at END"),
    }

    def _driver_sql(self, key: str) -> str:
        """The statement in the driver's parameter style (sqlite3 :name, psycopg %(name)s)."""
        found = self._prepared.get(key)
        if found is None:
            sql = self._SQL[key]
            if self.engine.dialect.paramstyle == "pyformat":
                sql = re.sub(r"(?<![:\w]):(\w+)", r"%(\1)s", sql)
            found = self._prepared[key] = sql
        return found

    def _many(self, conn: Connection, key: str, rows: list[dict[str, Any]]) -> None:
        """executemany on the driver's cursor, inside the transaction `conn` holds: the
        per-statement bookkeeping of SQLAlchemy's execution layer (events, result objects)
        cost about 0.15 ms a statement, and a tick runs several."""
        sql = self._driver_sql(key)
        dbapi = self.engine.dialect.loaded_dbapi
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(sql, rows)
        except dbapi.Error as exc:
            # Wrapped as SQLAlchemy would, so _run's retry of "database is locked" applies.
            raise sa_exc.DBAPIError.instance(sql, rows[:1], exc, dbapi.Error) from exc
        finally:
            cursor.close()

    def _new_job_ids(self, conn: Connection, n: int) -> list[int]:
        """n fresh job ids in one round trip, so the rows go in as one bulk insert (a
        multi-row INSERT ... RETURNING cannot promise the order of the ids on SQLite)."""
        if self.is_sqlite:   # we hold the write lock (BEGIN IMMEDIATE): nobody else inserts
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                top = cursor.execute("SELECT COALESCE(MAX(id), 0) FROM jobs").fetchone()[0]
            finally:
                cursor.close()
            return list(range(top + 1, top + 1 + n))
        return list(conn.execute(
            text("SELECT nextval(pg_get_serial_sequence('jobs', 'id')) "
                 "FROM generate_series(1, :n)"), {"n": n}).scalars())

    def _start_rows(self, run_id: int, starts: list[JobStart]) -> list[dict[str, Any]]:
        now = time.time()
        return [dict(run_id=run_id, rule=s.rule, wildcards=_dumps(dict(s.wildcards)),
                     name=s.name, command=s.command, reasons=_dumps(list(s.reasons)),
                     attempt=s.attempt, started_at=now, executor=s.executor,
                     external_id=s.external_id, signature=s.signature, log_path=s.log_path)
                for s in starts]

    def _insert_started(self, conn: Connection, rows: list[dict[str, Any]],
                        starts: list[JobStart]) -> list[int]:
        ids = self._new_job_ids(conn, len(rows))
        for row, job_id in zip(rows, ids):
            row["id"] = job_id
        self._many(conn, "insert_job", rows)
        owners: dict[str, int] = {}
        for job_id, s in zip(ids, starts):
            for path in s.outputs:
                owners[path] = job_id
        if owners:
            self._many(conn, "insert_output", [{"job_id": j, "path": p} for p, j in owners.items()])
        self._mark_incomplete(conn, owners)
        return ids

    def _mark_incomplete(self, conn: Connection, owners: dict[str, int]) -> None:
        """Upsert files rows as complete=False, made by the given job; keep the last digest
        (it is the reference for early cutoff when the job finishes)."""
        if owners:
            self._many(conn, "mark_incomplete", [{"path": p, "complete": False, "job_id": owners[p]}
                                  for p in sorted(owners)])

    def _finish_rows(self, results: list[JobResult]):
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
                        signature=r.signature, input_digests=inputs, job_id=r.job_id,
                        built_at=now, changed_at=now)
            elif r.state in ("failed", "cancelled"):
                for path in [*r.output_paths, *(fs.path for fs in r.outputs)]:
                    failed[path] = r.job_id
        return job_rows, built, failed

    def _update_finished(self, conn: Connection, rows) -> None:
        job_rows, built, failed = rows
        self._many(conn, "finish_job", job_rows)
        self._mark_incomplete(conn, failed)
        if built:
            self._many(conn, "built", [built[p] for p in sorted(built)])

    def jobs_started(self, run_id: int, starts: list[JobStart]) -> list[int]:
        """Insert running jobs and mark their outputs incomplete, in one transaction."""
        if not starts:
            return []
        rows = self._start_rows(run_id, starts)
        return self._write(lambda conn: self._insert_started(conn, rows, starts))

    def jobs_finished(self, results: list[JobResult]) -> None:
        """Record how jobs ended. A done job's outputs become complete with their digests
        (changed_at kept when the digest is unchanged); failed or cancelled jobs' outputs
        stay complete=False; a skipped job's outputs are left as they are."""
        if results:
            rows = self._finish_rows(results)
            self._write(lambda conn: self._update_finished(conn, rows))

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

        def fn(conn: Connection) -> list[int]:
            if id_rows:
                self._many(conn, "external_id", id_rows)
            if done_rows is not None:
                self._update_finished(conn, done_rows)
            return self._insert_started(conn, start_rows, started) if start_rows else []

        return self._write(fn)

    def unfinished_jobs(self, host: str) -> list[dict[str, Any]]:
        """Jobs still 'running' in runs of this host that are still 'running': after a
        crash of fileflow, their processes may live on. Each: job id, run id, run pid,
        job external_id, executor, started_at, name, command."""
        stmt = (select(jobs.c.id, jobs.c.run_id, runs.c.pid, runs.c.started_at.label("run_started"),
                       jobs.c.external_id, jobs.c.executor, jobs.c.started_at, jobs.c.name,
                       jobs.c.command)
                .join(runs, runs.c.id == jobs.c.run_id)
                .where(jobs.c.state == "running", runs.c.status == "running",
                       runs.c.host == host))
        return self._read(lambda c: [dict(r._mapping) for r in c.execute(stmt)])

    def close_abandoned(self, run_ids: Iterable[int], job_ids: Iterable[int],
                        message: str = "fileflow stopped while the job ran; stopped by a later build",
                        ) -> None:
        """Mark runs whose fileflow died as interrupted and their jobs as cancelled."""
        run_ids, job_ids = sorted(set(run_ids)), sorted(set(job_ids))

        def fn(conn: Connection) -> None:
            now = time.time()
            for chunk in _chunks(job_ids):
                conn.execute(update(jobs).where(jobs.c.id.in_(chunk)).values(
                    state="cancelled", ended_at=now, message=message))
            for chunk in _chunks(run_ids):
                conn.execute(update(runs).where(runs.c.id.in_(chunk)).values(
                    status="interrupted", ended_at=now))

        if run_ids or job_ids:
            self._write(fn)

    def set_external_ids(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Record cluster job ids (job_id, external_id) in one transaction."""
        rows = [{"b_id": j, "b_ext": e} for j, e in pairs]
        if rows:
            stmt = (update(jobs).where(jobs.c.id == bindparam("b_id"))
                    .values(external_id=bindparam("b_ext")))
            self._write(lambda c: c.execute(stmt, rows))

    # -- files
    def record_files(self, states: list[FileState]) -> None:
        """Remember observed source files (so unchanged ones are not hashed again). A row
        that belongs to an output (it has a job) is left untouched; a file that does not
        exist is not recorded."""
        now = time.time()
        rows = {s.path: dict(path=s.path, complete=True, size=s.size, mtime_ns=s.mtime_ns,
                             ctime_ns=_opt(s.ctime_ns), digest=s.digest, algorithm=_algorithm(s.path),
                             changed_at=now)
                for s in states if s.exists}
        if not rows:
            return
        ins = self._upsert_insert(files)
        ex = ins.excluded
        set_ = {c: getattr(ex, c) for c in ("complete", "size", "mtime_ns", "ctime_ns",
                                            "digest", "algorithm")}
        set_["changed_at"] = case((ex.digest.is_(None), files.c.changed_at),
                                  else_=_changed_at(ex))
        # Never touch an output's row (it has a job). An observation that was not hashed
        # never replaces a hashed record: the recorded stat and digest stay a matching pair
        # (the store sees the stat differ and hashes the file next time).
        where = and_(files.c.job_id.is_(None),
                     or_(ex.digest.is_not(None), files.c.digest.is_(None)))
        stmt = ins.on_conflict_do_update(index_elements=[files.c.path], set_=set_, where=where)
        self._write(lambda c: c.execute(stmt, [rows[p] for p in sorted(rows)]))

    def mark_complete(self, targets: list[RecordedTarget]) -> None:
        """Record targets as complete exactly as given (`--touch`)."""
        now = time.time()
        rows = {t.path: dict(path=t.path, complete=True, size=t.size, mtime_ns=t.mtime_ns,
                             ctime_ns=_opt(t.ctime_ns), digest=t.digest, algorithm=_algorithm(t.path, t.algorithm),
                             signature=t.signature,
                             input_digests=_dumps(dict(t.input_digests)), job_id=t.job_id,
                             built_at=t.built_at or now, changed_at=t.changed_at or now)
                for t in targets}
        if not rows:
            return
        ins = self._upsert_insert(files)
        ex = ins.excluded
        set_ = {c: getattr(ex, c) for c in _BUILT_COLUMNS}
        set_["changed_at"] = _changed_at(ex)
        stmt = ins.on_conflict_do_update(index_elements=[files.c.path], set_=set_)
        self._write(lambda c: c.execute(stmt, [rows[p] for p in sorted(rows)]))

    def forget(self, paths: Iterable[str]) -> None:
        """Drop what is recorded of these paths (`clean`); job history is kept."""
        wanted = sorted(set(paths))
        if wanted:
            def fn(conn: Connection) -> None:
                for chunk in _chunks(wanted):
                    conn.execute(delete(files).where(files.c.path.in_(chunk)))
            self._write(fn)

    def load_targets(self, paths: Iterable[str] | None = None) -> dict[str, RecordedTarget]:
        """What is recorded of these paths (None: of every path), keyed by path."""
        def fn(conn: Connection) -> dict[str, RecordedTarget]:
            out: dict[str, RecordedTarget] = {}
            if paths is None:
                target_rows_to_records(conn.execute(select(*_TARGET_COLUMNS)).all(), out)
            else:
                for chunk in _chunks(sorted(set(paths))):
                    target_rows_to_records(conn.execute(select(*_TARGET_COLUMNS)
                                       .where(files.c.path.in_(chunk))).all(), out)
            return out

        return self._read(fn)

    # -- history
    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest runs, newest first."""
        stmt = select(runs).order_by(runs.c.id.desc()).limit(limit)
        return self._read(lambda c: [_run_dict(r) for r in c.execute(stmt)])

    def run(self, run_id: int) -> dict[str, Any] | None:
        row = self._read(lambda c: c.execute(select(runs).where(runs.c.id == run_id)).first())
        return None if row is None else _run_dict(row)

    def _with_outputs(self, conn: Connection, rows: list[Any], where: Any) -> list[dict]:
        result = [_job_dict(r) for r in rows]
        outputs: dict[int, list[str]] = {}
        stmt = (select(job_outputs.c.job_id, job_outputs.c.path).join(
            jobs, jobs.c.id == job_outputs.c.job_id).where(where).order_by(job_outputs.c.path))
        for job_id, path in conn.execute(stmt):
            outputs.setdefault(job_id, []).append(path)
        for d in result:
            d["outputs"] = outputs.get(d["id"], [])
        return result

    def jobs_of_run(self, run_id: int) -> list[dict[str, Any]]:
        """The jobs of a run in the order they started, each with its output paths."""
        where = jobs.c.run_id == run_id
        return self._read(lambda c: self._with_outputs(
            c, list(c.execute(select(jobs).where(where).order_by(jobs.c.id))), where))

    def job(self, job_id: int) -> dict[str, Any] | None:
        where = jobs.c.id == job_id
        found = self._read(lambda c: self._with_outputs(
            c, list(c.execute(select(jobs).where(where))), where))
        return found[0] if found else None

    def jobs_for_path(self, path: str) -> list[dict[str, Any]]:
        """Every job that was started to make `path`, newest first."""
        made = jobs.c.id.in_(select(job_outputs.c.job_id).where(job_outputs.c.path == path))
        return self._read(lambda c: self._with_outputs(
            c, list(c.execute(select(jobs).where(made).order_by(jobs.c.id.desc()))), made))


# --------------------------------------------------------------------------- opening
def _sqlite_engine(path: str, busy_timeout: float, journal_mode: str) -> Engine:
    engine = create_engine(URL.create("sqlite", database=path),
                           connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None       # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != journal_mode:
                cur.execute(f"PRAGMA journal_mode = {journal_mode}")
            cur.execute("PRAGMA synchronous = " + ("NORMAL" if journal_mode == "wal" else "FULL"))
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front: a deferred transaction that upgrades
        # from read to write can fail with "locked" without waiting for the busy timeout.
        write = conn.get_execution_options().get("fileflow_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


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
        try:
            sa_url = make_url(url)
        except sa_exc.ArgumentError as e:
            raise RunLogError(f"invalid run log database URL {url!r}: {e}") from e
        if sa_url.drivername in ("postgresql", "postgres"):
            sa_url = sa_url.set(drivername="postgresql+psycopg")
    backend = sa_url.get_backend_name()
    if backend == "sqlite":
        path = sa_url.database or ""
        if not path or path == ":memory:":
            raise RunLogError("the run log must be a file or a server, not an in-memory database")
        path = os.path.join(os.path.abspath(workdir), path)   # relative to the workdir
        check_sqlite_file(path)
        mode = "delete" if is_network_fs(os.path.dirname(path)) else "wal"
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
