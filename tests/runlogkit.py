"""What the run log tests share: where a test's log lives (SQLite, or PostgreSQL with
FILEFLOW_TEST_PG_URL, each test in a fresh schema), and the records a test writes.
"""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from fileflow.runlog.log import JobResult, JobStart, RunLog, open_runlog
from fileflow.state import FileState


@dataclass
class DB:
    """Where a test's run log lives; `open()` gives a new, independent RunLog on it."""

    kind: str            # "sqlite" | "postgresql"
    url: str | None      # None: the default SQLite file under workdir
    workdir: str

    @property
    def sqlite_path(self) -> str:
        return os.path.join(self.workdir, ".fileflow", "runlog.db")

    def open(self, **kw) -> RunLog:
        return open_runlog(self.url, self.workdir, **kw)

    def raw(self) -> Engine:
        """A plain engine on the same database, for raw SQL outside the module."""
        if self.kind == "sqlite":
            os.makedirs(os.path.dirname(self.sqlite_path), exist_ok=True)
            return create_engine(f"sqlite:///{self.sqlite_path}")
        return create_engine(make_url(self.url).set(drivername="postgresql+psycopg"))


@contextlib.contextmanager
def fresh_pg_schema(postgres_url: str) -> Iterator[str]:
    """A URL (no driver given, as a user would write it) whose search_path is a fresh schema,
    dropped afterwards."""
    base = make_url(postgres_url).set(drivername="postgresql+psycopg")
    schema = "fftest_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.set(drivername="postgresql").update_query_dict(
        {"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def backend_db(request: pytest.FixtureRequest, tmp_path: Path) -> DB:
    """The DB of a test parametrized by backend (request.param); PostgreSQL takes the
    `pg_url` fixture (tests/conftest.py)."""
    workdir = tmp_path / "work dir é"
    workdir.mkdir()
    if request.param == "sqlite":
        return DB("sqlite", None, str(workdir))
    return DB("postgresql", request.getfixturevalue("pg_url"), str(workdir))


def start(name: str, outputs: list[str], **kw) -> JobStart:
    args = dict(rule=name.split(":")[0], name=name, wildcards={"sample": name}, command=f"make {name}",
                reasons=["missing output"], attempt=1, executor="local", signature=f"sig-{name}",
                outputs=outputs, log_path=None)
    args.update(kw)
    return JobStart(**args)


def done(job_id: int, outputs: list[FileState], **kw) -> JobResult:
    args = dict(job_id=job_id, state="done", exit_code=0, started_at=None, ended_at=None,
                host="node1", peak_rss_bytes=1024, cpu_seconds=0.5, outputs=outputs,
                input_digests={"in.txt": "d-in"}, signature="sig")
    args.update(kw)
    return JobResult(**args)


def fstate(path: str, digest: str | None, size: int = 10, mtime_ns: int = 1000,
           ctime_ns: int = 2000) -> FileState:
    return FileState(path, True, size, mtime_ns, digest, ctime_ns=ctime_ns)
