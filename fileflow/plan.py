"""Job graph + observed and recorded file states -> the plan: which jobs run, and why. Layer 2.

Observation is batched: every path of the graph is stat'ed once; only the inputs of jobs that
have a record to compare against are given digests, and the store hashes only those whose
stat differs from their record. The decision itself is `rebuild.decide`, job by job in
topological order, so a job knows whether its upstream jobs run.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping

from .command import job_signature, render_command
from .graph import Graph, Job
from .rebuild import KIND_TEMP_NEEDED, JobFacts, Reason, decide
from .state import FileState, RecordedTarget
from .store import FileStore

__all__ = ["Force", "Plan", "make_plan", "job_facts"]


@dataclass(frozen=True, slots=True)
class Force:
    """What the user forced: everything (-F), some rules (-R), or the jobs of some targets."""

    all: bool = False
    rules: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()

    def why(self, job: Job) -> str | None:
        if self.all:
            return "-F/--forceall"
        if job.rule.name in self.rules:
            return f"-R {job.rule.name}"
        if self.targets and (set(job.outputs) & self.targets or
                             (job.rule.name in self.targets and not job.wildcards)):
            return "--force"
        return None


@dataclass(slots=True)
class Plan:
    graph: Graph
    order: list[int]                                   # topological
    commands: list[str]                                # per job id, attempt 1
    signatures: list[str]                              # per job id
    reasons: dict[int, tuple[Reason, ...]]             # the jobs that run
    observed: dict[str, FileState]
    recorded: Mapping[str, RecordedTarget]
    fresh_states: list[FileState] = field(default_factory=list)  # hashed now: worth recording
    virtual_temp: set[str] = field(default_factory=set)          # temp outputs taken from the record

    def runs(self, job_id: int) -> bool:
        return job_id in self.reasons

    @property
    def to_run(self) -> list[int]:
        return [j for j in self.order if j in self.reasons]


def job_facts(job: Job, signature: str) -> JobFacts:
    ancient = frozenset(job.flagged("ancient"))
    return JobFacts(job.name, job.outputs, job.inputs, ancient, signature)


def make_plan(graph: Graph, store: FileStore, recorded: Mapping[str, RecordedTarget],
              force: Force = Force()) -> Plan:
    order = graph.topological_order()
    jobs = graph.jobs
    commands = [render_command(job) for job in jobs]
    signatures = [job_signature(job, cmd) for job, cmd in zip(jobs, commands)]

    paths: dict[str, None] = {}
    for job in jobs:
        paths.update(dict.fromkeys(job.inputs))
        paths.update(dict.fromkeys(job.outputs))
    observed = store.stat_many(paths)

    # A temp() output deleted after its consumers ran is taken as its record says, so its
    # absence alone reruns nothing; it is remade only if a consumer has to run.
    virtual_temp: set[str] = set()
    for job in jobs:
        for path in job.flagged("temp"):
            rec = recorded.get(path)
            if not observed[path].exists and rec is not None and rec.complete and rec.digest:
                observed[path] = FileState(path, True, rec.size, rec.mtime_ns, rec.digest,
                                           False, rec.ctime_ns)
                virtual_temp.add(path)

    # Digests are needed only where there is a record to compare with.
    want: dict[str, FileState] = {}
    for job in jobs:
        if any((r := recorded.get(o)) is not None and r.complete for o in job.outputs):
            for inp in job.inputs:
                state = observed[inp]
                if state.exists and state.digest is None:
                    want[inp] = state
    digested = store.with_digests(want, recorded)
    fresh = [st for p, st in digested.items()
             if (r := recorded.get(p)) is None or r.digest != st.digest
             or not st.same_stat(r.size, r.mtime_ns, r.ctime_ns)]
    observed.update(digested)

    reasons: dict[int, tuple[Reason, ...]] = {}
    for job_id in order:
        job = jobs[job_id]
        upstream = [jobs[d].name for d in graph.deps[job_id] if d in reasons]
        why = decide(job_facts(job, signatures[job_id]), observed, recorded,
                     upstream=upstream, forced=force.why(job))
        if why:
            reasons[job_id] = why

    _remake_needed_temp(graph, order, reasons, virtual_temp)
    return Plan(graph, order, commands, signatures, reasons, observed, recorded, fresh, virtual_temp)


def _remake_needed_temp(graph: Graph, order: list[int], reasons: dict[int, tuple[Reason, ...]],
                        virtual_temp: set[str]) -> None:
    """A job that runs needs its temp inputs on disk: their producers run too (and theirs)."""
    if not virtual_temp:
        return
    jobs = graph.jobs
    for job_id in reversed(order):
        if job_id not in reasons:
            continue
        for inp in jobs[job_id].inputs:
            if inp in virtual_temp:
                producer = graph.producer[inp]
                if producer not in reasons:
                    reasons[producer] = (Reason(KIND_TEMP_NEEDED, inp, jobs[job_id].name),)
