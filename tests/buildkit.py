"""Helpers for the end-to-end build tests (tests/test_build_*.py and friends).

A `Project` is a directory (a pytest tmp_path) holding a Flowfile and its files. It runs
fileflow in this process (`build`, through `fileflow.cli.main.main`, the same entry point as the
console script) or as a real process (`run`, `popen`: `python -m fileflow`), and reads the run
log to tell which jobs a build started. Everything is real: real processes, real files.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Project", "Result", "snapshot", "wait_for", "PRINT_ARGV"]

# A script that prints its argv, one argument per line, each as repr() (so spaces, quotes,
# newlines and empty strings are unambiguous).
PRINT_ARGV = "import sys\nfor a in sys.argv[1:]:\n    print(repr(a))\n"


# A workflow whose job depends on the environment (`env()`): what the caches of .fileflow
# never vouch for.
READS_ENV = """
rule all:
    input: "out.txt"
rule copy:
    output: "out.txt"
    params: who = env("FILEFLOW_TEST_WHO", "nobody")
    shell: "echo {params.who} > {output}"
"""

# The usual checkpoint idiom (docs/language.md, Data-dependent graphs): a split into an
# unknown number of chunks, a job per chunk, and a gather of what the split made.
SPLIT = """
    default: "totals/a.n"

    checkpoint split:
        input: "data/{sample}.txt"
        output: directory("chunks/{sample}")
        shell: "mkdir -p {output} && split -l 2 {input} {output}/part_"

    rule count:
        input: "chunks/{sample}/part_{part}"
        output: "counts/{sample}/{part}.n"
        shell: "wc -l < {input} | tr -d ' ' > {output}"

    rule gather:
        input: expand("counts/{sample}/{part}.n", sample=wildcards.sample,
                      part=glob_wildcards(checkpoints.split.get(sample=wildcards.sample).output[0]
                                          + "/part_{part}").part)
        output: "totals/{sample}.n"
        shell: "cat {input} | paste -sd+ - | bc > {output}"
    """


@dataclass(repr=False)
class Result:
    """What one fileflow invocation did."""

    code: int
    out: str
    err: str
    jobs: list[dict] = field(default_factory=list)  # run log rows of the jobs it started

    @property
    def ran(self) -> list[str]:
        """Names of the jobs this build started, in start order (a retry appears again). A
        job recorded ahead of its process and cancelled before it started did not run."""
        from fileflow.run.recording_ahead import NOT_STARTED

        return [j["name"] for j in self.jobs if j["message"] != NOT_STARTED]

    @property
    def ran_set(self) -> set[str]:
        return set(self.ran)

    @property
    def text(self) -> str:
        return self.out + self.err

    def __str__(self) -> str:  # shown by pytest when an assertion on a Result fails
        return f"exit {self.code}\n--- stdout\n{self.out}--- stderr\n{self.err}"

    __repr__ = __str__


class Project:
    def __init__(self, root: str | os.PathLike[str], db: str | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.db = db  # a run log URL passed as --db to every build (None: SQLite default)

    # ---------------------------------------------------------------- files

    def path(self, rel: str) -> Path:
        return self.root / rel

    def write(self, rel: str, text: str = "", *, mode: int | None = None) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        if mode is not None:
            p.chmod(mode)
        return p

    def flowfile(self, text: str, name: str = "Flowfile") -> Path:
        return self.write(name, textwrap.dedent(text).lstrip("\n"))

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def exists(self, rel: str) -> bool:
        return os.path.lexists(self.path(rel))

    def mtime_ns(self, rel: str) -> int:
        return os.stat(self.path(rel)).st_mtime_ns

    def set_mtime_ns(self, rel: str, ns: int) -> None:
        os.utime(self.path(rel), ns=(ns, ns))

    def age(self, rel: str, seconds: float = 100.0) -> None:
        """Move a file's mtime into the past (no sleeping needed to order mtimes)."""
        ns = self.mtime_ns(rel) - int(seconds * 1e9)
        self.set_mtime_ns(rel, ns)

    # ---------------------------------------------------------------- running fileflow

    def _db_args(self, args: tuple[str, ...]) -> list[str]:
        args = list(args)
        if self.db and (not args or args[0] not in ("unlock", "check")) and "--db" not in args:
            from fileflow.cli.main import COMMANDS

            if args and args[0] in COMMANDS:  # every command but unlock/check takes --db
                return args[:1] + ["--db", self.db] + args[1:]
            return ["--db", self.db] + args
        return args

    def build(self, *args: str, log: bool = True) -> Result:
        """Run `fileflow ARGS` in this process, in the project directory. With log=True, the
        run log is read before and after to list the jobs this invocation started."""
        from fileflow.cli.main import main

        before = self._last_job_id() if log else 0
        out, err = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(self._db_args(args))
        finally:
            os.chdir(cwd)
        jobs = self.jobs_since(before) if log else []
        return Result(code, out.getvalue(), err.getvalue(), jobs)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "fileflow", *self._db_args(args)]

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("FILEFLOW_DB", None)
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 120, log: bool = True, **kw) -> Result:
        """Run `python -m fileflow ARGS` as a real process in the project directory (with
        log=False, the run log is not read, so this touches nothing fileflow does not)."""
        before = self._last_job_id() if log else 0
        proc = subprocess.run(self.command(*args), cwd=self.root, capture_output=True,
                              text=True, timeout=timeout, env=kw.pop("env", self.env()), **kw)
        jobs = self.jobs_since(before) if log else []
        return Result(proc.returncode, proc.stdout, proc.stderr, jobs)

    def popen(self, *args: str, **kw) -> subprocess.Popen:
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        kw.setdefault("text", True)
        kw.setdefault("env", self.env())
        return subprocess.Popen(self.command(*args), cwd=self.root, **kw)

    # ---------------------------------------------------------------- the run log

    @contextlib.contextmanager
    def runlog(self) -> Iterator:
        from fileflow.runlog.log import open_runlog

        log = open_runlog(self.db, str(self.root))
        try:
            yield log
        finally:
            log.close()

    def has_runlog(self) -> bool:
        return self.db is not None or self.exists(".fileflow/runlog.db")

    def _last_job_id(self) -> int:
        if not self.has_runlog():
            return 0
        with self.runlog() as log:
            runs = log.runs(limit=1000)
            ids = [j["id"] for r in runs for j in log.jobs_of_run(r["id"])]
        return max(ids, default=0)

    def jobs_since(self, job_id: int) -> list[dict]:
        if not self.has_runlog():
            return []
        with self.runlog() as log:
            runs = sorted(log.runs(limit=1000), key=lambda r: r["id"])
            jobs = [j for r in runs for j in log.jobs_of_run(r["id"]) if j["id"] > job_id]
        return sorted(jobs, key=lambda j: j["id"])

    def runs(self) -> list[dict]:
        """Every run, oldest first."""
        if not self.has_runlog():
            return []
        with self.runlog() as log:
            return sorted(log.runs(limit=10_000), key=lambda r: r["id"])

    def recorded(self) -> dict:
        with self.runlog() as log:
            return log.load_targets()

    # ---------------------------------------------------------------- snapshots

    def snapshot(self) -> dict[str, tuple]:
        return snapshot(self.root)


