"""End to end: job timeouts (`timeout:` in a rule, --default-timeout). A local job running
past its limit has its whole process tree stopped (SIGTERM, then SIGKILL after a grace
period), fails with "timed out after SPAN" in the console and the run log, and is retried
while retries remain (docs/language.md#timeout)."""
from __future__ import annotations

import os
import time

import psutil
from buildkit import Project, wait_for


def _gone(pid_file) -> None:
    """The process whose pid the job wrote is gone (not even a zombie of ours)."""
    pid = int(pid_file.read_text().split()[0])

    def dead() -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_for(dead, 10, f"process {pid} of the timed-out job to end")


def test_a_job_past_its_timeout_is_stopped_with_its_tree_and_retried(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule slow:
            output: "slow.txt"
            timeout: "1s"
            retries: 1
            shell: "echo attempt {attempt}; sleep 60 & echo $! > child{attempt}.pid; wait; touch {output}"
        """)
    started = time.monotonic()
    r = p.build("slow.txt")
    assert r.code == 1, r
    assert time.monotonic() - started < 20
    assert "job slow failed (attempt 1): timed out after 1s; retrying" in r.err
    assert "error: job slow failed: timed out after 1s" in r.err
    assert [(j["attempt"], j["state"], j["message"]) for j in r.jobs] == [
        (1, "failed", "timed out after 1s (will retry)"), (2, "failed", "timed out after 1s")]
    assert not p.exists("slow.txt")
    for attempt in (1, 2):  # the child in the background went with its shell
        _gone(p.path(f"child{attempt}.pid"))


def test_default_timeout_kills_a_job_that_ignores_sigterm(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule stubborn:
            output: "stubborn.txt"
            shell: "trap '' TERM; echo $$ > shell.pid; sleep 60 & echo $! > child.pid; wait; touch {output}"
        """)
    r = p.build("--default-timeout", "1", "stubborn.txt")
    assert r.code == 1, r
    assert "error: job stubborn failed: timed out after 1s" in r.err
    assert r.jobs[0]["message"] == "timed out after 1s"
    assert r.jobs[0]["exit_code"] == -9  # SIGTERM was ignored: SIGKILL after the grace period
    _gone(p.path("shell.pid"))
    _gone(p.path("child.pid"))


def test_a_rules_timeout_wins_over_the_default_and_a_quick_job_is_left_alone(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "a.txt", "b.txt"

        rule a:
            output: "a.txt"
            timeout: "1m"
            shell: "sleep 1.5; echo a > {output}"

        rule b:
            output: "b.txt"
            shell: "echo b > {output}"
        """)
    r = p.build("--default-timeout", "1s")
    assert r.code == 0, r
    assert p.read("a.txt") == "a\n" and p.read("b.txt") == "b\n"


def test_bad_timeouts_are_refused_with_where_they_are(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            timeout: "soon"
            shell: "touch {output}"
        """)
    r = p.build("check")
    assert r.code == 2, r
    assert "Flowfile:3:14: error: 'soon' is not a time span" in r.text
    p.flowfile("""
        rule a:
            output: "a.txt"
            timeout: 0
            shell: "touch {output}"
        """)
    r = p.build("check")
    assert r.code == 2 and "'timeout:' must be a time longer than 0, not 0" in r.text, r
    p.flowfile("""
        rule a:
            output: "{x}.txt"
            timeout: wildcards.x
            shell: "touch {output}"
        """)
    r = p.build("check")
    assert r.code == 2 and "'timeout:' cannot depend on wildcards" in r.text, r
    r = p.build("--default-timeout", "later", "a.txt")
    assert r.code == 2 and "'later' is not a time span" in r.text, r
    assert not os.path.exists(p.path("a.txt"))


def test_retry_delay_grows_by_the_backoff_and_a_waiting_job_holds_no_core(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "flaky.txt", "other.txt"

        rule flaky:
            output: "flaky.txt"
            retries: 2
            retry_delay: "1s"
            retry_backoff: 2
            shell: "date +%s.%N >> tries.log; test {attempt} -ge 3; touch {output}"

        rule other:
            input: "flaky.started"
            output: "other.txt"
            shell: "date +%s.%N > {output}"

        rule start:
            output: "flaky.started"
            shell: "sleep 0.3; touch {output}"
        """)
    r = p.build("-j", "1")
    assert r.code == 0, r
    tries = [float(t) for t in p.read("tries.log").split()]
    assert len(tries) == 3
    assert tries[1] - tries[0] >= 1.0 and tries[2] - tries[1] >= 2.0  # 1s, then 1s x 2
    assert "job flaky failed (attempt 1): exit code 1 (next attempt in 1s); retrying" in r.err
    assert "(next attempt in 2s)" in r.err
    assert [j["message"] for j in r.jobs if j["rule"] == "flaky"][:2] == [
        "exit code 1 (will retry in 1s)", "exit code 1 (will retry in 2s)"]
    # with one core, the other jobs ran while flaky waited for its next attempt
    assert float(p.read("other.txt")) < tries[2]


def test_retry_delay_from_the_command_line_and_a_failure_stops_the_waits(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "a.txt", "b.txt"

        rule a:
            output: "a.txt"
            retries: 5
            shell: "echo try >> tries.log; exit 1"

        rule b:
            output: "b.txt"
            shell: "sleep 0.5; exit 3"
        """)
    started = time.monotonic()
    r = p.build("--retry-delay", "30s", "-j", "2")
    assert r.code == 1, r
    assert time.monotonic() - started < 20  # b failed: a's next attempt is not waited for
    assert p.read("tries.log") == "try\n"
    assert "(will retry in 30s)" in r.jobs[0]["message"] or "(will retry in 30s)" in r.jobs[1]["message"]


def test_on_a_terminal_a_job_waiting_for_its_retry_shows_as_waiting(tmp_path):
    from test_build_execution import on_a_terminal

    p = Project(tmp_path)
    p.flowfile("""
        rule flaky:
            output: "flaky.txt"
            retries: 1
            retry_delay: "2s"
            shell: "test {attempt} -ge 2; touch {output}"
        """)
    code, text = on_a_terminal(p, "build", "flaky.txt")
    assert code == 0, text
    assert "0 running, 1 waiting" in text
    assert "waiting flaky (next attempt in " in text
    assert "exit code 1 (next attempt in 2s); retrying" in text
