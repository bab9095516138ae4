"""Incremental planning: decide again only the jobs whose facts may have changed since a
plan whose decisions are known, and those below a job whose decision changed. Layer 2:
pure, no I/O.

A job's decision (fileflow.engine.staleness.decide) is a function of its facts (its paths'
observed states, their records, its signature), the forcing, the triggers and which of its
upstream jobs run. A `Previous` holds, for the same graph, the decisions of a plan and the
observed state of every path that plan could vouch for (a state taken a whole timestamp
tick after the path last changed, of a path no job of that plan was to write). A job all of
whose paths show the same state now, with the same records, whose rule signs its jobs as
it did (the same action,
so the same signatures for the same values), and whose upstream decisions are unchanged,
keeps its previous decision; every other job is decided as a full plan would. The caller
gives every job the last build ran as `dirty`, and checks that no build wrote the run log
since (its generation).
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from fileflow.engine.staleness import Reason

__all__ = ["Previous", "stale_jobs", "replan"]

# What of a path is compared: its observed state (fileflow.engine.plan's `state_key`);
# opaque here, compared for equality.
PathKey = tuple


class Previous(NamedTuple):
    """What a previous plan of the same graph knew."""

    states: Mapping[str, PathKey]                    # the paths it vouches for: their state
    reasons: Mapping[int, tuple[Reason, ...]]        # its decisions (absent: up to date)
    rule_keys: Mapping[str, str]                     # rule name -> how its jobs were signed
    dirty: Collection[int] = ()                      # jobs to decide whatever their paths say
    # The content digests it knew of paths it vouches for: a path whose state is the same
    # has the same content.
    digests: Mapping[str, str] = MappingProxyType({})


def stale_jobs(paths_of: Sequence[Sequence[str]], rules: Sequence[str],
               now: Mapping[str, PathKey], previous: Previous,
               rule_keys: Mapping[str, str]) -> set[int]:
    """The jobs whose facts may have changed: one of their paths shows another state than
    the previous plan vouched for (or none), their rule signs otherwise, or `previous` names
    them dirty. `paths_of[j]` are job j's inputs and outputs, `rules[j]` its rule's name,
    `now[path]` the state observed now (absent: not observed)."""
    states, keys = previous.states, previous.rule_keys
    stale = set(previous.dirty)
    changed_rules = {r for r, k in rule_keys.items() if keys.get(r) != k}
    get, now_get = states.get, now.get
    for job, paths in enumerate(paths_of):
        if job in stale:
            continue
        if rules[job] in changed_rules:
            stale.add(job)
            continue
        for path in paths:
            was = get(path)
            if was is None or now_get(path) != was:
                stale.add(job)
                break
    return stale


def replan(order: Sequence[int], deps: Sequence[Sequence[int]], stale: Collection[int],
           previous: Mapping[int, tuple[Reason, ...]],
           decide_one: Callable[[int, Mapping[int, tuple[Reason, ...]]], tuple[Reason, ...]]
           ) -> dict[int, tuple[Reason, ...]]:
    """Every job's reasons to run, in topological `order`: `decide_one(job, reasons so far)`
    for a stale job and for one below a job whose decision changed; the previous decision
    for the others. The same result as deciding every job (see the module's docstring)."""
    reasons: dict[int, tuple[Reason, ...]] = {}
    changed: set[int] = set()
    none: tuple[Reason, ...] = ()
    for job in order:
        before = previous.get(job, none)
        if job in stale or (changed and (up := deps[job]) and not changed.isdisjoint(up)):
            why = decide_one(job, reasons)
            if why != before:
                changed.add(job)
        else:
            why = before
        if why:
            reasons[job] = why
    return reasons
