"""Leaving the no-op shortcut (fileflow.run.noop_cache) for the next build: after a build
that found nothing to do, and after one that ran all it planned. Layer 5.
"""
from __future__ import annotations

import os

__all__ = ["save_after_noop", "only_settled_again", "save_after_build"]


def _observed(plan, graph) -> dict:
    """What the plan observed, sources first (a later build checks them before the
    outputs, and users edit sources); temp() outputs taken from their record left out."""
    virtual, made = plan.virtual_temp, graph.producer
    observed = {p: st for p, st in plan.observed.items() if p not in made}
    observed.update((p, st) for p, st in plan.observed.items() if p in made and p not in virtual)
    return observed


def save_after_noop(key, clock, runlog_before, workflow, graph, plan, options,
                    runlog_clock=None) -> bool:
    """After a decision of "nothing to do": every path as the plan observed it."""
    from fileflow.run.noop_cache import save

    observed = _observed(plan, graph)
    fresh = [*plan.virtual_temp, *(p for p in graph.sources if p not in observed)]
    return save(key, len(graph), observed, fresh, workflow.flowfiles, workflow.read_files,
                options.configfiles, runlog_before, clock, runlog_clock, workflow.listed_dirs)


def only_settled_again(plan) -> bool:
    """Every file the plan offers for recording has the content and stat its record says:
    hashed only because that record was taken within a timestamp tick of the file's last
    change (fileflow.state.vouches). Recording them changes no decision."""
    recorded = plan.recorded
    return all((r := recorded.get(st.path)) is not None and r.digest == st.digest
               and st.same_stat(r.size, r.mtime_ns, r.ctime_ns) and st.link == r.link
               for st in plan.fresh_states)


def _runs_again(graph, plan) -> bool:
    """Whether the next plan runs a job whatever its files say: a target with a command
    and no outputs to check, or the job of a log that another job or a target needs and
    that is missing (fileflow.engine.plan)."""
    jobs, observed = graph.jobs, plan.observed
    return (any(not jobs[t].outputs and jobs[t].rule.action is not None for t in graph.targets)
            or any((st := observed.get(p)) is None or not st.exists for p in graph.needed_logs))


def save_after_build(key, clock, workflow, graph, plan, options, runlog, store) -> dict:
    """After a build that ran, in one round, all it planned (none failed, no forcing: the
    conditions under which the plan state is kept): the next build finds nothing to do
    unless something changed, so it may say so from the shortcut. The plan's observations
    are, by then, what the build knows of each path: an output its job wrote as that job's
    record holds it (the scheduler observes it for the record), a source as observed or as
    hashed before a job read it, anything else as the plan saw it. Saved only when no one
    else wrote the run log during the build, every output the build wrote shows that state
    still (not one a later job changed in place), and such a state recorded within a
    timestamp tick of its file's last change hashes to the digest recorded (a file edited
    meanwhile that the build did not write shows a newer ctime than the one saved); the
    run log's state is taken after the build's last write (`runlog`, closed here). `clock` is
    the file system's clock read before the graph was loaded: what the graph was made from
    must be older. Returns the outputs the build wrote as found then (state and digest,
    settled), when every one still showed its record's state (whether or not the cache was
    written then); else {}."""
    from fileflow.run.noop_cache import as_observed, runlog_settled, save

    if key is None or plan.warnings or plan.held or graph.waiting or _runs_again(graph, plan):
        return {}
    if runlog.others_wrote():
        return {}
    runlog.close()  # closing the last connection may write the run log again
    settled = runlog_settled(key, store)
    if settled is None:
        return {}
    runlog_now, runlog_clock = settled
    observed = _observed(plan, graph)
    if "://" in "\x00".join(observed):  # one scan in C
        return {}  # a remote file: only its own store can tell whether it changed
    jobs = graph.jobs
    made = {p for j in plan.reasons for p in jobs[j].outputs}
    # temp() outputs the build deleted once their consumers had run: the next plan takes
    # them from their records, as any deleted temp() output; watched as missing.
    removed = [p for j in plan.reasons if jobs[j].values.flags for p in jobs[j].flagged("temp")
               if not os.path.lexists(p)]
    for path in removed:
        observed.pop(path, None)
    # Only what the build wrote is looked at again: any other path must be a tick older
    # than `clock` (save checks it), so a write to it since shows a newer ctime anyway.
    written = as_observed({p: observed[p] for p in made if p in observed}, store)
    if written is None:
        return {}
    if _record_settled(observed, written, runlog, store):  # the run log written again
        settled = runlog_settled(key, store)
        if settled is None:
            return written
        runlog_now, runlog_clock = settled
    fresh = [*plan.virtual_temp, *removed, *(p for p in graph.sources if p not in observed)]
    save(key, len(graph), observed, fresh, workflow.flowfiles, workflow.read_files,
         options.configfiles, runlog_now, clock, runlog_clock, workflow.listed_dirs, made)
    return written


def _record_settled(observed, written, runlog, store) -> bool:
    """Record the outputs whose records were taken within a timestamp tick of their writing
    as found now (settled; the same content, `as_observed` checked it), as a later planned
    build would: no plan then hashes them again. Returns whether it wrote the run log
    (closed again here)."""
    from fileflow.state import settled

    granularity = store.granularity_ns
    young = [found for path, found in written.items() if found.exists and (
        (was := observed[path]).seen_ns < 0
        or not settled(was.mtime_ns, was.ctime_ns, was.seen_ns, granularity))]
    if not young:
        return False
    runlog.record_files(young)
    runlog.close()  # closing the last connection may write the run log again
    return True
