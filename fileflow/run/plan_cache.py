"""What the last build's plan knew, kept in `.fileflow/plan-state` so that the next build
decides again only the jobs whose facts may have changed (fileflow.engine.incremental).
Layer 4.

Written at the end of a build that ran everything it planned (or found nothing to do),
for a kept graph (fileflow.run.graph_cache) and with no forcing, no `--rerun-triggers`,
no `--until`/`--omit-from`/`--batch`: the graph's token, the run log's generation after
the build's last write, how each rule signs its jobs, and the observed state of every
path the plan can vouch for: taken a whole timestamp tick after the path last changed
(fileflow.state.settled), and not written by a job of the build; with its content digest
where the plan knew it (or the plan before, for the same state), so that the next build
need not read its record. The jobs the build ran
are named dirty: the next plan decides them again whatever their paths say. The next
build uses it only for the same graph (the same token) and the same run log generation:
any other build's record of a job's outcome, or a graph resolved afresh, and every job is
decided. So the records need not be kept: they are the run log's, and the next build
reads only those of the jobs it decides again. (A file recorded again by another build
without a job, its stat and digest, changes no decision: it shows another state than
the one vouched for, or has the content recorded.) Deleting the file is always safe.
"""
from __future__ import annotations

import marshal
import os
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from fileflow.engine.incremental import Previous
from fileflow.engine.plan import rule_keys, state_key
from fileflow.fs import replace_file
from fileflow.state import settled

if TYPE_CHECKING:
    from fileflow.engine.plan import Plan
    from fileflow.state import FileState

__all__ = ["CACHE_PATH", "load", "save", "discard"]

CACHE_PATH = os.path.join(".fileflow", "plan-state")
FORMAT = 4


def load(origin: str, generation: int) -> Previous | None:
    """What the last plan of the kept graph `origin` knew, when the run log's generation
    is still `generation`; else None."""
    if not origin:
        return None
    try:
        with open(CACHE_PATH, "rb") as fh:
            form, token, saved_generation, keys, states, dirty, digests = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if (form != FORMAT or token != origin or saved_generation != generation
            or type(states) is not dict or type(digests) is not dict):
        return None
    return Previous(states, {}, keys, frozenset(dirty), digests)


def save(plan: Plan, generation: int, granularity_ns: int,
         written: Mapping[str, FileState] = MappingProxyType({})) -> bool:
    """Keep what `plan` knew once the build ran all it planned (`generation`: the run log's
    after the build's last write). `written`: outputs the build wrote, found after it with
    the state and digest of their records, settled (fileflow.cli.noop_saves): vouched for,
    so a job all of whose outputs are there is not decided again for having run. Returns
    whether it was written; never raises OSError."""
    graph = plan.graph
    if not graph.origin or plan.held or graph.waiting:
        discard()
        return False
    jobs = graph.jobs
    # A job with no outputs, or one whose outputs are not all vouched for, is decided again.
    dirty = sorted(j for j in plan.reasons if not jobs[j].outputs or not all(
        (w := written.get(p)) is not None and w.exists for p in jobs[j].outputs))
    gone = {p for j in dirty for p in jobs[j].outputs}
    gone.update(plan.virtual_temp)
    before = plan.previous or Previous({}, {}, {})
    seen = {**plan.observed, **written} if written else plan.observed
    if plan.decided is None:  # every path as this plan saw it
        states: dict[str, tuple] = {}
        digests: dict[str, str] = {}
        _vouch(seen, seen, gone, granularity_ns, before, (states, digests))
    else:  # the paths of the jobs not decided again show the state vouched for: kept
        states, digests = dict(before.states), dict(before.digests)
        decided, producer = plan.decided, graph.producer
        # Taken again: the paths of the jobs decided, but the outputs of jobs that were not
        # (an aggregate's thousands of inputs), which showed the state vouched for.
        looked = {p for j in decided
                  for p in (*jobs[j].inputs, *jobs[j].outputs, *jobs[j].values.log.values)
                  if producer.get(p, -1) in decided or p not in producer}
        looked.update(gone)
        for path in looked:
            states.pop(path, None)
            digests.pop(path, None)
        _vouch(seen, looked, gone, granularity_ns, before, (states, digests))
    try:
        data = marshal.dumps((FORMAT, graph.origin, generation, rule_keys(graph), states,
                              dirty, digests))
    except ValueError:  # a value marshal cannot write: nothing kept
        return False
    return replace_file(CACHE_PATH, data)


def _vouch(observed: Mapping[str, FileState], paths: Iterable[str], gone: set[str],
           granularity_ns: int, before: Previous,
           into: tuple[dict[str, tuple], dict[str, str]]) -> None:
    """The states (and digests) of these paths that can be vouched for, put `into` the
    plan state's tables: seen a whole timestamp tick after their last change, not written
    by a job of the build that is decided again (`gone`)."""
    states, digests = into
    known, vouched = before.digests, before.states
    for path in paths:
        st = observed.get(path)
        if st is None or path in gone:
            continue
        if st.exists and (st.seen_ns < 0  # seen at an unknown time: cannot vouch
                          or not settled(st.mtime_ns, st.ctime_ns, st.seen_ns, granularity_ns)):
            continue
        key = states[path] = state_key(st)
        digest = st.digest
        if digest is None and st.exists and vouched.get(path) == key:
            digest = known.get(path)  # the same state as then: the same content
        if digest is not None:
            digests[path] = digest


def discard() -> None:
    try:
        os.unlink(CACHE_PATH)
    except OSError:
        pass
