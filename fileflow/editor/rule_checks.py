"""The graph's errors that the rules alone show, before any file is asked for: what
`fileflow check` reports beyond the Flowfile's own errors. Layer 2.

Only paths written literally are followed (an output or input without wildcards, an
`expand()` result), so every error here is one that resolving would raise as soon as one
of the jobs involved is needed:

- a literal path (an output, or an input) that two rules can make and that neither
  `ruleorder`, nor a rule without wildcards beside one with them, nor the files on disk now
  settle (engine.resolve.choose, as a build would choose): an ambiguity;
- rules that need each other's literal outputs in a ring: a cycle. A rule's literal inputs
  are the same for each of its jobs, and a literal path is made by one job, so a ring of
  rules through literal paths is a ring of jobs;
- a literal path that several rules can make, none of which can run with the files on disk
  now (each lacks a file no rule makes): a warning naming each rule and what it lacks;
- a literal input that no rule makes and that is not on disk now: a warning, not an error,
  as the file may be there by the time of the build (one `stat` per such path; a URL is
  not looked up). One warning per path, at its first use.

The rules that can make a path are found through the output index (fileflow.editor.
output_index), so only the few outputs whose literal ends fit the path are matched.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

from fileflow.editor.output_index import OutputIndex
from fileflow.engine.graph import Graph, job_name
from fileflow.engine.resolve import RuleIndex, choose, preferred_rules, ruleorder_closure
from fileflow.errors import (
    AmbiguousRuleError,
    CycleError,
    NoRuleCanRunError,
    Position,
    WorkflowError,
    shorten,
)
from fileflow.lang.model import Rule, Workflow

__all__ = ["rule_problems"]

# (consumer rule, its input's position) -> the rule that makes that input, and the job's name
Edges = dict[str, list[tuple[str, str, Position]]]


def rule_problems(workflow: Workflow) -> tuple[list[WorkflowError], list[WorkflowError]]:
    """(errors, warnings) of the workflow's rules."""
    outputs = OutputIndex(workflow.rules)
    preferred = ruleorder_closure(workflow.ruleorder)
    errors: list[WorkflowError] = []
    seen: dict[str, list] = {}  # path -> the rules that can make it
    made: list[RuleIndex] = []
    blocked: dict[str, WorkflowError] = {}  # paths whose rules all lack files now: warnings

    def index() -> RuleIndex:
        if not made:
            made.append(RuleIndex(workflow))
        return made[0]

    def on_disk_not(paths: list[str]) -> list[str]:
        return [p for p in paths if "://" not in p
                and not os.path.lexists(os.path.join(workflow.workdir, p))]

    def makers(path: str, pos: Position) -> list:
        found = seen.get(path)
        if found is None:
            matches = [(rule, item.pattern.match(path, rule.constraints) or {})
                       for rule, item in outputs.matching(path)]
            matches.sort(key=lambda match: match[0].index)
            found = seen[path] = preferred_rules(matches, preferred)
            if len(found) > 1:  # as a build would choose with the files on disk now
                try:
                    found = seen[path] = choose(index(), Graph(), found, path, on_disk_not, True)
                except NoRuleCanRunError as err:  # none can run now: the files may come
                    found = seen[path] = []
                    blocked[path] = NoRuleCanRunError(path, err.candidates, pos=pos)
            if len(found) > 1:
                errors.append(AmbiguousRuleError(path, [r.name for r, _ in found], pos,
                                                 [r.pos for r, _ in found]))
        return found

    for rule in workflow.rules:
        for item in rule.outputs:
            if item.pattern.is_constant:
                makers(item.pattern.text, item.pos)
    edges: Edges = {}
    absent: dict[str, tuple[Rule, Position, int]] = {}  # path -> first use, number of uses
    for rule in workflow.rules:
        if not isinstance(rule.inputs, tuple):
            continue  # per job: not guessed at
        for item in rule.inputs:
            if not item.pattern.is_constant:
                continue
            path = item.pattern.text
            found = makers(path, item.pos)
            if len(found) == 1:
                maker, wildcards = found[0]
                edges.setdefault(rule.name, []).append(
                    (maker.name, job_name(maker.name, wildcards), item.pos))
            elif not found and path not in blocked:
                first = absent.get(path)
                absent[path] = (rule, item.pos, 1) if first is None else (*first[:2], first[2] + 1)
    warnings = list(blocked.values()) + _absent_warnings(workflow.workdir, absent)
    cycle = _find_cycle(workflow.rules, edges)
    if cycle is not None:
        errors.append(cycle)
    return errors, warnings


def _absent_warnings(workdir: str, absent: dict[str, tuple[Rule, Position, int]]
                     ) -> list[WorkflowError]:
    """One warning per place (an `expand()` gives many paths one place) for the paths that
    are not on disk."""
    by_place: dict[tuple[str, Position], list[tuple[str, int]]] = {}
    for path, (rule, pos, uses) in absent.items():
        if "://" not in path and not os.path.lexists(os.path.join(workdir, path)):
            by_place.setdefault((rule.name, pos), []).append((path, uses))
    return [_absent_warning(rule, pos, paths) for (rule, pos), paths in by_place.items()]


def _absent_warning(rule: str, pos: Position, paths: list[tuple[str, int]]) -> WorkflowError:
    more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
    uses = paths[0][1] - 1
    elsewhere = ""
    if uses:
        elsewhere = f"; {uses} other input{'s' if uses != 1 else ''} name{'s' if uses == 1 else ''} it too"
    return WorkflowError(
        f"input {shorten(paths[0][0])!r}{more} of rule '{rule}' is made by no rule and does "
        f"not exist now{elsewhere}", pos,
        "the build stops with 'missing input' unless the file is there by then; if a rule "
        "is meant to make it, that rule's output pattern does not match this path")


def _find_cycle(rules: Iterable[Rule], edges: Edges) -> CycleError | None:
    """The first ring of rules through literal inputs (depth first, no recursion), as the
    closed path in the direction data flows."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in rules:
        if root.name in state:
            continue
        state[root.name] = 1
        path: list[tuple[str, int]] = [(root.name, 0)]  # (rule, next edge to try)
        while path:
            name, next_edge = path[-1]
            out = edges.get(name, [])
            if next_edge == len(out):
                state[name] = 2
                path.pop()
                continue
            path[-1] = (name, next_edge + 1)
            maker = out[next_edge][0]
            if state.get(maker) == 1:
                ring = [n for n, _ in path[[n for n, _ in path].index(maker):]]
                return _cycle_error(ring, edges)
            if maker not in state:
                state[maker] = 1
                path.append((maker, 0))
    return None


def _cycle_error(ring: list[str], edges: Edges) -> CycleError:
    """`ring` is a list of rules each needing the next one's output; the error names the
    jobs that make the paths, in the direction data flows, and points at the first input."""
    steps = []
    for consumer, maker in zip(ring, ring[1:] + ring[:1]):
        made, pos = next((job, pos) for m, job, pos in edges[consumer] if m == maker)
        steps.append((made, pos))
    names = [job for job, _ in reversed(steps)]
    return CycleError(names + names[:1], steps[-1][1])  # the input of the first arrow
