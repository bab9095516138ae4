"""What the jobs of a build may use at once: the cores (on a cluster, the -j slots of queued
jobs) and the --resources limits; what a job holds while it runs, and when it hands it
back. Layer 4."""
from __future__ import annotations

from collections.abc import Mapping

from fileflow.engine.graph import Job
from fileflow.executors.base import JobSpec
from fileflow.run.settings import Settings

__all__ = ["ResourcePool"]


class ResourcePool:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.free_cores = max(1, settings.jobs)
        self.free = dict(settings.resources)
        self.handed_back_early: set[int] = set()  # ended jobs whose cores went on at once
        # The members of a group job share what its first member holds, handed back with
        # the last of them: member job id -> [members not ended yet, the first's job].
        self.shared: dict[int, list] = {}

    def needs(self, threads: int, resources: Mapping[str, object]) -> tuple[int, dict]:
        """What a job holds while it runs, for the attempt it is at. Threads are capped at
        the cores and resources at their limits: a retry asking `1000 * attempt` beyond
        --resources runs alone with all of it instead of waiting forever."""
        held = {}
        for key, limit in self.settings.resources.items():
            need = resources.get(key, 0)
            if isinstance(need, (int, float)):
                held[key] = min(need, limit)
        if self.settings.cluster:
            return 1, held  # a cluster job holds one of the -j slots, whatever its threads
        return min(threads, self.settings.jobs), held

    def fits(self, job: Job) -> bool:
        threads, held = self.needs(job.values.threads, job.values.resources)
        return threads <= self.free_cores and all(n <= self.free[k] for k, n in held.items())

    def hold(self, job: Job) -> None:
        """The job starts: what it needs is taken until it hands it back."""
        threads, held = self.needs(job.values.threads, job.values.resources)
        self.free_cores -= threads
        for key, need in held.items():
            self.free[key] -= need

    def hold_group(self, members: list[int], first: Job) -> None:
        """A group job starts: one cluster job, holding what its first member would."""
        self.hold(first)
        share = [len(members), first]
        for job_id in members:
            self.shared[job_id] = share

    def hand_back(self, spec: JobSpec, job_id: int = -1) -> None:
        share = self.shared.pop(job_id, None)
        if share is not None:
            share[0] -= 1
            if share[0]:
                return
            threads, held = self.needs(share[1].values.threads, share[1].values.resources)
        else:
            threads, held = self.needs(spec.threads, spec.resources)
        self.free_cores += threads
        for key, need in held.items():
            self.free[key] += need

    def hand_back_early(self, job_id: int, spec: JobSpec) -> None:
        """A job that ended well gives its cores on before its outputs are hashed and its
        result recorded (hand_back_ended then hands back nothing more)."""
        self.hand_back(spec, job_id)
        self.handed_back_early.add(job_id)

    def hand_back_ended(self, job_id: int, spec: JobSpec) -> bool:
        """What an ended job holds goes back, unless it went back early; True when it had
        (its outputs were checked then)."""
        if job_id in self.handed_back_early:
            self.handed_back_early.discard(job_id)
            return True
        self.hand_back(spec, job_id)
        return False
