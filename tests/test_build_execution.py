"""End to end: how jobs run. Concurrency, resources, priorities, retries, keep-going,
failures, logs, temp/protected outputs and scripts, with real processes on real files.

No assertion here is on how long fileflow takes: concurrency is proven by the jobs
themselves (each waits to see the other, or writes its start and end times)."""
from __future__ import annotations

import json
import os
import re
import stat

import pytest
from buildkit import Project

# A job that proves it ran alongside another: it announces itself, then waits (up to 30 s)
# for the other one's announcement. Run one at a time, the first would fail.
BARRIER = ('mkdir -p started spans; date +%s.%N > spans/{wildcards.x}.start; '
           'touch started/{wildcards.x}; '
           'for i in $(seq 300); do [ -e started/{params.other} ] && break; sleep 0.1; done; '
           '[ -e started/{params.other} ]; date +%s.%N > spans/{wildcards.x}.end; touch {output}')

# A job that writes when it started and ended, taking a while.
SPAN = ('mkdir -p spans; date +%s.%N > spans/{wildcards.x}.start; sleep 0.3; '
        'date +%s.%N > spans/{wildcards.x}.end; touch {output}')


def spans(p: Project, names) -> list[tuple[float, float]]:
    return [(float(p.read(f"spans/{n}.start")), float(p.read(f"spans/{n}.end"))) for n in names]


def overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


# ---------------------------------------------------------------- concurrency and limits

def test_two_jobs_run_concurrently_with_j2(tmp_path):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule all:
            input: "out/a.txt", "out/b.txt"
        rule wait_for_other:
            output: "out/{{x}}.txt"
            params: other = "b" if wildcards.x == "a" else "a"
            shell: "{BARRIER}"
        """)
    r = p.build("-j", "2")
    assert r.code == 0, r
    assert sorted(r.ran) == ["wait_for_other[x=a]", "wait_for_other[x=b]"]
    a, b = spans(p, "ab")                  # as the jobs themselves saw it
    assert overlap(a, b), (a, b)


def test_resource_limit_serialises_jobs(tmp_path):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule all:
            input: "out/a", "out/b"
        rule heavy:
            output: "out/{{x}}"
            resources: mem_mb = 600
            shell: "{SPAN}"
        """)
    r = p.build("-j", "2", "--resources", "mem_mb=1000")
    assert r.code == 0, r
    a, b = spans(p, "ab")
    assert not overlap(a, b), (a, b)


def test_resource_limit_that_fits_both_lets_them_run_together(tmp_path):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule all:
            input: "out/a.txt", "out/b.txt"
        rule wait_for_other:
            output: "out/{{x}}.txt"
            params: other = "b" if wildcards.x == "a" else "a"
            resources: mem_mb = 600
            shell: "{BARRIER}"
        """)
    r = p.build("-j", "2", "--resources", "mem_mb=1200")
    assert r.code == 0, r


def test_threads_count_against_cores(tmp_path):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule all:
            input: "out/a", "out/b"
        rule wide:
            output: "out/{{x}}"
            threads: 2
            shell: "{SPAN}"
        """)
    r = p.build("-j", "2")
    assert r.code == 0, r
    a, b = spans(p, "ab")
    assert not overlap(a, b), (a, b)


def test_default_and_set_resources_count_against_local_limits(tmp_path):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule all:
            input: "out/a", "out/b", "light/a", "light/b"
        rule plain:
            output: "out/{{x}}"
            shell: "{SPAN}"
        rule light:
            output: "light/{{x}}"
            resources: mem_mb = 600
            shell: "mkdir -p light; echo {{resources.mem_mb}} > {{output}}"
        """)
    r = p.build("-j", "2", "--resources", "mem_mb=1000", "--default-resources", "mem_mb=600",
                "--set-resources", "light:mem_mb=10")
    assert r.code == 0, r
    a, b = spans(p, "ab")
    assert not overlap(a, b), (a, b)       # 600 each by default: one at a time
    assert p.read("light/a") == "10\n"    # the job sees the value it runs with


def test_set_threads_counts_against_local_cores(tmp_path):
    p = Project(tmp_path)
    p.flowfile(f"""
        rule all:
            input: "out/a", "out/b"
        rule wide:
            output: "out/{{x}}"
            shell: "{SPAN}"
        """)
    r = p.build("-j", "2", "--set-threads", "wide=2")
    assert r.code == 0, r
    a, b = spans(p, "ab")
    assert not overlap(a, b), (a, b)


def test_threads_above_the_cores_are_capped_and_the_job_sees_the_cap(tmp_path):
    p = Project(tmp_path)
    p.write("show.py", "from fileflow.script import job\n"
                       "open(job.output[0], 'w').write(f'{job.threads} {job.resources[\"mem_mb\"]}')\n")
    p.flowfile("""
        rule all:
            input: "shell.txt", "script.txt"
        rule by_shell:
            output: "shell.txt"
            threads: 16
            resources: mem_mb = 100 * threads
            shell: "echo {threads} {resources.mem_mb} > {output}"
        rule by_script:
            output: "script.txt"
            threads: 2 * attempt + 14
            resources: mem_mb = 10 * threads
            script: "show.py"
        """)
    r = p.build("-j", "3", "-p")
    assert r.code == 0, r
    assert p.read("shell.txt") == "3 300\n"
    assert p.read("script.txt") == "3 30"
    assert "echo 3 300 > shell.txt" in r.out
    # How many cores a build has is no reason to run a job again.
    assert p.build("-j", "2").ran == []
    assert p.build("--set-threads", "by_shell=1").ran == []
    bad = p.build("--set-threads", "by_shell=1.5")
    assert bad.code == 2 and "--set-threads by_shell=1.5: threads must be a whole number" in bad.err, bad


def test_priorities_order_ready_jobs(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "low.txt", "mid.txt", "high.txt"
        rule low:
            output: "low.txt"
            shell: "touch {output}"
        rule mid:
            output: "mid.txt"
            priority: 5
            shell: "touch {output}"
        rule high:
            output: "high.txt"
            priority: 10
            shell: "touch {output}"
        """)
    r = p.build("-j", "1")
    assert r.code == 0, r
    assert r.ran == ["high", "mid", "low"]


