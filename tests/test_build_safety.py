"""End to end: what fileflow must survive (docs/guarantees.md): hostile file names,
odd working directories, Ctrl-C, kill -9, concurrent builds, stale locks, SIGPIPE.

These tests start real `python -m fileflow` processes and signal them. They wait for the
jobs to reach a known point (a file the job writes), never for a length of time."""
from __future__ import annotations

import ast
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import psutil
import pytest
from buildkit import PRINT_ARGV, Project, kill_tree, wait_for

# ---------------------------------------------------------------- names and directories

HOSTILE = [
    "with space",
    "semi;colon",
    "dollar $(touch PWNED)",
    "back `touch PWNED`tick",
    "single 'quote'",
    'double "quote"',
    "-leading-dash",
    "glob * and ?",
    "new\nline",
    "tab\there",
    "ampersand & pipe | redirect > x",
    "unicode ü ß 日本",
]


@pytest.mark.parametrize("name", HOSTILE, ids=[repr(n) for n in HOSTILE])
def test_hostile_wildcard_values_reach_the_command_as_one_argument(tmp_path, name):
    p = Project(tmp_path)
    p.write("argv.py", PRINT_ARGV)
    p.flowfile("""
        rule show:
            input: "in/{name}.txt"
            output: "out/{name}.txt"
            shell: "python3 argv.py {wildcards.name} {input} {output} > {output}"
        """)
    p.write(f"in/{name}.txt", "x")
    r = p.build(f"out/{name}.txt")
    assert r.code == 0, r
    argv = [ast.literal_eval(line) for line in p.read(f"out/{name}.txt").splitlines()]
    assert argv == [name, f"in/{name}.txt", f"out/{name}.txt"]
    assert not p.exists("PWNED") and not p.exists("x")
    assert p.build(f"out/{name}.txt").ran == []


def test_hostile_file_names_from_the_flowfile(tmp_path):
    p = Project(tmp_path)
    p.write("argv.py", PRINT_ARGV)
    p.flowfile("""
        rule all:
            input: "-rf x.out"
        rule show:
            input: "a b;c $(touch PWNED).txt", "-n"
            output: "-rf x.out"
            shell: "python3 argv.py {input} > ./{output}"
        """)
    p.write("a b;c $(touch PWNED).txt", "")
    p.write("-n", "")
    r = p.build()
    assert r.code == 0, r
    argv = [ast.literal_eval(line) for line in p.read("-rf x.out").splitlines()]
    assert argv == ["a b;c $(touch PWNED).txt", "-n"]
    assert not p.exists("PWNED")


def test_working_directory_with_spaces_quotes_and_non_ascii(tmp_path):
    p = Project(tmp_path / "my dir 'quoted' \"twice\" ü ß 日本 $(x)")
    p.write("argv.py", PRINT_ARGV)
    p.write("data/in.txt", "hello\n")
    p.write("s.py", "from fileflow.script import job\n"
                    "open(job.output[0], 'w').write(open(job.input[0]).read().upper())\n")
    p.flowfile("""
        rule all:
            input: "out/final.txt"
        rule copy:
            input: "data/in.txt"
            output: "out/copy.txt"
            shell: "cp {input} {output}; python3 argv.py \\"$PWD\\" > out/pwd.txt"
        rule upper:
            input: "out/copy.txt"
            output: "out/final.txt"
            script: "s.py"
        """)
    r = p.run("build")                  # a real process, started in that directory
    assert r.code == 0, r
    assert p.read("out/final.txt") == "HELLO\n"
    assert ast.literal_eval(p.read("out/pwd.txt").strip()) == str(p.root)
    again = p.run("build")
    assert again.code == 0, again
    assert again.ran == []


def test_a_thread_a_python_function_leaves_running_does_not_keep_fileflow_alive(tmp_path):
    p = Project(tmp_path)
    p.write("h.py", "import threading\n"
                    "def label():\n"
                    "    threading.Thread(target=threading.Event().wait).start()  # never ends\n"
                    "    return 'x'\n")
    p.flowfile("""
        from "h.py" import label
        rule all:
            output: "out.txt"
            params: l = label()
            shell: "echo {params.l} > {output}"
        """)
    r = p.run("build", timeout=60)  # before: waited for the thread forever after the build
    assert r.code == 0, r
    assert p.read("out.txt") == "x\n"
    assert "Traceback" not in r.err


def test_a_working_directory_and_an_argument_with_bytes_that_are_not_utf8(tmp_path):
    # A folder named with the byte 0xff, and --config a=<0xff>: Python gives both as '\udcff'.
    p = Project(tmp_path / "data\udcff")
    p.flowfile("""
        rule all:
            output: "out.txt"
            shell: "echo made > {output}"
        """)
    r = p.run("build", "--config", "note=x\udcff", log=False)
    assert r.code == 0, r
    assert p.read("out.txt") == "made\n"
    for command in (["runs"], ["log", "last"], ["summary"], ["why", "out.txt"]):
        r = p.run(*command, log=False)
        assert r.code == 0 and "Traceback" not in r.err, r
    assert "--config 'note=x\\xff'" in p.run("runs", log=False).out


