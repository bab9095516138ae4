"""Job graph (+ plan) -> what the graph commands show: nodes with a state, and the edges
between them, at the level of jobs, rules or files. Pure data, no I/O. Layer 4.

Built for 100,000-job graphs: one small tuple per node, edges as pairs of ints, and the
rules level never looks at a job more than once.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from fileflow.engine.graph import Graph

__all__ = ["UP_TO_DATE", "WILL_RUN", "FAILED", "SOURCE", "WAITING", "STATES", "LEVELS", "Node", "View",
           "jobs_view", "rules_view", "files_view", "collapse_by_rule", "failed_jobs", "EXAMPLES"]

UP_TO_DATE = "up to date"
WILL_RUN = "will run"
FAILED = "failed last time"     # will run again; its last attempt failed
SOURCE = "source"               # a file no rule makes
WAITING = "after a checkpoint"  # decided once a checkpoint job has run
STATES = (UP_TO_DATE, WILL_RUN, FAILED, SOURCE, WAITING)
LEVELS = ("jobs", "rules", "files")
EXAMPLES = 3                    # job names kept per rule for summaries


class Node(NamedTuple):
    name: str                                  # job name, rule name or path
    kind: str                                  # "job", "rule", "file" or "source"
    rule: str = ""                             # its rule ("" for a source file)
    state: str = ""                            # one of STATES; "" when not worked out
    reasons: tuple[str, ...] = ()              # why it runs (jobs; a rule's first example)
    wildcards: Mapping[str, str] = {}
    outputs: tuple[str, ...] = ()
    jobs: int = 1                              # rules: how many jobs
    running: int = 0                           # rules: how many of them run
    examples: tuple[str, ...] = ()             # rules: the first few job names
    checkpoint: bool = False                   # a job or rule written `checkpoint NAME:`


@dataclass(slots=True)
class View:
    level: str
    nodes: list[Node]
    edges: list[tuple[int, int]]               # (a, b): data flows from a to b
    roots: list[int] = field(default_factory=list)   # what the build was asked for
    total_jobs: int = 0                        # jobs in the whole graph

    def feeders(self) -> list[list[int]]:
        """node -> the nodes that feed it, in edge order."""
        out: list[list[int]] = [[] for _ in self.nodes]
        for a, b in self.edges:
            out[b].append(a)
        return out


def failed_jobs(plan, failed_run_ids: Collection[int]) -> set[int]:
    """Graph job ids whose outputs were last left incomplete by a run-log job that failed."""
    if not failed_run_ids:
        return set()
    recorded = plan.recorded
    out = set()
    for job_id in plan.reasons:
        for path in plan.graph.jobs[job_id].outputs:
            rec = recorded.get(path)
            if rec is not None and not rec.complete and rec.job_id in failed_run_ids:
                out.add(job_id)
                break
    return out


def _job_state(job_id: int, plan, failed: Collection[int]) -> str:
    if plan is None:
        return ""
    if job_id in plan.held:
        return WAITING
    if job_id not in plan.reasons:
        return UP_TO_DATE
    return FAILED if job_id in failed else WILL_RUN


def jobs_view(graph: Graph, plan=None, failed: Collection[int] = (),
              only_running: bool = False) -> View:
    """One node per job (only the jobs that run, with only_running)."""
    jobs = graph.jobs
    reasons = plan.reasons if plan is not None else {}
    chosen: Sequence[int]
    if only_running:
        chosen = [j for j in plan.order if j in reasons]
    else:
        chosen = range(len(jobs))
    index = {j: i for i, j in enumerate(chosen)} if only_running else None
    nodes = []
    for j in chosen:
        job = jobs[j]
        why = reasons.get(j)
        nodes.append(Node(job.name, "job", job.rule.name, _job_state(j, plan, failed),
                          tuple(str(r) for r in why) if why else (), job.wildcards, job.outputs,
                          checkpoint=job.rule.checkpoint))
    edges = []
    for j in chosen:
        for d in graph.deps[j]:
            if index is None:
                edges.append((d, j))
            elif d in index:
                edges.append((index[d], index[j]))
    if index is None:
        roots = list(graph.targets)
    else:
        # The running jobs that feed no running job: the tops of what would run.
        fed = {a for a, _ in edges}
        roots = [i for i in range(len(nodes)) if i not in fed]
    return View("jobs", nodes, edges, roots, len(jobs))


def rules_view(graph: Graph, plan=None, failed: Collection[int] = ()) -> View:
    """One node per rule that has jobs, with counts; an edge where a job of one feeds a
    job of the other."""
    jobs = graph.jobs
    reasons = plan.reasons if plan is not None else {}
    slot: dict[str, int] = {}
    counts: list[list] = []      # [rule, jobs, running, failed, examples, first reasons]
    job_slot = []
    for job in jobs:
        name = job.rule.name
        i = slot.get(name)
        if i is None:
            i = slot[name] = len(counts)
            counts.append([job.rule, 0, 0, 0, [], ()])
        c = counts[i]
        c[1] += 1
        why = reasons.get(job.id)
        if why:
            c[2] += 1
            if job.id in failed:
                c[3] += 1
            if not c[5]:
                c[5] = tuple(str(r) for r in why)
        if len(c[4]) < EXAMPLES:
            c[4].append(job.name)
        job_slot.append(i)
    # Rules in definition order, so the output does not depend on resolution order.
    order = sorted(range(len(counts)), key=lambda i: counts[i][0].index)
    renumber = {old: new for new, old in enumerate(order)}
    nodes = []
    for old in order:
        rule, n, running, n_failed, examples, why = counts[old]
        state = "" if plan is None else (FAILED if n_failed else WILL_RUN if running else UP_TO_DATE)
        nodes.append(Node(rule.name, "rule", rule.name, state, why, {}, (), n, running,
                          tuple(examples), rule.checkpoint))
    edges: dict[tuple[int, int], None] = {}
    for j, deps in enumerate(graph.deps):
        b = renumber[job_slot[j]]
        for d in deps:
            a = renumber[job_slot[d]]
            if a != b:
                edges[(a, b)] = None
    roots = list(dict.fromkeys(renumber[job_slot[t]] for t in graph.targets))
    return View("rules", nodes, list(edges), roots, len(jobs))


def files_view(graph: Graph, plan=None, failed: Collection[int] = ()) -> View:
    """One node per file (sources and outputs); an edge from each input of a job to each
    of its outputs."""
    jobs = graph.jobs
    index: dict[str, int] = {}
    nodes: list[Node] = []

    def node_of(path: str) -> int:
        i = index.get(path)
        if i is None:
            i = index[path] = len(nodes)
            producer = graph.producer.get(path)
            if producer is None:
                nodes.append(Node(path, "source", "", SOURCE))
            else:
                job = jobs[producer]
                why = plan.reasons.get(producer) if plan is not None else None
                nodes.append(Node(path, "file", job.rule.name, _job_state(producer, plan, failed),
                                  tuple(str(r) for r in why) if why else (), job.wildcards))
        return i

    edges: dict[tuple[int, int], None] = {}
    order = plan.order if plan is not None else graph.topological_order()
    for j in order:
        job = jobs[j]
        outs = [node_of(p) for p in job.outputs]
        for path in job.inputs:
            a = node_of(path)
            for b in outs:
                edges[(a, b)] = None
    roots = [index[p] for t in graph.targets for p in jobs[t].outputs if p in index]
    roots += [index[p] for p in graph.target_paths if p in index]
    if not roots:  # targets without outputs (rule all): their inputs are what was asked for
        roots = [index[p] for t in graph.targets for p in jobs[t].inputs if p in index]
    return View("files", nodes, list(edges), list(dict.fromkeys(roots)), len(jobs))


def collapse_by_rule(view: View) -> View:
    """A jobs or files view with one node per rule (sources together): how a graph too
    large to show node by node is summarised."""
    slot: dict[str, int] = {}
    groups: list[list] = []      # [rule, count, running, failed, examples, first reasons]
    node_slot = []
    checkpoints = {node.rule for node in view.nodes if node.checkpoint}
    for node in view.nodes:
        key = node.rule
        i = slot.get(key)
        if i is None:
            i = slot[key] = len(groups)
            groups.append([key, 0, 0, 0, [], ()])
        g = groups[i]
        g[1] += 1
        if node.state in (WILL_RUN, FAILED):
            g[2] += 1
            g[3] += node.state == FAILED
            if not g[5]:
                g[5] = node.reasons
        if len(g[4]) < EXAMPLES:
            g[4].append(node.name)
        node_slot.append(i)
    planned = any(node.state and node.kind != "source" for node in view.nodes)
    nodes = []
    for rule, n, running, n_failed, examples, why in groups:
        state = (SOURCE if not rule else "" if not planned else FAILED if n_failed
                 else WILL_RUN if running else UP_TO_DATE)
        nodes.append(Node(rule or "(source files)", "rule" if rule else "source", rule, state,
                          why, {}, (), n, running, tuple(examples), rule in checkpoints))
    edges = list(dict.fromkeys((node_slot[a], node_slot[b]) for a, b in view.edges
                               if node_slot[a] != node_slot[b]))
    roots = list(dict.fromkeys(node_slot[r] for r in view.roots))
    return View(view.level, nodes, edges, roots, view.total_jobs)
