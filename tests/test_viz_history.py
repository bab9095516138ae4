"""End to end: `fileflow summary` (every output's state), and the run history read back
from the run log: `fileflow runs` and `fileflow log RUN|JOB|FILE` across three runs, one of
them failed; on SQLite and on a real PostgreSQL."""
from __future__ import annotations

import getpass
import re
import socket

from buildkit import Project
from test_build_runlog_pg import pg  # noqa: F401  (the fixture: a fresh PostgreSQL schema)

FLOW = """
    rule all:
        input: "x.out", "y.out", "z.out", "w.out"
    rule make:
        input: "src/{n}.txt"
        output: "{n}.out"
        shell: "if grep -q bad {input}; then echo {wildcards.n} is bad >&2; exit 4; fi; cp {input} {output}"
    """


def _project(tmp_path, db=None) -> Project:
    p = Project(tmp_path, db=db)
    p.flowfile(FLOW)
    for n in "xyzw":
        p.write(f"src/{n}.txt", f"{n}\n")
    return p


def _two_runs(p: Project, *db: str) -> None:
    """Run 1 builds everything, run 2 fails (w)."""
    assert p.build("-j", "1", *db, log=False).code == 0
    p.write("src/w.txt", "bad\n")
    assert p.build("-j", "1", *db, log=False).code == 1


def _third_run(p: Project, *db: str) -> None:
    """Run 3 succeeds again."""
    p.write("src/w.txt", "good\n")
    assert p.build("-j", "1", *db, log=False).code == 0


def _rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.strip().splitlines()]


def test_summary_states(tmp_path):
    p = _project(tmp_path)
    assert p.build("-j", "1").code == 0
    p.write("src/w.txt", "bad\n")
    assert p.build("-j", "1").code == 1            # w failed: its output is incomplete
    p.path("y.out").unlink()                       # missing
    p.write("src/z.txt", "zz\n")                   # stale: its input changed
    r = p.run("summary", log=False)
    assert r.code == 0, r
    rows = _rows(r.out)
    assert rows[0] == ["path", "state", "job", "last built", "size", "made by"]
    by_path = {row[0]: row for row in rows[1:]}
    assert set(by_path) == {"x.out", "y.out", "z.out", "w.out"}
    assert by_path["x.out"][1:3] == ["up to date", "make[n=x]"]
    assert by_path["y.out"][1] == "missing"
    assert by_path["z.out"][1] == "stale: input 'src/z.txt' changed"
    assert by_path["w.out"][1] == "incomplete (its job started and did not finish)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", by_path["x.out"][3])
    assert by_path["x.out"][4] == "2 B" and by_path["z.out"][4] == "2 B"
    assert by_path["y.out"][4] == "-" and by_path["w.out"][4] == "-"
    made = {j["name"]: j["id"] for j in p.jobs_since(0)}  # newest attempt per name
    assert by_path["x.out"][5] == f"job #{made['make[n=x]']}"
    assert by_path["w.out"][5] == f"job #{made['make[n=w]']}"
    # `build --summary` is the same table, and builds nothing
    assert p.run("build", "--summary", log=False).out == r.out
    assert not p.exists("y.out")