def test_dash_C_into_a_directory_with_spaces(tmp_path):
    p = Project(tmp_path / "sub dir ü")
    p.flowfile("""
        rule a:
            output: "a.txt"
            shell: "echo here > {output}"
        """)
    proc = subprocess.run([sys.executable, "-m", "fileflow", "-C", str(p.root), "build"],
                          cwd=tmp_path, capture_output=True, text=True, env=p.env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert p.read("a.txt") == "here\n"



def test_dash_C_gives_a_directly_started_job_the_pwd_bash_would(tmp_path):
    """`printenv PWD > file` starts without bash; after `-C sub` it must still see PWD=sub,
    as the same command through bash (a pipe) does, not the folder fileflow started in."""
    p = Project(tmp_path / "sub")
    p.flowfile("""
        rule all:
            input: "direct.txt", "bash.txt"
        rule direct:
            output: "direct.txt"
            shell: "printenv PWD > {output}"
        rule through_bash:
            output: "bash.txt"
            shell: "printenv PWD | cat > {output}"
        """)
    proc = subprocess.run([sys.executable, "-m", "fileflow", "-C", "sub", "build"],
                          cwd=tmp_path, capture_output=True, text=True,
                          env=p.env(PWD=str(tmp_path)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert p.read("direct.txt") == p.read("bash.txt") == str(p.root.resolve()) + "\n"



def test_escape_sequences_in_file_names_are_shown_escaped_never_sent_raw(tmp_path):
    """A file name may hold ESC, BEL and C1 controls: every message that shows it (dry run,
    run lines, failures, summary, errors, why, runs, log, graph text) shows `\\x1b` and the
    like, so a terminal never obeys them."""
    p = Project(tmp_path)
    p.flowfile("""
        rule mk:
            input: "in/{s}.txt"
            output: "out/{s}.txt"
            shell: "cp {input} {output}; case {output} in *bad*) exit 3;; esac"
        """)
    name = "a\x1b]0;pwned\x07\x1b[2J\x9b31m"
    p.write(f"in/{name}.txt", "x\n")
    p.write(f"in/{name}bad.txt", "x\n")
    target, bad = f"out/{name}.txt", f"out/{name}bad.txt"
    shown = "a\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m"
    results = [p.run("build", "-n", target, bad), p.run("build", "-k", target, bad),
               p.run("why", target), p.run("runs"), p.run("log"), p.run("log", bad),
               p.run("graph", "--format", "text", target),
               p.run("build", f"out/{name}missing")]
    for r in results:
        assert not any(c in r.text for c in "\x1b\x07\x9b"), r
        assert shown in r.text, r
    assert results[1].code == 1 and f"done mk[s={shown}]" in results[1].out
    assert results[-1].code == 2


# ---------------------------------------------------------------- Ctrl-C

LONG_JOB = """
    rule all:
        input: "long.txt", "quick.txt"
    rule long:
        output: "long.txt"
        shell: "echo $$ > job.pid; sleep 300 & echo $! > child.pid; echo partial > {output}; wait"
    rule quick:
        output: "quick.txt"
        shell: "echo quick > {output}"
    """


def _job_started(p: Project):
    return (p.exists("child.pid") and p.path("child.pid").read_text().strip() != ""
            and p.exists("long.txt"))


def _recorded_done(p: Project, name: str) -> bool:
    return any(j["name"] == name and j["state"] == "done" for j in p.jobs_since(0))


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_running_jobs_pid_reaches_the_run_log_while_it_runs(tmp_path):
    """Processes start from threads of their own and submit() returns no pid: the pid still
    reaches the run log with a tick while the job runs, so a kill -9 of fileflow leaves the
    next build a pid to stop."""
    p = Project(tmp_path)
    p.flowfile(LONG_JOB)
    proc = p.popen("build", "-j", "2")
    try:
        wait_for(lambda: _job_started(p), what="the long job to start")
        job_pid = p.read("job.pid").strip()
        wait_for(lambda: any(j["name"] == "long" and j["external_id"] == job_pid
                             for j in p.jobs_since(0)), timeout=10,
                 what="the long job's pid in the run log")
    finally:
        kill_tree(proc)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_kills_the_job_tree_removes_partial_output_and_records_it(tmp_path, sig):
    p = Project(tmp_path)
    p.flowfile(LONG_JOB)
    proc = p.popen("build", "-j", "2")
    try:
        wait_for(lambda: _job_started(p), what="the long job to start")
        wait_for(lambda: _recorded_done(p, "quick"), what="the quick job to be recorded")
        job_pid, child_pid = int(p.read("job.pid")), int(p.read("child.pid"))
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err
    wait_for(lambda: _gone(job_pid) and _gone(child_pid), timeout=10, what="the job tree to go")
    assert not p.exists("long.txt")
    jobs = {j["name"]: j for j in p.jobs_since(0)}
    assert jobs["long"]["state"] == "cancelled"
    assert jobs["quick"]["state"] == "done"
    assert p.runs()[-1]["status"] == "interrupted"
    assert not p.recorded()["long.txt"].complete
    assert not os.listdir(p.path(".fileflow/locks")) or \
        os.listdir(p.path(".fileflow/locks")) == [".guard"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_while_waiting_for_a_late_output_stops_at_once(tmp_path, sig):
    """A job exited 0 without its output; fileflow waits up to --latency-wait for it to
    appear. Ctrl-C or SIGTERM then stops the build at once, interrupted, not failed."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "late.txt"
        rule late:
            output: "late.txt"
            shell: "touch ended.flag"
        """)
    proc = p.popen("build", "--latency-wait", "60")
    try:
        wait_for(lambda: p.exists("ended.flag") and not psutil.Process(proc.pid).children(),
                 what="the job to end and be reaped")
        signalled = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert time.monotonic() - signalled < 20, err      # not the 60 s of --latency-wait
    assert proc.returncode == 130, err
    assert "interrupted" in err and "after waiting" not in err and "Traceback" not in err
    assert p.runs()[-1]["status"] == "interrupted"
    assert [j["state"] for j in p.jobs_since(0)] == ["cancelled"]


def test_interrupt_amid_many_finishing_jobs_leaves_a_consistent_run_log(tmp_path):
    """Whenever the signal lands, every job of the run ends recorded (never 'running'), every
    job recorded done has its output, and no output of a job not done is kept."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(60))
        rule mk:
            output: "o/{i}.txt"
            shell: "echo {wildcards.i} > {output}; sleep 0.05"
        """)
    proc = p.popen("build", "-j", "2")
    try:
        wait_for(lambda: sum(j["state"] == "done" for j in p.jobs_since(0)) >= 5,
                 what="some jobs to finish")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 130, err
    jobs = p.jobs_since(0)
    assert {j["state"] for j in jobs} <= {"done", "cancelled"}, jobs
    recorded = p.recorded()
    for j in jobs:
        out = j["outputs"][0]
        if j["state"] == "done":
            assert p.exists(out) and recorded[out].complete, j
        else:
            assert not p.exists(out) and not recorded[out].complete, j
    made = set(os.listdir(p.path("o")))
    assert made == {os.path.basename(j["outputs"][0]) for j in jobs if j["state"] == "done"}
    again = p.build()
    assert again.code == 0, again
    assert sorted(again.ran) == sorted(f"mk[i={i}]" for i in range(60)
                                       if f"{i}.txt" not in made)


def test_interrupt_kills_a_job_that_ignores_sigterm(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule stubborn:
            output: "s.txt"
            shell: "trap '' TERM; echo $$ > job.pid; echo partial > {output}; while true; do sleep 0.1; done"
        """)
    proc = p.popen("build")
    try:
        wait_for(lambda: p.exists("job.pid") and p.read("job.pid").strip() != "",
                 what="the job to start")
        job_pid = int(p.read("job.pid"))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 130, err
    wait_for(lambda: _gone(job_pid), timeout=10, what="the job to go")
    assert not p.exists("s.txt")
    assert [j["state"] for j in p.jobs_since(0)] == ["cancelled"]


def test_ctrl_c_of_the_whole_process_group_like_a_terminal(tmp_path):
    """A terminal's Ctrl-C signals the foreground process group: fileflow, not its jobs
    (they run in sessions of their own), so fileflow alone decides how they stop."""
    p = Project(tmp_path)
    p.flowfile(LONG_JOB)
    proc = p.popen("build", "-j", "2", start_new_session=True)
    try:
        wait_for(lambda: _job_started(p), what="the long job to start")
        wait_for(lambda: _recorded_done(p, "quick"), what="the quick job to be recorded")
        job_pid, child_pid = int(p.read("job.pid")), int(p.read("child.pid"))
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 130, err
    wait_for(lambda: _gone(job_pid) and _gone(child_pid), timeout=10, what="the job tree to go")
    assert not p.exists("long.txt")
    # and the next build runs exactly what was not finished
    p.flowfile(LONG_JOB.replace("sleep 300 & echo $! > child.pid; ", ""))
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["long"]


def test_ctrl_c_with_stdout_piped_into_head(tmp_path):
    """guarantees.md: Ctrl-C. The reader of stdout is gone (SIGPIPE territory) when Ctrl-C
    comes: jobs are still stopped and cleaned up, and no traceback is printed."""
    p = Project(tmp_path)
    p.flowfile(LONG_JOB)
    head = subprocess.Popen(["head", "-1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    proc = p.popen("build", "-j", "2", stdout=head.stdin)
    head.stdin.close()
    try:
        wait_for(lambda: _job_started(p), what="the long job to start")
        head.wait(timeout=30)              # head read its line and left: the pipe is broken
        job_pid, child_pid = int(p.read("job.pid")), int(p.read("child.pid"))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        kill_tree(proc)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    wait_for(lambda: _gone(job_pid) and _gone(child_pid), timeout=10, what="the job tree to go")
    assert not p.exists("long.txt")
    assert p.runs()[-1]["status"] == "interrupted"


def test_stdout_piped_into_head_the_build_still_completes(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(8))
        rule mk:
            output: "o/{i}.txt"
            shell: "echo {wildcards.i} > {output}"
        """)
    proc = subprocess.run(f"{sys.executable} -m fileflow build -j 1 -p | head -1; "
                          "echo \"fileflow=${PIPESTATUS[0]}\" >&2",
                          shell=True, executable="bash", cwd=p.root, capture_output=True,
                          text=True, env=p.env(), timeout=120)
    assert "fileflow=0" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr
    assert len(proc.stdout.splitlines()) == 1
    assert sorted(os.listdir(p.path("o"))) == [f"{i}.txt" for i in range(8)]
    assert p.build().ran == []


@pytest.mark.parametrize("args", [["build"], ["-n"], ["check"], ["why", "o/1.txt"],
                                  ["clean", "-n"], ["unlock"], ["--version"], ["--help"]],
                         ids=lambda a: " ".join(a))
def test_stdout_closed_by_its_reader_is_no_traceback(tmp_path, args):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(3))
        rule mk:
            output: "o/{i}.txt"
            shell: "echo {wildcards.i} > {output}"
        """)
    if args[0] != "build":
        assert p.build().code == 0
    proc = p.popen(*args, stdout=subprocess.PIPE)
    proc.stdout.close()                 # the reader is gone before fileflow writes a byte
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert sorted(os.listdir(p.path("o"))) == ["0.txt", "1.txt", "2.txt"]


# ---------------------------------------------------------------- kill -9 of fileflow

@pytest.mark.own_process
def test_kill_9_mid_job_then_the_next_run_reruns_exactly_the_interrupted_jobs(tmp_path):
    p = Project(tmp_path)
    flow = """
        rule all:
            input: "a.txt", "b.txt", "c.txt", "d.txt"
        rule a:
            output: "a.txt"
            priority: 10
            shell: "echo a > {output}"
        rule c:
            output: "c.txt"
            priority: 10
            shell: "echo c > {output}"
        rule b:
            output: "b.txt"
            shell: ("echo partial > {output}; echo $$ > b.pid; "
                    "if [ -e slow ]; then sleep 300; fi; echo b > {output}")
        rule d:
            input: "b.txt"
            output: "d.txt"
            shell: "cp {input} {output}"
        """
    p.flowfile(flow)
    p.write("slow", "")
    proc = p.popen("build", "-j", "1")
    try:
        wait_for(lambda: p.exists("b.pid") and p.read("b.pid").strip() != "",
                 what="job b to start")
        proc.kill()                                    # kill -9: no cleanup of any kind
        proc.communicate(timeout=30)
        job = psutil.Process(int(p.read("b.pid")))     # the orphaned job: the test's to end
        for child in job.children(recursive=True):
            child.kill()
        job.kill()
    finally:
        kill_tree(proc)
    assert p.read("a.txt") == "a\n" and p.read("c.txt") == "c\n"
    assert p.read("b.txt") == "partial\n"              # looks like an output, is not one
    os.unlink(p.path("slow"))
    os.unlink(p.path("b.pid"))
    # a stale lock of the killed build is in the way: it is taken over without asking
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["b", "d"]
    assert "incomplete" in " ".join(again.jobs[0]["reasons"])
    assert p.read("d.txt") == "b\n"
    assert p.build().ran == []


@pytest.mark.own_process
def test_jobs_left_running_by_a_killed_fileflow_are_stopped_by_the_next_build(tmp_path):
    """After kill -9 of fileflow its job lives on; the next build must not race it for the
    same output: it stops the orphan's tree, reruns the job, and closes the dead run."""
    p = Project(tmp_path)
    p.flowfile("""
        rule slow:
            output: "s.txt"
            shell: ("echo $$ > job.pid; echo partial > {output}; "
                    "if [ -e slow ]; then sleep 300; fi; echo done > {output}")
        """)
    p.write("slow", "")
    proc = p.popen("build")
    try:
        wait_for(lambda: p.exists("job.pid") and p.read("job.pid").strip() != "",
                 what="the job to start")
        orphan = int(p.read("job.pid"))
        wait_for(lambda: any(j["external_id"] == str(orphan) for j in p.jobs_since(0)),
                 what="the job's pid in the run log")
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        kill_tree(proc)
    assert not _gone(orphan)                           # the orphan lives on
    os.unlink(p.path("slow"))
    try:
        again = p.build()
        assert again.code == 0, again
        assert "left running by a fileflow that is gone" in again.err
        assert f"pid {orphan}" in again.err or f", {orphan}" in again.err, again.err
        wait_for(lambda: _gone(orphan), timeout=10, what="the orphan to be stopped")
        assert p.read("s.txt") == "done\n"
        jobs = p.jobs_since(0)
        assert [j["state"] for j in jobs] == ["cancelled", "done"]
        with p.runlog() as log:
            assert [r["status"] for r in sorted(log.runs(), key=lambda r: r["id"])] == [
                "interrupted", "success"]
    finally:
        with contextlib.suppress(psutil.Error):
            psutil.Process(orphan).kill()


@pytest.mark.own_process
def test_a_job_killed_before_its_pid_was_recorded_and_its_daemon_are_stopped(tmp_path):
    """kill -9 of fileflow in the moment between a job's start and the tick that records its
    pid, and a daemon the job started that left its tree: the next build finds both by the
    run tag in their environment."""
    p = Project(tmp_path)
    p.flowfile("""
        rule slow:
            output: "s.txt"
            shell: ("( setsid sleep 300 & echo $! > daemon.pid ); echo $$ > job.pid; "
                    "echo partial > {output}; if [ -e slow ]; then sleep 300; fi; echo done > {output}")
        """)
    p.write("slow", "")
    proc = p.popen("build")
    pids: list[int] = []
    try:
        wait_for(lambda: all(p.exists(f) and p.read(f).strip() for f in ("job.pid", "daemon.pid")),
                 what="the job and its daemon to start")
        pids = [int(p.read("job.pid")), int(p.read("daemon.pid"))]
        assert psutil.Process(pids[1]).ppid() != pids[0]   # the daemon left the job's tree
        proc.kill()
        proc.communicate(timeout=30)
        with sqlite3.connect(p.path(".fileflow/runlog.db")) as conn:   # as if never recorded
            conn.execute("UPDATE jobs SET external_id = NULL")
        os.unlink(p.path("slow"))
        again = p.build()
        assert again.code == 0, again
        assert "left running by a fileflow that is gone" in again.err, again.err
        wait_for(lambda: all(_gone(pid) for pid in pids), timeout=10,
                 what="the job and its daemon to be stopped")
        assert p.read("s.txt") == "done\n"
    finally:
        kill_tree(proc)
        for pid in pids:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()


def test_ctrl_c_stops_a_daemon_that_left_the_job_tree(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule slow:
            output: "s.txt"
            shell: "( setsid sleep 300 & echo $! > daemon.pid ); sleep 300; touch {output}"
        """)
    proc = p.popen("build")
    daemon = 0
    try:
        wait_for(lambda: p.exists("daemon.pid") and p.read("daemon.pid").strip(),
                 what="the daemon to start")
        daemon = int(p.read("daemon.pid"))
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        wait_for(lambda: _gone(daemon), timeout=10, what="the daemon to be stopped")
    finally:
        kill_tree(proc)
        with contextlib.suppress(psutil.Error):
            psutil.Process(daemon).kill()


# ---------------------------------------------------------------- concurrent builds

GATED = """
    rule all:
        input: "shared.txt"
    rule shared:
        output: "shared.txt"
        shell: "touch started; while [ ! -e release ]; do sleep 0.05; done; echo done > {output}"
    rule other:
        output: "other.txt"
        shell: "echo other > {output}"
    """


@pytest.mark.own_process
def test_second_overlapping_build_exits_3_naming_the_holder(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED)
    first = p.popen("build")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        second = p.build("--lock-timeout", "0")
        assert second.code == 3, second
        assert f"pid {first.pid}" in second.err
        assert socket.gethostname() in second.err
        assert second.ran == []
        # disjoint outputs: may run side by side
        disjoint = p.build("other.txt")
        assert disjoint.code == 0, disjoint
        assert disjoint.ran == ["other"]
        p.write("release", "")
        out, err = first.communicate(timeout=60)
    finally:
        kill_tree(first)
    assert first.returncode == 0, err
    assert p.read("shared.txt") == "done\n"
    assert [r["status"] for r in p.runs()] == ["success", "success"]


def _waiting_for_lock(proc: subprocess.Popen) -> bool:
    """The build waits for the lock in time.sleep: its process sleeps in nanosleep. Where
    the kernel does not tell (wchan hidden), give it a few seconds to get there."""
    if proc.poll() is not None:
        return True
    try:
        with open(f"/proc/{proc.pid}/wchan") as fh:
            wchan = fh.read().strip()
    except OSError:
        wchan = ""
    if wchan and wchan != "0":
        return "nanosleep" in wchan
    return time.time() - psutil.Process(proc.pid).create_time() > 5


@pytest.mark.own_process
def test_second_overlapping_build_waits_with_a_lock_timeout(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED)
    first = p.popen("build")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        second = p.popen("build", "--lock-timeout", "120")
        wait_for(lambda: _waiting_for_lock(second), what="the second build to wait")
        assert second.poll() is None
        p.write("release", "")
        out1, err1 = first.communicate(timeout=60)
        out2, err2 = second.communicate(timeout=60)
    finally:
        kill_tree(first)
        kill_tree(second)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    # the waiting build saw what the first made: it ran nothing again
    assert [j["name"] for j in p.jobs_since(0)] == ["shared"]


@pytest.mark.own_process
def test_ctrl_c_while_waiting_for_the_lock(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED)
    first = p.popen("build")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        second = p.popen("build", "--lock-timeout", "300")
        wait_for(lambda: _waiting_for_lock(second), what="the second build to wait")
        second.send_signal(signal.SIGINT)
        _, err2 = second.communicate(timeout=60)
        assert second.returncode == 130, err2
        assert "Traceback" not in err2
        locks = [n for n in os.listdir(p.path(".fileflow/locks")) if n.endswith(".json")]
        assert len(locks) == 1 and f"-{first.pid}-" in locks[0]     # only the first's
        p.write("release", "")
        _, err1 = first.communicate(timeout=60)
    finally:
        p.write("release", "")
        kill_tree(first)
    assert first.returncode == 0, err1


@pytest.mark.own_process
def test_touch_never_marks_the_outputs_of_a_running_build_done(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED.replace("touch started;", "echo partial > {output}; touch started;"))
    first = p.popen("build")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        touched = p.build("--touch", "--lock-timeout", "0")
        assert touched.code == 3, touched
        assert f"pid {first.pid}" in touched.err
        assert not p.recorded()["shared.txt"].complete       # still the running job's
        p.write("release", "")
        _, err = first.communicate(timeout=60)
    finally:
        p.write("release", "")
        kill_tree(first)
    assert first.returncode == 0, err
    assert p.read("shared.txt") == "done\n"
    assert p.build("--touch").code == 0


def test_clean_never_deletes_the_outputs_of_a_running_build(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED.replace("touch started;", "echo partial > {output}; touch started;"))
    first = p.popen("build")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        cleaned = p.build("clean", "shared")
        assert cleaned.code == 3, cleaned
        assert p.exists("shared.txt")
        p.write("release", "")
        _, err = first.communicate(timeout=60)
    finally:
        p.write("release", "")
        kill_tree(first)
    assert first.returncode == 0, err
    assert p.build("clean", "shared").code == 0
    assert not p.exists("shared.txt")


def test_clean_never_deletes_files_fileflow_did_not_make_nor_outside_the_directory(tmp_path):
    """guarantees.md: What clean may delete. No build ever ran: every output on disk is
    someone else's, and two of them lie outside the working directory."""
    p = Project(tmp_path / "proj")
    outside = tmp_path / "elsewhere.txt"
    p.flowfile(f"""
        rule all:
            input: "../victim.txt", {str(outside)!r}, "hand.txt"
        rule up:
            output: "../victim.txt"
            shell: "echo made > {{output}}"
        rule away:
            output: {str(outside)!r}
            shell: "echo made > {{output}}"
        rule hand:
            output: "hand.txt"
            shell: "echo made > {{output}}"
        """)
    (tmp_path / "victim.txt").write_text("precious\n")
    outside.write_text("precious\n")
    p.write("hand.txt", "precious\n")
    before = p.snapshot()
    for args in (["clean", "-n"], ["clean"]):
        r = p.build(*args, log=False)
        assert r.code == 0, r
        assert "../victim.txt: outside the working directory" in r.out
        assert f"{outside}: outside the working directory" in r.out
        assert "hand.txt: not made by fileflow" in r.out
        assert "use --force to delete them" in r.out and "removed" not in r.out
        assert (tmp_path / "victim.txt").read_text() == "precious\n"
        assert outside.read_text() == "precious\n"
        after = {k: v for k, v in p.snapshot().items() if k != "." and not k.startswith(".fileflow")}
        assert after == {k: v for k, v in before.items() if k != "."}
        assert not p.exists(".fileflow/runlog.db")    # not even a run log was created
    r = p.build("clean", "--force", log=False)
    assert r.code == 0, r
    assert not (tmp_path / "victim.txt").exists() and not outside.exists()
    assert not p.exists("hand.txt")


def test_clean_keeps_outputs_changed_since_and_protected_ones_unless_forced(tmp_path):
    """guarantees.md: What clean may delete. An output is deleted when the run log says
    fileflow made it and it is unchanged since (a touch of the same bytes is unchanged)."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "same.txt", "touched.txt", "edited.txt", "keep.txt"
        rule make:
            output: "{name}.txt"
            wildcard_constraints: name = "same|touched|edited"
            shell: "echo {wildcards.name} > {output}"
        rule keep:
            output: protected("keep.txt")
            shell: "echo keep > {output}"
        """)
    assert p.build().code == 0
    p.age("touched.txt", 50)
    p.write("edited.txt", "by hand\n")
    dry = p.build("clean", "-n", log=False)
    r = p.build("clean", log=False)
    assert r.code == 0, r
    for out in (dry.out, r.out):
        assert "edited.txt: changed since fileflow made it" in out
        assert "keep.txt: protected()" in out
    assert "would remove same.txt" in dry.out and "would remove touched.txt" in dry.out
    assert not p.exists("same.txt") and not p.exists("touched.txt")
    assert p.read("edited.txt") == "by hand\n" and p.read("keep.txt") == "keep\n"
    assert r.out.index("kept 2 files") < r.out.index("removed")   # the kept ones come first
    recorded = p.recorded()
    assert "same.txt" not in recorded and "edited.txt" in recorded
    forced = p.build("clean", "--force", log=False)
    assert forced.code == 0, forced
    assert not p.exists("edited.txt") and not p.exists("keep.txt")
    assert "keep.txt" not in p.recorded()


def test_clean_removes_the_folders_its_deletions_emptied_and_no_other(tmp_path):
    """guarantees.md: What clean may delete."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out/deep/er/a.txt", "out/b.txt", "mixed/c.txt"
        rule make:
            output: "{path}.txt"
            shell: "echo x > {output}"
        """)
    assert p.build().code == 0
    p.path("out/was_empty").mkdir()
    p.write("mixed/notes.md", "mine\n")
    dry = p.build("clean", "-n", log=False)
    assert dry.code == 0, dry
    assert "would remove folder out/deep/er/" in dry.out
    assert "would remove folder out/deep/" in dry.out
    assert "folder out/\n" not in dry.out and "folder mixed/" not in dry.out
    r = p.build("clean", log=False)
    assert r.code == 0, r
    assert r.out.count("removed folder") == 2
    assert not p.exists("out/deep") and p.exists("out/was_empty")
    assert p.exists("mixed/notes.md") and not p.exists("mixed/c.txt")
    assert p.path(".").is_dir()


