"""The local executor: its choice to run a plain command without bash in between, logs,
memory, and processes started from a thread of their own."""
from __future__ import annotations

import os
import shutil
import time

import pytest

from fileflow.executors.local import LocalExecutor


@pytest.fixture(params=[False, True], ids=["spawned-inline", "spawned-by-thread"])
def executor(request) -> LocalExecutor:
    made = LocalExecutor(env={}, spawners=2 if request.param else 0)
    assert made.threaded == request.param  # Linux: the C library's posix_spawn serves
    return made


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
    "> b", "cat a > b c", "cat '>' b", "cat 'x>y' > b", "cat 'a b' > c", "cat a >>> b", "cat < a",
    "cat a >& b", "echo hi > b", "true; false", "echo hi",
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


def test_with_bash_env_every_command_goes_through_bash(tmp_path, monkeypatch):
    """BASH_ENV (Lmod, conda) may put another `mytool` first on the PATH: bash -c reads it
    before the command, so a plain call must not skip bash then."""
    monkeypatch.chdir(tmp_path)
    for folder, says in (("outer", "outer"), ("inner", "from BASH_ENV")):
        (tmp_path / folder).mkdir()
        tool = tmp_path / folder / "mytool"
        tool.write_text(f"#!/bin/sh\necho '{says}'\n")
        tool.chmod(0o755)
    (tmp_path / "env.sh").write_text(f"PATH={tmp_path / 'inner'}:$PATH\n")
    path = f"{tmp_path / 'outer'}:{os.environ['PATH']}"
    plain = LocalExecutor(env={"PATH": path})
    assert plain._direct("mytool > out.txt") is not None
    with_bash_env = LocalExecutor(env={"PATH": path, "BASH_ENV": str(tmp_path / "env.sh")})
    outcome, _ = run_one(with_bash_env, tmp_path, "mytool > out.txt")
    assert outcome.exit_code == 0 and (tmp_path / "out.txt").read_text() == "from BASH_ENV\n"


def test_a_direct_job_sees_the_pwd_bash_would_give_it(tmp_path, monkeypatch):
    """Started without bash, a job still gets PWD as bash sets it: the inherited PWD when it
    names the working folder (through a symlink too), else the working folder."""
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "link").symlink_to(work)
    monkeypatch.chdir(work)
    here = os.getcwd()
    for inherited, expected in ((str(tmp_path), here), (str(tmp_path / "link"),
                                                        str(tmp_path / "link"))):
        executor = LocalExecutor(env={"PATH": os.environ["PATH"], "PWD": inherited})
        assert executor._direct("printenv PWD > direct.txt") is not None
        run_one(executor, work, "printenv PWD > direct.txt")
        run_one(executor, work, "printenv PWD | cat > bash.txt")
        assert (work / "bash.txt").read_text() == expected + "\n"
        assert (work / "direct.txt").read_text() == expected + "\n"


def test_an_exported_bash_function_of_the_name_goes_through_bash():
    executor = LocalExecutor(env={"PATH": os.environ["PATH"], "BASH_FUNC_cat%%": "() { :; }"})
    assert executor._direct("cat a > b") is None
    assert executor._direct("sort a > b") is not None


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


def test_a_long_job_below_fileflows_own_peak_gets_its_memory_read_while_it_runs(
        executor, tmp_path, monkeypatch):
    import resource
    import sys

    monkeypatch.chdir(tmp_path)
    ballast = bytearray(256 * 1024 * 1024)  # fileflow's peak far above the job's
    ballast[::4096] = b"x" * len(ballast[::4096])
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    hold = (f"{sys.executable} -c 'import time; b = bytearray(48 * 1024 * 1024); "
            "b[::4096] = bytes(len(b[::4096])); time.sleep(2.5)'")
    outcome, log = run_one(executor, tmp_path, hold)
    assert outcome.exit_code == 0, log
    assert 48 * 1024 * 1024 <= outcome.peak_rss_bytes < own, (outcome.peak_rss_bytes, own)
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
    monkeypatch.setattr(executor, "_spool", lambda folder: None)  # no spool can be made there
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


def run_logged(executor: LocalExecutor, command: str, log: str, wait_for_end: bool = True):
    from fileflow.executors.base import JobSpec

    executor.submit([JobSpec(1, "j", "r", command, log, log_on_demand=True)])
    if not wait_for_end:
        return None
    deadline = time.monotonic() + 30
    done = []
    while not done and time.monotonic() < deadline:
        done = executor.wait(1.0)
    assert done, "the job did not finish"
    return done[0]


