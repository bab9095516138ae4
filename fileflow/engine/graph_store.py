"""A resolved job graph as plain data and back: what `.fileflow/graph-cache` keeps between
builds (fileflow.run.graph_cache decides when it may be used). Layer 2: no I/O.

The form is compact and made only of tuples, strings and numbers, so that `marshal` writes
and reads it in C: every path once in a table (jobs name theirs by index, and a path read
back is one string object however many jobs name it), rules by their index in the
workflow, wildcards as a table of values per rule (the names are the rule's), each job's
name and its directives' values. Values of a kind `marshal` cannot write (an object made by
a helper module) make `dump` return None: such a graph is simply not kept.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from fileflow.engine.graph import Graph, Job
from fileflow.lang.model import JobValues, Rule
from fileflow.template import Items

__all__ = ["dump", "load", "FORMAT"]

# 2: a directive's values are (values, names, names given an empty list)
FORMAT = 2
_FROZEN: Mapping[str, frozenset[str]] = MappingProxyType({})
_MAPPINGS = (dict, MappingProxyType)  # the kinds of mapping a job's flags come in


def dump(graph: Graph, rules: Sequence[Rule]) -> tuple | None:
    """The graph as plain tuples, its rules named by index in `rules`; None for a graph that
    cannot be kept (jobs waiting for checkpoints, readers of checkpoints, a rule not among
    `rules`, a value that is not plain data)."""
    if graph.waiting or graph.readers:
        return None
    index = {id(rule): i for i, rule in enumerate(rules)}
    # One string object per path: marshal writes it once and refers to it after, so that
    # a path read back is one object however many jobs name it.
    canon: dict[str, str] = {}
    same = canon.setdefault

    def items(found: Items) -> tuple | None:
        values = found.values
        if not all(type(v) is str for v in values):
            return None
        return tuple([same(v, v) for v in values]), tuple(found.names), tuple(found.empty)

    jobs = []
    for job in graph.jobs:
        rule = index.get(id(job.rule))
        v = job.values
        if (rule is None or tuple(job.wildcards) != tuple(job.rule.wildcards)
                or type(v.resources) is not dict or type(v.flags) not in _MAPPINGS):
            return None
        inputs, outputs, log = items(v.inputs), items(v.outputs), items(v.log)
        if inputs is None or outputs is None or log is None:
            return None
        flags = (type(v.flags) is dict,
                 tuple((same(p, p), tuple(sorted(f))) for p, f in v.flags.items()))
        jobs.append((rule, tuple(job.wildcards.values()), job.name, inputs, outputs, log,
                     (tuple(v.params.values), tuple(v.params.names), tuple(v.params.empty)),
                     v.threads, v.resources, flags))
    return (FORMAT, tuple(r.name for r in rules), tuple(jobs),
            tuple(map(tuple, graph.deps)), tuple(map(tuple, graph.dependents)),
            tuple(same(p, p) for p in sorted(graph.sources)), tuple(graph.targets),
            tuple(graph.target_paths), tuple(sorted(graph.logs)),
            tuple(sorted(graph.needed_logs)), tuple(sorted(graph.kept_temp)),
            tuple(sorted(graph.keeps_own_temp)))


def load(data: tuple, rules: Sequence[Rule]) -> Graph | None:
    """The graph `dump` made, bound to `rules` (the workflow loaded now, whose rules must
    have the same names in the same order); None when the data is not such a graph."""
    try:
        (form, names, jobs, deps, dependents, sources, targets, target_paths, logs,
         needed_logs, kept_temp, keeps_own_temp) = data
    except (TypeError, ValueError):
        return None
    if form != FORMAT or tuple(r.name for r in rules) != names:
        return None
    graph = Graph()
    graph.jobs = _jobs(jobs, rules)
    producer = graph.producer
    for job in graph.jobs:
        for out in job.values.outputs.values:
            producer.setdefault(out, job.id)
        for log in job.values.log.values:
            producer.setdefault(log, job.id)
    graph.deps = list(map(list, deps))
    graph.dependents = list(map(list, dependents))
    graph.sources = set(sources)
    graph.targets = list(targets)
    graph.target_paths = list(target_paths)
    graph.logs = set(logs)
    graph.needed_logs = set(needed_logs)
    graph.kept_temp = set(kept_temp)
    graph.keeps_own_temp = set(keeps_own_temp)
    return graph


def _jobs(rows: tuple, rules: Sequence[Rule]) -> list[Job]:
    jobs = []
    new = tuple.__new__
    empty = Items()
    for job_id, (rule, wildcards, name, inputs, outputs, log, params, threads, resources,
                 flags) in enumerate(rows):
        r = rules[rule]
        values = new(JobValues, (
            new(Items, inputs), new(Items, outputs), new(Items, log) if log[0] or log[2] else empty,
            new(Items, params) if params[0] else empty, threads, resources,
            _flags(*flags)))
        jobs.append(Job(job_id, r, dict(zip(r.wildcards, wildcards)) if wildcards else {},
                        values, name))
    return jobs


def _flags(plain: bool, flags: tuple) -> Mapping[str, frozenset[str]]:
    found = {p: frozenset(f) for p, f in flags}
    return found if plain else MappingProxyType(found) if found else _FROZEN