def test_outputs_no_job_makes_any_more_are_listed_as_orphaned_and_clean_orphans_removes_them(tmp_path):
    """guarantees.md: What clean may delete. A sample dropped from the list leaves outputs
    that no job makes: `summary` lists them as orphaned (not as stale parts of the
    workflow), `clean --orphans` deletes those fileflow made and that are unchanged since,
    and nothing else."""
    p = Project(tmp_path)
    p.flowfile("""
        S = ["a", "b", "c"]
        rule all:
            input: expand("out/{s}.txt", s=S)
        rule make:
            output: "out/{s}.txt"
            shell: "echo {wildcards.s} > {output}"
        """)
    assert p.build().code == 0
    p.write("Flowfile", p.read("Flowfile").replace('["a", "b", "c"]', '["a"]'))
    p.write("out/c.txt", "by hand\n")
    p.write("out/mine.txt", "not made by fileflow\n")
    summary = p.build("summary", log=False)
    assert summary.code == 0, summary
    orphaned = [line.split()[0] for line in summary.out.splitlines() if "orphaned:" in line]
    assert orphaned == ["out/b.txt", "out/c.txt"], summary.out
    assert "out/a.txt  up to date" in summary.out
    assert "orphaned" not in p.build("summary", "out/a.txt", log=False).out  # a part: unknown
    dry = p.build("clean", "--orphans", "-n", log=False)
    assert dry.code == 0, dry
    assert "would remove out/b.txt" in dry.out and "out/c.txt: changed since" in dry.out
    assert p.exists("out/b.txt")
    r = p.build("clean", "--orphans", log=False)
    assert r.code == 0, r
    assert not p.exists("out/b.txt") and p.read("out/c.txt") == "by hand\n"
    assert p.exists("out/a.txt") and p.exists("out/mine.txt")
    assert "out/b.txt" not in p.recorded() and "out/a.txt" in p.recorded()
    refused = p.build("clean", "--orphans", "make", log=False)
    assert refused.code == 2 and "clean --orphans takes no rule names" in refused.err, refused


