"""One job's values: every directive of a rule evaluated for the job's wildcards (and
attempt), the per-job expressions (Lazy) run and their results checked. Layer 1.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from fileflow.errors import FlowfileError
from fileflow.lang.checkpoints import Checkpoints
from fileflow.lang.directives import (
    check_int,
    check_resource,
    check_script_params,
    flatten_files,
    unpacked,
)
from fileflow.lang.model import FileItem, JobValues, Lazy, Rule
from fileflow.lang.values import BENCHMARK, REPEAT, Record
from fileflow.patterns import PatternError, parse_pattern
from fileflow.template import Items

__all__ = ["job_values", "retry_values", "lazy_inputs", "command_outputs", "benchmark_file"]


def job_values(rule: Rule, wildcards: Mapping[str, str], attempt: int = 1,
               checkpoints: Checkpoints | None = None) -> JobValues:
    """Evaluate every directive of a rule for one job. Raises FlowfileError (with the
    directive's position) when a per-job expression fails, and CheckpointPending when one
    reads a checkpoint job that `checkpoints` does not know complete (without it: any)."""
    wc = Record(wildcards, "wildcards") if rule.lazy else wildcards
    cps = checkpoints if checkpoints is not None else Checkpoints()
    outputs = _format_items(rule.outputs, wildcards)
    flags: dict[str, frozenset[str]] = {}
    for item, path in zip(rule.outputs, outputs.values):
        if item.flags:
            flags[path] = item.flags
    inputs = _job_files(rule, rule.inputs, "input", wc, flags, cps)
    log = _job_files(rule, rule.log, "log", wc, flags, cps)
    params = rule.params
    if isinstance(params, Lazy):
        pairs = params(wildcards=wc, checkpoints=cps)
        params = Items(tuple(v for _, v in pairs), tuple(n for n, _ in pairs))
        check_script_params(rule, params)  # fixed params are checked once, when the rule is built
    threads, resources = _attempt_values(rule, wc, attempt)
    return JobValues(inputs, outputs, log, params, threads, resources, flags)


def retry_values(values: JobValues, rule: Rule, wildcards: Mapping[str, str],
                 attempt: int) -> JobValues:
    """A job's values for another attempt: only `threads:` and `resources:` may read
    `attempt`; the files and params stay as they were (also those read from checkpoints)."""
    wc = Record(wildcards, "wildcards") if rule.lazy else wildcards
    threads, resources = _attempt_values(rule, wc, attempt)
    return values._replace(threads=threads, resources=resources)


def _attempt_values(rule: Rule, wc: Mapping[str, str], attempt: int
                    ) -> tuple[int, Mapping[str, object]]:
    threads = rule.threads
    if isinstance(threads, Lazy):
        value = threads(wildcards=wc, attempt=attempt)[0][1]
        check_int(value, "threads", 0, rule.directive_pos["threads"])  # 0: needs no core
        threads = cast(int, value)
    resources = rule.resources
    if isinstance(resources, Lazy):
        # Every argument of 'resources:' is a keyword: the rule builder checked.
        resources = cast("dict[str, object]", dict(resources(wildcards=wc, attempt=attempt, threads=threads)))
        for key, value in resources.items():
            check_resource(key, value, rule.directive_pos["resources"])
    return threads, resources


def _format_items(items: Sequence[FileItem], wildcards: Mapping[str, str],
                  empty: tuple[str, ...] = ()) -> Items:
    return Items(tuple([i.pattern.fmt.format_map(wildcards) if i.pattern.wildcards else i.pattern.text
                        for i in items]), tuple([i.name for i in items]), empty)


def _job_files(rule: Rule, spec: tuple[FileItem, ...] | Lazy, directive: str, wc: Mapping[str, str],
               flags: dict[str, frozenset[str]], checkpoints: Checkpoints) -> Items:
    if not isinstance(spec, Lazy):
        items = _format_items(spec, wc, rule.empty_names.get(directive, ()))
        for item, path in zip(spec, items.values):
            if item.flags:
                flags[path] = item.flags
        return items
    return _lazy_files(rule, spec, directive, wc, flags, checkpoints)


def lazy_inputs(rule: Rule, inputs: Lazy, wildcards: Mapping[str, str],
                flags: dict[str, frozenset[str]], checkpoints: Checkpoints | None = None) -> Items:
    """The inputs of one job of a rule whose 'input:' is evaluated per job (`inputs`, the
    rule's), as job_values gives them; the flags of flagged ones are added to `flags`."""
    return _lazy_files(rule, inputs, "input", Record(wildcards, "wildcards"), flags,
                       checkpoints if checkpoints is not None else Checkpoints())


def _lazy_files(rule: Rule, spec: Lazy, directive: str, wc: Mapping[str, str],
                flags: dict[str, frozenset[str]], checkpoints: Checkpoints) -> Items:
    values, names, empty = [], [], []
    for name, value in unpacked(spec(wildcards=wc, checkpoints=checkpoints), spec.pos):
        files = flatten_files(value, spec.pos, directive)
        if not files and name is not None:
            empty.append(name)  # a name given an empty list: still a name
        for path, item_flags in files:
            try:
                if "{" in path or "}" in path:
                    path = parse_pattern(path).format(wc)
            except (PatternError, KeyError) as exc:
                raise FlowfileError(f"{directive} of rule '{rule.name}': cannot fill {path!r} "
                                    f"({exc})", spec.pos) from None
            values.append(path)
            names.append(name)
            if item_flags:
                flags[path] = item_flags
    return Items(tuple(values), tuple(names), tuple(empty))


def command_outputs(values: JobValues) -> Items:
    """The outputs a job's command is given ({output}, a script's outputs): all but its
    benchmark file, which fileflow writes."""
    flags = values.flags
    if not flags or not any(BENCHMARK in f for f in flags.values()):
        return values.outputs
    outputs = values.outputs
    kept = [i for i, path in enumerate(outputs.values) if BENCHMARK not in flags.get(path, ())]
    return Items(tuple(outputs.values[i] for i in kept), tuple(outputs.names[i] for i in kept))


def benchmark_file(values: JobValues) -> tuple[str, int] | None:
    """The job's benchmark file and how many times the job runs, if it has one."""
    for path, flags in values.flags.items():
        if BENCHMARK in flags:
            times = [int(f[len(REPEAT):]) for f in flags if f.startswith(REPEAT)]
            return path, times[0] if times else 1
    return None