def test_a_log_on_demand_exists_only_when_the_job_wrote_to_it(executor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("logs/r")
    (tmp_path / "logs/r/quiet.log").write_text("an earlier build's words\n")
    assert run_logged(executor, "true", "logs/r/quiet.log").exit_code == 0
    assert not os.path.exists("logs/r/quiet.log")     # nothing stale left as if this run's
    outcome = run_logged(executor, "echo out; echo err >&2; exit 3", "logs/r/talk.log")
    assert outcome.exit_code == 3
    assert (tmp_path / "logs/r/talk.log").read_text() == "out\nerr\n"
    assert os.stat("logs/r/talk.log").st_mode & 0o777 == 0o644 & ~_umask()
    assert run_logged(executor, "echo again", "logs/r/talk.log").exit_code == 0
    assert (tmp_path / "logs/r/talk.log").read_text() == "again\n"   # its own, not appended
    executor.discard_unused_logs()
    assert sorted(os.listdir("logs/r")) == ["talk.log"]


def test_a_long_jobs_log_on_demand_can_be_watched_while_it_runs(executor, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_logged(executor, "echo started; sleep 2.5; echo ended", "long.log", wait_for_end=False)
    deadline = time.monotonic() + 20
    while not (os.path.exists("long.log") and (tmp_path / "long.log").read_text()):
        assert time.monotonic() < deadline, "the running job's log never appeared"
        assert executor.wait(0.2) == [], "ended before its log was seen"
    assert (tmp_path / "long.log").read_text() == "started\n"
    while not executor.wait(1.0):
        pass
    assert (tmp_path / "long.log").read_text() == "started\nended\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _specs(tmp_path, commands: list[str]):
    from fileflow.executors.base import JobSpec

    return [JobSpec(i, f"j{i}", "r", command, str(tmp_path / f"j{i}.log"))
            for i, command in enumerate(commands)]


def test_jobs_started_by_the_thread_hand_over_their_pids_and_end_as_started_inline(tmp_path):
    executor = LocalExecutor(env={"PATH": os.environ["PATH"]}, spawners=2)
    commands = ["cat /dev/null", "echo $$ > pid.txt", "exit 3", "kill -TERM $$",
                "yes | head -c 1 > /dev/null"]  # yes killed by SIGPIPE (141), not ignoring it (1)
    os.chdir(tmp_path)
    assert executor.submit(_specs(tmp_path, commands)) == [""] * len(commands)
    assert executor.active() == len(commands)
    pids, outcomes = {}, {}
    deadline = time.monotonic() + 30
    while len(outcomes) < len(commands) and time.monotonic() < deadline:
        for outcome in executor.wait(1.0):
            outcomes[outcome.job_id] = outcome
        pids.update(executor.started())
    assert sorted(outcomes) == list(range(len(commands))) and executor.active() == 0
    assert pids == {i: outcomes[i].external_id for i in outcomes}
    assert (tmp_path / "pid.txt").read_text().strip() == pids[1]
    assert [outcomes[i].exit_code for i in range(len(commands))] == [0, 0, 3, -15, 141]
    assert os.getsid(0) != int(pids[0]) and all(o.started_at > 0 for o in outcomes.values())


def _tagged_alive(tag: str) -> list[int]:
    from fileflow.executors.local import tagged_processes

    return [p.pid for p in tagged_processes([tag]) if p.status() != "zombie"]


def test_cancel_while_jobs_wait_for_the_spawning_thread_starts_none_of_them(tmp_path):
    """Ctrl-C as jobs are queued for the spawning thread: the one starting is stopped with
    the running ones, the queued ones never start and are reported cancelled, and no
    process of the run is left."""
    from fileflow.executors.local import NOT_STARTED

    tag = f"cancel-queued-{os.getpid()}@{tmp_path}"
    executor = LocalExecutor(env={"PATH": os.environ["PATH"]}, tag=tag, spawners=2)
    spawn = executor.spawner.spawn

    def slow_spawn(*args):  # each start takes long enough that the queue is never empty
        time.sleep(0.05)
        return spawn(*args)

    executor.spawner.spawn = slow_spawn
    os.chdir(tmp_path)
    executor.submit(_specs(tmp_path, ["sleep 30"] * 40))
    time.sleep(0.3)  # some started, most queued
    outcomes = executor.cancel()
    assert sorted(o.job_id for o in outcomes) == list(range(40))
    never = [o for o in outcomes if o.message == NOT_STARTED]
    stopped = [o for o in outcomes if o.message == "cancelled"]
    assert len(never) + len(stopped) == 40 and never and stopped
    assert all(o.external_id for o in stopped) and not any(o.external_id for o in never)
    assert executor.active() == 0 and executor.wait(0.1) == []
    time.sleep(0.2)
    assert _tagged_alive(tag) == []


def test_a_process_that_cannot_start_is_raised_by_wait_and_its_job_reported_by_cancel(
        tmp_path):
    from fileflow.executors.local import NOT_STARTED

    executor = LocalExecutor(env={"PATH": os.environ["PATH"]}, spawners=2)
    executor.bash = str(tmp_path / "no-such-bash")
    os.chdir(tmp_path)
    executor.submit(_specs(tmp_path, ["echo $HOME"]))
    with pytest.raises(FileNotFoundError):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            executor.wait(1.0)
    outcomes = executor.cancel()
    assert [(o.job_id, o.message) for o in outcomes] == [(0, NOT_STARTED)]
    assert executor.active() == 0