def test_lock_wait_that_times_out_exits_3(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED)
    first = p.popen("build")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        second = p.build("--lock-timeout", "0.3")
        assert second.code == 3, second
        assert "lock" in second.err
    finally:
        p.write("release", "")
        first.communicate(timeout=60)
        kill_tree(first)
    assert first.returncode == 0


# Each job appends its number to ran.log: the test counts executions, not run log rows.
COUNTED = """
    rule all:
        input: expand("o/{i}.txt", i=range(15))
    rule mk:
        output: "o/{i}.txt"
        shell: "echo {wildcards.i} >> ran.log; echo {wildcards.i} > {output}"
    """


@pytest.mark.parametrize("lock_timeout", ["0", "60"])
def test_concurrent_builds_of_the_same_targets_never_run_a_job_twice(tmp_path, lock_timeout):
    """guarantees.md: No job runs twice across concurrent builds. Builds started one after
    another while the others plan, hold the lock and finish: each job runs once in all."""
    p = Project(tmp_path)
    p.flowfile(COUNTED)
    procs = []
    try:
        for _ in range(12):
            procs.append(p.popen("build", "-q", "--lock-timeout", lock_timeout))
            time.sleep(0.15)
        results = [(proc.wait(timeout=300), *proc.communicate()) for proc in procs]
    finally:
        for proc in procs:
            kill_tree(proc)
    for code, _out, err in results:
        assert code in (0, 3), err      # 3: it met another build's lock with no time to wait
        assert "Traceback" not in err
    assert sorted(p.read("ran.log").split(), key=int) == [str(i) for i in range(15)]
    if lock_timeout == "60":   # one build ran them all; the others found nothing to do
        assert sorted("nothing to do" in out for _, out, _ in results) == [False] + [True] * 11