def snapshot(root: str | os.PathLike[str]) -> dict[str, tuple]:
    """Every entry under root (directories included) -> (kind, mode, size, mtime_ns, digest)."""
    found: dict[str, tuple] = {}
    root = os.fspath(root)
    st = os.lstat(root)
    found["."] = ("d", st.st_mode, 0, st.st_mtime_ns, "")
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            full = os.path.join(folder, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if os.path.isdir(full) and not os.path.islink(full):
                found[rel] = ("d", st.st_mode, 0, st.st_mtime_ns, "")
            elif os.path.islink(full):
                found[rel] = ("l", st.st_mode, 0, st.st_mtime_ns, os.readlink(full))
            else:
                with open(full, "rb") as fh:
                    digest = hashlib.sha256(fh.read()).hexdigest()
                found[rel] = ("f", st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return found


def wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll until predicate() is true (for waiting on a subprocess, never for asserting
    on how long fileflow takes)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


# A group whose members b and d each run for 6 s after a has ended: time enough to kill the
# fileflow that submitted the group job while the job runs (the group-adoption tests of
# each cluster). A file `fail_b` makes b fail.
GROUP_LEFT_RUNNING = """
rule all:
    input: "c.txt", "d.txt"
rule a:
    output: "a.txt"
    shell: "echo a >> ran.log; echo a > {output}"
rule b:
    input: "a.txt"
    output: "b.txt"
    shell: "echo b >> ran.log; sleep 6; test ! -e fail_b; cat {input} > {output}"
rule c:
    input: "b.txt"
    output: "c.txt"
    shell: "echo c >> ran.log; cat {input} > {output}; echo c >> {output}"
rule d:
    input: "a.txt"
    output: "d.txt"
    shell: "echo d >> ran.log; sleep 6; echo d > {output}"
"""


def kill_head_mid_group(p: Project, proc: subprocess.Popen, timeout: float) -> str:
    """Once `proc`, a build of GROUP_LEFT_RUNNING on a cluster, has recorded its group job
    and member a has ended on the node (b and d run), kill it (kill -9: no cleanup at all);
    the group job's id."""
    return _kill_head_once(
        p, proc, lambda: len({j["external_id"] for j in p.jobs_since(0)} - {None, ""}) == 1
        and '"exit": 0' in group_results(p),
        timeout, "the group job to be recorded and member a to end on the node")


def _kill_head_once(p: Project, proc: subprocess.Popen, ready, timeout: float, what: str) -> str:
    """Kill -9 the build `proc` once its run log is there and `ready()`; the one cluster
    job id its jobs' rows name then."""
    try:
        wait_for(lambda: p.exists(".fileflow/runlog.db") and ready(), timeout=timeout, what=what)
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        kill_tree(proc)
    (group_id,) = {j["external_id"] for j in p.jobs_since(0)}
    return group_id


GROUP_WITH_A_LATE_MEMBER = """
rule all:
    input: "a.txt", "b.txt"
rule a:
    input: "big.bin"
    output: "a.txt"
    group: "g"
    shell: "sleep 8; wc -c < {input} > {output}"
rule b:
    output: "b.txt"
    group: "g"
    shell: "sleep 8; echo b > {output}"
"""
LATE_MEMBER_GROUPED = ("--group-components", "g=2")  # a and b: one group job
# Over the 16 MiB that a job's inputs are hashed apart from: a is handed over after b.
LATE_MEMBER_INPUT_BYTES = 20 << 20


def write_group_with_a_late_member(p: Project) -> None:
    """A project of GROUP_WITH_A_LATE_MEMBER: b has nothing to hash and is handed to the
    executor at once; a waits until its large input is hashed (run with
    LATE_MEMBER_GROUPED)."""
    p.flowfile(GROUP_WITH_A_LATE_MEMBER)
    with open(p.path("big.bin"), "wb") as fh:
        fh.write(b"x" * LATE_MEMBER_INPUT_BYTES)


def kill_head_once_its_members_run(p: Project, proc: subprocess.Popen, timeout: float) -> str:
    """Once `proc`, a build of GROUP_WITH_A_LATE_MEMBER on a cluster, has both members on
    record as running with their group job's id, kill it (kill -9); that id."""
    return _kill_head_once(
        p, proc, lambda: len(jobs := p.jobs_since(0)) == 2
        and all(j["external_id"] and j["state"] == "running" for j in jobs),
        timeout, "both members on record, running, with their group job's id")


def group_results(p: Project) -> str:
    """What the cluster nodes of a project's group jobs wrote of their members' ends (the
    <group job id>.results files under .fileflow/<cluster>/groups)."""
    text = ""
    for root, _, names in os.walk(p.path(".fileflow")):
        for name in names:
            if name.endswith(".results"):
                with open(os.path.join(root, name)) as fh:
                    text += fh.read()
    return text


def kill_tree(proc: subprocess.Popen) -> None:
    """Clean up a fileflow process a test started (and anything it left running)."""
    import psutil

    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for p in [*children]:
        with contextlib.suppress(psutil.Error):
            p.kill()
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        proc.communicate(timeout=10)
