"""Jobs recorded as started in the run log ahead of their processes. Layer 4.

The run log is the parent's largest cost per job at -j 2: one transaction per scheduler
tick. While jobs are short, the tick that starts some jobs also records the ready jobs next
in line that will run whatever happens; they start later, in order, without a tick of their
own. Each process still starts only once the tick that recorded it is committed.
"""
from __future__ import annotations

import heapq
from collections.abc import Mapping

from fileflow.engine.plan import Plan
from fileflow.engine.staleness import (
    KIND_INCOMPLETE_OUTPUT,
    KIND_INPUT_CHANGED,
    KIND_INPUT_NEWER,
    KIND_INPUTS_CHANGED_SET,
    KIND_MISSING_OUTPUT,
    KIND_SIGNATURE_CHANGED,
    KIND_UPSTREAM,
)
from fileflow.run.job_records import AheadJob, ReadyJob
from fileflow.run.settings import Settings

__all__ = ["RecordedAhead", "AHEAD_PER_CORE", "AHEAD_MAX", "AHEAD_IF_SHORTER",
           "AHEAD_ALL_IF_SHORTER", "NOT_STARTED"]

# Local jobs recorded as started ahead of their processes (RecordedAhead.pick): up to this
# many per core, at most AHEAD_MAX, so that a tick serves several jobs.
AHEAD_PER_CORE = 4
AHEAD_MAX = 32
# Only while jobs are this short (seconds, the last one to end): a tick costs about a
# millisecond, nothing next to a longer job, and a job recorded ahead shows as running in
# the log before its process exists.
AHEAD_IF_SHORTER = 1.0
# While jobs are shorter still (seconds), AHEAD_MAX are recorded ahead whatever the cores:
# at -j 2 with jobs of a few milliseconds a tick's own cost (a transaction) counts per job
# (10,000 trivial jobs: about 0.7 s less of this process's CPU time than 8 ahead), and 32
# such jobs ahead are well under a second of work.
AHEAD_ALL_IF_SHORTER = 0.05
# The message of a job recorded ahead whose process never started (state 'cancelled').
NOT_STARTED = "not started: the build stopped first"
# Reasons that hold until the job runs, whatever happens to this build: only a job with one
# of them (and no upstream reason) is recorded ahead, since a crash before its process
# starts leaves its outputs marked incomplete, which reruns it; it had to run anyway.
_LASTING = frozenset({KIND_MISSING_OUTPUT, KIND_INCOMPLETE_OUTPUT, KIND_SIGNATURE_CHANGED,
                      KIND_INPUTS_CHANGED_SET, KIND_INPUT_CHANGED, KIND_INPUT_NEWER})


class RecordedAhead:
    """The jobs recorded as started whose processes have not started yet, in the order they
    start (`queue`), and the choice of the next ones."""

    def __init__(self, plan: Plan, settings: Settings, staged: bool):
        self.jobs = plan.graph.jobs
        self.reasons = plan.reasons
        self.queue: list[AheadJob] = []
        self.size = 0 if settings.cluster else min(AHEAD_MAX,
                                                   AHEAD_PER_CORE * max(1, settings.jobs))
        self.staged = staged  # commands name staged paths: recorded as they start
        self.last_duration: float | None = None  # of the last job that ended

    def __len__(self) -> int:
        return len(self.queue)

    def pick(self, ready: list[ReadyJob], attempts: Mapping[int, int]) -> list[AheadJob]:
        """Ready jobs to record as started in this tick, to be started later without a tick
        of their own, while jobs are short: first attempts of shell commands with a lasting
        reason, in priority order (taken off the `ready` heap), until the first job that
        does not qualify. Their processes still start only once this tick is committed."""
        picked: list[AheadJob] = []
        if self.last_duration is None or self.last_duration >= AHEAD_IF_SHORTER:
            return picked
        if self.staged:
            return picked
        size = self.size
        if size and self.last_duration < AHEAD_ALL_IF_SHORTER:
            size = AHEAD_MAX
        room = size - len(self.queue)
        jobs = self.jobs
        while ready and len(picked) < room:
            job = jobs[ready[0].job_id]
            action = job.rule.action
            reasons = self.reasons[job.id]
            if (job.id in attempts or action is None or action.kind != "shell"
                    or not job.outputs or any(r.kind == KIND_UPSTREAM for r in reasons)
                    or not any(r.kind in _LASTING for r in reasons)):
                break
            heapq.heappop(ready)
            picked.append(AheadJob(job, reasons))
        return picked

    def add(self, picked: list[AheadJob], log_ids: list[int]) -> None:
        """The picked jobs are on record (the tick gave them these run-log ids)."""
        for entry, log_id in zip(picked, log_ids):
            entry.log_id = log_id
        self.queue.extend(picked)

    def drop(self) -> list[AheadJob]:
        """The build stops: the jobs whose processes will never start."""
        dropped = list(self.queue)
        self.queue.clear()
        return dropped
