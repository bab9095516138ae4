"""The local executor's choice to run a plain command without bash in between."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from fileflow.executors.local import LocalExecutor


@pytest.fixture
def executor() -> LocalExecutor:
    return LocalExecutor(env={})


def test_a_plain_program_call_runs_directly_with_the_same_argv(executor):
    program, argv, stdout = executor._direct("cp 'data/a b.txt' \"out/x y.txt\" --flag=1")
    assert program == shutil.which("cp")
    assert argv == ["cp", "data/a b.txt", "out/x y.txt", "--flag=1"]
    assert stdout is None


@pytest.mark.parametrize("command, argv, target, append", [
    ("cat in.txt > out.txt", ["cat", "in.txt"], "out.txt", False),
    ("sort -u in.txt >> log.txt", ["sort", "-u", "in.txt"], "log.txt", True),
    ("cat file2> out", ["cat", "file2"], "out", False),
])
def test_a_program_call_with_its_output_sent_to_a_file_runs_directly(executor, command, argv,
                                                                      target, append):
    program, got, stdout = executor._direct(command)
    assert program == shutil.which(argv[0]) and got == argv
    assert stdout[0] == target
    assert bool(stdout[1] & os.O_APPEND) == append and bool(stdout[1] & os.O_TRUNC) != append


@pytest.mark.parametrize("command", [
    "cat $HOME", "ls *.txt", "cat a | wc -l", "cat a 2> b", "cat a > b > c", "cat a >",
    "> b", "cat a > b c", "cat '>' b", "cat 'x>y' > b", "cat 'a b' > c", "cat a >>> b", "cat < a", "cat a >& b", "echo hi > b", "true; false", "echo hi",
    "cd dir", "VAR=1 env", "cmd `x`", "a && b", "x\ny", "cp a\\ b c", "cat ~/x",
    "no-such-program-xyz a", "'unclosed",
])
def test_anything_the_shell_would_interpret_goes_to_bash(executor, command):
    assert executor._direct(command) is None


def run_one(executor: LocalExecutor, tmp_path, command: str):
    from fileflow.executors.base import JobSpec

    executor.submit([JobSpec(1, "j", "r", command, str(tmp_path / "job.log"))])
    deadline = time.monotonic() + 30
    done = []
    while not done and time.monotonic() < deadline:
        done = executor.wait(1.0)
    assert done, "the job did not finish"
    return done[0], (tmp_path / "job.log").read_text()


def test_a_direct_redirect_writes_truncates_and_appends_like_bash(executor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("data\n")
    (tmp_path / "out.txt").write_text("old content that is longer\n")
    outcome, _ = run_one(executor, tmp_path, "cat in.txt > out.txt")
    assert outcome.exit_code == 0 and (tmp_path / "out.txt").read_text() == "data\n"
    outcome, _ = run_one(executor, tmp_path, "cat in.txt >> out.txt")
    assert outcome.exit_code == 0 and (tmp_path / "out.txt").read_text() == "data\ndata\n"


def test_a_redirect_that_cannot_open_falls_back_to_bash_and_its_message(executor, tmp_path,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("data\n")
    outcome, log = run_one(executor, tmp_path, "cat in.txt > no-such-dir/out.txt")
    assert outcome.exit_code == 1
    assert "no-such-dir/out.txt: No such file or directory" in log


def test_a_failing_direct_program_reports_its_own_exit_code(executor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    outcome, log = run_one(executor, tmp_path, "cat missing.txt > out.txt")
    assert outcome.exit_code == 1 and "missing.txt" in log
    assert (tmp_path / "out.txt").read_text() == ""  # opened (and emptied) first, as bash does


def test_peak_memory_is_the_jobs_own_or_unknown_never_fileflows(executor, tmp_path, monkeypatch):
    """A spawned child's ru_maxrss starts at the parent's peak (vfork + exec): a job that
    stays below it is reported as unknown (-1), one that grows past it by its own peak."""
    import resource
    import sys

    monkeypatch.chdir(tmp_path)
    ballast = bytearray(64 * 1024 * 1024)  # make fileflow's own peak clearly large
    ballast[::4096] = b"x" * len(ballast[::4096])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    small, _ = run_one(executor, tmp_path, "true")
    assert small.exit_code == 0 and small.peak_rss_bytes == -1
    big_mib = own // (1024 * 1024) + 100
    grow = f"{sys.executable} -c 'b = bytearray({big_mib} * 1024 * 1024); b[::4096] = bytes(len(b[::4096]))'"
    big, log = run_one(executor, tmp_path, grow)
    assert big.exit_code == 0, log
    assert big.peak_rss_bytes >= big_mib * 1024 * 1024 > own
    del ballast


def test_logs_made_ahead_are_used_kept_or_removed_never_emptied(executor, tmp_path, monkeypatch):
    """prepare_logs makes missing log files in a thread ahead of the jobs; a job then opens
    its own; discard_unused_logs removes those no job used; an existing log is never touched
    before its job runs."""
    from fileflow.executors.base import JobSpec

    monkeypatch.chdir(tmp_path)
    os.makedirs("logs/old")
    (tmp_path / "logs/old/kept.log").write_text("the last run's output\n")
    paths = [f"logs/r/{i}.log" for i in range(50)] + ["logs/old/kept.log"]
    executor.prepare_logs(iter(paths))
    executor.log_maker.join()
    assert all(os.path.exists(p) for p in paths)
    assert (tmp_path / "logs/old/kept.log").read_text() == "the last run's output\n"
    executor.submit([JobSpec(1, "j", "r", "echo ran", "logs/r/7.log")])
    deadline = time.monotonic() + 30
    while not executor.wait(1.0) and time.monotonic() < deadline:
        pass
    executor.discard_unused_logs()
    assert (tmp_path / "logs/r/7.log").read_text() == "ran\n"
    assert sorted(os.listdir("logs/r")) == ["7.log"]
    assert (tmp_path / "logs/old/kept.log").read_text() == "the last run's output\n"
