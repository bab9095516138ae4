"""End to end with PostgreSQL as the run log (`--db URL` and FILEFLOW_DB). Each test gets
a fresh schema (search_path in the URL), dropped afterwards."""
from __future__ import annotations

import uuid

import pytest
from buildkit import Project, kill_tree, wait_for

FLOW = """
    rule all:
        input: expand("out/{s}.txt", s=["a", "b"])
    rule up:
        input: "in/{s}.txt"
        output: "out/{s}.txt"
        shell: "tr a-z A-Z < {input} > {output}"
    """


@pytest.fixture
def pg(postgres_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url).set(drivername="postgresql+psycopg")
    schema = "ffbuild_" + uuid.uuid4().hex[:12]
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base.set(drivername="postgresql").update_query_dict(
        {"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False), admin, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _project(tmp_path, url) -> Project:
    p = Project(tmp_path, db=url)
    p.flowfile(FLOW)
    p.write("in/a.txt", "alpha\n")
    p.write("in/b.txt", "beta\n")
    return p


def test_build_then_no_op_with_postgres(tmp_path, pg):
    from sqlalchemy import text

    url, admin, schema = pg
    p = _project(tmp_path, url)
    first = p.build()
    assert first.code == 0, first
    assert sorted(first.ran) == ["up[s=a]", "up[s=b]"]
    assert p.read("out/a.txt") == "ALPHA\n"
    assert not p.exists(".fileflow/runlog.db")          # the log is in PostgreSQL, not here
    with admin.connect() as conn:
        rows = conn.execute(text(f'SELECT path, complete FROM "{schema}".files '
                                 "WHERE path LIKE 'out/%' ORDER BY path")).all()
        runs = conn.execute(text(f'SELECT status FROM "{schema}".runs')).scalars().all()
    assert [tuple(r) for r in rows] == [("out/a.txt", True), ("out/b.txt", True)]
    assert runs == ["success"]
    second = p.build()
    assert second.code == 0, second
    assert second.ran == []
    assert "nothing to do" in second.out
    p.write("in/b.txt", "beta two\n")
    third = p.build()
    assert third.ran == ["up[s=b]"]


def test_postgres_log_through_FILEFLOW_DB_in_a_real_process(tmp_path, pg):
    url, _, _ = pg
    p = _project(tmp_path, url)
    env = p.env(FILEFLOW_DB=url)
    proc = Project(tmp_path)                       # no --db: the variable must be used
    r = proc.run("build", env=env)
    assert r.code == 0, r.err
    assert not p.exists(".fileflow/runlog.db")
    assert sorted(j["name"] for j in p.jobs_since(0)) == ["up[s=a]", "up[s=b]"]
    again = proc.run("build", env=env)
    assert again.code == 0, again.err
    assert "nothing to do" in again.out


def test_failed_and_incomplete_jobs_are_recorded_in_postgres(tmp_path, pg):
    url, _, _ = pg
    p = Project(tmp_path, db=url)
    p.flowfile("""
        rule bad:
            output: "bad.txt"
            shell: "echo partial > {output}; exit 4"
        """)
    r = p.build()
    assert r.code == 1, r
    assert [(j["name"], j["state"], j["exit_code"]) for j in r.jobs] == [("bad", "failed", 4)]
    assert not p.recorded()["bad.txt"].complete
    assert not p.exists("bad.txt")


def test_unreachable_postgres_is_a_clear_error(tmp_path):
    p = _project(tmp_path, "postgresql://nobody:x@127.0.0.1:1/none?connect_timeout=2")
    r = p.build(log=False)
    assert r.code == 2, r
    assert "Traceback" not in r.text
    assert "run log" in r.err
    assert "x@" not in r.err                  # the password is not printed


def test_dry_run_and_why_read_the_FILEFLOW_DB_log(tmp_path, pg):
    """With FILEFLOW_DB and no local log, -n and why must judge by the PostgreSQL records:
    a touched input (same content) is up to date there, though newer than its output."""
    url, _, _ = pg
    p = _project(tmp_path, url)
    env = p.env(FILEFLOW_DB=url)
    proc = Project(tmp_path)
    assert proc.run("build", env=env).code == 0
    p.set_mtime_ns("in/a.txt", p.mtime_ns("out/a.txt") + 10**9)
    dry = proc.run("-n", env=env)
    assert dry.code == 0, dry.err
    assert "nothing to do" in dry.out, dry.out
    why = proc.run("why", "out/a.txt", env=env)
    assert why.code == 0, why.err
    assert "up to date" in why.out, why.out
    assert not p.exists(".fileflow/runlog.db")


# ---------------------------------------------------------------- losing the database mid-build

@pytest.fixture
def pg_database(postgres_url):
    """A fresh database of its own (so that its connections can be dropped without touching
    anyone else's): (url, admin engine, name); dropped afterwards."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(postgres_url).set(drivername="postgresql+psycopg")
    name = "ffdrop_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False), admin, name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def _drop_connections(admin, name: str) -> int:
    from sqlalchemy import text

    with admin.connect() as conn:
        return len(conn.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name}).all())


# Job 3 waits at a gate: the test drops the database's connections while it runs.
GATED_SIX = """
    rule all:
        input: expand("o/{i}.txt", i=range(6))
    rule mk:
        output: "o/{i}.txt"
        shell: ("if [ {wildcards.i} = 3 ]; then touch waiting; "
                "while [ ! -e go ]; do sleep 0.05; done; fi; echo {wildcards.i} > {output}")
    """


def test_dropped_connections_are_retried_and_the_build_goes_on(tmp_path, pg_database):
    """guarantees.md: Losing the database. The server drops every connection of the build,
    again and again while jobs end and start: each write is retried on a new connection."""
    import threading

    url, admin, name = pg_database
    p = Project(tmp_path, db=url)
    p.flowfile(GATED_SIX.replace("range(6)", "range(40)"))
    proc = p.popen("build", "-j", "2")
    stop = threading.Event()

    def drop_repeatedly():
        while not stop.wait(0.05):
            _drop_connections(admin, name)

    dropper = threading.Thread(target=drop_repeatedly)
    try:
        wait_for(lambda: p.exists("waiting"), what="job 3 to start")
        dropper.start()
        p.write("go", "")
        out, err = proc.communicate(timeout=120)
    finally:
        stop.set()
        if dropper.is_alive():
            dropper.join()
        p.write("go", "")
        kill_tree(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    (run,) = p.runs()
    assert (run["status"], run["jobs_failed"]) == ("success", 0)
    assert f"fileflow: {run['jobs_done']} done, 0 failed" in out
    assert len(list(p.path("o").iterdir())) == 40
    assert p.build().ran == []


def test_a_database_lost_for_good_stops_the_build_and_its_counts_stay_true(tmp_path, pg_database):
    """guarantees.md: Losing the database. The database goes away after 3 jobs and does not
    come back within FILEFLOW_DB_RECONNECT_SECONDS: the build stops with a clear error; the
    run still says 3 done, and the next build runs only what was not recorded as done."""
    import time

    from sqlalchemy import text

    url, admin, name = pg_database
    p = Project(tmp_path, db=url)
    p.flowfile(GATED_SIX)
    proc = p.popen("build", "-j", "1", env=p.env(FILEFLOW_DB_RECONNECT_SECONDS="3"))

    def recorded_done() -> int:
        return sum(job["state"] == "done" for job in p.jobs_since(0))

    try:
        wait_for(lambda: p.exists("waiting"), what="job 3 to start")
        wait_for(lambda: recorded_done() == 3, what="jobs 0 to 2 recorded as done")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        _drop_connections(admin, name)
        began = time.monotonic()
        p.write("go", "")
        out, err = proc.communicate(timeout=120)
        stopped_after = time.monotonic() - began
    finally:
        p.write("go", "")
        kill_tree(proc)
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    assert "lost the connection to the run log" in err and "3 s" in err
    assert stopped_after < 60
    (run,) = p.runs()
    assert (run["jobs_done"], run["jobs_failed"]) == (3, 0)
    again = p.build()
    assert again.code == 0, again
    assert sorted(again.ran) == ["mk[i=3]", "mk[i=4]", "mk[i=5]"]
    first = p.runs()[0]
    assert (first["status"], first["jobs_done"]) == ("interrupted", 3)
