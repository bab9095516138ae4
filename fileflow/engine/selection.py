"""Running part of a workflow: the job graph cut down to what `--until`, `--omit-from` and
`--batch` select (Snakemake's flags, same names and meaning). Layer 2; pure apart from the
`missing` callback that says which paths are not on disk.

- `--until RULE|FILE...`: the jobs of those rules, or that make those files, become the
  targets: they and the jobs they need run, nothing below them or beside them.
- `--omit-from RULE|FILE...`: those jobs and every job below them are left out; the rest of
  the graph (the jobs above them, and the other branches) stays.
- `--batch RULE=i/n`: each job of RULE sees only the i-th of n parts of its inputs (sorted,
  cut as evenly as possible, the last part taking what is left); only the jobs those inputs
  need run. Before the last part the jobs of RULE are left out as with `--omit-from`; in the
  last part they run, and their inputs of the earlier parts must be on disk already.

The selection is applied to the resolved graph (`select`), which gives a new, smaller graph:
planning, running and showing it need nothing else.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from fileflow.engine.graph import Graph, Job
from fileflow.errors import FileflowError

__all__ = ["Batch", "Selection", "parse_batch", "select"]

_BATCH = re.compile(r"([A-Za-z_]\w*)=(\d+)/(\d+)")


@dataclass(frozen=True, slots=True)
class Batch:
    """The `index`-th (from 1) of `count` parts of the inputs of each job of `rule`."""

    rule: str
    index: int
    count: int

    @property
    def final(self) -> bool:
        return self.index == self.count

    def part(self, items: Iterable[str]) -> list[str]:
        """This batch's part of `items`: sorted, cut into `count` parts whose sizes differ by
        at most one (the larger ones first); the last part runs to the end."""
        ordered = sorted(set(items))
        size, extra = divmod(len(ordered), self.count)
        i = self.index - 1
        start = i * size + min(i, extra)
        end = (i + 1) * size + min(i + 1, extra)
        return ordered[start:] if self.final else ordered[start:end]

    def __str__(self) -> str:
        return f"{self.rule}={self.index}/{self.count}"


def parse_batch(text: str) -> Batch:
    """`RULE=i/n` with 1 <= i <= n; a FileflowError (exit 2) saying what is wrong otherwise."""
    match = _BATCH.fullmatch(text.strip())
    if match is None:
        raise FileflowError(f"--batch expects RULE=i/n (such as gather=1/3), got {text!r}")
    rule, index, count = match.group(1), int(match.group(2)), int(match.group(3))
    if count < 1:
        raise FileflowError(f"--batch {text}: the number of batches must be at least 1")
    if not 1 <= index <= count:
        raise FileflowError(f"--batch {text}: the batch must be from 1 to {count}, got {index}")
    return Batch(rule, index, count)


@dataclass(frozen=True, slots=True)
class Selection:
    """What part of the graph a build runs: all of it when empty."""

    until: Sequence[str] = ()
    omit_from: Sequence[str] = ()
    batch: Batch | None = None

    def __bool__(self) -> bool:
        return bool(self.until or self.omit_from or self.batch)


def select(graph: Graph, selection: Selection, rules: Collection[str],
           missing: Callable[[list[str]], Collection[str]]) -> Graph:
    """The part of `graph` the selection keeps, as a new graph (jobs renumbered in their old
    order). `rules` are the workflow's rule names; raises FileflowError (exit 2) for a name
    that is neither a rule nor a file of the graph, or a rule without jobs in it."""
    if not selection:
        return graph
    until = _named_jobs(graph, selection.until, "--until", rules)
    omitted = _named_jobs(graph, selection.omit_from, "--omit-from", rules)
    cut: dict[int, set[int]] = {}          # consumer -> producers whose edge the batch cuts
    loose: list[str] = []                  # inputs of earlier batches: taken from disk
    if selection.batch is not None:
        batch_jobs = _batch_jobs(graph, selection.batch, rules)
        for job_id in batch_jobs:
            cut[job_id], outside = _cut_for_batch(graph, graph.jobs[job_id], selection.batch)
            loose.extend(outside)
        if not selection.batch.final:
            omitted.extend(batch_jobs)
    roots = until if selection.until else graph.targets
    live = _reachable(graph, roots, cut)
    gone = _downstream(graph, [j for j in omitted if j in live], live)
    live -= gone
    # As in Snakemake, the jobs a left-out job needed become targets themselves.
    roots = [*roots, *(d for j in sorted(gone) for d in graph.deps[j] if d in live)]
    if selection.batch is not None and selection.batch.final:
        # made by no job of this build (one another branch needs still runs): from disk
        loose = [p for p in dict.fromkeys(loose) if graph.producer[p] not in live]
        _check_earlier_batches(selection.batch, loose, missing)
    else:
        loose = []
    return _subgraph(graph, sorted(live), list(dict.fromkeys(roots)), bool(selection.until),
                     loose)


def _named_jobs(graph: Graph, names: Sequence[str], flag: str, rules: Collection[str]) -> list[int]:
    """The jobs of the named rules, or that make the named files (a name that is a rule's is
    taken as the rule, as Snakemake does)."""
    if not names:
        return []
    by_rule: dict[str, list[int]] = {}
    for job in graph.jobs:
        by_rule.setdefault(job.rule.name, []).append(job.id)
    found: list[int] = []
    for name in names:
        if name in rules:
            ids = by_rule.get(name)
            if not ids:
                raise FileflowError(f"{flag} {name}: no job of rule '{name}' is part of this build")
            found.extend(ids)
            continue
        producer = graph.producer.get(name if "://" in name else os.path.normpath(name))
        if producer is None:
            raise FileflowError(f"{flag} {name}: no rule has that name and no job of this "
                                "build makes that file")
        found.append(producer)
    return list(dict.fromkeys(found))


def _batch_jobs(graph: Graph, batch: Batch, rules: Collection[str]) -> list[int]:
    if batch.rule not in rules:
        raise FileflowError(f"--batch {batch}: no rule named '{batch.rule}'")
    ids = [job.id for job in graph.jobs if job.rule.name == batch.rule]
    if not ids:
        raise FileflowError(f"--batch {batch}: no job of rule '{batch.rule}' is part of this build")
    return ids


def _cut_for_batch(graph: Graph, job: Job, batch: Batch) -> tuple[set[int], list[str]]:
    """The producers of the job's inputs outside its part (their edges are cut), and those
    inputs."""
    inputs = set(job.inputs)
    if len(inputs) < batch.count:
        raise FileflowError(f"--batch {batch}: job {job.name} has {len(inputs)} input(s), "
                            f"fewer than {batch.count} batches; choose fewer batches")
    part = set(batch.part(inputs))
    outside = sorted(p for p in inputs - part if p in graph.producer)
    kept = {graph.producer[p] for p in part if p in graph.producer}
    return {graph.producer[p] for p in outside} - kept, outside


def _check_earlier_batches(batch: Batch, loose: list[str],
                           missing: Callable[[list[str]], Collection[str]]) -> None:
    """The last batch runs the rule's jobs: the inputs of the earlier batches must be there."""
    absent = missing(loose) if loose else ()
    if absent:
        first = next(p for p in loose if p in absent)
        more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
        raise FileflowError(f"--batch {batch}: the earlier batches are not all done: "
                            f"{first!r}{more} missing; run batches 1 to {batch.count - 1} "
                            "of it first")


