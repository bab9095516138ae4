"""The run log against real databases: SQLite files and (with FILEFLOW_TEST_PG_URL) PostgreSQL.

The contract tests take the `db` fixture and run once per backend, each PostgreSQL test in a
fresh schema (tests/runlogkit.py).
"""
from __future__ import annotations

import inspect as pyinspect
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import namedtuple

import pytest
from runlogkit import DB, done, fstate, start
from sqlalchemy import event

from fileflow.runlog import log as runlog_module
from fileflow.runlog.log import RunLog, RunLogError, is_network_fs, open_runlog
from fileflow.runlog.records import IN_CLAUSE_SIZE
from fileflow.runlog.sql import SqlRunLog
from fileflow.runlog.sqlite_writer import SqliteWriter
from fileflow.runlog.writes import BuildWrites
from fileflow.state import FileState, RecordedTarget


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def log(db):
    with db.open() as lg:
        yield lg


@pytest.fixture
def sqlite_db(tmp_path) -> DB:
    return DB("sqlite", None, str(tmp_path))


# --------------------------------------------------------------------------- the interface
def _build_writes() -> list[str]:
    return [name for name, value in vars(BuildWrites).items()
            if callable(value) and not name.startswith("_")]


def test_both_writers_carry_out_every_build_write_with_its_signature():
    assert {"start_run", "jobs_started", "record_tick", "forget", "close"} <= set(_build_writes())
    for name in _build_writes():
        wanted = pyinspect.signature(getattr(BuildWrites, name))
        for cls in (SqliteWriter, SqlRunLog, RunLog):
            method = getattr(cls, name)
            assert method is not getattr(BuildWrites, name), f"{cls.__name__}.{name} missing"
            assert pyinspect.signature(method) == wanted, f"{cls.__name__}.{name}"


def test_run_log_sends_every_build_write_to_its_writer(tmp_path, monkeypatch):
    calls = []

    class Recorder:
        def __getattr__(self, name):
            return lambda *args: calls.append((name, args)) or name

    monkeypatch.setattr(RunLog, "writer", property(lambda self: Recorder()))
    log = RunLog(None, str(tmp_path))
    assert not hasattr(log, "__getattr__") and "__getattr__" not in vars(runlog_module)
    for name in _build_writes():
        if name == "close":
            continue
        params = list(pyinspect.signature(getattr(BuildWrites, name)).parameters)[1:]
        args = tuple(f"{name}.{p}" for p in params)
        calls.clear()
        assert getattr(log, name)(*args) in (name, None)
        assert calls == [(name, args)], name
    assert not os.path.exists(tmp_path / ".fileflow")


# --------------------------------------------------------------------------- runs and jobs
def test_a_database_password_on_the_command_line_is_never_recorded(db, log):
    run_id = log.start_run(["fileflow", "build", "--db", "postgresql://ann:s3cret@db.example/ff",
                            "--db=postgresql://bob:pw@h:5432/x", "out/a:b@c.txt"], "/d", "1")
    assert log.run(run_id)["argv"] == [
        "fileflow", "build", "--db", "postgresql://ann:***@db.example/ff",
        "--db=postgresql://bob:***@h:5432/x", "out/a:b@c.txt"]


def test_run_lifecycle(db, log):
    run_id = log.start_run(["fileflow", "build", "a b.txt"], "/some/dir", "1.2.3")
    (rec,) = log.runs(limit=5)
    assert rec["id"] == run_id and rec["status"] == "running" and rec["ended_at"] is None
    assert rec["argv"] == ["fileflow", "build", "a b.txt"]
    assert (rec["workdir"], rec["fileflow_version"], rec["pid"]) == ("/some/dir", "1.2.3", os.getpid())
    log.finish_run(run_id, "failed", jobs_done=3, jobs_failed=1)
    rec = log.run(run_id)
    assert rec["status"] == "failed" and (rec["jobs_done"], rec["jobs_failed"]) == (3, 1)
    assert rec["ended_at"] >= rec["started_at"]
    second = log.start_run(["fileflow"], "/d", "1.2.3")
    assert [r["id"] for r in log.runs(limit=1)] == [second]
    assert log.run(second + 100) is None
    with pytest.raises(ValueError):
        log.finish_run(run_id, "exploded", 0, 0)
    if db.kind == "postgresql":  # postgresql:// without a driver means psycopg v3
        assert log.sql.engine.dialect.driver == "psycopg" and "***" in log.sql.where