def test_a_build_that_planned_before_another_finished_plans_again(tmp_path, monkeypatch):
    """guarantees.md: No job runs twice across concurrent builds. This build plans while
    another holds the lock and runs the same job; that build finishes and lets go of the
    lock before this one asks for it. Taking the lock, this build sees the run log changed
    since it planned, plans again and has nothing to do."""
    from fileflow.cli import build as api

    p = Project(tmp_path)
    p.flowfile(GATED.replace("touch started;", "echo ran >> ran.log; touch started;"))
    first = p.popen("build", "shared.txt")
    real_plan = api.plan_build

    def plan_then_let_the_first_finish(*args, **kwargs):
        plan = real_plan(*args, **kwargs)
        if not p.exists("release"):
            p.write("release", "")
            first.communicate(timeout=60)
        return plan

    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        monkeypatch.setattr(api, "plan_build", plan_then_let_the_first_finish)
        second = p.build("shared.txt", "--lock-timeout", "0")
    finally:
        p.write("release", "")
        kill_tree(first)
    assert first.returncode == 0
    assert second.code == 0, second
    assert second.ran == []
    assert "nothing to do: all 1 jobs are up to date" in second.out
    assert p.read("ran.log") == "ran\n"
    assert [r["status"] for r in p.runs()] == ["success"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _write_lock(p: Project, pid: int, host: str, outputs: list[str], started: float) -> str:
    folder = p.path(".fileflow/locks")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{host}-{pid}-{int(started * 1000)}.json"
    path.write_text(json.dumps({"pid": pid, "host": host, "started": started,
                                "outputs": outputs}))
    return str(path)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED.replace("while [ ! -e release ]; do sleep 0.05; done; ", ""))
    lock = _write_lock(p, _dead_pid(), socket.gethostname(), ["shared.txt"], time.time() - 60)
    r = p.build("--lock-timeout", "0")
    assert r.code == 0, r
    assert r.ran == ["shared"]
    assert not os.path.exists(lock)


