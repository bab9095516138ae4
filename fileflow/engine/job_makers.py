"""A rule's jobs' values: `wildcards -> JobValues`, every path spelled one way ("./a.txt"
and "a.txt" are one file), by one `str.format_map` over the rule's paths when no
directive depends on the job (the fast path of resolving 100,000 jobs), else through
lang/job_values.py. Layer 2.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from itertools import compress
from operator import attrgetter
from types import MappingProxyType
from typing import cast

from fileflow.lang.checkpoints import Checkpoints
from fileflow.lang.job_values import job_values, lazy_inputs
from fileflow.lang.model import FileItem, JobValues, Lazy, Rule
from fileflow.template import Items

__all__ = ["values_maker", "namer", "normalize", "normalized", "normalize_prefix"]


def _needs_normalizing(path: str) -> bool:
    return path.startswith("./") or "//" in path or "/./" in path or path.endswith("/")


# A URL (s3://bucket/key, https://host/path): an object store's keys are names, not paths
# ("a//b" and "a/b" are two objects), so a URL is taken exactly as written.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def normalize(path: str) -> str:
    if not _needs_normalizing(path) or _URL.match(path):
        return path
    return os.path.normpath(path)


def normalize_prefix(prefix: str) -> str:
    while prefix.startswith("./"):
        prefix = prefix[2:]
    return prefix


def normalized(values: JobValues) -> JobValues:
    """Spell every path of a job one way ('./a.txt' and 'a.txt' are one file)."""
    def fix(items):
        joined = "\x00".join(items.values) + "\x00"  # one scan in C for the rare odd path
        if "./" not in joined and "//" not in joined and "/\x00" not in joined:
            return items
        return items._replace(values=tuple(normalize(p) for p in items.values))

    inputs, outputs, log = fix(values.inputs), fix(values.outputs), fix(values.log)
    if inputs is values.inputs and outputs is values.outputs and log is values.log:
        return values
    flags = {normalize(p): f for p, f in values.flags.items()}
    return values._replace(inputs=inputs, outputs=outputs, log=log, flags=flags)


_NO_FLAGS: Mapping[str, frozenset[str]] = MappingProxyType({})
_WILDCARDS, _TEXT, _FLAGS = attrgetter("pattern.wildcards"), attrgetter("pattern.text"), attrgetter("flags")


def values_maker(rule: Rule, checkpoints: Checkpoints | None = None
                 ) -> Callable[[dict[str, str]], JobValues]:
    """`wildcards -> normalised JobValues` for one rule. When no directive depends on the
    job, every path of a job is filled by one `str.format_map` call over the rule's paths
    joined by NUL (which no path holds) and the directives' other values are shared by all
    its jobs: the common case, and most of the time of resolving 100,000 jobs. Rules with
    per-job expressions, and any path that needs normalising, take `job_values`."""
    def generic(wildcards: dict[str, str]) -> JobValues:
        return normalized(job_values(rule, wildcards, checkpoints=checkpoints))

    inputs, log = rule.inputs, rule.log
    if isinstance(log, Lazy) or any(isinstance(v, Lazy)
                                    for v in (rule.params, rule.threads, rule.resources)):
        return generic
    if isinstance(inputs, Lazy):
        return _lazy_inputs_maker(rule, inputs, checkpoints)
    items = (*rule.outputs, *inputs, *log)
    if not items:
        return generic
    # No wildcards in any path (an aggregate over a million expand()ed inputs): the paths
    # as written, the very strings of the rule, neither formatted nor split per job.
    # (each item looked at in C: an aggregate has a million)
    constant = not any(map(_WILDCARDS, items))
    texts = "\x00".join(map(_TEXT, items)) if constant else ""
    # remote paths: their "//" needs no normalizing (escaping braces keeps "://" as it is)
    urls = "://" in texts
    fixed = tuple(map(_TEXT, items)) if constant and not _odd(texts, urls) else None
    fmt = "" if fixed is not None else "\x00".join(
        i.pattern.fmt if i.pattern.wildcards else i.pattern.text.replace("{", "{{").replace("}", "}}")
        for i in items)
    urls = urls or "://" in fmt
    count, n_out, n_in = len(items), len(rule.outputs), len(inputs)
    end_in = n_out + n_in
    out_names = tuple(i.name for i in rule.outputs)
    in_names = tuple(i.name for i in inputs)
    log_names = tuple(i.name for i in log)
    in_empty, log_empty = rule.empty_names.get("input", ()), rule.empty_names.get("log", ())
    flagged = tuple((k, items[k].flags) for k in compress(range(len(items)), map(_FLAGS, items)))
    params, threads, resources = rule.params, rule.threads, rule.resources

    no_log = Items((), log_names, log_empty) if not log else None
    new = tuple.__new__  # a named tuple's own __new__ is a Python function: skip it

    def make(wildcards: dict[str, str]) -> JobValues:
        if fixed is not None:
            parts = fixed
        else:
            try:
                joined = fmt.format_map(wildcards)
            except (KeyError, IndexError, ValueError):
                return generic(wildcards)  # it raises the error with the directive's position
            if ("./" in joined or "/\x00" in joined or joined[-1:] == "/"  # _odd(), inline
                    or ("//" in joined and (not urls or "//" in joined.replace("://", ":")))):
                return generic(wildcards)
            parts = tuple(joined.split("\x00"))
            if len(parts) != count:
                return generic(wildcards)  # a NUL in a wildcard value: let the slow path judge
        flags = {parts[k]: f for k, f in flagged} if flagged else _NO_FLAGS
        return new(JobValues, (new(Items, (parts[n_out:end_in], in_names, in_empty)),
                               new(Items, (parts[:n_out], out_names, ())),
                               no_log or new(Items, (parts[end_in:], log_names, log_empty)),
                               params, threads, resources, flags))

    return make


def _odd(joined: str, urls: bool) -> bool:
    """Paths joined by NUL of which one needs normalising: the slow path spells it."""
    return ("./" in joined or "/\x00" in joined or joined[-1:] == "/"
            or ("//" in joined and (not urls or "//" in joined.replace("://", ":"))))


def _lazy_inputs_maker(rule: Rule, inputs: Lazy, checkpoints: Checkpoints | None
                       ) -> Callable[[dict[str, str]], JobValues]:
    """values_maker's `wildcards -> JobValues` for a rule whose only per-job directive is
    'input:' (a helper function's paths, a sheet's row): the outputs and logs are filled by
    one `str.format_map`, as for other rules, and only the inputs evaluated for the job."""
    def generic(wildcards: dict[str, str]) -> JobValues:
        return normalized(job_values(rule, wildcards, checkpoints=checkpoints))

    outputs, log = rule.outputs, cast("tuple[FileItem, ...]", rule.log)  # not a Lazy: the caller saw
    fmt = "\x00".join(i.pattern.fmt if i.pattern.wildcards else
                      i.pattern.text.replace("{", "{{").replace("}", "}}") for i in (*outputs, *log))
    count, n_out = len(outputs) + len(log), len(outputs)
    out_names, log_names = tuple(i.name for i in outputs), tuple(i.name for i in log)
    log_empty = rule.empty_names.get("log", ())
    out_flagged = tuple((k, i.flags) for k, i in enumerate(outputs) if i.flags)
    log_flagged = tuple((k + n_out, i.flags) for k, i in enumerate(log) if i.flags)
    params, threads, resources = rule.params, rule.threads, rule.resources
    new = tuple.__new__

    def make(wildcards: dict[str, str]) -> JobValues:
        parts: tuple[str, ...] = ()
        if count:
            try:
                parts = tuple(fmt.format_map(wildcards).split("\x00"))
            except (KeyError, IndexError, ValueError):
                return generic(wildcards)  # it raises the error with the directive's position
            if len(parts) != count:
                return generic(wildcards)  # a NUL in a wildcard value: the slow path judges
        # Flags in job_values' order: the outputs', the inputs', the logs'.
        flags = {parts[k]: f for k, f in out_flagged}
        job_inputs = lazy_inputs(rule, inputs, wildcards, flags, checkpoints)
        for k, f in log_flagged:
            flags[parts[k]] = f
        return normalized(new(JobValues, (job_inputs, new(Items, (parts[:n_out], out_names, ())),
                                           new(Items, (parts[n_out:], log_names, log_empty)),
                                           params, threads, resources, flags)))
    return make


def namer(rule: Rule) -> Callable[[dict[str, str]], str]:
    """`wildcards -> job name` ("count[sample=a]", as graph.job_name spells it) by one
    str.format_map; the wildcards come in the rule's order (RuleIndex.candidates)."""
    if not rule.wildcards:
        return lambda wildcards: rule.name
    return (rule.name + "[" + ",".join(f"{w}={{{w}}}" for w in rule.wildcards) + "]").format_map
