"""Growing a build's graph after checkpoint jobs ran, in time proportional to what is added:
the walk resumes where jobs waited (fileflow.engine.resolve.Resolution), and the plan is
extended with decisions for the jobs added and the jobs that were held, alone. Layer 2.

Every other job of the graph was decided before the round and has not changed since: the
ones that ran are up to date, the others were. A checkpoint job that ran again while jobs
had already read its outputs (graph.readers) changes what those jobs are: that case is not
an extension (`resumable` says no) and the build resolves and plans the whole graph again.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping

from fileflow.engine.graph import Graph
from fileflow.engine.plan import Plan, decide_each, hold_for_checkpoints, states_to_digest
from fileflow.engine.resolve import Resolution, walk
from fileflow.engine.store import FileStore
from fileflow.state import RecordedTarget, vouches

__all__ = ["resumable", "plain", "resume", "to_decide", "paths_of", "extend_plan"]


def resumable(plan: Plan, ran: Collection[int]) -> bool:
    """Whether the graph can grow from here: no checkpoint job that ran (`ran`) has jobs
    that read its outputs before it did."""
    readers = plan.graph.readers
    return not any(readers.get(j) for j in ran)


def plain(graph: Graph, job_ids: Collection[int]) -> bool:
    """No job among these has a temp() output: the record of one may stand in for a
    deleted file, which only the whole graph's decision weighs (`make_plan`)."""
    jobs = graph.jobs
    return not any(jobs[j].values.flags and jobs[j].flagged("temp") for j in job_ids)


def resume(state: Resolution) -> int:
    """Ask again for everything that waited for a checkpoint job, now that some have run,
    and walk on; the number of jobs added. What waits for a checkpoint still not complete
    waits again."""
    graph, oracle = state.graph, state.oracle
    before = len(graph.jobs)
    retries = oracle.retries
    graph.waiting, oracle.retries = [], []
    oracle.known = {name: done for name, done in oracle.known.items() if done}
    for retry in retries:
        state.retry(retry)
    walk(state)
    return len(graph.jobs) - before


def to_decide(plan: Plan, before: int, skip: Collection[int]) -> list[int]:
    """The jobs an extension decides: those added since the graph had `before` jobs and
    those the plan held, less `skip` (jobs that failed, and those below them)."""
    graph = plan.graph
    wanted = set(range(before, len(graph.jobs))) | plan.held
    return sorted(wanted.difference(skip))


def paths_of(graph: Graph, job_ids: list[int]) -> list[str]:
    """Every path whose record the decision of these jobs may read: outputs, logs, and the
    inputs of jobs with outputs (a job without, such as `all`, compares no input with a
    record: the inputs of one that gathers the whole graph are not read)."""
    jobs = graph.jobs
    found: dict[str, None] = {}
    for j in job_ids:
        values = jobs[j].values
        found.update(dict.fromkeys(values.outputs.values))
        found.update(dict.fromkeys(values.log.values))
        if values.outputs.values:
            found.update(dict.fromkeys(values.inputs.values))
    return list(found)


def extend_plan(plan: Plan, job_ids: list[int], store: FileStore,
                recorded: Mapping[str, RecordedTarget]) -> Plan:
    """A plan of the jobs `job_ids` alone (`to_decide`), decided as `make_plan` decides
    them, against `recorded` (the run log's records of `paths_of` them) and the files as
    they are now; every other job of the graph counts as done."""
    graph = plan.graph
    jobs = graph.jobs
    order = _order(graph, job_ids)
    records = dict(plan.recorded)
    records.update(recorded)
    new = Plan(graph, order, {}, {}, records, force=plan.force, local_view=plan.local_view,
               triggers=plan.triggers)
    observed = new.observed
    observed.update(store.stat_many(
        {p: None for j in order for p in (*jobs[j].outputs, *jobs[j].values.log.values)}))
    observed.update(store.stat_many([p for p in graph.needed_logs if p not in observed]))
    looked_at = [j for j in order
                 if any(observed[p].exists or p in records for p in jobs[j].outputs)]
    observed.update(store.stat_many({p: None for j in looked_at for p in jobs[j].inputs
                                     if p not in observed}))
    has_record = {j: any((r := records.get(o)) is not None and r.complete
                         for o in jobs[j].outputs) for j in order}
    granularity = store.granularity_ns
    with_record = [j for j in order if has_record[j]]
    want = states_to_digest([jobs[j] for j in with_record], [True] * len(with_record),
                            observed, records, granularity)
    digested = store.with_digests(want, records)
    new.fresh_states = [st for p, st in digested.items()
                        if (r := records.get(p)) is None or r.digest != st.digest
                        or not vouches(r, st, granularity)]
    observed.update(digested)
    decide_each(new, has_record, plan.force, granularity)
    if graph.waiting or graph.readers:
        hold_for_checkpoints(new)
    return new


def _order(graph: Graph, job_ids: list[int]) -> list[int]:
    """The jobs in topological order among themselves; a cycle is raised as the whole
    graph's order raises it."""
    chosen = set(job_ids)
    deps, dependents = graph.deps, graph.dependents
    indegree = {j: sum(1 for d in deps[j] if d in chosen) for j in job_ids}
    order = [j for j in job_ids if not indegree[j]]
    head = 0
    while head < len(order):
        job = order[head]
        head += 1
        for child in dependents[job]:
            if child in chosen:
                indegree[child] -= 1
                if not indegree[child]:
                    order.append(child)
    if len(order) != len(job_ids):
        graph.topological_order()  # raises CycleError naming the cycle
    return order
