"""Group jobs in the run loop (on a cluster): when a group becomes ready, and which of its
jobs start with it. Layer 4.

A group (fileflow.engine.groups) waits for the jobs outside it that its members read; the
edges between its own members do not hold it back. Once nothing outside holds it, all its
members start together, as one cluster job that runs them in their order. From then on
each member is an ordinary job again: its outcome is recorded on its own, it releases
its dependents as any job does, and a member that did not run because a member it reads
failed waits for that member like any dependent (a retry of that member runs alone, and
then so does the member that waited).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping

from fileflow.engine.graph import Job
from fileflow.engine.groups import Grouping
from fileflow.engine.plan import Plan
from fileflow.engine.staleness import Reason
from fileflow.executors.base import JobOutcome
from fileflow.run.job_records import RunningJob
from fileflow.run.recorder import RunRecorder
from fileflow.state import FileState

__all__ = ["GroupRuns", "fill_group_inputs"]


class GroupRuns:
    def __init__(self, grouping: Grouping, plan: Plan, waiting: MutableMapping[int, int],
                 recorder: RunRecorder):
        graph = plan.graph
        self.grouping = grouping
        self.plan = plan
        self.reasons = plan.reasons
        self.recorder = recorder
        self.group_of = grouping.group_of
        self.graph = graph
        self.waiting = waiting
        self.launched: set[int] = set()      # groups whose members have started
        self.in_flight: set[int] = set()     # members started with their group, not ended
        self.left: list[int] = []            # edges from outside each group still waits for
        for g, members in enumerate(grouping.members):
            total = 0
            for m in members:
                inside = sum(1 for d in graph.deps[m] if self.group_of.get(d) == g)
                waiting[m] -= inside
                total += waiting[m]
            self.left.append(total)

    def pushable(self, job_id: int) -> bool:
        """May this job, waiting for nothing, go on the ready heap? A member only as its
        group's first, once the whole group waits for nothing."""
        g = self.group_of.get(job_id)
        if g is None or g in self.launched:
            return job_id not in self.in_flight
        return self.grouping.members[g][0] == job_id and self.left[g] == 0

    def released(self, child: int, left: int) -> int:
        """A job `child` waited for is done (`left`: what it waits for now): the job to
        push on the ready heap, or -1."""
        g = self.group_of[child]
        if g in self.launched:
            return child if left == 0 and child not in self.in_flight else -1
        self.left[g] -= 1
        return self.grouping.members[g][0] if self.left[g] == 0 else -1

    def waits_to_launch(self, job_id: int) -> bool:
        """Is this job the first of a group that has not started yet?"""
        g = self.group_of.get(job_id)
        return g is not None and g not in self.launched

    def launch(self, first: int, redecide: Callable[[Job], tuple[Reason, ...]],
               skip: Callable[[Job], None]) -> tuple[str, list[tuple[Job, tuple[Reason, ...],
                                                                      tuple[int, ...]]]]:
        """The group of `first` starts: its key (unique in this run) and its members that
        run, each with its reasons and the members it waits for inside the group. A member
        whose upstream jobs inside the group do not run is decided again (early cutoff) and
        may be skipped."""
        g = self.group_of[first]
        self.launched.add(g)
        members = self.grouping.members[g]
        group_of, deps = self.group_of, self.graph.deps
        inside = {m: [d for d in deps[m] if group_of.get(d) == g] for m in members}
        for m in members:
            self.waiting[m] = len(inside[m])
            self.in_flight.add(m)
        started: set[int] = set()
        out = []
        for m in members:
            job = self.graph.jobs[m]
            after = tuple(d for d in inside[m] if d in started)
            reasons = redecide(job) if not after else self.reasons[m]
            if not reasons:
                self.in_flight.discard(m)
                skip(job)
                continue
            started.add(m)
            out.append((job, reasons, after))
        return f"{self.grouping.names[g]}.{g + 1}", out

    def ended(self, job: Job, running: RunningJob, outcome: JobOutcome, cancelled: bool) -> bool:
        """A member ended. True when it never started (a member it reads failed): recorded
        cancelled here, not counted as failed; it runs alone once what it waits for is
        done (may_run_alone). False: the run loop judges and records it as any job."""
        self.in_flight.discard(job.id)
        if not outcome.not_run or cancelled:
            fill_group_inputs(job, running.inputs, self.plan.observed)
            return False
        self.recorder.unrecorded.append(self.recorder.failed(
            job, running, outcome, "cancelled", f"not started: job {outcome.not_run} of its "
            "group failed"))
        return True

    def may_run_alone(self, job_id: int) -> bool:
        return self.waiting.get(job_id) == 0


def fill_group_inputs(job: Job, inputs: dict[str, str], observed: Mapping[str, FileState]) -> None:
    """A member's inputs made by members before it in its group did not exist when the
    group started: what it read is what those members were recorded to have made."""
    for path in job.inputs:
        if path not in inputs and (state := observed.get(path)) is not None and state.digest:
            inputs[path] = state.digest
