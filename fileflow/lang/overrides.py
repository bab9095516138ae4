"""What the command line sets of the rules for one build: `--default-resources`,
`--set-resources`, `--set-threads`, `--groups`, and the cap of `threads` at the cores of a
local build. Layer 1.

They are applied to the rule model, as Snakemake applies them to its rules, so that every
job sees the values it runs with, wherever it runs: the local scheduler's core and
`--resources` accounting, a cluster's request, `{threads}` and `{resources.x}` in a command,
and `job.threads` in a script. Resources that read `threads` read the value after the cap.
A size set in any spelling (`mem`, `mem_mib`, `mem_mb`) replaces every spelling of it
below (fileflow.lang.units.layered): `--set-resources align:mem=16G` over a rule's
`mem = "8G"` gives `mem` 16G and `mem_mb` 16000, as in Snakemake.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import cast

from fileflow.errors import FileflowError
from fileflow.lang.model import Arguments, Lazy, Rule, Workflow, replaced
from fileflow.lang.units import layered

__all__ = ["RunOverrides", "with_overrides", "check_threads"]


@dataclasses.dataclass(frozen=True, slots=True)
class RunOverrides:
    default_resources: Mapping[str, object] = dataclasses.field(default_factory=dict)
    set_resources: Mapping[str, Mapping[str, object]] = dataclasses.field(default_factory=dict)
    set_threads: Mapping[str, object] = dataclasses.field(default_factory=dict)
    max_threads: int = 0   # the cores of a local build; 0: no cap (a cluster's nodes decide)
    groups: Mapping[str, str] = dataclasses.field(default_factory=dict)   # --groups RULE=GROUP

    def __bool__(self) -> bool:
        return bool(self.default_resources or self.set_resources or self.set_threads
                    or self.max_threads or self.groups)


def with_overrides(workflow: Workflow, overrides: RunOverrides) -> Workflow:
    """The workflow with the command line's threads and resources in its rules."""
    if not overrides:
        return workflow
    unknown = sorted(set(overrides.groups) - set(workflow.by_name))
    if unknown:
        raise FileflowError(f"--groups names no rule of this workflow: {', '.join(unknown)}")
    rules = tuple(_rule(rule, overrides) for rule in workflow.rules)
    return dataclasses.replace(workflow, rules=rules, by_name={r.name: r for r in rules})


def _rule(rule: Rule, overrides: RunOverrides) -> Rule:
    own = dict(overrides.set_resources.get(rule.name, {}))
    threads: int | Lazy = rule.threads
    if "threads" in own:
        threads = check_threads(own.pop("threads"), f"--set-resources {rule.name}:threads")
    if rule.name in overrides.set_threads:
        threads = check_threads(overrides.set_threads[rule.name], f"--set-threads {rule.name}")
    cap = overrides.max_threads
    if cap:
        threads = _capped(threads, cap)
    resources = rule.resources
    defaults = overrides.default_resources
    if defaults or own:
        if isinstance(resources, Lazy):
            resources = _merged_lazy(resources, defaults, own)
        else:
            resources = layered(layered(defaults, resources), own)
    group = overrides.groups.get(rule.name, rule.group)
    if threads is rule.threads and resources is rule.resources and group == rule.group:
        return rule
    return replaced(rule, threads=threads, resources=resources, group=group)


def check_threads(value: object, option: str) -> int:
    # 0 is a job that needs no core, as `threads: 0` in a rule
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FileflowError(f"{option}={value}: threads must be a whole number >= 0")
    return value


def _capped(threads: int | Lazy, cap: int) -> int | Lazy:
    """Threads above the cores are the cores (Snakemake's rule): the job sees the value it
    runs with."""
    if not isinstance(threads, Lazy):
        return min(threads, cap)
    inner = threads.fn

    def capped(scope: Mapping[str, object]) -> Arguments:
        out: Arguments = []
        for name, value in inner(scope):
            if isinstance(value, int) and not isinstance(value, bool) and value > cap:
                value = cap  # anything else is left for job_values to refuse
            out.append((name, value))
        return out

    return Lazy(capped, threads.scope, threads.pos)


def _merged_lazy(resources: Lazy, defaults: Mapping[str, object],
                 own: Mapping[str, object]) -> Lazy:
    """Per-job resources, with the defaults below and the rule's overrides above them."""
    inner = resources.fn

    def merged(scope: Mapping[str, object]) -> Arguments:
        values = cast("list[tuple[str, object]]", inner(scope))  # every one is a keyword
        return list(layered(layered(defaults, dict(values)), own).items())

    return Lazy(merged, resources.scope, resources.pos)
