"""Requested files -> job graph. Layer 2.

Works backwards from each requested path: find the rule whose output pattern matches it
(constraints and `ruleorder` respected), bind the wildcards, evaluate the job's inputs and
resolve those in turn. A path no rule makes is a source if it exists, else an error naming
the job that needs it. Iterative (a work list, no recursion), so a 50,000-step chain is fine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Sequence

from .errors import (AmbiguousRuleError, CycleError, FlowfileError, MissingInputError,
                     WorkflowError)
from .graph import Graph, Job, job_name
from .rules import JobValues, Rule, Workflow, job_values

__all__ = ["resolve", "RuleIndex"]


@dataclass(frozen=True, slots=True)
class _Candidate:
    rule: Rule
    prefix: str
    suffix: str
    regex: object  # compiled pattern


class RuleIndex:
    """Finds the rules that can make a path: constant outputs by dict, patterns by
    literal prefix/suffix first and the regex last."""

    def __init__(self, workflow: Workflow):
        self.workflow = workflow
        self.constant: dict[str, list[Rule]] = {}
        self.patterns: list[_Candidate] = []
        for rule in workflow.rules:
            for item in rule.outputs:
                pattern = item.pattern
                if pattern.is_constant:
                    self.constant.setdefault(_normalize(pattern.text), []).append(rule)
                else:
                    last = pattern.parts[-1]
                    suffix = last if isinstance(last, str) else ""
                    self.patterns.append(_Candidate(rule, _normalize_prefix(pattern.literal_prefix),
                                                    suffix, pattern.regex(rule.constraints)))
        self.preferred = _transitive(workflow.ruleorder)

    def candidates(self, path: str) -> list[tuple[Rule, dict[str, str]]]:
        found: dict[str, tuple[Rule, dict[str, str]]] = {}
        for rule in self.constant.get(path, ()):
            found.setdefault(rule.name, (rule, {}))
        for c in self.patterns:
            if c.rule.name in found or not path.startswith(c.prefix) or not path.endswith(c.suffix):
                continue
            m = c.regex.fullmatch(path)
            if m:
                found[c.rule.name] = (c.rule, m.groupdict())
        if len(found) > 1:
            names = list(found)
            beaten = {b for a in names for b in names if (a, b) in self.preferred}
            found = {n: v for n, v in found.items() if n not in beaten}
        return list(found.values())

    def near_misses(self, path: str) -> list[str]:
        """Rules whose output shape fits the path's literal text (for 'rules tried')."""
        return sorted({c.rule.name for c in self.patterns
                       if path.startswith(c.prefix) and path.endswith(c.suffix)})


def _transitive(pairs) -> set[tuple[str, str]]:
    closure = set(pairs)
    changed = True
    while changed:
        changed = False
        for a, b in list(closure):
            for c, d in list(closure):
                if b == c and (a, d) not in closure:
                    closure.add((a, d))
                    changed = True
    return closure


def _needs_normalizing(path: str) -> bool:
    return path.startswith("./") or "//" in path or "/./" in path or path.endswith("/")


def _normalize(path: str) -> str:
    return os.path.normpath(path) if _needs_normalizing(path) else path


def _normalize_prefix(prefix: str) -> str:
    while prefix.startswith("./"):
        prefix = prefix[2:]
    return prefix


MAX_GROWTH = 100


def _growth(rule: Rule, wildcards: dict[str, str], consumer: Job, so_far: int) -> int:
    """A rule that needs its own output with a longer value ({n}.txt <- {n}.a.txt) would
    expand forever; count such steps in a row (a constraint may still end them)."""
    if consumer.rule is not rule:
        return 0
    for name, value in wildcards.items():
        old = consumer.wildcards.get(name, "")
        if len(value) > len(old) and old in value:
            return so_far + 1
    return 0


def _normalized(values: JobValues) -> JobValues:
    """Spell every path of a job one way ('./a.txt' and 'a.txt' are one file)."""
    def fix(items):
        joined = "\x00".join(items.values) + "\x00"  # one scan in C for the rare odd path
        if "./" not in joined and "//" not in joined and "/\x00" not in joined:
            return items
        return items._replace(values=tuple(_normalize(p) for p in items.values))

    inputs, outputs, log = fix(values.inputs), fix(values.outputs), fix(values.log)
    if inputs is values.inputs and outputs is values.outputs and log is values.log:
        return values
    flags = {_normalize(p): f for p, f in values.flags.items()}
    return values._replace(inputs=inputs, outputs=outputs, log=log, flags=flags)


