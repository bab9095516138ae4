"""A job about to start, made ready for its executor. Layer 4.

Its command (rendered again for a retry; for a script, a job file and environment
variables), its log path, the digests of its inputs as they are before it starts, and its
files: a protected output is never overwritten, old outputs are removed (no job appends to,
or is judged by, an old output) and the folders of its outputs and logs made.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace

from fileflow.engine.command import cluster_log_path, default_log_path, render_command
from fileflow.engine.graph import Job
from fileflow.engine.plan import Plan
from fileflow.engine.staleness import Reason
from fileflow.engine.store import FileStore
from fileflow.errors import FileflowError
from fileflow.executors.base import JobSpec
from fileflow.executors.benchmark import benchmark_command
from fileflow.fs import remove_path
from fileflow.lang.job_values import benchmark_file
from fileflow.lang.script_kinds import script_kind
from fileflow.run.file_waits import FileWaits
from fileflow.run.job_records import PreparedJob
from fileflow.run.recorder import RunRecorder
from fileflow.run.script_jobs import notebook_copy, script_command
from fileflow.run.settings import Settings
from fileflow.state import FileState

__all__ = ["JobPreparer", "check_protected"]


class JobPreparer:
    def __init__(self, plan: Plan, store: FileStore, settings: Settings, run_id: int, executor,
                 staging, waits: FileWaits, recorder: RunRecorder):
        self.plan = plan
        self.store = store
        self.settings = settings
        self.run_id = run_id
        self.executor = executor
        self.staging = staging  # fileflow.remote.staging.Staging, or None
        self.waits = waits
        self.recorder = recorder

    def prepare_logs(self) -> None:
        """Let an executor that can make the default log files of the jobs to run ahead of
        them (the local one) do so; the paths are worked out in its own thread."""
        prepare = getattr(self.executor, "prepare_logs", None)
        if prepare is None or self.settings.cluster:
            return
        jobs = self.plan.graph.jobs
        prepare(default_log_path(jobs[j], use_log=False) for j in self.plan.to_run
                if jobs[j].rule.action is not None and not _streams_to_log(jobs[j]))

    def local(self, job: Job) -> Job:
        """The job as its command sees it: remote paths are their local staged copies."""
        return job if self.staging is None else self.staging.local_job(job)

    def prepare(self, job: Job, reasons: tuple[Reason, ...], attempt: int) -> PreparedJob:
        """`job` carries the values of this attempt."""
        local = self.local(job)
        command = render_command(local, attempt) if attempt > 1 else self.plan.command(job.id)
        check_protected(job)
        inputs = self.input_digests(job)
        # A cluster job a dead fileflow left running is taken over, not run again: its
        # outputs are its own to write.
        adopts = getattr(self.executor, "adopts", None)
        adopted = attempt == 1 and adopts is not None and adopts(job.name)
        spec = self.spec(job, attempt, command, adopted)
        if local is not job and self.stages_in_job(job):
            spec = replace(spec, stage=self.staging.job_manifest(job, inputs, attempt, adopted))
        return PreparedJob(job, spec, reasons, inputs)

    def spec(self, job: Job, attempt: int, command: str, adopted: bool = False) -> JobSpec:
        """What the executor runs for the job: its old outputs removed (unless `adopted`),
        the folders of its outputs and logs made, a script's job file written. Needs no
        plan: a job run on its own (fileflow test-job) is made ready here too."""
        local = self.local(job)
        try:
            for path in () if adopted else local.outputs:
                remove_path(path)  # never let a job append to, or be judged by, an old output
                _make_parent(path)
            for path in job.values.log.values:
                _make_parent(path)
        except OSError as exc:
            raise FileflowError(f"cannot prepare the outputs of job {job.name}: "
                                f"{exc.filename!r}: {exc.strerror}") from None
        env: dict[str, str] = {}
        action = job.rule.action
        software = self.settings.software.get(job.rule.name)
        if action is not None and action.kind == "script":
            command, env = script_command(local, attempt, action.text, self.run_id,
                                          software and software.python or self.settings.python,
                                          self.settings.config)
        elif action is None:
            command = ":"
        if software is not None and action is not None:
            command = software.wrap(command)
            env.update(software.env)
            if action.kind == "script":
                env.update(software.script_env())
        bench = benchmark_file(local.values) if local.values.flags else None
        if bench is not None:
            command = benchmark_command(command, *bench, self.settings.python)
        return JobSpec(job.id, job.name, job.rule.name, command, self.log_path(job),
                       local.outputs, job.values.threads, job.values.resources, attempt, env,
                       job.wildcards, "",
                       log_on_demand=not self.settings.cluster and not _streams_to_log(job),
                       timeout=job.rule.timeout or self.settings.default_timeout)

    def log_path(self, job: Job) -> str:
        """Where the job's stdout and stderr go: its first log, else a default one."""
        own = _streams_to_log(job)
        if self.settings.cluster and not job.rule.local:
            return cluster_log_path(job, self.settings.executor_name, use_log=own)
        return default_log_path(job, use_log=own)

    def stages_in_job(self, job: Job) -> bool:
        """--remote-staging job: a cluster job moves its own remote files on its node; a
        localrules job runs here, so this process stages for it."""
        return self.staging.in_job and self.settings.cluster and not job.rule.local

    def input_digests(self, job: Job) -> dict[str, str]:
        """Digests of the inputs as they are now, before the job starts (so an input edited
        while the job runs is seen as changed next time)."""
        observed = self.plan.observed
        # Looked at again now: a file seen when the build planned may be gone since (the
        # old output of a member of the same group, removed as that member was prepared).
        missing = {p: self.store.stat(p) for p in job.inputs
                   if (observed.get(p) is None or observed[p].digest is None)}
        if missing:
            if self.waits.hash_inputs_apart(job.id, missing):
                return {p: digest for p in job.inputs
                        if p not in missing and (digest := observed[p].digest) is not None}
            self.observe_inputs(self.store.with_digests(missing, self.plan.recorded))
        return {p: digest for p in job.inputs if (digest := observed[p].digest) is not None}

    def observe_inputs(self, hashed: Mapping[str, FileState]) -> None:
        self.plan.observed.update(hashed)
        self.recorder.sources_hashed(hashed)


def check_protected(job: Job) -> None:
    """A protected output is never overwritten: its job stops before it starts."""
    for path in job.flagged("protected"):
        if os.path.exists(path):
            raise FileflowError(f"job {job.name} would overwrite protected output {path!r}; "
                                "delete it first if it must be remade")


def _streams_to_log(job: Job) -> bool:
    """Whether the job's stdout and stderr go to its first log: when it has one that is not
    where its notebook's executed copy is written."""
    logs = job.values.log.values
    if not logs:
        return False
    action = job.rule.action
    return not (action is not None and action.kind == "script"
                and script_kind(action.text) == "notebook" and logs[0] == notebook_copy(job))


def _make_parent(path: str) -> None:
    """The folder of `path` made if missing; one stat when it is there (os.makedirs of an
    existing folder costs three system calls and an exception)."""
    parent = os.path.dirname(path)
    if parent and not os.path.isdir(parent):
        os.makedirs(parent, exist_ok=True)