def test_lock_of_a_live_process_on_this_host_is_respected(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED.replace("while [ ! -e release ]; do sleep 0.05; done; ", ""))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = psutil.Process(holder.pid).create_time() + 0.5
        _write_lock(p, holder.pid, socket.gethostname(), ["shared.txt"], started)
        r = p.build("--lock-timeout", "0")
        assert r.code == 3, r
        assert f"pid {holder.pid}" in r.err
        # `fileflow unlock` works even when the Flowfile is broken
        p.write("Flowfile", "rule broken\n    this is not a Flowfile (\n")
        assert p.build("check").code == 2
        refused = p.build("unlock")
        assert refused.code == 2, refused
        assert f"pid {holder.pid}" in refused.err and "--force" in refused.err
        unlocked = p.build("unlock", "--force")
        assert unlocked.code == 0, unlocked
        assert "removed 1" in unlocked.out
        p.flowfile(GATED.replace("while [ ! -e release ]; do sleep 0.05; done; ", ""))
        assert p.build("--lock-timeout", "0").code == 0
    finally:
        holder.kill()
        holder.wait()


def test_unlock_in_a_real_process_with_a_broken_flowfile(tmp_path):
    p = Project(tmp_path)
    p.write("Flowfile", "rule (\n")
    _write_lock(p, _dead_pid(), socket.gethostname(), ["x"], time.time())
    r = p.run("unlock")
    assert r.code == 0, r
    assert "Traceback" not in r.err
    assert [n for n in os.listdir(p.path(".fileflow/locks")) if n.endswith(".json")] == []


def test_unlock_where_fileflows_folder_is_a_file_has_no_locks_to_remove(tmp_path):
    p = Project(tmp_path)
    p.flowfile('rule a:\n    output: "a"\n    shell: "touch a"\n')
    p.write(".fileflow", "not a folder\n")
    r = p.run("unlock", log=False)
    assert (r.code, r.out.strip()) == (0, "no build locks to remove"), r
    assert "Traceback" not in r.err


