"""The job graph: jobs (a rule bound to wildcard values), who produces each path, and the
edges between jobs. Data only, built by resolve.py; no recursion anywhere. Layer 2.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import not_
from typing import NamedTuple

from fileflow.errors import CycleError, Position
from fileflow.lang.model import JobValues, Rule

__all__ = ["Job", "Graph", "Waiting", "job_name", "input_pos"]

_FEW = 16  # producers of one job looked through in its list; beyond, kept in a set too


class Waiting(NamedTuple):
    """A job whose values read a checkpoint job that has not run: it is decided once that
    job has run. `consumer` is the job that needs it (-1: the command line) for `path`."""

    name: str          # the waiting job, e.g. "gather[sample=a]"
    consumer: int
    path: str
    checkpoint: int    # the checkpoint job it waits for


def job_name(rule_name: str, wildcards: Mapping[str, str]) -> str:
    if not wildcards:
        return rule_name
    return rule_name + "[" + ",".join([f"{k}={v}" for k, v in wildcards.items()]) + "]"


def input_pos(job: Job, path: str) -> Position:
    """Where the input `path` of a job is written in the Flowfile: its item, else the rule's
    `input:` (a per-job input list), else the rule's name."""
    rule = job.rule
    items = rule.inputs
    if isinstance(items, tuple):
        values = job.values.inputs.values
        if len(values) == len(items) and path in values:
            return items[values.index(path)].pos
    return rule.directive_pos.get("input", rule.pos)


class Job:
    """A rule bound to wildcard values, with everything its directives evaluate to. A plain
    slotted class (not a dataclass): 100,000 are made per build, and its name (e.g.
    "count[sample=a]") is made once here, as it is shown often."""

    __slots__ = ("id", "rule", "wildcards", "values", "name")

    def __init__(self, id: int, rule: Rule, wildcards: Mapping[str, str], values: JobValues,
                 name: str = ""):
        self.id = id
        self.rule = rule
        self.wildcards = wildcards
        self.values = values
        self.name = name or (job_name(rule.name, wildcards) if wildcards else rule.name)

    def __repr__(self) -> str:
        return f"Job({self.id}, {self.name})"

    def with_values(self, values: JobValues) -> Job:
        """The same job with other directive values (a retry's attempt-dependent ones)."""
        return Job(self.id, self.rule, self.wildcards, values, self.name)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.values.inputs.values

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.values.outputs.values

    def flagged(self, flag: str) -> list[str]:
        return [p for p, flags in self.values.flags.items() if flag in flags]


