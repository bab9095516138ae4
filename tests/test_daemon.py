"""The build daemon (fileflow.cli.daemon, daemon_client, daemon_command): commands handed to
a real daemon process run as they would in the caller's own process, in its folder,
environment, umask and streams; signals and exit statuses cross over; the daemon steps
aside for changed code, ends when idle, and is never used with FILEFLOW_NO_DAEMON."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from buildkit import Project, wait_for

import fileflow

PACKAGE = Path(fileflow.__file__).resolve().parent

SLEEPER = """
rule all:
    input: "out.txt"
rule slow:
    output: "out.txt"
    shell: "echo $$ > started.pid; sleep 60; echo done > {output}"
"""


class Daemon:
    """A daemon of its own for one test, in a private folder."""

    def __init__(self, pythonpath: str | None = None):
        self.folder = tempfile.mkdtemp(prefix="ffd-", dir="/tmp")
        self.env = dict(os.environ, FILEFLOW_DAEMON_DIR=self.folder)
        self.env.pop("FILEFLOW_NO_DAEMON", None)
        self.env.pop("FILEFLOW_DB", None)
        if pythonpath:
            self.env["PYTHONPATH"] = pythonpath

    def fileflow(self, *args: str, cwd, **kw) -> subprocess.CompletedProcess:
        kw.setdefault("env", self.env)
        return subprocess.run([sys.executable, "-m", "fileflow", *args], cwd=cwd,
                              capture_output=True, text=True, timeout=120, **kw)

    def popen(self, *args: str, cwd) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "fileflow", *args], cwd=cwd, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def log(self) -> str:
        return "".join(p.read_text() for p in Path(self.folder).glob("*.log"))

    def commands_served(self) -> int:
        return self.log().count(" command ")

    def pid(self) -> int | None:
        found = list(Path(self.folder).glob("*.pid"))
        return int(found[0].read_text()) if found else None

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon()
    started = d.fileflow("daemon", "start", cwd=tmp_path)
    assert started.returncode == 0, started.stderr
    assert "the build daemon runs" in started.stdout
    yield d
    d.stop()


def sleeping_build(daemon: Daemon, folder: Path) -> tuple[Project, subprocess.Popen, int]:
    """A build through the daemon whose job sleeps: the project, the caller, the job's pid."""
    p = Project(folder)
    p.flowfile(SLEEPER)
    proc = daemon.popen("build", cwd=folder)
    wait_for(lambda: p.exists("started.pid") and p.read("started.pid").strip(), what="the job's start")
    return p, proc, int(p.read("started.pid"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_build_through_the_daemon_runs_in_the_callers_folder_environment_and_umask(daemon, tmp_path):
    p = Project(tmp_path)
    p.flowfile('rule all:\n    input: "out.txt"\n'
               'rule make:\n    output: "out.txt"\n'
               '    shell: "echo $GREETING $(pwd) > {output}; umask >> {output}"\n')
    env = dict(daemon.env, GREETING="hello-from-the-caller")
    result = daemon.fileflow("build", "-q", cwd=tmp_path, env=env,
                             preexec_fn=lambda: os.umask(0o027))
    assert result.returncode == 0, result.stderr
    assert p.read("out.txt").split() == ["hello-from-the-caller", str(tmp_path), "0027"]
    assert daemon.commands_served() == 1
    assert f"in {tmp_path}: fileflow build -q" in daemon.log()
    again = daemon.fileflow("build", cwd=tmp_path)
    assert again.returncode == 0
    assert again.stdout.startswith("nothing to do"), again.stdout
    assert daemon.commands_served() == 2


def test_exit_statuses_and_messages_reach_the_caller(daemon, tmp_path):
    p = Project(tmp_path)
    p.flowfile('rule all:\n    input: "out.txt"\n'
               'rule make:\n    output: "out.txt"\n    shell: "echo oops >&2; exit 3"\n')
    failed = daemon.fileflow("build", cwd=tmp_path)
    assert failed.returncode == 1
    assert "oops" in failed.stderr and "make" in failed.stderr
    p.flowfile('rule all:\n    input: "out.txt"\nrule make\n')
    bad = daemon.fileflow("build", cwd=tmp_path)
    assert bad.returncode == 2
    assert "Flowfile:3" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    checked = daemon.fileflow("check", cwd=tmp_path)
    assert checked.returncode == 2
    assert daemon.commands_served() == 3


def test_ctrl_c_at_the_caller_stops_the_build_and_its_jobs(daemon, tmp_path):
    p, proc, job = sleeping_build(daemon, tmp_path)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    wait_for(lambda: not alive(job), timeout=10, what="the job's end")
    assert not p.exists("out.txt")
    assert daemon.commands_served() == 1


def test_a_caller_that_is_killed_leaves_no_build_running(daemon, tmp_path):
    p, proc, job = sleeping_build(daemon, tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    wait_for(lambda: not alive(job), timeout=15, what="the job's end after its caller was killed")
    assert not p.exists("out.txt")


def test_a_command_process_killed_by_a_signal_ends_its_caller_by_that_signal(daemon, tmp_path):
    p, proc, job = sleeping_build(daemon, tmp_path)
    line = next(li for li in daemon.log().splitlines() if " command " in li)
    command_pid = int(line.split(" command ")[1].split()[0])
    os.kill(command_pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    os.kill(job, signal.SIGKILL)


def test_without_the_daemon_variable_commands_run_in_their_own_process(daemon, tmp_path):
    p = Project(tmp_path)
    p.flowfile('rule all:\n    input: "out.txt"\nrule make:\n    output: "out.txt"\n'
               '    shell: "echo here > {output}"\n')
    result = daemon.fileflow("build", "-q", cwd=tmp_path, env=dict(daemon.env, FILEFLOW_NO_DAEMON="1"))
    assert result.returncode == 0, result.stderr
    assert p.read("out.txt") == "here\n"
    assert daemon.commands_served() == 0


def test_status_and_stop(tmp_path):
    d = Daemon()
    try:
        assert d.fileflow("daemon", "status", cwd=tmp_path).returncode == 1
        assert d.fileflow("daemon", "start", cwd=tmp_path).returncode == 0
        again = d.fileflow("daemon", "start", cwd=tmp_path)
        assert again.returncode == 0 and "already runs" in again.stdout
        status = d.fileflow("daemon", "status", cwd=tmp_path)
        pid = d.pid()
        assert status.returncode == 0 and f"pid {pid}" in status.stdout
        stopped = d.fileflow("daemon", "stop", cwd=tmp_path)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        wait_for(lambda: not alive(pid), timeout=10, what="the daemon's end")
        assert d.fileflow("daemon", "status", cwd=tmp_path).returncode == 1
        assert not list(Path(d.folder).glob("*.sock"))
        assert d.commands_served() == 0  # the probes of start, status and stop are no commands
    finally:
        d.stop()


def test_an_idle_daemon_ends(tmp_path):
    d = Daemon()
    try:
        assert d.fileflow("daemon", "start", "--idle-hours", "0.0003", cwd=tmp_path).returncode == 0
        pid = d.pid()
        wait_for(lambda: not alive(pid), timeout=20, what="the idle daemon's end")
        assert "idle" in d.log()
    finally:
        d.stop()


def test_a_daemon_whose_code_changed_steps_aside(tmp_path):
    copy = tmp_path / "installed"
    shutil.copytree(PACKAGE, copy / "fileflow", symlinks=False,
                    ignore=shutil.ignore_patterns("__pycache__"))
    if not (copy / "fileflow" / "grammar").exists():  # an editable install maps it from the source tree
        shutil.copytree(PACKAGE.parent / "grammar", copy / "fileflow" / "grammar")
    d = Daemon(pythonpath=str(copy))
    work = tmp_path / "work"
    work.mkdir()
    p = Project(work)
    p.flowfile('rule all:\n    input: "out.txt"\nrule make:\n    output: "out.txt"\n'
               '    shell: "echo {rule} > {output}"\n')
    try:
        assert d.fileflow("daemon", "start", cwd=work).returncode == 0
        pid = d.pid()
        assert d.fileflow("build", "-n", cwd=work).returncode == 0
        assert d.commands_served() == 1
        errors = copy / "fileflow" / "errors.py"
        errors.write_text(errors.read_text() + "\n# changed\n")
        result = d.fileflow("build", "-q", cwd=work)
        assert result.returncode == 0, result.stderr
        assert p.read("out.txt") == "make\n"
        assert d.commands_served() == 1  # run in the caller's own process
        wait_for(lambda: not alive(pid), timeout=10, what="the out-of-date daemon's end")
        assert "code changed" in d.log()
    finally:
        d.stop()


def test_a_socket_path_too_long_is_a_clear_error(tmp_path):
    d = Daemon()
    long_folder = tempfile.mkdtemp(prefix="ffd-" + "x" * 120, dir="/tmp")
    try:
        result = d.fileflow("daemon", "start", cwd=tmp_path,
                            env=dict(d.env, FILEFLOW_DAEMON_DIR=long_folder))
        assert result.returncode == 2
        assert "too long" in result.stderr and "FILEFLOW_DAEMON_DIR" in result.stderr
    finally:
        shutil.rmtree(long_folder, ignore_errors=True)
        d.stop()


def test_a_folder_others_may_write_is_refused(tmp_path):
    d = Daemon()
    os.chmod(d.folder, 0o777)
    try:
        result = d.fileflow("daemon", "start", cwd=tmp_path)
        assert result.returncode == 2
        assert "not a private folder" in result.stderr
    finally:
        d.stop()


def test_a_socket_in_a_folder_others_may_write_is_never_used(daemon, tmp_path):
    p = Project(tmp_path)
    p.flowfile('rule all:\n    input: "out.txt"\nrule make:\n    output: "out.txt"\n'
               '    shell: "echo here > {output}"\n')
    os.chmod(daemon.folder, 0o777)
    try:
        result = daemon.fileflow("build", "-q", cwd=tmp_path)
    finally:
        os.chmod(daemon.folder, 0o700)
    assert result.returncode == 0, result.stderr
    assert p.read("out.txt") == "here\n"
    assert daemon.commands_served() == 0  # run in the caller's own process


def test_standard_input_reaches_the_command(daemon, tmp_path):
    result = daemon.fileflow("fmt", "-", cwd=tmp_path, input='rule  a:\n  output:   "x"\n  shell: "true"\n')
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('rule a:\n    output: "x"'), result.stdout
    assert daemon.commands_served() == 1


def test_many_commands_at_once_each_get_their_own_answer(daemon, tmp_path):
    projects = []
    for n in range(6):
        folder = tmp_path / f"p{n}"
        folder.mkdir()
        p = Project(folder)
        p.flowfile(f'rule all:\n    input: "out.txt"\nrule make:\n    output: "out.txt"\n'
                   f'    shell: "sleep 0.3; echo {n} > {{output}}; exit {n % 2}"\n')
        projects.append((p, daemon.popen("build", "-q", cwd=folder)))
    for n, (p, proc) in enumerate(projects):
        proc.communicate(timeout=60)
        assert proc.returncode == n % 2
        assert p.exists("out.txt") == (n % 2 == 0)  # a failed job's output is never kept
        if n % 2 == 0:
            assert p.read("out.txt") == f"{n}\n"
    time.sleep(0.1)
    assert daemon.commands_served() == 6
