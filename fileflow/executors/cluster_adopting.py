"""Jobs a dead fileflow left queued or running on the cluster (found in the run log by
fileflow.cli.cluster_setup), and which of them this build takes over. Layer 3.

Bookkeeping only: ClusterExecutor (fileflow.executors.cluster) asks here whether a job of
this build takes over a job left behind, and does what follows (waits for it, or cancels
it and removes the old outputs). A job is taken over by its name and command; the
members of a group job only together, as one group job (fileflow.executors.cluster_groups).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fileflow.executors.base import JobSpec
from fileflow.executors.cluster_groups import MemberNote

__all__ = ["Adoptable", "LeftJobs"]


@dataclass(frozen=True, slots=True)
class Adoptable:
    """A job a dead fileflow left queued or running on the cluster, from the run log: a
    member of a group job has its member note (external_id is then the group job's)."""
    name: str
    command: str
    external_id: str
    note: MemberNote | None = None


class LeftJobs:
    def __init__(self) -> None:
        self.by_name: dict[str, Adoptable] = {}   # job name -> the job left behind
        self.taken_groups: set[str] = set()       # ids of group jobs taken over
        self.superseded: set[str] = set()         # jobs whose old group job was cancelled

    def add(self, jobs: Iterable[Adoptable]) -> None:
        for job in jobs:
            self.by_name[job.name] = job

    def ids(self) -> list[str]:
        """The ids of the jobs left that nothing took over yet, each once."""
        return list(dict.fromkeys(a.external_id for a in self.by_name.values()))

    def single(self, spec: JobSpec) -> tuple[str, str]:
        """`spec`'s old job: (its id, "") to take it over, ("", its id) to cancel it."""
        old = self.by_name.pop(spec.name)
        if old.command == spec.command and spec.attempt == 1:
            return old.external_id, ""
        return "", old.external_id

    def group_of(self, members: Sequence[JobSpec]) -> tuple[str, list[MemberNote]]:
        """The group job a dead fileflow left that runs all of `members` with their
        commands unchanged, and their notes; ("", []) when they are not all in one."""
        olds = [self.by_name.get(m.name) for m in members]
        notes = [o.note for o in olds if o is not None and o.note is not None]
        ids = {o.external_id for o in olds if o is not None}
        if len(notes) < len(members) or len(ids) != 1 or any(
                o is None or o.command != m.command or m.attempt != 1
                for o, m in zip(olds, members)):
            return "", []
        return ids.pop(), notes

    def take(self, members: Sequence[JobSpec], external_id: str) -> None:
        for m in members:
            del self.by_name[m.name]
        self.taken_groups.add(external_id)

    def drop(self, members: Sequence[JobSpec]) -> tuple[list[str], list[JobSpec]]:
        """`members` do not take their old jobs over: the ids to cancel (every job left of
        theirs, a group job for all its members), and the members whose old outputs must
        go (prepared to be taken over, so their outputs were kept)."""
        olds = [self.by_name.get(m.name) for m in members]
        old_ids = {o.external_id for o in olds if o is not None}
        for name in [n for n, a in self.by_name.items() if a.external_id in old_ids]:
            del self.by_name[name]
            self.superseded.add(name)
        stale = [m for m in members if m.name in self.superseded]
        self.superseded.difference_update(m.name for m in members)
        return sorted(old_ids), stale

    def was_superseded(self, spec: JobSpec) -> bool:
        """Was `spec` prepared to take over a job that was cancelled since?"""
        if spec.name not in self.superseded:
            return False
        self.superseded.discard(spec.name)
        return True

    def unclaimed(self) -> list[str]:
        """The jobs left that this build did not need (a group job taken over for some of
        its members is not among them); forgotten here."""
        ids = [i for i in self.ids() if i not in self.taken_groups]
        self.by_name.clear()
        return ids