@pytest.mark.own_process
def test_unlock_refuses_the_lock_of_a_running_build(tmp_path):
    """guarantees.md: Build locks. `fileflow unlock` while a build runs removes nothing and
    exits 2 naming it, so no second build runs the same job; --force removes it anyway."""
    p = Project(tmp_path)
    p.flowfile(GATED.replace("touch started;", "echo ran >> ran.log; touch started;"))
    first = p.popen("build")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        refused = p.run("unlock", log=False)
        assert refused.code == 2, refused
        assert f"pid {first.pid} on {socket.gethostname()}" in refused.err
        assert "Traceback" not in refused.err
        second = p.build("--lock-timeout", "0")
        assert second.code == 3, second
        assert second.ran == []
        forced = p.run("unlock", "--force", log=False)
        assert forced.code == 0, forced
        assert "removed 1 build lock" in forced.out
        assert [n for n in os.listdir(p.path(".fileflow/locks")) if n.endswith(".json")] == []
        p.write("release", "")
        _, err = first.communicate(timeout=60)
    finally:
        p.write("release", "")
        kill_tree(first)
    assert first.returncode == 0, err
    assert p.read("ran.log") == "ran\n"


def test_unlock_removes_the_locks_of_builds_that_are_gone(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED)
    dead = _write_lock(p, _dead_pid(), socket.gethostname(), ["shared.txt"], time.time() - 60)
    half = p.write(".fileflow/locks/host-1-2.json.tmp", '{"pid": 1, "ou')  # the disk filled up
    r = p.run("unlock", log=False)
    assert r.code == 0, r
    assert "removed 2 build locks" in r.out
    assert not os.path.exists(dead) and not os.path.exists(half)
    assert p.run("unlock", log=False).out == "no build locks to remove\n"


def test_lock_of_another_host_is_stale_only_when_its_heartbeat_is_old(tmp_path):
    from fileflow.run.locks import STALE_AFTER_SECONDS

    p = Project(tmp_path)
    p.flowfile(GATED.replace("while [ ! -e release ]; do sleep 0.05; done; ", ""))
    lock = _write_lock(p, 12345, "some-other-host", ["shared.txt"], time.time())
    r = p.build("--lock-timeout", "0")
    assert r.code == 3, r
    assert "some-other-host" in r.err and "pid 12345" in r.err
    old = time.time() - STALE_AFTER_SECONDS - 60
    os.utime(lock, (old, old))               # no heartbeat for too long: the holder is gone
    r = p.build("--lock-timeout", "0")
    assert r.code == 0, r
    assert not os.path.exists(lock)


def test_a_torn_lock_file_is_ignored(tmp_path):
    p = Project(tmp_path)
    p.flowfile(GATED.replace("while [ ! -e release ]; do sleep 0.05; done; ", ""))
    folder = p.path(".fileflow/locks")
    folder.mkdir(parents=True)
    (folder / "host-1-2.json").write_text('{"pid": 1, "outp')
    r = p.build("--lock-timeout", "0")
    assert r.code == 0, r


# ---------------------------------------------------------------- builds reading what others write

# `up` reads mid/a.txt; `mid` rewrites it in two steps. Each job stops at a gate (a file the
# test creates) after leaving a marker, so a test knows where each build stands.
READS = """
    rule up:
        input: "mid/{x}.txt"
        output: "res/{x}.up"
        shell: "touch reading; while [ ! -e go_read ]; do sleep 0.05; done; tr a-z A-Z < {input} > {output}"
    rule mid:
        input: "src/{x}.txt"
        output: "mid/{x}.txt"
        shell: ("head -c 3 {input} > {output}; touch writing; "
                "while [ ! -e go_write ]; do sleep 0.05; done; tail -c +4 {input} >> {output}")
    """
# A second workflow in the same directory, for which mid/a.txt is a source: it reads the
# file without ever planning to make it.
READER = """
    rule up:
        input: "mid/{x}.txt"
        output: "res/{x}.up"
        shell: "touch reading; tr a-z A-Z < {input} > {output}"
    """
REWRITE = ("--force", "mid/a.txt", "mid/a.txt")


