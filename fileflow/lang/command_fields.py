"""A command's fields (`{input.reads}`, `{params.depth}`, `{resources.mem_mb}`) checked
against its rule when the rule is built: what each may name. Layer 1; rule_builder.py calls
these for every `shell:` and `message:`.
"""
from __future__ import annotations

from operator import attrgetter

from fileflow.lang.model import Lazy, Rule
from fileflow.lang.values import BENCHMARK, closest
from fileflow.template import Items, TemplateError, lookup

__all__ = ["RESOURCES_MAYBE_DEFAULT", "field_problem"]

_ITEM_NAME = attrgetter("name")  # a FileItem's

# Resources a job may have without its rule setting them, when the command line's
# --default-resources cannot be known (lint and the editor load without them).
RESOURCES_MAYBE_DEFAULT = ("mem_mb", "runtime", "disk_mb")


def _no_log(rule: Rule) -> bool:
    """Whether the rule has no 'log:' (one of only names given an empty list is one:
    `{log}` is then empty text)."""
    return not isinstance(rule.log, Lazy) and not rule.log and "log" not in rule.empty_names


def field_problem(rule: Rule, f, resources: frozenset[str] | None = None) -> str:
    """What is wrong with a command's field, or "". `resources` are the resource names every
    job of the rule has (None: not checked)."""
    if not f.steps:  # `{input}`, `{threads}`: only a missing log to tell
        if f.name == "log" and _no_log(rule):
            return f"{f.text}: rule '{rule.name}' has no 'log:'"
        return ""
    step = f.steps[0]
    if f.name in ("threads", "rule", "attempt"):
        return f"{f.text}: '{f.name}' is a single value; write {{{f.name}}}"
    if f.name == "wildcards" and isinstance(step, str) and step not in rule.wildcards:
        return (f"{f.text}: rule '{rule.name}' has no wildcard '{step}' "
                f"(its outputs define: {', '.join(rule.wildcards) or 'none'})")
    if f.name == "log" and _no_log(rule):
        return f"{f.text}: rule '{rule.name}' has no 'log:'"
    items = (rule.inputs if f.name == "input" else rule.log if f.name == "log"
             else tuple(o for o in rule.outputs if BENCHMARK not in o.flags)  # as {output} has them
             if f.name == "output" else None)
    if items is not None and not isinstance(items, Lazy):
        # (the names, read in C, listed only for the message: a name is never ""; a name
        # given an empty list has no item, and is a name all the same)
        empty = rule.empty_names.get(f.name, ())
        if isinstance(step, str) and step not in map(_ITEM_NAME, items) and step not in empty:
            names = list(dict.fromkeys([i.name for i in items if i.name] + list(empty)))
            return (f"{f.text}: {f.name} of rule '{rule.name}' has no entry named '{step}'"
                    f"{closest(step, names) or ' (named entries: ' + (', '.join(names) or 'none') + ')'}")
        if isinstance(step, int) and step >= len(items):
            return f"{f.text}: {f.name} of rule '{rule.name}' has only {len(items)} entries"
    if f.name == "params" and isinstance(rule.params, Items) and isinstance(step, str):
        if step not in rule.params.names:
            names = [n for n in rule.params.names if n]
            return (f"{f.text}: rule '{rule.name}' has no param '{step}'"
                    f"{closest(step, names) or ' (params: ' + (', '.join(names) or 'none') + ')'}")
    if f.name == "params" and isinstance(rule.params, Items) and isinstance(step, int):
        if step >= len(rule.params.values):
            return f"{f.text}: rule '{rule.name}' has only {len(rule.params.values)} params"
    if f.name == "params" and isinstance(rule.params, Items) and len(f.steps) > 1:
        try:  # {params.p[key]}, {params.p[0]}: the value is known now
            lookup(f, {"params": rule.params})
        except TemplateError as exc:
            return str(exc)
    if f.name == "wildcards" and isinstance(step, int):
        return f"{f.text}: wildcards are taken by name, e.g. {{wildcards.NAME}}"
    if f.name == "resources" and isinstance(step, str) and resources is not None:
        if step not in resources:
            return (f"{f.text}: rule '{rule.name}' has no resource '{step}' (set it in its "
                    f"'resources:', or give every job one: --default-resources {step}=VALUE)")
    return ""
