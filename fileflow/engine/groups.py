"""Group jobs (`group:`, `--groups`, `--group-components`): which jobs of a build run
together as one cluster job, and what that cluster job asks for. Pure. Layer 2.

A group is made of the jobs to run whose rules name the same group (the name filled in
with each job's wildcards) and that are connected by their own edges: a connected
component. `--group-components NAME=N` puts up to N such components into one group.
A group whose jobs are connected through a job outside it (or whose merged components
depend on each other through other jobs) cannot run as one piece: it would wait for
itself. Such groups are dissolved, and their jobs run one cluster job each.

A group's request follows Snakemake's: its jobs are put in layers by their depth within
the group; the jobs of one layer may run side by side, so their threads and resources
are summed (runtime: the longest); layers run one after the other, so the group needs the
largest layer (runtime: the sum of the layers). A layer that would need more threads
than the group may have (`--group-cores`) or more of a resource than `--resources`
allows is cut into several layers that run one after the other.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from fileflow.errors import FileflowError

__all__ = ["Grouping", "GroupMember", "GroupRequest", "group_name", "make_groups",
           "group_request", "TIME_KEYS", "MAXED_KEYS"]

TIME_KEYS = frozenset({"runtime"})                            # minutes: summed over layers
MAXED_KEYS = frozenset({"mem_mb_per_cpu", "nodes"})           # never summed


@dataclass(frozen=True, slots=True)
class Grouping:
    """The groups of one build: each group's name and its jobs, in the plan's order."""
    names: tuple[str, ...] = ()
    members: tuple[tuple[int, ...], ...] = ()
    group_of: Mapping[int, int] = field(default_factory=dict)   # job id -> group index

    def __bool__(self) -> bool:
        return bool(self.members)


@dataclass(frozen=True, slots=True)
class GroupMember:
    """What a member of a group asks for, and the members (indices in the group's list)
    it waits for."""
    threads: int
    resources: Mapping[str, object]
    after: tuple[int, ...] = ()
    timeout: float = 0.0   # seconds; its runtime when resources give none


@dataclass(frozen=True, slots=True)
class GroupRequest:
    threads: int
    resources: Mapping[str, object]
    layers: int


def group_name(declared: str, wildcards: Mapping[str, str]) -> str:
    """A job's group: the rule's group name with `{wildcard}` filled in."""
    if "{" not in declared:
        return declared
    try:
        return declared.format_map(wildcards)
    except (KeyError, ValueError, IndexError) as exc:
        raise FileflowError(f"group name {declared!r}: cannot fill it in with the job's "
                            f"wildcards {dict(wildcards)!r} ({exc})") from None


def make_groups(jobs: Sequence, deps: Sequence[Sequence[int]], order: Sequence[int],
                to_run: Collection[int], components: Mapping[str, int]) -> Grouping:
    """The groups of the jobs `to_run`. `jobs[i].rule.group` is the declared group ('' for
    none); `order` is topological. Jobs of local rules and jobs without an action stay
    out of every group; a group of one job is no group."""
    named: dict[int, str] = {}
    declared: dict[str, str] = {}
    for j in order:
        job = jobs[j]
        rule = job.rule
        if j in to_run and rule.group and not rule.local and rule.action is not None:
            named[j] = group_name(rule.group, job.wildcards)
            declared.setdefault(named[j], rule.group)
    parent = {j: j for j in named}

    def root(j: int) -> int:
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = parent[j]
        return j

    for j, name in named.items():
        for d in deps[j]:
            if named.get(d) == name:
                a, b = root(j), root(d)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    comps: dict[int, list[int]] = {}
    for j in named:  # `named` is in the plan's order: each component's members are too
        comps.setdefault(root(j), []).append(j)
    batches: dict[str, list[list[int]]] = {}
    for members in comps.values():
        name = named[members[0]]
        size = components.get(name, components.get(declared[name], 1))
        runs = batches.setdefault(name, [])
        if runs and runs[-1][0] < size:
            runs[-1][0] += 1
            runs[-1].extend(members)
        else:
            runs.append([1, *members])
    groups = [(name, sorted(run[1:], key=_position(order)))
              for name, runs in batches.items() for run in runs if len(run) > 2]
    groups = _acyclic(groups, deps, order, to_run)
    group_of = {j: g for g, (_, members) in enumerate(groups) for j in members}
    return Grouping(tuple(n for n, _ in groups), tuple(tuple(m) for _, m in groups), group_of)


def _position(order: Sequence[int]):
    position = {j: i for i, j in enumerate(order)}
    return position.__getitem__


def _acyclic(groups: list[tuple[str, list[int]]], deps: Sequence[Sequence[int]],
             order: Sequence[int], to_run: Collection[int]) -> list[tuple[str, list[int]]]:
    """The groups that can run as one piece: each group taken as one node, the jobs to run
    must still form a graph without cycles (Kahn's algorithm). Groups left over (on a cycle,
    or after one) are dissolved into their jobs; what remains has no cycle, since every
    group kept had all its predecessors taken before it."""
    node = {j: j for j in to_run}
    for g, (_, members) in enumerate(groups):
        for j in members:
            node[j] = -1 - g
    preds: dict[int, set[int]] = {}
    for j in order:
        if j not in to_run:
            continue
        n = node[j]
        mine = preds.setdefault(n, set())
        mine.update(node[d] for d in deps[j] if d in node and node[d] != n)
    succs: dict[int, list[int]] = {}
    for n, ps in preds.items():
        for p in ps:
            succs.setdefault(p, []).append(n)
    left = {n: len(ps) for n, ps in preds.items()}
    queue = [n for n, count in left.items() if count == 0]
    while queue:
        n = queue.pop()
        for s in succs.get(n, ()):
            left[s] -= 1
            if left[s] == 0:
                queue.append(s)
    stuck = {-1 - n for n, count in left.items() if count and n < 0}
    return [group for g, group in enumerate(groups) if g not in stuck]


# ---------------------------------------------------------------- the group's request

def group_request(members: Sequence[GroupMember], max_threads: int = 0,
                  limits: Mapping[str, float] | None = None, what: str = "group") -> GroupRequest:
    """What one cluster job running these members needs (see the module's docstring)."""
    limits = limits or {}
    depth: list[int] = []
    for m in members:
        depth.append(1 + max((depth[a] for a in m.after if a < len(depth)), default=-1))
    levels: dict[int, list[GroupMember]] = {}
    for m, d in zip(members, depth):
        levels.setdefault(d, []).append(m)
    texts = _text_resources(members, what)
    timed = all(_minutes(m) is not None for m in members)
    threads, layers = 0, 0
    totals: dict[str, float] = {}
    for level in (levels[d] for d in sorted(levels)):
        for layer in _stacked(level, max_threads, limits):
            layers += 1
            layer_threads, layer_sums = _layer(layer)
            threads = max(threads, layer_threads)
            for key, value in layer_sums.items():
                if key in TIME_KEYS:
                    totals[key] = totals.get(key, 0) + value
                else:
                    totals[key] = max(totals.get(key, 0), value)
    if not timed:
        totals.pop("runtime", None)
    return GroupRequest(max(1, threads), {**texts, **totals}, layers)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _minutes(m: GroupMember) -> float | None:
    runtime = m.resources.get("runtime")
    if runtime not in (None, ""):
        return _number(runtime)
    return m.timeout / 60 if m.timeout > 0 else None


def _text_resources(members: Sequence[GroupMember], what: str) -> dict[str, object]:
    """Resources that are not numbers (a partition, extra flags): one value for the whole
    group, so every member must agree (or leave it unset)."""
    found: dict[str, object] = {}
    for m in members:
        for key, value in m.resources.items():
            if value in (None, "") or _number(value) is not None:
                continue
            if key in found and found[key] != value:
                raise FileflowError(f"{what}: its jobs ask for different values of resource "
                                    f"{key!r} ({found[key]!r} and {value!r}); one cluster job "
                                    "can have only one")
            found[key] = value
    return found


def _layer(layer: Sequence[GroupMember]) -> tuple[int, dict[str, float]]:
    """The members of one layer side by side: threads and resources summed, runtime (and
    the per-CPU or per-node values) the largest."""
    threads = sum(max(1, m.threads) for m in layer)
    sums: dict[str, float] = {}
    for m in layer:
        minutes = _minutes(m)
        if minutes is not None:
            sums["runtime"] = max(sums.get("runtime", 0), minutes)
        for key, value in m.resources.items():
            number = _number(value)
            if number is None or key in TIME_KEYS:
                continue
            if key in MAXED_KEYS:
                sums[key] = max(sums.get(key, 0), number)
            else:
                sums[key] = sums.get(key, 0) + number
    return threads, sums


def _stacked(level: Sequence[GroupMember], max_threads: int,
             limits: Mapping[str, float]) -> list[list[GroupMember]]:
    """One level's members cut into layers that each fit the group's cores and the
    --resources limits (first fit, the largest first). A member larger than the limits
    alone gets a layer of its own."""
    if not max_threads and not limits:
        return [list(level)]
    layers: list[tuple[list[GroupMember], dict[str, float]]] = []
    for m in sorted(level, key=lambda m: -max(1, m.threads)):
        need = {key: float(n) for key in limits if (n := _number(m.resources.get(key, 0)))}
        need["threads"] = max(1, m.threads)
        for members, used in layers:
            if _fits(used, need, max_threads, limits):
                members.append(m)
                for key, n in need.items():
                    used[key] = used.get(key, 0) + n
                break
        else:
            layers.append(([m], dict(need)))
    return [members for members, _ in layers]


def _fits(used: Mapping[str, float], need: Mapping[str, float], max_threads: int,
          limits: Mapping[str, float]) -> bool:
    if max_threads and used.get("threads", 0) + need["threads"] > max_threads:
        return False
    return all(used.get(key, 0) + n <= limits[key] for key, n in need.items() if key in limits)