# ---------------------------------------------------------------- retries

def test_retry_with_attempt_scaled_resources(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule flaky:
            output: "out.txt"
            retries: 2
            resources: mem_mb = 1000 * attempt
            shell: ("echo {resources.mem_mb} >> attempts.txt; [ {resources.mem_mb} -ge 2000 ]; "
                    "echo ok > {output}")
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.read("attempts.txt") == "1000\n2000\n"
    assert p.read("out.txt") == "ok\n"
    assert [j["attempt"] for j in r.jobs] == [1, 2]
    assert [j["state"] for j in r.jobs] == ["failed", "done"]
    assert "2000" in r.jobs[1]["command"] and "1000" in r.jobs[0]["command"]
    assert "retry" in r.err.lower()
    assert p.build().ran == []


def test_retries_hold_the_resources_of_their_attempt(tmp_path):
    """Attempt 2 needs mem_mb=2000: two such retries do not fit in 3000 together."""
    p = Project(tmp_path)
    span = SPAN.replace("{wildcards.x}", "{wildcards.x}-{attempt}")
    p.flowfile(f"""
        rule all:
            input: "out/a", "out/b"
        rule flaky:
            output: "out/{{x}}"
            retries: 1
            resources: mem_mb = 1000 * attempt
            shell: "[ {{attempt}} -gt 1 ] || exit 1; {span}"
        """)
    r = p.build("-j", "2", "--resources", "mem_mb=3000")
    assert r.code == 0, r
    assert sorted(j["attempt"] for j in r.jobs) == [1, 1, 2, 2]
    a, b = spans(p, ["a-2", "b-2"])
    assert not overlap(a, b), (a, b)


def test_a_retry_asking_for_more_than_the_limit_still_runs(tmp_path):
    """Attempt 2 asks for mem_mb=2000 under --resources mem_mb=1500: it runs alone with all
    of it (as a job wanting more threads than -j runs with them all), never waits forever."""
    p = Project(tmp_path)
    p.flowfile("""
        rule flaky:
            output: "out.txt"
            retries: 1
            resources: mem_mb = 1000 * attempt
            shell: "echo {resources.mem_mb} >> attempts.txt; [ {attempt} -gt 1 ]; touch {output}"
        """)
    r = p.run("build", "--resources", "mem_mb=1500", timeout=120)
    assert r.code == 0, r
    assert p.read("attempts.txt") == "1000\n2000\n"


def test_retries_exhausted_is_a_failure(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule bad:
            output: "out.txt"
            retries: 1
            shell: "echo {attempt} >> attempts.txt; exit 7"
        """)
    r = p.build()
    assert r.code == 1, r
    assert p.read("attempts.txt") == "1\n2\n"
    assert [j["attempt"] for j in r.jobs] == [1, 2]
    assert "exit code 7" in r.err


# ---------------------------------------------------------------- failures

FAILING = """
    rule all:
        input: "down.txt", "other.txt"
    rule bad:
        output: "bad.txt"
        priority: 10
        shell: "echo partial > {output}; echo first-log-line; echo the-log-tail-marker >&2; exit 3"
    rule down:
        input: "bad.txt"
        output: "down.txt"
        shell: "cp {input} {output}"
    rule other:
        output: "other.txt"
        shell: "echo other > {output}"
    """


def test_failing_job_reports_command_exit_code_and_log_tail(tmp_path):
    p = Project(tmp_path)
    p.flowfile(FAILING)
    r = p.build("-j", "1")
    assert r.code == 1, r
    assert "Traceback" not in r.text
    assert "job bad failed" in r.err
    assert "exit code 3" in r.err
    assert "echo partial > bad.txt" in r.err              # the command
    assert "the-log-tail-marker" in r.err                 # the log's last lines
    assert not p.exists("bad.txt")                        # partial output removed
    assert not p.exists("down.txt")                       # never used downstream
    assert "down" not in r.ran
    assert "other" not in r.ran                           # without -k: stop starting jobs
    assert not p.exists(".fileflow/logs/other.log")       # no log left for a job never run
    assert not p.exists(".fileflow/logs/down.log")
    rec = p.recorded()["bad.txt"]
    assert not rec.complete
    job = r.jobs[0]
    assert (job["name"], job["state"], job["exit_code"]) == ("bad", "failed", 3)


def test_keep_going_finishes_independent_jobs(tmp_path):
    p = Project(tmp_path)
    p.flowfile(FAILING)
    r = p.build("-j", "1", "-k")
    assert r.code == 1, r
    assert set(r.ran) == {"bad", "other"}
    assert p.read("other.txt") == "other\n"
    assert not p.exists("bad.txt") and not p.exists("down.txt")
    assert "bad" in r.err
    # next time only what is still owed runs
    p.flowfile(FAILING.replace("exit 3", "exit 0").replace("echo partial", "echo whole"))
    again = p.build("-j", "1")
    assert again.code == 0, again
    assert again.ran == ["bad", "down"]


def test_job_killed_by_a_signal_fails_and_its_outputs_are_removed(tmp_path):
    """kill -9 of the job's own process (guarantees.md: A failed job leaves no output)."""
    p = Project(tmp_path)
    p.flowfile("""
        rule victim:
            output: "v.txt"
            shell: "echo partial > {output}; kill -9 $$"
        """)
    r = p.build()
    assert r.code == 1, r
    assert "SIGKILL" in r.err
    assert not p.exists("v.txt")
    assert not p.recorded()["v.txt"].complete


def test_job_exiting_0_without_its_output_fails_naming_it(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule lazy:
            output: "made.txt", "forgotten.txt"
            shell: "echo made > {output[0]}"
        """)
    r = p.build("--latency-wait", "0")
    assert r.code == 1, r
    assert "'forgotten.txt' is missing" in r.err
    assert not p.exists("made.txt")         # a job that failed leaves no output behind
    assert p.build("--latency-wait", "0").ran == ["lazy"]


def test_output_parent_directories_are_created(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule deep:
            output: "a/b/c/deep.txt", log = "logs/x/y/deep.log"
            shell: "echo deep > {output[0]}; echo logged > {output.log}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.read("a/b/c/deep.txt") == "deep\n"


def test_jobs_get_default_sigpipe_like_any_shell_command(tmp_path):
    """Python ignores SIGPIPE and SIGXFSZ for itself; a job must not inherit that (as
    subprocess's restore_signals does): `yes | head -1` ends `yes` by SIGPIPE, silently,
    instead of making it report write errors (or loop on them)."""
    p = Project(tmp_path)
    p.flowfile("""
        rule pipe:
            output: "status.txt"
            shell: "set +o pipefail; yes | head -1 > /dev/null; echo ${{PIPESTATUS[0]}} > {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.read("status.txt") == f"{128 + 13}\n"
    assert not p.exists(".fileflow/logs/pipe.log")   # it said nothing, "Broken pipe" least of all


def test_output_appearing_late_is_waited_for(tmp_path):
    """--latency-wait: on shared file systems outputs show up after the job ends."""
    p = Project(tmp_path)
    p.flowfile("""
        rule late:
            output: "late.txt"
            shell: "(sleep 0.5; echo late > {output}.tmp; mv {output}.tmp {output}) &"
        """)
    r = p.build("--latency-wait", "30")
    assert r.code == 0, r
    assert p.read("late.txt") == "late\n"
    assert p.recorded()["late.txt"].complete


def test_directory_outputs(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "listing.txt"
        rule fill:
            input: "in.txt"
            output: directory("d")
            shell: "mkdir -p {output}/sub; cp {input} {output}/sub/f; echo x > {output}/g"
        rule listing:
            input: "d"
            output: "listing.txt"
            shell: "cat {input}/sub/f {input}/g > {output}"
        """)
    p.write("in.txt", "one\n")
    assert p.build().ran == ["fill", "listing"]
    assert p.read("listing.txt") == "one\nx\n"
    assert p.build().ran == []
    p.write("in.txt", "two\n")
    assert p.build().ran == ["fill", "listing"]
    assert p.read("listing.txt") == "two\nx\n"


def hash_when_it_exists(monkeypatch, name: str, marker) -> None:
    """FileStore hashes the file `name` only once `marker` exists (after 20 s it fails the
    build): with the hash on the run loop, no job could make the marker meanwhile."""
    import time

    from fileflow.engine.store import FileStore

    real = FileStore._hash_file

    def hash_later(self, full):
        if full.endswith(name):
            deadline = time.monotonic() + 20
            while not os.path.exists(marker):
                assert time.monotonic() < deadline, f"no job ran while {name} was hashed"
                time.sleep(0.01)
        return real(self, full)

    monkeypatch.setattr(FileStore, "_hash_file", hash_later)


def ctrl_c_while_hashing(monkeypatch, name: str) -> None:
    """Ctrl-C arrives while FileStore hashes the file `name`, which then waits until the
    build stops the hash (and ends at its first chunk); monkeypatch.undo() restores it."""
    import signal
    import time

    from fileflow.engine.store import FileStore

    real = FileStore._hash_file

    def interrupted_hash(self, full):
        if full.endswith(name):
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.monotonic() + 20
            while not self._stop_hashing.is_set():
                assert time.monotonic() < deadline, "the hash was not stopped"
                time.sleep(0.01)
        return real(self, full)

    monkeypatch.setattr(FileStore, "_hash_file", interrupted_hash)


LARGE = """
    rule all:
        input: "big.out", "c.txt"
    rule big:
        output: "big.out"
        priority: 10
        shell: "head -c 40000000 /dev/zero > {output}"
    rule a:
        output: "a.txt"
        shell: "echo a > {output}"
    rule c:
        input: "a.txt"
        output: "c.txt"
        shell: "cp {input} {output}"
    """


def test_a_large_output_is_hashed_while_other_jobs_run(tmp_path, monkeypatch):
    """With -j 1 and `big` first, `a` and `c` can only run while big.out is being hashed:
    the hash here waits for c.txt (and fails the build after 20 s if it never comes)."""
    hash_when_it_exists(monkeypatch, "big.out", tmp_path / "c.txt")
    p = Project(tmp_path)
    p.flowfile(LARGE)
    r = p.build("-j", "1")
    assert r.code == 0, r
    assert r.ran[:3] == ["big", "a", "c"], r.ran
    rec = p.recorded()["big.out"]
    assert rec.complete and rec.digest and rec.size == 40_000_000
    assert p.build().ran == []


def test_ctrl_c_while_a_large_output_is_hashed_leaves_it_to_be_made_again(tmp_path,
                                                                         monkeypatch):
    """Ctrl-C arrives while big.out is hashed: the hash stops at its next chunk, the build
    exits 130 at once, the job is recorded cancelled with its output kept but incomplete,
    and the next build makes it again."""
    ctrl_c_while_hashing(monkeypatch, "big.out")
    p = Project(tmp_path)
    p.flowfile("""
        rule big:
            output: "big.out"
            shell: "head -c 40000000 /dev/zero > {output}"
        """)
    r = p.build("big.out")
    assert r.code == 130, r
    assert os.path.getsize(p.path("big.out")) == 40_000_000   # kept, but not taken as done
    assert not p.recorded()["big.out"].complete
    (job,) = r.jobs
    assert job["state"] == "cancelled" and "hashed" in job["message"]
    monkeypatch.undo()
    again = p.build("big.out")
    assert again.code == 0 and again.ran == ["big"], again


LARGE_INPUT = """
    rule all:
        input: "r.txt", "c.txt"
    rule read:
        input: "big.in"
        output: "r.txt"
        priority: 10
        shell: "wc -c < {input} > {output}"
    rule a:
        output: "a.txt"
        shell: "echo a > {output}"
    rule c:
        input: "a.txt"
        output: "c.txt"
        shell: "cp {input} {output}"
    """


def test_a_large_source_input_is_hashed_while_other_jobs_run(tmp_path, monkeypatch):
    """A first build hashes no source up front: `read` needs big.in's digest before it
    starts. With -j 2 and `read` first, `a` and `c` run while big.in is hashed (the hash
    here waits for c.txt, and fails the build after 20 s if it never comes)."""
    hash_when_it_exists(monkeypatch, "big.in", tmp_path / "c.txt")
    p = Project(tmp_path)
    p.flowfile(LARGE_INPUT)
    p.path("big.in").write_bytes(b"x" * 40_000_000)
    r = p.build("-j", "2")
    assert r.code == 0, r
    assert p.read("r.txt").strip() == "40000000"
    assert p.recorded()["r.txt"].input_digests["big.in"].startswith("sha256:")
    assert p.build().ran == []


def test_ctrl_c_while_a_jobs_large_input_is_hashed_leaves_it_not_started(tmp_path,
                                                                         monkeypatch):
    ctrl_c_while_hashing(monkeypatch, "big.in")
    p = Project(tmp_path)
    p.flowfile(LARGE_INPUT)
    p.path("big.in").write_bytes(b"x" * 40_000_000)
    r = p.build("-j", "1", "r.txt")
    assert r.code == 130, r
    (job,) = r.jobs
    assert job["state"] == "cancelled" and "inputs were hashed" in job["message"]
    assert not p.exists("r.txt")
    monkeypatch.undo()
    again = p.build("r.txt")
    assert again.code == 0 and again.ran == ["read"], again


def test_failing_job_with_a_log_shows_that_logs_tail(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule bad:
            output: "bad.txt"
            log: "logs/bad.log"
            shell: "for i in $(seq 100); do echo line-$i; done; exit 2"
        """)
    r = p.build()
    assert r.code == 1, r
    assert "logs/bad.log" in r.err
    assert "line-100" in r.err and "line-1\n" not in r.err     # the tail, not the whole log
    assert p.read("logs/bad.log").count("line-") == 100        # the log itself is kept


def test_progress_counts_reach_the_total(tmp_path, monkeypatch):
    """What the live display is told: done/failed/running out of a total that every job
    counts toward, the `all` target rule included, so it ends at total/total."""
    import fileflow.run.progress as report

    ticks = []

    class Recorder(report.PlainReporter):
        def tick(self, done, failed, running, total):
            ticks.append((done, failed, running, total))

    monkeypatch.setattr(report, "make_reporter",
                        lambda total, mode, print_commands=False: Recorder(quiet=True))
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "a.txt", "b.txt"
        rule mk:
            output: "{x}.txt"
            shell: "echo {wildcards.x} > {output}"
        """)
    assert p.build("-j", "1").code == 0
    assert ticks and ticks[-1] == (3, 0, 0, 3)
    assert all(d + f + r <= t for d, f, r, t in ticks)


def on_a_terminal(p: Project, *args: str) -> tuple[int, str]:
    """`fileflow ARGS` as a real process on a pseudo-terminal: its exit code and everything it
    wrote there, escape sequences included."""
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fileflow", *args],
                            cwd=p.root, stdin=slave, stdout=slave, stderr=slave,
                            env=p.env(TERM="xterm", COLUMNS="120"))
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    code = proc.wait(timeout=120)
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_on_a_terminal_the_live_display_runs_and_failures_still_show(tmp_path):
    """On a terminal (a pty here) the rich live display is used; the build behaves the same
    and a failure still prints its command and log tail."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("o/{i}.txt", i=range(4)), "bad.txt"
        rule mk:
            output: "o/{i}.txt"
            shell: "echo {wildcards.i} > {output}"
        rule bad:
            output: "bad.txt"
            shell: "echo the-tail-of-bad; exit 5"
        """)
    code, text = on_a_terminal(p, "build", "-k", "-p")
    assert code == 1, text
    assert "Traceback" not in text
    assert "the-tail-of-bad" in text and "exit code 5" in text
    assert sorted(os.listdir(p.path("o"))) == [f"{i}.txt" for i in range(4)]


LIVE_FLOWFILE = """
    rule all:
        input: expand("o/{i}.txt", i=range(3))
    rule mk:
        input: "src/{i}.txt"
        output: "o/{i}.txt"
        message: "making number {wildcards.i}"
        shell: "cp {input} {output}"
    """


def test_on_a_terminal_the_job_lines_stay_above_the_live_status_line(tmp_path):
    """The live display shows what ran: each job's run line, its message and its done line
    are printed above the status line and stay there, as the plain output has them."""
    p = Project(tmp_path)
    p.flowfile(LIVE_FLOWFILE)
    for i in range(3):
        p.write(f"src/{i}.txt", f"{i}\n")
    code, text = on_a_terminal(p, "build")
    assert code == 0, text
    assert "[4/4] done" in text                # the live line was there, and ended at the total
    for i in range(3):
        assert f"run  mk[i={i}]: output 'o/{i}.txt' is missing" in text
        assert f"making number {i}" in text
        assert re.search(rf"done mk\[i={i}\] \(\d+\.\d s\)", text), text
    assert "fileflow: 4 done, 0 failed" in text


def test_the_dry_run_the_live_total_and_the_summary_count_the_same_jobs(tmp_path):
    """A target-only job (`all`: inputs, no outputs, no action) is one job everywhere: in
    the dry run's count, in the live display's total, and in the summary as done; jobs up to
    date are in none of them."""
    p = Project(tmp_path)
    p.flowfile(LIVE_FLOWFILE)
    for i in range(3):
        p.write(f"src/{i}.txt", f"{i}\n")
    assert p.build("o/0.txt").code == 0                 # mk[i=0] is up to date
    dry = p.build("-n")
    assert dry.out.rstrip().endswith("dry run: 3 of 4 jobs would run"), dry
    code, text = on_a_terminal(p, "build", "-j", "1")
    assert code == 0, text
    assert "[3/3] done" in text and "/4]" not in text   # the live line's total, and its end
    assert "fileflow: 3 done, 0 failed" in text
    assert p.build("-n").out.strip() == "nothing to do: all 4 jobs are up to date"


@pytest.mark.parametrize("mode", ["plain", "none"])
def test_progress_plain_or_none_on_a_terminal(tmp_path, mode):
    """--progress plain keeps the job lines without the live line; none drops both, leaving
    the summary."""
    p = Project(tmp_path)
    p.flowfile(LIVE_FLOWFILE)
    for i in range(3):
        p.write(f"src/{i}.txt", f"{i}\n")
    code, text = on_a_terminal(p, "build", "--progress", mode)
    assert code == 0, text
    assert "] done," not in text and "\x1b[" not in text
    assert ("making number 1" in text) == (mode == "plain")
    assert ("done mk[i=1]" in text) == (mode == "plain")
    assert "fileflow: 4 done, 0 failed" in text


# ---------------------------------------------------------------- logs

def test_stdout_and_stderr_go_to_the_rules_log(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule talk:
            output: "t.txt"
            log: "logs/talk.log"
            shell: "echo to-stdout; echo to-stderr >&2; touch {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.read("logs/talk.log").split() == ["to-stdout", "to-stderr"]
    assert "to-stdout" not in r.out


LOG_READ = """
    rule summary:
        input: "logs/talk/{name}.log"
        output: "summary/{name}.txt"
        shell: "sort {input} > {output}"
    rule talk:
        input: "in/{name}.txt"
        output: "t/{name}.txt"
        log: "logs/talk/{name}.log"
        shell: "echo one; cat {input} >&2; touch {output}"
    """


def test_a_log_file_is_another_rules_input(tmp_path):
    p = Project(tmp_path)
    p.flowfile(LOG_READ)
    p.write("in/a.txt", "two\n")
    r = p.build("summary/a.txt")
    assert r.code == 0, r
    assert r.ran == ["talk[name=a]", "summary[name=a]"]
    assert p.read("summary/a.txt") == "one\ntwo\n"
    assert p.build("summary/a.txt").ran == []
    os.unlink(p.path("logs/talk/a.log"))    # a log that a job reads is made again
    again = p.build("summary/a.txt")
    assert again.ran == ["talk[name=a]"], again    # same content: its reader is not rerun
    assert p.exists("logs/talk/a.log")
    p.write("in/a.txt", "three\n")         # a new log: its reader runs on what it holds now
    again = p.build("summary/a.txt")
    assert again.ran == ["talk[name=a]", "summary[name=a]"], again
    assert p.read("summary/a.txt") == "one\nthree\n"
    assert p.build("summary/a.txt").ran == []


def test_a_log_file_is_a_target(tmp_path):
    p = Project(tmp_path)
    p.flowfile(LOG_READ)
    p.write("in/b.txt", "two\n")
    r = p.build("logs/talk/b.log")
    assert r.code == 0, r
    assert r.ran == ["talk[name=b]"]
    assert p.read("logs/talk/b.log").split() == ["one", "two"]
    assert p.build("logs/talk/b.log").ran == []
    assert p.build("t/b.txt").ran == []


def test_a_log_that_another_rule_makes_too_is_an_error(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "a.txt", "b.txt"
        rule a:
            output: "a.txt"
            log: "b.txt"
            shell: "touch {output}"
        rule b:
            output: "b.txt"
            shell: "touch {output}"
        """)
    r = p.build()
    assert r.code == 2 and "rules 'a' (Flowfile:3:6) and 'b' (Flowfile:7:6) can both make 'b.txt'" in r.err, r
    p.write("Flowfile", p.read("Flowfile") + "ruleorder: b > a\n")
    r = p.build()
    assert r.code == 2 and "rule 'b' makes 'b.txt', the log of job a" in r.err, r
    r = p.build("b.txt", "a.txt")
    assert r.code == 2 and "jobs b and a both make 'b.txt'" in r.err, r


def test_without_a_log_output_goes_under_dot_fileflow_logs(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "t/x.txt"
        rule talk:
            output: "t/{name}.txt"
            shell: "echo said-{wildcards.name}; touch {output}"
        rule plain:
            output: "plain.txt"
            shell: "echo plain-said; touch {output}"
        """)
    assert p.build().code == 0
    assert p.build("plain").code == 0
    assert p.read(".fileflow/logs/talk/name=x.log") == "said-x\n"
    assert p.read(".fileflow/logs/plain.log") == "plain-said\n"


def test_jobs_whose_wildcards_differ_only_in_odd_characters_keep_separate_logs(tmp_path):
    p = Project(tmp_path)
    names = ["a b", "a;b", "a_b", "x" * 150 + "1", "x" * 150 + "2"]
    p.flowfile("""
        rule talk:
            output: "out/{name}.txt"
            shell: "echo said {wildcards.name}; touch {output}"
        """)
    r = p.build("-j", "2", *[f"out/{n}.txt" for n in names])
    assert r.code == 0, r
    logs = {j["wildcards"]["name"]: j["log_path"] for j in r.jobs}
    assert len(set(logs.values())) == len(names), logs
    for name, log in logs.items():
        assert p.read(log) == f"said {name}\n"


# ---------------------------------------------------------------- temp and protected

TEMP = """
    rule all:
        input: "final.txt"
    rule make_mid:
        input: "in.txt"
        output: temp("mid.txt")
        shell: "tr a-z A-Z < {input} > {output}"
    rule use_mid:
        input: "mid.txt"
        output: "final.txt"
        shell: "cp {input} {output}"
    """


def test_temp_output_is_deleted_after_its_consumers_and_not_remade(tmp_path):
    p = Project(tmp_path)
    p.flowfile(TEMP)
    p.write("in.txt", "hello\n")
    r = p.build()
    assert r.code == 0, r
    assert r.ran == ["make_mid", "use_mid"]
    assert p.read("final.txt") == "HELLO\n"
    assert not p.exists("mid.txt")
    assert p.build().ran == []               # its absence alone reruns nothing
    p.write("in.txt", "changed\n")
    again = p.build()
    assert again.ran == ["make_mid", "use_mid"]
    assert p.read("final.txt") == "CHANGED\n"
    assert not p.exists("mid.txt")


def test_temp_output_is_remade_when_its_consumer_must_run(tmp_path):
    p = Project(tmp_path)
    p.flowfile(TEMP)
    p.write("in.txt", "hello\n")
    assert p.build().code == 0
    os.unlink(p.path("final.txt"))
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["make_mid", "use_mid"]
    assert p.read("final.txt") == "HELLO\n"
    assert not p.exists("mid.txt")


def test_temp_output_spelled_differently_by_producer_and_consumer(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "b.txt"
        rule a:
            input: "in.txt"
            output: temp("./a.txt")
            shell: "cp {input} {output}"
        rule b:
            input: "a.txt", "in2.txt"
            output: "b.txt"
            shell: "cat {input} > {output}"
        """)
    p.write("in.txt", "1\n")
    p.write("in2.txt", "2\n")
    assert p.build().code == 0
    assert not p.exists("a.txt")
    p.write("in2.txt", "3\n")
    r = p.build()
    assert r.code == 0, r
    assert p.read("b.txt") == "1\n3\n"


def test_temp_output_asked_for_on_the_command_line_is_kept(tmp_path):
    p = Project(tmp_path)
    p.flowfile(TEMP)
    p.write("in.txt", "hello\n")
    assert p.build("final.txt", "mid.txt").code == 0
    assert p.read("mid.txt") == "HELLO\n"


def test_temp_output_no_job_needs_is_deleted_once_its_job_is_done(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "final.txt"
        rule make:
            output: "final.txt", temp("side.txt")
            shell: "echo f > {output[0]}; echo s > {output[1]}"
        rule other:
            output: temp("other.txt")
            shell: "echo o > {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.exists("final.txt") and not p.exists("side.txt")
    assert p.build().ran == []                  # its absence alone reruns nothing
    assert p.build("other").ran == ["other"]    # asked for by its rule: kept
    assert p.read("other.txt") == "o\n"
    os.unlink(p.path("final.txt"))
    assert p.build("final.txt", "side.txt").code == 0   # asked for by path: kept
    assert p.read("side.txt") == "s\n"


def test_temp_inputs_of_a_target_rule_without_outputs_are_kept(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "mid.txt"
        rule mid:
            output: temp("mid.txt")
            shell: "echo m > {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.read("mid.txt") == "m\n"
    assert p.build().ran == []
    os.unlink(p.path("mid.txt"))            # kept for the targets: made again when missing
    assert p.build().ran == ["mid"]
    assert p.read("mid.txt") == "m\n"


def test_temp_outputs_of_the_default_target_rule_are_deleted(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule first:
            output: temp("first.txt")
            shell: "echo f > {output}"
        """)
    r = p.build()
    assert r.code == 0 and r.ran == ["first"], r
    assert not p.exists("first.txt")            # the default target rule keeps nothing
    assert p.build().ran == []
    assert p.build("first.txt").ran == ["first"]   # asked for by path: kept
    assert p.read("first.txt") == "f\n"


def test_protected_output_is_read_only_and_not_overwritten(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule keep:
            output: protected("keep.txt")
            shell: "echo precious > {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    mode = os.stat(p.path("keep.txt")).st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    forced = p.build("-F")
    assert forced.code != 0
    assert "protected" in forced.err and "keep.txt" in forced.err
    assert p.read("keep.txt") == "precious\n"
    assert all(run["status"] != "running" for run in p.runs())


def test_a_protected_outputs_record_matches_it_after_the_chmod(tmp_path):
    """Making an output read-only changes its ctime: the record must hold the new one, or
    every next build would hash the file again."""
    p = Project(tmp_path)
    p.flowfile("""
        rule p:
            output: protected("p.txt")
            shell: "echo p > {output}"
        """)
    assert p.build("p.txt").code == 0
    st = os.stat(p.path("p.txt"))
    rec = p.recorded()["p.txt"]
    assert (rec.size, rec.mtime_ns, rec.ctime_ns) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def test_protected_output_refusal_stops_before_any_job_starts(tmp_path):
    """A refusal found while the build runs would leave running jobs behind: it must come
    before anything starts or is deleted."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "keep.txt", "other.txt"
        rule keep:
            output: protected("keep.txt")
            shell: "echo precious > {output}"
        rule other:
            output: "other.txt"
            priority: 10
            shell: "date +%s%N > {output}"
        """)
    assert p.build().code == 0
    other = p.read("other.txt")
    forced = p.build("-F", "-j", "1")
    assert forced.code == 2, forced
    assert "keep.txt" in forced.err
    assert forced.ran == []
    assert p.read("other.txt") == other
    assert all(run["status"] != "running" for run in p.runs())


PROTECTED_BELOW = """
    rule all:
        input: "keep.txt"
    rule count:
        input: "in.txt"
        output: "count.txt"
        shell: "wc -l < {input} > {output}"
    rule keep:
        input: "count.txt"
        output: protected("keep.txt")
        shell: "cp {input} {output}"
    """


def test_a_protected_output_below_jobs_that_run_is_refused_while_planning(tmp_path):
    """guarantees.md: protected() outputs are never overwritten. The job that would
    overwrite it runs only because its upstream jobs do: the build stops before any of them
    runs, naming the file, the rule and its line, and records no run; the dry run alike."""
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "keep.txt"
        rule first:
            input: "in.txt"
            output: "first.txt"
            shell: "cp {input} {output}"
        rule count:
            input: "first.txt"
            output: "count.txt"
            shell: "wc -l < {input} > {output}"
        rule keep:
            input: "count.txt"
            output: protected("keep.txt")
            shell: "cp {input} {output}"
        """)
    p.write("in.txt", "a\n")
    assert p.build().code == 0
    runs = len(p.runs())
    p.write("in.txt", "b\nc\n")
    for args in (["-n"], []):
        r = p.build(*args)
        assert r.code == 2, r
        assert "rule keep would overwrite protected output 'keep.txt'" in r.err
        assert "Flowfile:13:" in r.err and "build them first ('fileflow build count.txt')" in r.err
        assert r.ran == []
        assert "Traceback" not in r.err
    assert len(p.runs()) == runs                     # no run recorded, failed or otherwise
    assert p.read("first.txt") == "a\n" and p.read("keep.txt") == "1\n"


def test_a_protected_output_below_an_early_cutoff_is_built_around(tmp_path):
    """The inputs of a protected output's job may come out unchanged; building them first
    (as the refusal says) lets early cutoff leave the protected output as it is."""
    p = Project(tmp_path)
    p.flowfile(PROTECTED_BELOW)
    p.write("in.txt", "a\n")
    assert p.build().code == 0
    p.write("in.txt", "b\n")                       # same line count: keep is cut off
    refused = p.build()
    assert refused.code == 2, refused
    assert refused.ran == []
    r = p.build("count.txt")
    assert r.code == 0, r
    assert r.ran == ["count"]
    assert p.build().ran == []
    p.write("in.txt", "b\nc\n")                   # now keep would have to be remade
    r = p.build("count.txt")
    assert r.code == 0, r
    r = p.build()
    assert r.code == 2, r
    assert "protected output 'keep.txt'" in r.err
    assert p.read("keep.txt") == "1\n"
    assert all(run["status"] != "running" for run in p.runs())


def test_an_output_that_cannot_be_prepared_stops_the_build_cleanly(tmp_path):
    """An error of fileflow's own in the middle of a build (here: an output's parent is a
    file) is a clear message, never a traceback, and never leaves running jobs behind."""
    import psutil

    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "slow.txt", "x/y.txt"
        rule slow:
            output: "slow.txt"
            priority: 10
            shell: "echo $$ > slow.pid; sleep 60; touch {output}"
        rule quick:
            output: "q.txt"
            priority: 10
            shell: "touch {output}"
        rule y:
            input: "q.txt"
            output: "x/y.txt"
            shell: "touch {output}"
        """)
    p.write("x", "a file where a directory should be\n")
    r = p.build("-j", "2")
    assert r.code == 2, r
    assert "Traceback" not in r.text
    assert "x/y.txt" in r.err
    pid = int(p.read("slow.pid"))
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not p.exists("slow.txt")
    states = {j["name"]: j["state"] for j in r.jobs}
    assert states["slow"] == "cancelled"
    assert [run["status"] for run in p.runs()] == ["failed"]


# ---------------------------------------------------------------- scripts

def test_python_script_gets_its_job(tmp_path):
    p = Project(tmp_path)
    p.write("scripts/merge.py", """
import json
from fileflow.script import job

with open(job.output.merged, "w") as out:
    for path in job.input.parts:
        out.write(open(path).read())
with open(job.output[1], "w") as out:
    json.dump({"rule": job.rule, "sample": job.wildcards.sample, "depth": job.params.depth,
               "tags": job.params.tags, "threads": job.threads,
               "mem_mb": job.resources.mem_mb, "attempt": job.attempt,
               "inputs": list(job.input), "log": job.log[0]}, out)
""")
    p.flowfile("""
        rule merge:
            input: parts = ["in/{sample}.1", "in/{sample}.2"]
            output: merged = "out/{sample}.txt", meta = "out/{sample}.json"
            log: "logs/{sample}.log"
            params: depth = 3, tags = ["x", "y"]
            threads: 1
            resources: mem_mb = 100
            script: "scripts/merge.py"
        """)
    p.write("in/s1.1", "one\n")
    p.write("in/s1.2", "two\n")
    r = p.build("out/s1.txt")
    assert r.code == 0, r
    assert p.read("out/s1.txt") == "one\ntwo\n"
    assert json.loads(p.read("out/s1.json")) == {
        "rule": "merge", "sample": "s1", "depth": 3, "tags": ["x", "y"], "threads": 1,
        "mem_mb": 100, "attempt": 1, "inputs": ["in/s1.1", "in/s1.2"], "log": "logs/s1.log"}
    assert p.build("out/s1.txt").ran == []


def test_editing_a_python_script_reruns_its_jobs(tmp_path):
    p = Project(tmp_path)
    p.write("s.py", "from fileflow.script import job\nopen(job.output[0], 'w').write('v1')\n")
    p.flowfile("""
        rule s:
            output: "s.txt"
            script: "s.py"
        """)
    assert p.build().ran == ["s"]
    assert p.build().ran == []
    p.write("s.py", "from fileflow.script import job\nopen(job.output[0], 'w').write('v2')\n")
    assert p.build().ran == ["s"]
    assert p.read("s.txt") == "v2"


def test_shell_script_gets_fileflow_environment_variables(tmp_path):
    p = Project(tmp_path)
    p.write("scripts/show.sh", """
set -euo pipefail
eval "inputs=($FILEFLOW_INPUT)"
eval "out=$FILEFLOW_OUTPUT_merged"
eval "firsts=($FILEFLOW_INPUT_first)"
{
  echo "n=${#inputs[@]}"
  printf 'input=%s\\n' "${inputs[@]}"
  printf 'first=%s\\n' "${firsts[@]}"
  echo "sample=$FILEFLOW_WILDCARDS_sample"
  echo "depth=$FILEFLOW_PARAMS_depth"
  echo "tags=$FILEFLOW_PARAMS_tags"
  echo "threads=$FILEFLOW_THREADS"
  echo "job=$(test -f "$FILEFLOW_JOB" && echo yes)"
} > "$out"
""")
    p.flowfile("""
        rule show:
            input: first = "in/{sample} one.txt", second = "in/{sample};two.txt"
            output: merged = "out/{sample} merged.txt"
            params: depth = 7, tags = ["x", "y"]
            script: "scripts/show.sh"
        """)
    p.write("in/s 1 one.txt", "1")
    p.write("in/s 1;two.txt", "2")
    r = p.build("out/s 1 merged.txt")
    assert r.code == 0, r
    assert p.read("out/s 1 merged.txt").splitlines() == [
        "n=2", "input=in/s 1 one.txt", "input=in/s 1;two.txt", "first=in/s 1 one.txt",
        "sample=s 1", "depth=7", "tags=x y", "threads=1", "job=yes"]


def test_script_path_is_relative_to_the_flowfile_that_names_it(tmp_path):
    p = Project(tmp_path)
    p.write("workflow/scripts/w.py",
            "from fileflow.script import job\nopen(job.output[0], 'w').write('from workflow')\n")
    p.flowfile("""
        rule w:
            output: "w.txt"
            script: "scripts/w.py"
        """, name="workflow/Flowfile")
    r = p.build()
    assert r.code == 0, r
    assert p.read("w.txt") == "from workflow"   # run from the working directory


# ---------------------------------------------------------------- a Snakemake-like workflow

def test_a_workflow_with_rule_references_and_rules_chosen_without_ruleorder(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        SAMPLES = ["a", "b"]
        rule all:
            input: rules.multiqc.output.report, expand(rules.trim.output[0], sample=SAMPLES)
        rule fastqc:
            input: rules.trim.output.fq
            output: "qc/{sample}.txt"
            shell: "wc -c < {input} > {output}"
        rule multiqc:
            input: expand(rules.fastqc.output[0], sample=SAMPLES)
            output: report="qc/multiqc.txt"
            shell: "cat {input} > {output}"
        rule trim_gz:
            input: "raw/{sample}.fq.gz"
            output: fq="trimmed/{sample}.fq"
            shell: "gunzip -c {input} > {output}"
        rule trim:
            input: "raw/{sample}.fq"
            output: fq="trimmed/{sample}.fq"
            shell: "cp {input} {output}"
        """)
    p.write("raw/a.fq", "AAAA\n")
    p.write("raw/b.fq", "CC\n")
    r = p.build()
    assert r.code == 0, r
    # multiqc, not fastqc, makes qc/multiqc.txt; trim, not trim_gz (no raw/*.fq.gz), makes the rest
    assert p.read("qc/multiqc.txt") == "5\n3\n"
    assert p.read("trimmed/b.fq") == "CC\n"


# ---------------------------------------------------------------- expressions that drive jobs

def test_fstrings_and_comprehensions_name_the_files_and_values_of_each_job(tmp_path):
    p = Project(tmp_path)
    for name in ("s1", "s2", "ctrl"):
        p.write(f"data/{name}.txt", name + "\n")
    p.flowfile("""
        REF = "GRCh38"
        SAMPLES = [s for s in glob_wildcards("data/{sample}.txt").sample if s != "ctrl"]
        FILES = {s: f"data/{s}.txt" for s in SAMPLES}

        rule all:
            input: [f"results/{REF}/{s}.out" for s, _ in zip(SAMPLES, range(9))]

        rule copy:
            input: FILES[wildcards.sample]
            output: f"results/{REF}/{{sample}}.out"
            params: tag=f"{wildcards.sample.upper()}-{len(SAMPLES):03d}", first=SAMPLES[:1],
                    # a comprehension per job reads the Flowfile's names and the job's alike
                    others=[s for s in SAMPLES if s != wildcards.sample]
            shell: "cat {input} > {output}; echo {params.tag} {params.first} {params.others} >> {output}"
        """)
    r = p.build("-j", "1")
    assert r.code == 0, r
    assert sorted(r.ran) == ["copy[sample=s1]", "copy[sample=s2]"]
    assert p.read("results/GRCh38/s1.out") == "s1\nS1-002 s1 s2\n"
    assert p.read("results/GRCh38/s2.out") == "s2\nS2-002 s1 s1\n"
    assert not p.exists("results/GRCh38/ctrl.out")


def test_groups_are_ignored_in_a_local_build(tmp_path):
    # As Snakemake does: group:, --groups and --group-components only matter on a cluster.
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("b/{s}.txt", s=["x", "y"])
        rule a:
            output: "a/{s}.txt"
            group: "per_{s}"
            shell: "echo {wildcards.s} > {output}"
        rule b:
            input: "a/{s}.txt"
            output: "b/{s}.txt"
            shell: "cat {input} > {output}"
        """)
    r = p.build("-j", "2", "--groups", "b=per_{s}", "--group-components", "per_x=2")
    assert r.code == 0, r
    assert p.read("b/y.txt") == "y\n"
    assert {j["executor"] for j in r.jobs} == {"local"} and len(r.jobs) == 4
    bad = p.build("--groups", "nosuch=g")
    assert bad.code == 2 and "--groups names no rule of this workflow: nosuch" in bad.err, bad
    bad = p.build("--group-components", "g=0")
    assert bad.code == 2 and "--group-components expects GROUP=N" in bad.err, bad


def test_a_name_given_an_empty_list_is_empty_in_the_command_and_left_out_of_the_whole_list(tmp_path):
    p = Project(tmp_path)
    p.write("a.txt", "a\n")
    p.flowfile("""
        rule all:
            input: "out.txt"
        rule merge:
            input: groups = expand("g/{g}.txt", g=[]), main = "a.txt"
            output: "out.txt"
            log: notes = []
            shell: "echo [{input.groups}] [{log.notes}] [{input}] > {output}; cat {input.main} >> {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.read("out.txt") == "[] [] [a.txt]\na\n"
