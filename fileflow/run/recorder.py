"""What the run loop writes to the run log, and when. Layer 4.

One transaction per scheduler tick (RunLog.record_tick): the results of the jobs that ended
since the last one, the executor ids (pids) of the jobs launched since, and the rows of the
jobs about to start, their outputs marked incomplete. Results and pids wait for a tick at
most FLUSH_AFTER, and not at all once a job that ran long would be lost to a crash. The
sources hashed during the run are recorded at its end.
"""
from __future__ import annotations

import time
from collections.abc import Mapping

from fileflow.engine.command import default_log_path
from fileflow.engine.graph import Job
from fileflow.engine.plan import Plan
from fileflow.executors.base import JobOutcome, JobSpec
from fileflow.executors.cluster_groups import member_note
from fileflow.run.job_records import AheadJob, PreparedJob, RunningJob
from fileflow.run.recording_ahead import AHEAD_IF_SHORTER, NOT_STARTED
from fileflow.run.settings import Settings
from fileflow.runlog.log import JobResult, JobStart
from fileflow.runlog.records import shown_command
from fileflow.state import FileState

__all__ = ["RunRecorder", "FLUSH_AFTER"]

FLUSH_AFTER = 0.2  # seconds: the longest finished jobs and pids wait for a tick


class RunRecorder:
    def __init__(self, runlog, run_id: int, plan: Plan, settings: Settings):
        self.runlog = runlog
        self.run_id = run_id
        self.plan = plan
        self.settings = settings
        self.unrecorded: list[JobResult] = []  # finished jobs not yet in the run log
        self.new_external_ids: list[tuple[int, str]] = []  # (run-log job id, pid) to record
        self.last_write = time.monotonic()  # of the last run-log tick
        self.fresh_states: list[FileState] = list(plan.fresh_states)

    # ---------------------------------------------------------------- writing

    def tick(self, starts: list[JobStart]) -> list[int]:
        """One transaction: the jobs that ended since the last one, and these starts; the
        run-log ids of the starts."""
        log_ids = self.runlog.record_tick(self.run_id, self.unrecorded, starts,
                                          self.new_external_ids)
        self.last_write = time.monotonic()
        self.unrecorded, self.new_external_ids = [], []
        return log_ids

    def flush(self) -> None:
        if self.unrecorded or self.new_external_ids:
            results, self.unrecorded = self.unrecorded, []
            ids, self.new_external_ids = self.new_external_ids, []
            self.runlog.record_tick(self.run_id, results, [], ids)
            self.last_write = time.monotonic()

    def overdue(self) -> bool:
        """What waits for a tick has waited long enough, or is too costly to lose."""
        return time.monotonic() - self.last_write > FLUSH_AFTER or self.costly_to_lose()

    def costly_to_lose(self) -> bool:
        """A finished job not yet recorded ran long: recorded now, not with the next tick,
        since a kill -9 of fileflow meanwhile would make it run again in full."""
        return any(r.started_at and r.ended_at and r.ended_at - r.started_at >= AHEAD_IF_SHORTER
                   for r in self.unrecorded)

    def launched(self, log_ids: list[int], external_ids: list[str]) -> None:
        """Recorded with the next tick, so a later build can find jobs a crash left running."""
        self.new_external_ids.extend(zip(log_ids, external_ids))

    def sources_hashed(self, states: Mapping[str, FileState]) -> None:
        """Inputs hashed during the run; the sources among them are recorded at its end."""
        producer = self.plan.graph.producer
        self.fresh_states.extend(st for p, st in states.items() if p not in producer)

    def record_files(self) -> None:
        if self.fresh_states:
            self.runlog.record_files(self.fresh_states)

    # ---------------------------------------------------------------- rows

    def starts(self, batch: list[PreparedJob], ahead: list[AheadJob]) -> list[JobStart]:
        """The rows of the jobs starting now, then of those recorded ahead of their start."""
        plan = self.plan
        places: dict[str, int] = {}  # a group's members so far, for their notes
        starts = [JobStart(job.rule.name, job.name, dict(job.wildcards),
                           shown_command(spec.command), [str(r) for r in reasons],
                           spec.attempt, self.executor_of(job), plan.signature(job.id),
                           list(job.outputs), spec.log_path,
                           message=self.member_note(spec, places))
                  for job, spec, reasons, _ in batch]
        for entry in ahead:
            job = entry.job
            starts.append(JobStart(job.rule.name, job.name, dict(job.wildcards),
                                   shown_command(plan.command(job.id)),
                                   [str(r) for r in entry.reasons], 1, self.executor_of(job),
                                   plan.signature(job.id), list(job.outputs),
                                   default_log_path(job)))
        return starts

    def member_note(self, spec: JobSpec, places: dict[str, int]) -> str:
        """A group member's row says, while it runs, which group job it rides in and where
        (fileflow.executors.cluster_groups), so a later build can take the group job over
        after a crash; its members come in their group's order."""
        if not spec.group:
            return ""
        index = places[spec.group] = places.get(spec.group, -1) + 1
        return member_note(spec.group, index, spec.group_size, self.settings.executor_name)

    def executor_of(self, job: Job) -> str:
        """A cluster run's localrules jobs are local processes: recorded as such, so a later
        build stops them (not adopts them) if this one dies."""
        return "local" if self.settings.cluster and job.rule.local else self.settings.executor_name

    def done(self, job: Job, running: RunningJob, outcome: JobOutcome,
             states: dict[str, FileState]) -> JobResult:
        return JobResult(running.log_id, "done", 0, outcome.started_at, outcome.ended_at,
                         outcome.host, outcome.peak_rss_bytes, outcome.cpu_seconds,
                         list(states.values()), running.inputs, self.plan.signature(job.id),
                         outcome.message, outcome.external_id, list(job.outputs),
                         *self.plan.parts(job.id))

    def failed(self, job: Job, running: RunningJob, outcome: JobOutcome, state: str,
               message: str) -> JobResult:
        """Failed or cancelled: no output recorded."""
        return JobResult(running.log_id, state, outcome.exit_code, outcome.started_at,
                         outcome.ended_at, outcome.host, outcome.peak_rss_bytes,
                         outcome.cpu_seconds, [], running.inputs, self.plan.signature(job.id),
                         message, outcome.external_id, list(job.outputs))

    def not_started(self, dropped: list[AheadJob]) -> list[JobResult]:
        """Jobs recorded ahead whose processes never started: cancelled, outputs left
        incomplete."""
        signature = self.plan.signature
        return [JobResult(entry.log_id, "cancelled", None, None, None, None, None, None, [], {},
                          signature(entry.job.id), NOT_STARTED,
                          output_paths=list(entry.job.outputs))
                for entry in dropped]
