"""One job run on its own, in a folder of its own: what `fileflow test-job` and the pytest
plugin (fileflow.testing) do. Layer 4.

The folder holds what the job needs at the paths its command names: its inputs (linked, or
copied), its script, the Flowfile with its includes and config files. The job is made ready
as a build makes it (fileflow.run.preparing) and run by the local executor, with the
folder as its working directory; the working directory's outputs and run log are never
touched.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fileflow.engine.command import render_command
from fileflow.engine.graph import Job
from fileflow.engine.job_makers import values_maker
from fileflow.engine.resolve import resolve
from fileflow.errors import FileflowError
from fileflow.executors.base import JobOutcome
from fileflow.executors.local import LocalExecutor
from fileflow.lang.model import Workflow
from fileflow.run.preparing import JobPreparer, check_protected
from fileflow.run.settings import Settings

__all__ = ["JobRun", "find_job", "stage_job", "run_job", "working_in"]


@dataclass(frozen=True, slots=True)
class JobRun:
    """What a job run on its own did: its folder, its outputs and log (paths in the folder),
    its exit status and the executor's words (e.g. "killed by signal SIGKILL")."""

    folder: str
    outputs: tuple[str, ...]
    log: str
    exit_code: int
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def find_job(workflow: Workflow, target: str,
             exists: Callable[[str], bool] = os.path.exists) -> Job:
    """The job a target names: a file some job makes, or a job's name (`count[sample=a]`,
    a rule's name for a rule without wildcards). `exists` says which files are there (a
    test gives the inputs it names)."""
    rule_name, _, rest = target.partition("[")
    rule = workflow.by_name.get(rule_name)
    if rule is not None and (rest.endswith("]") or not rest):
        wildcards = _wildcards(target, rest[:-1]) if rest else {}
        if set(wildcards) != set(rule.wildcards):
            raise FileflowError(f"test-job {target}: rule {rule_name} has the wildcards "
                                f"{', '.join(rule.wildcards) or '(none)'}; name them all, e.g. "
                                f"{rule_name}[{','.join(w + '=...' for w in rule.wildcards)}]")
        outputs = values_maker(rule)(wildcards).outputs.values
        if not outputs:
            raise FileflowError(f"test-job {target}: rule {rule_name} has no outputs to name it by")
        target = outputs[0]
    path = os.path.normpath(target)
    graph = resolve(workflow, [path],
                    lambda paths: [p for p in paths if not exists(p)])
    job_id = graph.producer.get(path)
    if job_id is None:
        raise FileflowError(f"test-job {target}: no rule makes it (name a file a rule makes, "
                            "or a job such as count[sample=a])")
    return graph.jobs[job_id]


def _wildcards(target: str, text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        if not eq:
            raise FileflowError(f"test-job {target}: a job is named RULE[NAME=VALUE,...]")
        found[name.strip()] = value
    return found


def _inside(path: str, what: str, job: Job) -> str | None:
    """`path` relative to the working directory, or None when it is absolute (used where
    it is); a relative path that leaves the working directory cannot be staged."""
    if "://" in path:
        raise FileflowError(f"job {job.name}: its {what} {path} is a remote file; a job run "
                            "on its own takes local files only")
    if os.path.isabs(path):
        return None
    norm = os.path.normpath(path)
    if norm == ".." or norm.startswith(".." + os.sep):
        raise FileflowError(f"job {job.name}: its {what} {path} is outside the working "
                            "directory, so it cannot be given to the job in a folder of its own")
    return norm


def stage_job(workflow: Workflow, job: Job, folder: str, copy: bool = False,
              given: Mapping[str, str] | None = None) -> None:
    """Put into `folder` what the job needs: its inputs (symbolic links to them, or copies),
    its script, the Flowfile's own files. `given` maps an input path to the file to use
    instead of the working directory's."""
    given = given or {}
    for path in job.inputs:
        source = given.get(path, path)
        rel = _inside(path, "input", job)
        if rel is None:
            continue
        if not os.path.exists(source):
            raise FileflowError(f"job {job.name}: its input {path} does not exist (make it "
                                f"first: fileflow {path})")
        _place(os.path.abspath(source), os.path.join(folder, rel), copy)
    for path in job.outputs:
        _inside(path, "output", job)
    action = job.rule.action
    extra: list[str] = list(workflow.flowfiles) + list(workflow.read_files)
    if action is not None and action.kind == "script":
        extra.append(action.text)
    for path in extra:
        rel = None if os.path.isabs(path) else os.path.normpath(path)
        if rel is None or rel.startswith(".." + os.sep) or not os.path.isfile(path):
            continue
        target = os.path.join(folder, rel)
        if not os.path.lexists(target):
            _place(os.path.abspath(path), target, copy=True)


def _place(source: str, target: str, copy: bool) -> None:
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    if os.path.lexists(target):
        return
    if not copy:
        os.symlink(source, target)
    elif os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


@contextlib.contextmanager
def working_in(folder: str):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def run_job(workflow: Workflow, job: Job, folder: str, python: str = "") -> JobRun:
    """Run the job with `folder` (made ready by stage_job) as its working directory; the
    process's own working directory is back where it was afterwards."""
    with working_in(folder):
        check_protected(job)
        settings = Settings(workdir=".", config=workflow.config, python=python or sys.executable)
        executor = LocalExecutor()
        preparer = JobPreparer(None, None, settings, 0, executor, None, None, None)  # type: ignore[arg-type]
        spec = preparer.spec(job, 1, render_command(job, 1))
        executor.submit([spec])
        outcome: list[JobOutcome] = []
        try:
            while not outcome:
                outcome = executor.wait(1.0)
        except BaseException:
            executor.cancel()
            raise
        finally:
            executor.discard_unused_logs()
        done = outcome[0]
        log = os.path.join(folder, spec.log_path) if os.path.exists(spec.log_path) else ""
    return JobRun(folder, tuple(os.path.join(folder, p) for p in spec.outputs), log,
                  done.exit_code, done.message)