@dataclass(slots=True)
class Graph:
    jobs: list[Job] = field(default_factory=list)
    producer: dict[str, int] = field(default_factory=dict)   # output path -> job id
    # job id -> producer job ids, and -> consumer job ids: an empty tuple until the first
    # edge, a tuple of one until the second, then a list (a million jobs of a fan-out have
    # no producer and one consumer, the aggregate: no list each, and one shared tuple)
    deps: list[Sequence[int]] = field(default_factory=list)
    dependents: list[Sequence[int]] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)           # inputs no rule makes
    targets: list[int] = field(default_factory=list)         # the requested jobs
    target_paths: list[str] = field(default_factory=list)    # requested source files, if any
    logs: set[str] = field(default_factory=set)              # log files (in `producer` too)
    needed_logs: set[str] = field(default_factory=set)       # logs a job reads or a target names
    # temp() files no job deletes: files the targets name, and the inputs of target jobs
    # without outputs (such as `all`); and the target jobs that keep their own temp()
    # outputs when no job needs them (all but those of a default target rule).
    kept_temp: set[str] = field(default_factory=set)
    keeps_own_temp: set[int] = field(default_factory=set)
    # Checkpoints: the jobs that wait for a checkpoint job to run, and for each checkpoint
    # job that was complete, the jobs whose values read its outputs.
    waiting: list[Waiting] = field(default_factory=list)
    readers: dict[int, list[int]] = field(default_factory=dict)
    # the producers of each job with many, as a set: a job with 100,000 inputs stays linear
    _many_deps: dict[int, set[int]] = field(default_factory=dict)
    _one_dependent: tuple[int, ...] = ()  # the last (consumer,) made: shared while it repeats
    # The kept graph this one is (fileflow.run.graph_cache): a token naming it; "" for a
    # graph not kept. What a plan of it knew serves a later plan of the same (incremental).
    origin: str = ""

    def add_job(self, job: Job) -> None:
        self.jobs.append(job)
        self.deps.append(())
        self.dependents.append(())

    def add_edge(self, producer: int, consumer: int) -> None:
        deps = self.deps[consumer]
        n = len(deps)
        if n < _FEW:
            if producer in deps:
                return
            if n < 2:
                self.deps[consumer] = [deps[0], producer] if n else (producer,)
            else:
                deps.append(producer)  # type: ignore[attr-defined]
        else:
            seen = self._many_deps.get(consumer)
            if seen is None:
                seen = self._many_deps[consumer] = set(deps)
            if producer in seen:
                return
            seen.add(producer)
            deps.append(producer)  # type: ignore[attr-defined]
        dependents = self.dependents[producer]
        if not dependents:
            one = self._one_dependent
            if not one or one[0] != consumer:
                one = self._one_dependent = (consumer,)
            self.dependents[producer] = one
        elif len(dependents) == 1:
            self.dependents[producer] = [dependents[0], consumer]
        else:
            dependents.append(consumer)  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.jobs)

    def names_remote_files(self) -> bool:
        """Does the graph name a remote file (a URL)? One scan in C of all its paths."""
        return "://" in "\x00".join(self.producer) or "://" in "\x00".join(self.sources)

    def topological_order(self) -> list[int]:
        """Producers before consumers (Kahn's algorithm); raises CycleError on a cycle."""
        indegree = list(map(len, self.deps))
        order = list(compress(range(len(indegree)), map(not_, indegree)))  # no producers
        dependents = self.dependents
        for job in order:  # a list's iterator takes what is appended meanwhile too
            for child in dependents[job]:
                indegree[child] -= 1
                if not indegree[child]:
                    order.append(child)
        if len(order) != len(self.jobs):
            cycle = self._find_cycle({i for i, n in enumerate(indegree) if n > 0})
            raise CycleError([self.jobs[j].name for j in cycle], self._edge_pos(cycle[0], cycle[1]))
        return order

    def _find_cycle(self, remaining: set[int]) -> list[int]:
        """Walk producer edges inside the unsorted remainder until a job repeats; the closed
        path in the direction data flows (producer -> consumer)."""
        start = min(remaining)
        seen: dict[int, int] = {}
        path: list[int] = []
        job = start
        while job not in seen:
            seen[job] = len(path)
            path.append(job)
            job = next(d for d in self.deps[job] if d in remaining)
        return list(reversed(path[seen[job]:] + [job]))

    def _edge_pos(self, producer: int, consumer: int) -> Position:
        """Where the consumer's input made by the producer is written."""
        job = self.jobs[consumer]
        made = next((p for p in job.inputs if self.producer.get(p) == producer), "")
        return input_pos(job, made)

    def downstream_of(self, roots: list[int]) -> set[int]:
        """Every job that depends on the roots, the roots included."""
        seen = set(roots)
        stack = list(roots)
        while stack:
            for d in self.dependents[stack.pop()]:
                if d not in seen:
                    seen.add(d)
                    stack.append(d)
        return seen

    def upstream_of(self, roots: list[int]) -> Iterator[int]:
        """Every job the roots depend on, the roots included."""
        seen = set(roots)
        stack = list(roots)
        while stack:
            job = stack.pop()
            yield job
            for d in self.deps[job]:
                if d not in seen:
                    seen.add(d)
                    stack.append(d)