def test_runs_and_log_across_three_runs(tmp_path):
    p = _project(tmp_path)
    _two_runs(p)
    failed_id = _rows(p.run("log", "2", log=False).out.split("\n\n", 1)[1])[1][0]
    failed = p.run("log", failed_id, log=False)   # the log's tail, while it is this attempt's
    assert failed.out.startswith(f"job {failed_id} make[n=w] (run 2, attempt 1): failed\n")
    assert re.search(r"^  log:\s+\S+ \(last 1 lines\):\n    w is bad$", failed.out, re.M)
    _third_run(p)
    r = p.run("runs", log=False)
    assert r.code == 0, r
    rows = _rows(r.out)
    assert rows[0] == ["run", "started", "duration", "status", "done", "failed", "command"]
    # `all` counts as a job done, as in the build's summary, once its inputs are there
    assert [(row[0], row[3], row[4], row[5], row[6]) for row in rows[1:]] == [
        ("3", "success", "2", "0", "fileflow -j 1"),
        ("2", "failed", "0", "1", "fileflow -j 1"),
        ("1", "success", "5", "0", "fileflow -j 1")]
    assert _rows(p.run("runs", "-n", "1", log=False).out)[1][0] == "3"

    run2 = p.run("log", "2", log=False)
    assert run2.code == 0, run2
    assert run2.out.startswith("run 2: failed, 0 done, 1 failed\n")
    assert f"on {socket.gethostname()} by {getpass.getuser()}" in run2.out
    job_rows = _rows(run2.out.split("\n\n", 1)[1])
    assert job_rows[0] == ["job", "name", "state", "exit", "duration", "peak memory", "cpu"]
    assert [(row[1], row[2], row[3]) for row in job_rows[1:]] == [("make[n=w]", "failed", "4")]
    failed_id = job_rows[1][0]

    job = p.run("log", failed_id, log=False)
    assert job.code == 0, job
    assert job.out.startswith(f"job {failed_id} make[n=w] (run 2, attempt 1): failed\n")
    fields = dict(re.findall(r"^  ([a-z ]+):\s+(.*)$", job.out, re.M))
    assert fields["exit code"] == "4"
    assert fields["host"].startswith(socket.gethostname() + " (local executor")
    # a job this small never grows past fileflow's own peak: its own is unknown ("-")
    assert re.fullmatch(r"\d+(\.\d)? (B|KiB|MiB)|-", fields["peak memory"]), fields
    assert re.fullmatch(r"\d+\.\d\d s", fields["cpu time"]), fields
    assert "if grep -q bad src/w.txt" in fields["command"]
    later = int(failed_id[1:]) + 1                   # run 3's attempt wrote the same log file
    assert re.search(rf"^  log:\s+\S+ \(rewritten since by job #{later}\)$", job.out, re.M), job

    by_file = p.run("log", "w.out", log=False)     # the newest job that made it, then the rest
    assert by_file.out.startswith("job #") and ") (run 3, attempt 1): done" not in by_file.out
    assert re.match(r"job #\d+ make\[n=w\] \(run 3, attempt 1\): done\n", by_file.out), by_file
    assert re.search(r"^earlier attempts: #\d+ \(failed\), #\d+ \(done\)$", by_file.out, re.M)
    by_name = p.run("log", "make[n=w]", log=False)
    assert by_name.out == by_file.out
    last = p.run("log", log=False)
    assert last.out.startswith("run 3: success, 2 done, 0 failed")

    for bad, message in [("9", "no such run"), ("#999", "no such job"),
                         ("nothing.txt", "no run, job or file of that name")]:
        r = p.run("log", bad, log=False)
        assert r.code == 2 and message in r.err and r.out == "", r


def test_history_without_a_run_log(tmp_path):
    p = _project(tmp_path)
    r = p.run("runs", log=False)
    assert r.code == 0 and r.out.startswith("no runs recorded yet"), r
    r = p.run("log", log=False)
    assert r.code == 2 and "no runs recorded yet" in r.err, r
    assert not p.exists(".fileflow")


def test_runs_and_log_with_postgresql(tmp_path, pg):  # noqa: F811
    url, _, _ = pg
    p = _project(tmp_path, db=url)
    _two_runs(p, "--db", url)
    _third_run(p, "--db", url)
    rows = _rows(p.run("runs", "--db", url, log=False).out)
    assert [(row[0], row[3]) for row in rows[1:]] == [("3", "success"), ("2", "failed"),
                                                      ("1", "success")]
    # the command line is shown without the database password
    user, password = re.search(r"://([^:]+):([^@]+)@", url).groups()
    assert rows[1][6].startswith(f"fileflow -j 1 --db 'postgresql://{user}:***@")
    assert f":{password}@" not in p.run("runs", "--db", url, log=False).out
    run2 = p.run("log", "2", "--db", url, log=False)
    assert f"by {getpass.getuser()}" in run2.out and "make[n=w]  failed  4" in run2.out
    by_file = p.run("log", "w.out", "--db", url, log=False)
    assert re.search(r"^earlier attempts: #\d+ \(failed\), #\d+ \(done\)$", by_file.out, re.M)
    assert not p.exists(".fileflow/runlog.db")