def test_unfinished_jobs_are_the_running_jobs_of_running_runs_of_this_host(db, log):
    import socket

    here = socket.gethostname()
    ended = log.start_run(["fileflow"], "/d", "1.2.3")
    log.jobs_started(ended, [start("a", ["a.txt"])])
    log.finish_run(ended, "failed", 0, 0)
    live = log.start_run(["fileflow"], "/d", "1.2.3")
    running, finished = log.jobs_started(live, [start("b", ["b.txt"]), start("c", ["c.txt"])])
    log.jobs_finished([done(finished, [fstate("c.txt", "d-c")])])
    assert [(j["id"], j["run_id"], j["name"]) for j in log.unfinished_jobs(here)] == [
        (running, live, "b")]
    assert log.unfinished_jobs(here + ".elsewhere") == []


def test_finding_unfinished_jobs_reads_the_jobs_of_running_runs_only(sqlite_db):
    """Each build asks at its start; the jobs table holds every job ever recorded."""
    from fileflow.runlog.writes import STATEMENTS

    with sqlite_db.open() as log:
        log.start_run(["fileflow"], "/d", "1.2.3")
    with sqlite3.connect(sqlite_db.sqlite_path) as con:
        plan = con.execute("EXPLAIN QUERY PLAN " + STATEMENTS["unfinished_jobs"],
                           {"host": "h"}).fetchall()
    steps = [row[-1] for row in plan]
    assert not any(step.startswith("SCAN jobs") for step in steps), steps
    assert any("jobs USING INDEX ix_jobs_run_id" in step for step in steps), steps


def test_the_generation_counts_changes_to_what_jobs_did(db, log):
    """A build that planned at one generation and sees another once it holds the build lock
    plans again: every write of jobs' outcomes, of outputs marked incomplete when their jobs
    start (a build killed then leaves them so), of a run's end, --touch and clean count."""
    assert log.generation() == 0
    run_id = log.start_run([], "/", "0")
    log.record_files([fstate("src.txt", "s")])     # observations change nothing a plan runs
    assert log.generation() == 0
    (job,) = log.jobs_started(run_id, [start("a", ["a.txt"])])
    assert log.generation() == 1
    log.record_tick(run_id, [done(job, [fstate("a.txt", "d")])], [])
    assert log.generation() == 2
    log.finish_run(run_id, "success", 1, 0)
    log.mark_complete([RecordedTarget("b.txt", True, 1, 1, "d")])
    log.forget(["b.txt"])
    log.close_abandoned([run_id], [])
    assert log.generation() == 6
    with db.open(look_only=True) as other:       # what another process reads
        assert other.generation() == 6


def test_a_runs_counts_grow_as_its_jobs_end(db, log):
    """A run whose fileflow never records its end (the database went away, fileflow was
    killed) still says how many of its jobs were done or failed."""
    run_id = log.start_run([], "/", "0")
    ids = log.jobs_started(run_id, [start(f"j{i}", [f"{i}.txt"]) for i in range(4)])
    log.record_tick(run_id, [done(ids[0], [fstate("0.txt", "d")]),
                             done(ids[1], [fstate("1.txt", "d")])], [])
    log.jobs_finished([done(ids[2], [fstate("2.txt", "d")]),
                       done(ids[3], [], state="failed", exit_code=1)])
    rec = log.run(run_id)
    assert (rec["status"], rec["jobs_done"], rec["jobs_failed"]) == ("running", 3, 1)
    log.finish_run(run_id, "failed", 3, 1)        # the run's own count has the last word
    assert (log.run(run_id)["jobs_done"], log.run(run_id)["jobs_failed"]) == (3, 1)