def _reachable(graph: Graph, roots: Iterable[int], cut: dict[int, set[int]]) -> set[int]:
    """The roots and every job they need, not through the cut edges."""
    seen = set(roots)
    stack = list(seen)
    deps = graph.deps
    while stack:
        job_id = stack.pop()
        skip = cut.get(job_id, ())
        for dep in deps[job_id]:
            if dep not in seen and dep not in skip:
                seen.add(dep)
                stack.append(dep)
    return seen


def _downstream(graph: Graph, roots: list[int], within: set[int]) -> set[int]:
    """The roots and every job of `within` below them."""
    seen = set(roots)
    stack = list(roots)
    while stack:
        for child in graph.dependents[stack.pop()]:
            if child not in seen and child in within:
                seen.add(child)
                stack.append(child)
    return seen


def _subgraph(graph: Graph, keep: list[int], targets: list[int], until: bool,
              loose: list[str]) -> Graph:
    """A new graph of the kept jobs (renumbered), with their edges, producers, targets, logs
    and temp bookkeeping. An output that a left-out job reads is kept (not a temp file to
    delete); the inputs of earlier batches become sources."""
    new_id = {old: new for new, old in enumerate(keep)}
    out = Graph()
    for old in keep:
        job = graph.jobs[old]
        out.add_job(Job(new_id[old], job.rule, job.wildcards, job.values, job.name))
    for old in keep:
        for dep in graph.deps[old]:
            if dep in new_id:
                out.add_edge(new_id[dep], new_id[old])
    out.producer = {p: new_id[j] for p, j in graph.producer.items() if j in new_id}
    out.logs = {p for p in graph.logs if p in out.producer}
    out.needed_logs = {p for p in graph.needed_logs if p in out.producer}
    inputs = {p for job in out.jobs for p in job.inputs}
    out.sources = {p for p in graph.sources if p in inputs or p in graph.target_paths}
    out.sources.update(loose)
    out.kept_temp = {p for p in graph.kept_temp if p in out.producer}
    for old, job in enumerate(graph.jobs):
        if old not in new_id:
            out.kept_temp.update(p for p in job.inputs if p in out.producer)
    out.targets = [new_id[t] for t in targets if t in new_id]
    if until:  # the jobs asked for by --until keep their own temp outputs, as targets do
        out.keeps_own_temp = {new_id[t] for t in targets if t in new_id}
    else:
        out.target_paths = list(graph.target_paths)
        out.keeps_own_temp = {new_id[t] for t in graph.keeps_own_temp if t in new_id}
    return out