def _check_wildcards(rule: Rule, wildcards: dict[str, str], path: str) -> None:
    for name, value in wildcards.items():
        if value.startswith("/") or ".." in value.split("/"):
            raise WorkflowError(
                f"refusing {path!r}: wildcard {{{name}}} of rule '{rule.name}' would be {value!r}, "
                "which leaves the working directory")


def resolve(workflow: Workflow, targets: Sequence[str], exists: Callable[[str], bool]) -> Graph:
    """Build the graph of jobs needed for `targets` (file paths or names of rules without
    wildcards). `exists` answers whether a path is on disk (injected for tests)."""
    index = RuleIndex(workflow)
    graph = Graph()
    by_key: dict[tuple, int] = {}
    growth: list[int] = []  # per job: how many times in a row its rule fed itself a longer value
    # Work list of (path, id of the job that needs it or -1 for the command line).
    work: list[tuple[str, int]] = []

    def needer(consumer: int) -> str:
        return graph.jobs[consumer].name if consumer >= 0 else "the command line"

    def add_job(rule: Rule, wildcards: dict[str, str], consumer: int) -> int:
        key = (rule.name, tuple(wildcards.items()))
        existing = by_key.get(key)
        if existing is not None:
            return existing
        grew = _growth(rule, wildcards, graph.jobs[consumer], growth[consumer]) if consumer >= 0 else 0
        if grew > MAX_GROWTH:
            raise WorkflowError(
                f"rule '{rule.name}' feeds itself with ever longer wildcard values "
                f"({job_name(rule.name, graph.jobs[consumer].wildcards)} needs "
                f"{job_name(rule.name, wildcards)}, and so on without end); constrain the "
                "wildcard (wildcard_constraints) or name the input differently")
        try:
            values = _normalized(job_values(rule, wildcards))
        except FlowfileError as err:
            raise FlowfileError(f"{err.message} (evaluating job {job_name(rule.name, wildcards)}, "
                                f"needed by {needer(consumer)})", err.pos, err.hint) from None
        job = Job(len(graph.jobs), rule, wildcards, values)
        graph.add_job(job)
        growth.append(grew)
        by_key[key] = job.id
        for out in values.outputs.values:
            out = _normalize(out)
            other = graph.producer.get(out)
            if other is not None and other != job.id:
                raise WorkflowError(f"jobs {graph.jobs[other].name} and {job.name} both make {out!r}")
            graph.producer[out] = job.id
        for path in values.inputs.values:
            work.append((_normalize(path), job.id))
        return job.id

    for target in targets:
        rule = workflow.by_name.get(target)
        if rule is not None:
            if rule.wildcards:
                raise WorkflowError(f"rule '{target}' has wildcards ({', '.join(rule.wildcards)}); "
                                    "ask for one of its output files instead")
            graph.targets.append(add_job(rule, {}, -1))
        else:
            work.append((_normalize(target), -1))

    head = 0
    while head < len(work):
        path, consumer = work[head]
        head += 1
        producer = graph.producer.get(path)
        if producer is None and path not in graph.sources:
            found = index.candidates(path)
            if len(found) > 1:
                raise AmbiguousRuleError(path, [r.name for r, _ in found])
            if found:
                rule, wildcards = found[0]
                _check_wildcards(rule, wildcards, path)
                producer = add_job(rule, wildcards, consumer)
                if path not in graph.producer:
                    # The pattern matched but the rendered outputs differ (e.g. "./a" vs "a").
                    graph.producer[path] = producer
            elif exists(path):
                graph.sources.add(path)
            else:
                raise MissingInputError(path, needer(consumer), index.near_misses(path))
        if producer is not None:
            if consumer >= 0:
                if producer == consumer:
                    raise CycleError([graph.jobs[consumer].name, graph.jobs[consumer].name])
                graph.add_edge(producer, consumer)
            elif producer not in graph.targets:
                graph.targets.append(producer)
        elif consumer < 0:
            graph.target_paths.append(path)
    return graph
