"""The run log's schema: versions and migrations, on SQLite and (with FILEFLOW_TEST_PG_URL)
PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from fileflow.errors import FileflowError
from fileflow.runlog.log import SCHEMA_VERSION, RunLogError
from fileflow.runlog.sql import metadata
from runlogkit import DB, backend_db, done, fresh_pg_schema, fstate, start


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def pg_url(postgres_url):
    with fresh_pg_schema(postgres_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> DB:
    return backend_db(request, tmp_path)


# --------------------------------------------------------------------------- schema versions
V1_DDL = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    'CREATE TABLE runs (id {id}, started_at FLOAT NOT NULL, ended_at FLOAT, argv TEXT NOT NULL, '
    'workdir TEXT NOT NULL, "user" TEXT, host TEXT, pid INTEGER, fileflow_version TEXT, '
    'status TEXT NOT NULL, jobs_done INTEGER NOT NULL, jobs_failed INTEGER NOT NULL)',
    "CREATE TABLE jobs (id {id}, run_id BIGINT NOT NULL REFERENCES runs (id), rule TEXT NOT NULL, "
    "wildcards TEXT NOT NULL, name TEXT NOT NULL, command TEXT, reasons TEXT NOT NULL, "
    "state TEXT NOT NULL, attempt INTEGER NOT NULL, exit_code INTEGER, started_at FLOAT, "
    "ended_at FLOAT, executor TEXT, external_id TEXT, host TEXT, peak_rss_bytes BIGINT, "
    "cpu_seconds FLOAT, signature TEXT, log_path TEXT)",
    "CREATE INDEX ix_jobs_run_id ON jobs (run_id)",
    "CREATE INDEX ix_jobs_external_id ON jobs (external_id)",
    "CREATE TABLE files (path TEXT PRIMARY KEY, complete BOOLEAN NOT NULL, size BIGINT, "
    "mtime_ns BIGINT, digest TEXT, algorithm TEXT, signature TEXT, input_digests TEXT, "
    "job_id BIGINT, built_at FLOAT, changed_at FLOAT)",
    "INSERT INTO meta (key, value) VALUES ('schema_version', '1')",
    "INSERT INTO runs (started_at, argv, workdir, status, jobs_done, jobs_failed) "
    "VALUES (100.0, '[\"fileflow\"]', '/w', 'success', 1, 0)",
    "INSERT INTO jobs (run_id, rule, wildcards, name, reasons, state, attempt) "
    "VALUES (1, 'r', '{{}}', 'r:1', '[]', 'done', 1)",
    "INSERT INTO files (path, complete, size, mtime_ns, digest, algorithm, signature, "
    "input_digests, job_id, built_at, changed_at) "
    "VALUES ('old.txt', TRUE, 5, 50, 'd-old', 'sha256', 'S', '{{\"i\":\"x\"}}', 1, 100.0, 90.0)",
]


def test_v1_log_is_migrated_in_place(db):
    raw = db.raw()
    id_type = "INTEGER PRIMARY KEY" if db.kind == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with raw.begin() as conn:
        for stmt in V1_DDL:
            conn.execute(text(stmt.format(id=id_type)))
    with db.open() as log:
        assert log.schema_version() == SCHEMA_VERSION == 2
        old = log.load_targets()["old.txt"]               # nothing wiped
        assert old.complete and old.digest == "d-old" and old.changed_at == 90.0
        assert dict(old.input_digests) == {"i": "x"} and old.ctime_ns == -1
        assert [r["argv"] for r in log.runs()] == [["fileflow"]]
        assert log.job(1)["message"] is None and log.job(1)["outputs"] == []
        run_id = log.start_run([], "/", "0")              # v2 features work on the old log
        (job_id,) = log.jobs_started(run_id, [start("r:2", ["old.txt"])])
        log.jobs_finished([done(job_id, [fstate("old.txt", "d-old")], message="again")])
        assert log.job(job_id)["message"] == "again"
        assert [j["id"] for j in log.jobs_for_path("old.txt")] == [job_id]
        assert log.load_targets()["old.txt"].changed_at == 90.0
    # the migrated schema is the schema a new log gets
    insp = inspect(raw)
    for table in metadata.sorted_tables:
        assert {c["name"] for c in insp.get_columns(table.name)} == set(table.c.keys()), table.name
        assert ({i["name"] for i in insp.get_indexes(table.name)}
                == {i.name for i in table.indexes}), table.name
    raw.dispose()


def test_newer_schema_is_refused_and_left_alone(db):
    with db.open():
        pass
    raw = db.raw()
    newer = str(SCHEMA_VERSION + 1)
    with raw.begin() as conn:
        conn.execute(text("UPDATE meta SET value = :v WHERE key = 'schema_version'"), {"v": newer})
    with pytest.raises(RunLogError) as info:
        db.open()
    message = str(info.value)
    assert "upgrade fileflow" in message and f"version {newer}" in message
    if db.kind == "sqlite":
        assert db.sqlite_path in message
    assert isinstance(info.value, FileflowError)
    with raw.begin() as conn:
        assert conn.execute(text("SELECT value FROM meta")).scalar() == newer
    raw.dispose()


def test_tables_without_a_version_are_refused(db):
    raw = db.raw()
    with raw.begin() as conn:
        conn.execute(text("CREATE TABLE files (path TEXT PRIMARY KEY)"))
    with pytest.raises(RunLogError, match="no schema version"):
        db.open()
    raw.dispose()