_KILL_AFTER_START = """
import os, signal, sys
from fileflow.runlog.log import JobStart, open_runlog
url = sys.argv[1] or None
log = open_runlog(url, sys.argv[2])
run = log.start_run(["fileflow"], sys.argv[2], "0")
ids = log.jobs_started(run, [JobStart("r", "r:1", {}, "sleep", [], 1, "local", "s", ["out/a", "out/b"],
                                      None)])
print(ids[0], flush=True)
os.kill(os.getpid(), signal.SIGKILL)   # no close(), no exit handlers
"""


def test_jobs_started_marks_outputs_incomplete_durably(db, log):
    log.mark_complete([RecordedTarget("out/a", True, 5, 50, "old-digest")])
    proc = subprocess.run([sys.executable, "-c", _KILL_AFTER_START, db.url or "", db.workdir],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    job_id = int(proc.stdout.split()[0])
    with db.open() as fresh:
        recs = fresh.load_targets()
        assert set(recs) == {"out/a", "out/b"}
        assert not recs["out/a"].complete and not recs["out/b"].complete
        assert recs["out/a"].job_id == recs["out/b"].job_id == job_id
        assert recs["out/a"].digest == "old-digest"   # kept: the early-cutoff reference
        job = fresh.job(job_id)
        assert job["state"] == "running" and job["outputs"] == ["out/a", "out/b"]


def test_jobs_started_returns_ids_in_order(log):
    run_id = log.start_run([], "/", "0")
    starts = [start(f"r:{i}", [f"o{i}"]) for i in range(30)]
    ids = log.jobs_started(run_id, starts)
    assert len(set(ids)) == 30
    jobs = {j["id"]: j for j in log.jobs_of_run(run_id)}
    assert [jobs[i]["name"] for i in ids] == [s.name for s in starts]
    assert [jobs[i]["outputs"] for i in ids] == [[f"o{i}"] for i in range(30)]
    assert jobs[ids[3]]["wildcards"] == {"sample": "r:3"}
    assert jobs[ids[3]]["reasons"] == ["missing output"]
    assert log.jobs_started(run_id, []) == []


def test_finished_success_records_digests(db, log):
    run_id = log.start_run([], "/", "0")
    (job_id,) = log.jobs_started(run_id, [start("r:1", ["x.txt", "y.txt"])])
    before = time.time()
    log.jobs_finished([done(job_id, [fstate("x.txt", "dx", 3, 30, 31), fstate("y.txt", "dy")],
                            exit_code=0, message="ok", external_id="4711", signature="sig-final")])
    with db.open() as fresh:
        recs = fresh.load_targets(["x.txt", "y.txt"])
        job = fresh.job(job_id)
    x = recs["x.txt"]
    assert x.complete and (x.size, x.mtime_ns, x.ctime_ns, x.digest) == (3, 30, 31, "dx")
    assert x.signature == "sig-final" and dict(x.input_digests) == {"in.txt": "d-in"}
    assert x.job_id == job_id and x.algorithm == "sha256"
    assert x.built_at >= before - 1 and x.changed_at == x.built_at
    assert recs["y.txt"].complete and recs["y.txt"].digest == "dy"
    assert job["state"] == "done" and job["exit_code"] == 0 and job["message"] == "ok"
    assert (job["host"], job["peak_rss_bytes"], job["cpu_seconds"]) == ("node1", 1024, 0.5)
    assert job["external_id"] == "4711" and job["ended_at"] >= job["started_at"]


def test_record_tick_finishes_and_starts_in_one_transaction(db, log):
    run_id = log.start_run([], "/", "0")
    (first,) = log.jobs_started(run_id, [start("r:1", ["a.txt"])])
    ids = log.record_tick(run_id, [done(first, [fstate("a.txt", "da")])],
                          [start("r:2", ["b.txt"]), start("r:3", ["c.txt"])])
    assert len(ids) == 2 and first not in ids
    with db.open() as fresh:
        recs = fresh.load_targets()
        jobs = {j["id"]: j for j in fresh.jobs_of_run(run_id)}
    assert recs["a.txt"].complete and recs["a.txt"].digest == "da"
    assert not recs["b.txt"].complete and recs["b.txt"].job_id == ids[0]
    assert not recs["c.txt"].complete and recs["c.txt"].job_id == ids[1]
    assert jobs[first]["state"] == "done"
    assert [jobs[i]["state"] for i in ids] == ["running", "running"]
    assert log.record_tick(run_id, [], []) == []


def test_failed_or_cancelled_job_keeps_outputs_incomplete(db, log):
    log.mark_complete([RecordedTarget("f.txt", True, 1, 1, "old"),
                       RecordedTarget("c.txt", True, 1, 1, "old")])
    run_id = log.start_run([], "/", "0")
    jf, jc = log.jobs_started(run_id, [start("r:f", ["f.txt"]), start("r:c", ["c.txt"])])
    log.jobs_finished([
        done(jf, [], state="failed", exit_code=3, message="exit status 3", output_paths=["f.txt"]),
        done(jc, [], state="cancelled", exit_code=None, output_paths=["c.txt"])])
    with db.open() as fresh:
        recs = fresh.load_targets()
        jobs = {j["id"]: j for j in fresh.jobs_of_run(run_id)}
    assert not recs["f.txt"].complete and not recs["c.txt"].complete
    assert (jobs[jf]["state"], jobs[jf]["exit_code"], jobs[jf]["message"]) == ("failed", 3, "exit status 3")
    assert jobs[jc]["state"] == "cancelled"
    with pytest.raises(ValueError):
        log.jobs_finished([done(jf, [], state="running")])


def test_failed_result_marks_declared_outputs_incomplete_even_if_recorded_complete(log):
    # e.g. a re-attached cluster job whose start was recorded by an older run
    log.mark_complete([RecordedTarget("z.txt", True, 1, 1, "dz")])
    run_id = log.start_run([], "/", "0")
    (job_id,) = log.jobs_started(run_id, [start("r:z", [])])
    log.jobs_finished([done(job_id, [], state="failed", exit_code=1, output_paths=["z.txt"])])
    assert not log.load_targets(["z.txt"])["z.txt"].complete


def test_changed_at_kept_when_digest_unchanged(log):
    def build(digest: str) -> RecordedTarget:
        run_id = log.start_run([], "/", "0")
        (job_id,) = log.jobs_started(run_id, [start("r:o", ["o.txt"])])
        log.jobs_finished([done(job_id, [fstate("o.txt", digest)])])
        time.sleep(0.02)
        return log.load_targets(["o.txt"])["o.txt"]

    first = build("d1")
    second = build("d1")     # rebuilt, same content: early cutoff keeps changed_at
    assert second.built_at > first.built_at
    assert second.changed_at == first.changed_at
    third = build("d2")      # content changed
    assert third.changed_at == third.built_at > second.changed_at


def test_record_files_does_not_clobber_outputs(db, log):
    run_id = log.start_run([], "/", "0")
    j_out, j_run = log.jobs_started(run_id, [start("r:o", ["out.txt"]), start("r:p", ["part.txt"])])
    log.jobs_finished([done(j_out, [fstate("out.txt", "d-out")], signature="S")])
    output_before = log.load_targets(["out.txt"])["out.txt"]

    log.record_files([fstate("out.txt", "other", size=99), fstate("part.txt", "half-written"),
                      fstate("src.txt", "d-src", 7, 70, 71),
                      FileState("gone.txt", False)])
    recs = log.load_targets()
    assert recs["out.txt"] == output_before            # every field, signature included
    assert not recs["part.txt"].complete                # a running job's output stays incomplete
    assert recs["part.txt"].digest is None and recs["part.txt"].job_id == j_run
    src = recs["src.txt"]
    assert src.complete and src.job_id is None and src.signature == ""
    assert (src.size, src.mtime_ns, src.ctime_ns, src.digest) == (7, 70, 71, "d-src")
    assert "gone.txt" not in recs                       # only existing files are recorded

    time.sleep(0.02)
    log.record_files([fstate("src.txt", None, 7, 70, 71)])      # same stat, not hashed
    again = log.load_targets(["src.txt"])["src.txt"]
    assert again.digest == "d-src" and again.changed_at == src.changed_at
    log.record_files([fstate("src.txt", None, 8, 80, 81)])      # changed, not hashed:
    assert log.load_targets(["src.txt"])["src.txt"] == again    # the hashed record stays
    log.record_files([fstate("new.txt", None, 8, 80, 81)])      # unhashed, nothing known
    assert log.load_targets(["new.txt"])["new.txt"].digest is None
    log.record_files([fstate("src.txt", "d-src", 8, 80, 81)])   # re-hashed: same content
    assert log.load_targets(["src.txt"])["src.txt"].changed_at == src.changed_at
    log.record_files([fstate("src.txt", "d-new", 9, 90, 91)])
    assert log.load_targets(["src.txt"])["src.txt"].changed_at > src.changed_at


def test_mark_complete_and_forget(db, log):
    t = RecordedTarget("t.txt", True, 4, 40, "dt", signature="sig", input_digests={"a": "1"},
                       ctime_ns=41)
    log.mark_complete([t, RecordedTarget("u.txt", True, 1, 1, "du")])
    with db.open() as fresh:
        got = fresh.load_targets()
    assert got["t.txt"].complete and got["t.txt"].signature == "sig"
    assert dict(got["t.txt"].input_digests) == {"a": "1"} and got["t.txt"].ctime_ns == 41
    assert got["t.txt"].built_at > 0 and got["t.txt"].changed_at > 0
    log.forget(["t.txt", "never-recorded"])
    assert set(log.load_targets()) == {"u.txt"}


def test_load_targets_all_and_subset_with_chunking(log):
    paths = [f"data/sample_{i:05d}.txt" for i in range(2500)]
    log.record_files([fstate(p, f"d{i}") for i, p in enumerate(paths)])
    every = log.load_targets()
    assert len(every) == 2500 and every[paths[1234]].digest == "d1234"

    statements: list[str] = []
    event.listen(log.sql.engine, "before_cursor_execute",
                 lambda conn, cur, stmt, *a: statements.append(stmt))
    wanted = paths[::2] + ["not/recorded"]            # 1251 paths: more than one IN chunk
    subset = log.load_targets(iter(wanted))
    assert set(subset) == set(paths[::2])
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == -(-len(wanted) // IN_CLAUSE_SIZE) > 1
    assert log.load_targets([]) == {}


def test_each_write_is_one_transaction_of_bulk_statements(db, log, monkeypatch):
    run_id = log.start_run([], "/", "0")
    transactions: list[bool] = []
    statements: list[str] = []

    class CountingCursor:
        def __init__(self, cursor):
            self._cursor = cursor

        def __getattr__(self, name):
            return getattr(self._cursor, name)

        def execute(self, sql, *args):
            statements.append(sql)
            return self._cursor.execute(sql, *args)

        def executemany(self, sql, rows):
            statements.append(sql)
            return self._cursor.executemany(sql, rows)

    writer = log.writer
    real = type(writer)._transaction
    monkeypatch.setattr(type(writer), "_transaction", lambda self, fn, write=True: (
        transactions.append(write), real(self, lambda cur: fn(CountingCursor(cur)), write))[1])
    committed: list[str] = []
    if db.kind == "sqlite":   # what the database itself was sent
        writer._connection().set_trace_callback(
            lambda sql: committed.append(sql) if sql in ("BEGIN IMMEDIATE", "COMMIT") else None)
    ids = log.jobs_started(run_id, [start(f"r:{i}", [f"o{i}.a", f"o{i}.b"]) for i in range(300)])
    assert transactions == [True] and len(statements) <= 8, statements
    transactions.clear(), statements.clear()
    log.jobs_finished([done(i, [fstate(f"o{n}.a", "d"), fstate(f"o{n}.b", "d")])
                       for n, i in enumerate(ids)])
    assert transactions == [True] and len(statements) <= 8, statements
    assert all(t.complete for t in log.load_targets().values())
    if db.kind == "sqlite":
        assert committed == ["BEGIN IMMEDIATE", "COMMIT"] * 2
        assert "sqlalchemy" not in type(writer).__module__


def test_reading_100k_targets_is_fast(log):
    n = 100_000
    log.record_files([fstate(f"d/{i}", f"{i:064x}") for i in range(n)])
    started = time.perf_counter()
    recs = log.load_targets()
    elapsed = time.perf_counter() - started
    assert len(recs) == n and recs["d/99999"].digest == f"{99999:064x}"
    assert elapsed < 5.0, f"load_targets of {n} rows took {elapsed:.2f} s"


def test_history_queries(log):
    r1 = log.start_run(["one"], "/", "0")
    (a1,) = log.jobs_started(r1, [start("r:a", ["a.txt"])])
    r2 = log.start_run(["two"], "/", "0")
    a2, b2 = log.jobs_started(r2, [start("r:a", ["a.txt"]), start("r:b", ["b.txt", "b.log"])])
    log.set_external_ids([(a2, "slurm-1"), (b2, "slurm-2")])
    assert [j["id"] for j in log.jobs_for_path("a.txt")] == [a2, a1]      # newest first
    assert log.jobs_for_path("nothing") == []
    assert [j["id"] for j in log.jobs_of_run(r2)] == [a2, b2]
    assert log.job(b2)["external_id"] == "slurm-2" and log.job(b2)["outputs"] == ["b.log", "b.txt"]
    assert log.job(a1)["external_id"] is None and log.job(b2 + 99) is None
    assert [r["argv"] for r in log.runs(limit=10)] == [["two"], ["one"]]


# --------------------------------------------------------------------------- SQLite specifics

def test_garbage_file_gives_a_clear_error_and_is_kept(sqlite_db):
    os.makedirs(os.path.dirname(sqlite_db.sqlite_path))
    garbage = os.urandom(8192)
    with open(sqlite_db.sqlite_path, "wb") as fh:
        fh.write(garbage)
    with pytest.raises(RunLogError) as info:
        sqlite_db.open()
    assert sqlite_db.sqlite_path in str(info.value) and "corrupt" in str(info.value)
    with open(sqlite_db.sqlite_path, "rb") as fh:
        assert fh.read() == garbage                       # never silently recreated


def test_truncated_file_gives_a_clear_error(sqlite_db):
    with sqlite_db.open() as log:
        log.record_files([fstate("a", "d")])
    with open(sqlite_db.sqlite_path, "r+b") as fh:
        fh.truncate(60)
    with pytest.raises(RunLogError, match="corrupt .truncated"):
        sqlite_db.open()


def test_damaged_pages_give_a_clear_error(sqlite_db):
    with sqlite_db.open() as log:
        log.record_files([fstate(f"f{i}", "d") for i in range(200)])
    with sqlite3.connect(sqlite_db.sqlite_path) as conn:   # fold the WAL into the file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    with open(sqlite_db.sqlite_path, "r+b") as fh:          # keep the header, wreck the rest
        fh.seek(100)
        fh.write(b"\xff" * (os.path.getsize(sqlite_db.sqlite_path) - 100))
    with pytest.raises(RunLogError) as info:
        with sqlite_db.open() as log:
            log.load_targets()
    assert sqlite_db.sqlite_path in str(info.value)


def _writer_pragmas(log) -> tuple[int, int]:
    """synchronous and busy_timeout on the connection of the sqlite3 writer (a build's)."""
    conn = log.writer._connection()
    return (conn.execute("PRAGMA synchronous").fetchone()[0],
            conn.execute("PRAGMA busy_timeout").fetchone()[0])


def test_wal_on_local_disk(sqlite_db):
    with sqlite_db.open() as log:
        assert log.sql.journal_mode == "wal"
        with log.sql.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1      # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert log.writer.journal_mode == "wal"
        assert _writer_pragmas(log) == (1, 30000)
    with sqlite3.connect(sqlite_db.sqlite_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_no_wal_on_network_file_system(sqlite_db, monkeypatch):
    with sqlite_db.open():                                # created in WAL mode locally
        pass
    from fileflow.runlog import records as runlog_records
    monkeypatch.setattr(runlog_records, "is_network_fs", lambda path, partitions=None: True)
    with sqlite_db.open() as log:
        log.record_files([fstate("a", "d")])          # the sqlite3 writer switches it
        assert log.writer.journal_mode == "delete"
        assert _writer_pragmas(log) == (2, 30000)                                  # FULL
        assert log.sql.journal_mode == "delete"
        with log.sql.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2      # FULL
    with sqlite3.connect(sqlite_db.sqlite_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not os.path.exists(sqlite_db.sqlite_path + "-wal")


Part = namedtuple("Part", "device mountpoint fstype opts")


@pytest.mark.parametrize("path, network", [
    ("/home/me/project", False),
    ("/mnt/nfs/data/run", True),
    ("/mnt/nfs", True),
    ("/mnt/nfs/local/x", False),       # the longest mount point decides
    ("/mnt/nfsx/y", False),            # a prefix of the name is not a parent directory
    ("/scratch/u/w", True),
    ("/remote/w", True),
    ("/gpfs/w", True),
    ("/overlay/w", False),             # FUSE, but not a network file system
])
def test_is_network_fs(path, network):
    parts = [Part("/dev/sda1", "/", "ext4", ""), Part("srv:/x", "/mnt/nfs", "nfs4", ""),
             Part("/dev/sdb", "/mnt/nfs/local", "ext4", ""), Part("/dev/sdc", "/mnt/nfsx", "xfs", ""),
             Part("lfs", "/scratch", "lustre", ""), Part("me@h:", "/remote/", "fuse.sshfs", ""),
             Part("g", "/gpfs", "GPFS", ""), Part("o", "/overlay", "fuse.fuse-overlayfs", "")]
    assert is_network_fs(path, parts) is network


def test_is_network_fs_on_this_machine(tmp_path):
    assert is_network_fs(str(tmp_path)) is False        # the test machine's tmp is local


def test_locked_database_is_retried(sqlite_db, monkeypatch):
    with sqlite_db.open(busy_timeout=0.05) as log:
        blocker = sqlite3.connect(sqlite_db.sqlite_path, timeout=0, isolation_level=None,
                                  check_same_thread=False)
        blocker.execute("BEGIN IMMEDIATE")                # hold the write lock for a while
        released = threading.Timer(0.6, blocker.execute, ["COMMIT"])
        released.start()
        try:
            run_id = log.start_run(["x"], "/", "0")       # waits through several "locked"
        finally:
            released.join()
            blocker.close()
        assert log.run(run_id)["argv"] == ["x"]

        from fileflow.errors import EXIT_LOCKED
        from fileflow.runlog import sql as runlog_sql
        from fileflow.runlog import sqlite_writer as runlog_sqlite
        monkeypatch.setattr(runlog_sqlite, "RETRIES", 1)    # the writer a build uses
        monkeypatch.setattr(runlog_sql, "RETRIES", 1)
        # Another process holds the write lock for good: the error names it, exit code 3.
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], "
             "isolation_level=None); c.execute('BEGIN IMMEDIATE'); print('held', flush=True); "
             "sys.stdin.read()", sqlite_db.sqlite_path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline() == "held\n"
            with pytest.raises(RunLogError) as info:
                log.start_run(["y"], "/", "0")
            message = str(info.value)
            assert sqlite_db.sqlite_path in message and "stayed locked" in message
            assert f"pid {holder.pid} (" in message, message
            assert "database is locked" not in message
            assert info.value.exit_code == EXIT_LOCKED
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)


def test_unsupported_or_invalid_urls(tmp_path):
    with pytest.raises(RunLogError, match="unsupported"):
        open_runlog("mysql://u:p@localhost/db", str(tmp_path))
    with pytest.raises(RunLogError, match="invalid"):
        open_runlog("not a url", str(tmp_path))
    with pytest.raises(RunLogError, match="in-memory"):
        open_runlog("sqlite://", str(tmp_path))


def test_explicit_sqlite_url_is_relative_to_workdir(tmp_path):
    with open_runlog("sqlite:///logs.db", str(tmp_path)) as log:
        log.record_files([fstate("a", "d")])
    assert os.path.getsize(tmp_path / "logs.db") > 0


_WITHOUT_SQLALCHEMY = """
import sys
from fileflow.runlog.log import JobStart, open_runlog
with open_runlog(None, sys.argv[1]) as log:
    log.load_targets()
    run = log.start_run(["fileflow"], sys.argv[1], "0")
    start = JobStart("r", "r:1", {}, "true", [], 1, "local", "s", ["o"], None)
    (job,) = log.jobs_started(run, [start])
    log.record_tick(run, [], [], [(job, "4711")])
    log.finish_run(run, "success", 1, 0)
    assert log.run(run)["status"] == "success" and log.jobs_of_run(run)[0]["external_id"] == "4711"
print(sorted(m for m in sys.modules if m.split(".")[0] == "sqlalchemy"))
"""


def test_a_build_on_a_current_sqlite_log_never_loads_sqlalchemy(sqlite_db):
    with sqlite_db.open():     # the SQL half creates the log
        pass
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_SQLALCHEMY, sqlite_db.workdir],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------- many writers
def _writer(url: str | None, workdir: str, worker: int, batches: int, barrier) -> str:
    try:
        barrier.wait(60)
        with open_runlog(url, workdir) as log:          # all open a brand-new log at once
            run_id = log.start_run([f"worker{worker}"], workdir, "0")
            for b in range(batches):
                outs = [f"w{worker}/b{b}/{k}.txt" for k in range(2)]
                ids = log.jobs_started(run_id, [start(f"r:{worker}.{b}.{k}", [o])
                                                for k, o in enumerate(outs)])
                log.set_external_ids([(i, f"ext-{i}") for i in ids])
                log.jobs_finished([done(i, [fstate(o, f"d{worker}.{b}")]) for i, o in zip(ids, outs)])
                # every worker also records the same shared sources: contended rows
                log.record_files([fstate(f"shared/{s}.txt", f"s{s}", 1, b) for s in range(5)])
            log.finish_run(run_id, "success", 2 * batches, 0)
        return ""
    except BaseException as e:  # report anything that reached the caller
        return f"worker {worker}: {type(e).__name__}: {e}"


@pytest.mark.e2e
def test_many_processes_write_the_same_log(db):
    workers, batches = 4, 50
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(workers)
    with ctx.Pool(workers) as pool:
        errors = pool.starmap(_writer, [(db.url, db.workdir, w, batches, barrier)
                                        for w in range(workers)])
    assert errors == [""] * workers
    with db.open() as log:
        runs = log.runs(limit=100)
        assert len(runs) == workers and {r["status"] for r in runs} == {"success"}
        jobs = [j for r in runs for j in log.jobs_of_run(r["id"])]
        assert len(jobs) == workers * batches * 2
        assert all(j["state"] == "done" and j["external_id"] == f"ext-{j['id']}" for j in jobs)
        recs = log.load_targets()
    outputs = {p: t for p, t in recs.items() if not p.startswith("shared/")}
    assert len(outputs) == workers * batches * 2 and all(t.complete for t in outputs.values())
    assert {p for p in recs if p.startswith("shared/")} == {f"shared/{s}.txt" for s in range(5)}


@pytest.mark.e2e
def test_without_postgresql_the_skip_names_its_start_script(tmp_path):
    """A developer without PostgreSQL is told which script starts it, as with Slurm and SGE."""
    tests = os.path.dirname(os.path.abspath(__file__))
    env = {k: v for k, v in os.environ.items()
           if k not in ("FILEFLOW_TEST_PG_URL", "FILEFLOW_STRICT_SERVICES")}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                        f"{tests}/test_runlog.py::test_a_database_password_on_the_command_line"
                        "_is_never_recorded[postgresql]"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "1 skipped" in r.stdout, r.stdout + r.stderr
    script = ".ci/postgres-up.sh"
    assert f"PostgreSQL (start it with {script}; it sets FILEFLOW_TEST_PG_URL) is not available" \
        in r.stdout, r.stdout
    assert os.path.isfile(os.path.join(tests, "..", script))