def _reads_project(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile(READS)
    p.flowfile(READER, name="Readfile")
    p.write("src/a.txt", "hello\n")
    p.write("go_write")
    assert p.build("mid/a.txt").code == 0
    for gate in ("go_write", "writing"):
        p.path(gate).unlink()
    return p


def _live_holder() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


@pytest.mark.own_process
def test_a_build_never_rewrites_a_file_a_running_build_reads(tmp_path):
    p = _reads_project(tmp_path)
    reader = p.popen("res/a.up")
    writer = None
    try:
        wait_for(lambda: p.exists("reading"), what="the reading job")
        p.write("go_write")  # were the writer not stopped, this test would fail, not hang
        refused = p.build(*REWRITE, "--lock-timeout", "0")
        assert refused.code == 3, refused
        assert "another build is reading files this build writes, e.g. 'mid/a.txt'" in refused.err
        assert f"pid {reader.pid} on {socket.gethostname()}" in refused.err
        assert refused.ran == [] and not p.exists("writing")
        writer = p.popen(*REWRITE, "--lock-timeout", "120")
        wait_for(lambda: _waiting_for_lock(writer), what="the writing build to wait")
        assert writer.poll() is None and not p.exists("writing")
        p.write("go_read")
        _, err_r = reader.communicate(timeout=60)
        _, err_w = writer.communicate(timeout=60)
    finally:
        p.write("go_read")
        p.write("go_write")
        kill_tree(reader)
        if writer is not None:
            kill_tree(writer)
    assert reader.returncode == 0, err_r
    assert writer.returncode == 0, err_w
    assert "another build is reading files this build writes" in err_w   # why it waited
    assert "waiting up to 120 s" in err_w
    assert p.read("res/a.up") == "HELLO\n"
    assert p.read("mid/a.txt") == "hello\n"
    assert p.build("res/a.up").ran == []


@pytest.mark.own_process
def test_a_build_never_reads_a_file_a_running_build_writes(tmp_path):
    p = _reads_project(tmp_path)
    writer = p.popen(*REWRITE)
    reader = None
    try:
        wait_for(lambda: p.exists("writing"), what="the writing job, halfway")
        assert p.read("mid/a.txt") == "hel"
        refused = p.build("-f", "Readfile", "--lock-timeout", "0", "res/a.up")
        assert refused.code == 3, refused
        assert "another build is writing files this build reads, e.g. 'mid/a.txt'" in refused.err
        assert f"pid {writer.pid} on {socket.gethostname()}" in refused.err
        assert "--lock-timeout" in refused.err and "fileflow unlock" in refused.err
        assert refused.ran == [] and not p.exists("res/a.up")
        reader = p.popen("-f", "Readfile", "--lock-timeout", "120", "res/a.up")
        wait_for(lambda: _waiting_for_lock(reader), what="the reading build to wait")
        assert reader.poll() is None and not p.exists("reading")
        p.write("go_write")
        _, err_w = writer.communicate(timeout=60)
        _, err_r = reader.communicate(timeout=60)
    finally:
        p.write("go_write")
        kill_tree(writer)
        if reader is not None:
            kill_tree(reader)
    assert writer.returncode == 0, err_w
    assert reader.returncode == 0, err_r
    assert p.read("res/a.up") == "HELLO\n"      # read after the rewrite, never halfway
    assert p.build("-f", "Readfile", "res/a.up").ran == []


def test_builds_reading_the_same_file_run_side_by_side(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule one:
            input: "shared.txt"
            output: "one.txt"
            shell: "touch started; while [ ! -e release ]; do sleep 0.05; done; cp {input} {output}"
        rule two:
            input: "shared.txt"
            output: "two.txt"
            shell: "cp {input} {output}"
        """)
    p.write("shared.txt", "s\n")
    first = p.popen("one.txt")
    try:
        wait_for(lambda: p.exists("started"), what="the first build's job")
        second = p.build("--lock-timeout", "0", "two.txt")
        assert second.code == 0, second
        assert second.ran == ["two"]
        assert first.poll() is None                   # side by side, not one after the other
        p.write("release")
        _, err = first.communicate(timeout=60)
    finally:
        p.write("release")
        kill_tree(first)
    assert first.returncode == 0, err
    assert p.read("one.txt") == p.read("two.txt") == "s\n"


def test_a_lock_file_of_an_older_fileflow_guards_its_outputs(tmp_path):
    """_write_lock writes no "reads": the outputs still exclude their writers and readers."""
    p = _reads_project(tmp_path)
    p.write("go_read")
    p.write("go_write")
    holder = _live_holder()
    try:
        started = psutil.Process(holder.pid).create_time() + 0.5
        _write_lock(p, holder.pid, socket.gethostname(), ["mid/a.txt"], started)
        reading = p.build("--lock-timeout", "0", "res/a.up")
        assert reading.code == 3, reading
        assert "another build is writing files this build reads, e.g. 'mid/a.txt'" in reading.err
        assert f"pid {holder.pid}" in reading.err
        writing = p.build(*REWRITE, "--lock-timeout", "0")
        assert writing.code == 3, writing
        assert "another build is writing some of the same files, e.g. 'mid/a.txt'" in writing.err
        # what it reads is not known, so taken as nothing: src/a.txt may be rewritten
        p.flowfile('rule src:\n    output: "src/a.txt"\n    shell: "echo hello > {output}"\n',
                   name="Srcfile")
        rewritten = p.build("-f", "Srcfile", "--lock-timeout", "0", "--force", "src/a.txt",
                            "src/a.txt")
        assert rewritten.code == 0 and rewritten.ran == ["src"], rewritten
    finally:
        holder.kill()
        holder.wait()


def test_a_dry_run_takes_no_lock(tmp_path):
    p = _reads_project(tmp_path)
    holder = _live_holder()
    try:
        started = psutil.Process(holder.pid).create_time() + 0.5
        lock = _write_lock(p, holder.pid, socket.gethostname(), ["mid/a.txt"], started)
        for args in (["-n", *REWRITE], ["-n", "res/a.up"]):
            r = p.build("--lock-timeout", "0", *args)
            assert r.code == 0, r
        locks = [n for n in os.listdir(p.path(".fileflow/locks")) if n.endswith(".json")]
        assert locks == [os.path.basename(lock)]
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------- the run log under stress

def test_many_builds_writing_one_fresh_run_log_at_once(tmp_path):
    """guarantees.md: A run log row is never dropped. Concurrent writers (and concurrent
    creation of the schema) never show the user "database is locked"."""
    p = Project(tmp_path)
    p.flowfile("""
        rule mk:
            output: "o/{i}.txt"
            shell: "echo {wildcards.i} > {output}"
        """)
    procs = [p.popen("build", "-q", "-j", "1", *[f"o/{n}-{k}.txt" for k in range(8)])
             for n in range(5)]
    try:
        results = [(proc.wait(timeout=300), proc.communicate()) for proc in procs]
    finally:
        for proc in procs:
            kill_tree(proc)
    for code, (_out, err) in results:
        assert code == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err
    assert len(os.listdir(p.path("o"))) == 40
    assert [r["status"] for r in p.runs()] == ["success"] * 5
    assert len(p.jobs_since(0)) == 40
    assert p.build().code == 2          # no default target: the Flowfile has only a pattern
    assert p.build(*[f"o/{n}-{k}.txt" for n in range(5) for k in range(8)]).ran == []


def test_a_corrupt_run_log_is_a_clear_error_and_nothing_is_taken_as_done(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            shell: "echo a > {output}"
        """)
    assert p.build().code == 0
    db = p.path(".fileflow/runlog.db")
    db.write_bytes(db.read_bytes()[:50])     # truncated
    os.unlink(p.path("a.txt"))
    r = p.build(log=False)
    assert r.code == 2, r
    assert "Traceback" not in r.text
    assert "corrupt" in r.err and "runlog.db" in r.err
    assert not p.exists("a.txt")


def test_a_python_function_that_changes_the_working_directory_moves_no_output(tmp_path):
    # os.chdir in an imported module and in a function it gives: the outputs, the run log
    # and every later path stay in the workflow's folder.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    p = Project(tmp_path / "wf")
    p.write("h.py", f"import os\nos.chdir({str(elsewhere)!r})\n"
                    f"def label(w):\n    os.chdir({str(elsewhere)!r})\n    return w.s.upper()\n")
    p.flowfile("""
        from "h.py" import label
        rule all:
            input: "out/a.txt", "out/b.txt"
        rule one:
            output: "out/{s}.txt"
            params: l = label(wildcards)
            shell: "echo {params.l} > {output}"
        """)
    r = p.run("build")
    assert r.code == 0, r
    assert p.read("out/a.txt") == "A\n" and p.read("out/b.txt") == "B\n"
    assert list(elsewhere.iterdir()) == []
