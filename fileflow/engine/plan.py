"""Job graph + observed and recorded file states -> the plan: which jobs run, and why. Layer 2.

Observation is batched: every path of the graph is stat'ed once; only the inputs of jobs that
have a record to compare against are given digests, and the store hashes only those whose
stat differs from their record. The decision itself is `rebuild.decide`, job by job in
topological order, so a job knows whether its upstream jobs run.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, itemgetter

from fileflow.engine.command import (
    code_digest,
    job_signature,
    render_command,
    signature_parts,
    signed_template,
)
from fileflow.engine.graph import Graph, Job
from fileflow.engine.incremental import Previous, replan, stale_jobs
from fileflow.engine.staleness import (
    ALL_TRIGGERS,
    CONTENT_KINDS,
    KIND_FORCED,
    KIND_INPUT_CHANGED,
    KIND_MISSING_OUTPUT,
    KIND_NO_OUTPUT,
    KIND_TEMP_NEEDED,
    KIND_UPSTREAM,
    JobFacts,
    Reason,
    decide,
)
from fileflow.engine.store import FileStore
from fileflow.state import FileState, RecordedTarget, vouches
from fileflow.template import Template

__all__ = ["Force", "Plan", "make_plan", "job_facts", "protected_in_the_way", "hold_for_checkpoints",
           "states_to_digest", "decide_each", "rule_keys", "state_key"]


@dataclass(frozen=True, slots=True)
class Force:
    """What the user forced: everything (-F), some rules (-R), or the jobs of some targets."""

    all: bool = False
    rules: frozenset[str] = frozenset()
    targets: frozenset[str] = frozenset()
    # Jobs this build has run already (before its graph grew after checkpoints): forced once.
    ran: frozenset[str] = frozenset()

    def why(self, job: Job) -> str | None:
        if self.ran and job.name in self.ran:
            return None
        if self.all:
            return "-F/--forceall"
        if job.rule.name in self.rules:
            return f"-R {job.rule.name}"
        if self.targets and ({os.path.normpath(p) for p in job.outputs} & self.targets or
                             (job.rule.name in self.targets and not job.wildcards)):
            return "--force"
        return None


@dataclass(slots=True)
class Plan:
    graph: Graph
    order: list[int]                                   # topological
    reasons: dict[int, tuple[Reason, ...]]             # the jobs that run
    observed: dict[str, FileState]
    recorded: Mapping[str, RecordedTarget]
    fresh_states: list[FileState] = field(default_factory=list)  # hashed now: worth recording
    virtual_temp: set[str] = field(default_factory=set)          # temp outputs taken from the record
    force: Force = field(default_factory=Force)
    warnings: list[str] = field(default_factory=list)
    # The job as its command sees it: remote paths replaced by their local staged copies
    # (fileflow.remote.staging); None when the graph has no remote path.
    local_view: Callable[[Job], Job] | None = None
    triggers: frozenset[str] = ALL_TRIGGERS           # --rerun-triggers (staleness.TRIGGERS)
    # Jobs that wait for a checkpoint job to run (graph.waiting, graph.readers): not run,
    # nor counted, until the graph is resolved again after it.
    held: set[int] = field(default_factory=set)
    # What an earlier plan of the graph knew (fileflow.engine.incremental), when this one
    # was made from it.
    previous: Previous | None = None
    # With `previous`: the jobs that may have been decided again (the stale ones and those
    # below them); every other job kept its decision, and its paths their vouched state.
    decided: set[int] | None = None
    _commands: dict[int, str] = field(default_factory=dict)
    _signatures: dict[int, str] = field(default_factory=dict)
    _signed: dict[str, Template | None] = field(default_factory=dict)  # rule -> signed_template
    _codes: dict[str, str] = field(default_factory=dict)               # rule -> code_digest

    def command(self, job_id: int) -> str:
        """The job's command at attempt 1, rendered on first use (a dry run of jobs
        without records never renders one)."""
        found = self._commands.get(job_id)
        if found is None:
            job = self.graph.jobs[job_id]
            found = self._commands[job_id] = render_command(
                job if self.local_view is None else self.local_view(job))
        return found

    def signature(self, job_id: int) -> str:
        found = self._signatures.get(job_id)
        if found is None:
            job = self.graph.jobs[job_id]
            command = self.command(job_id)
            action = job.rule.action
            if action is not None and action.template is not None:
                name = job.rule.name
                if name not in self._signed:
                    self._signed[name] = signed_template(action.template)
                signed = self._signed[name]
                if signed is not None:  # the command reads threads or resources
                    command = render_command(
                        job if self.local_view is None else self.local_view(job), 1, signed)
            found = self._signatures[job_id] = job_signature(job, command)
        return found

    def parts(self, job_id: int) -> tuple[str, str]:
        """The signature's parts apart (code, params), recorded beside it."""
        job = self.graph.jobs[job_id]
        name = job.rule.name
        code = self._codes.get(name)
        if code is None:
            code = self._codes[name] = code_digest(job.rule)
        return signature_parts(job, code)

    def facts(self, job_id: int, signed: bool = True) -> JobFacts:
        """What the decision needs of a job; `signed`: with its signature (only a job with a
        record to compare it with needs it), and its parts when the triggers are not all."""
        job = self.graph.jobs[job_id]
        if not signed:
            return job_facts(job, "")
        if self.triggers is ALL_TRIGGERS:  # the parts matter only to fewer triggers
            return job_facts(job, self.signature(job_id))
        return job_facts(job, self.signature(job_id), self.parts(job_id))

    def decide_again(self, job: Job, ran: Collection[int], granularity_ns: int) -> tuple[Reason, ...]:
        """Once a job's upstream jobs are done, its decision made again: if their outputs
        came out identical, no reason may remain (early cutoff). `ran`: the jobs that ran."""
        reasons = self.reasons[job.id]
        if not job.outputs:  # nothing recorded to compare: run when an upstream job ran
            names = [self.graph.jobs[d].name for d in self.graph.deps[job.id] if d in ran]
            return tuple(r for r in reasons if r.kind != KIND_UPSTREAM or r.detail in names)
        triggers = self.triggers
        by_content = "content" in triggers
        fresh = decide(self.facts(job.id), self.observed, self.recorded,
                       forced=self.force.why(job), granularity_ns=granularity_ns,
                       triggers=triggers if by_content else triggers | {"content"})
        if not by_content:  # whatever the triggers, an input an upstream job remade counts
            made = self.graph.producer
            fresh = tuple(r for r in fresh if r.kind not in CONTENT_KINDS
                          or (r.kind == KIND_INPUT_CHANGED and r.path in made))
        return fresh

    def runs(self, job_id: int) -> bool:
        return job_id in self.reasons

    @property
    def to_run(self) -> list[int]:
        return list(filter(self.reasons.__contains__, self.order))  # in C: a million jobs


_NONE: frozenset[str] = frozenset()
_NO_OUTPUT = Reason(KIND_NO_OUTPUT)


def job_facts(job: Job, signature: str, parts: tuple[str, str] = ("", "")) -> JobFacts:
    values = job.values
    ancient = frozenset(job.flagged("ancient")) if values.flags else _NONE
    # tuple.__new__: a named tuple's own __new__ is a Python frame, and this runs per job
    return _new(JobFacts, (job.name, values.outputs.values, values.inputs.values, ancient,
                           signature, *parts))


_new = tuple.__new__
_EXISTS = attrgetter("exists")
_MTIME = attrgetter("mtime_ns")
_FLAGS = attrgetter("values.flags")


def _with_flags(jobs: Sequence[Job]) -> Iterator[Job]:
    """The jobs with a flagged path (temp, protected...), picked in C: most have none."""
    return compress(jobs, map(_FLAGS, jobs))

# What `Previous.states` compares of a path: its observed state (exists, size, mtime_ns,
# ctime_ns, link), taken in C. Its record is not compared: a previous plan is used only
# against the run log it was kept for (the same generation), whose records are the same.
state_key: Callable[[FileState], tuple] = itemgetter(1, 2, 3, 6, 7)


def make_plan(graph: Graph, store: FileStore, recorded: Mapping[str, RecordedTarget],
              force: Force = Force(),
              now_ns: int | None = None,
              local_view: Callable[[Job], Job] | None = None,
              triggers: frozenset[str] = ALL_TRIGGERS,
              previous: Previous | None = None,
              load_records: Callable[[Collection[str] | None],
                                     Mapping[str, RecordedTarget]] | None = None) -> Plan:
    """Decide every job. `plan.observed` holds every output, and the inputs of every job with
    an output on disk or on record (what decide and the digests look at); `triggers`: which
    kinds of change rerun a job (fileflow.engine.staleness.TRIGGERS). With `previous`, what
    an earlier plan of this graph knew, against the same records: only the jobs whose facts
    may have changed, and those below a changed decision, are decided again
    (fileflow.engine.incremental); the others keep their decision. With `previous` and
    `load_records` (the run log's records of some paths), `recorded` is not read: only the
    records of the paths of the jobs decided again are loaded, and `plan.recorded` holds
    those alone (the run log is the one `previous` was kept for: its records are the same)."""
    order = graph.topological_order()
    jobs = graph.jobs
    if now_ns is None:
        import time
        now_ns = time.time_ns()
    if previous is not None and load_records is not None:
        recorded = dict(load_records(_temp_outputs(graph)))
    plan = Plan(graph, order, {}, {}, recorded, force=force, local_view=local_view,
                triggers=triggers, previous=previous)

    # Outputs first: every one is needed. An input matters only to a job with an output on
    # disk (decide compares such a job's inputs with the record, or by Make's rule); a job
    # with every output missing runs whatever its inputs say, so a first build of 100,000
    # jobs stats no source at all.
    unread_logs = graph.logs - graph.needed_logs  # logs nothing reads: nothing to decide
    observed = store.stat_many([p for p in graph.producer if p not in unread_logs]
                               if unread_logs else graph.producer)
    plan.observed = observed

    _deleted_temp_as_recorded(graph, observed, recorded, plan.virtual_temp)

    # The jobs with an output on disk or on record (on a first build: none).
    producer = graph.producer
    looked_at = set(map(producer.__getitem__, compress(observed, map(_EXISTS, observed.values()))))
    looked_at.update(producer[p] for p in recorded.keys() & producer.keys())
    wanted = {p: None for j in sorted(looked_at) for p in jobs[j].inputs if p not in observed}
    observed.update(store.stat_many(wanted))

    # Digests (and signatures) are needed only where there is a record to compare with, and
    # with what an earlier plan knew, only for the jobs that may be decided again: the stale
    # ones and those below them.
    stale = _stale(plan, previous) if previous is not None else None
    decided = None if stale is None else graph.downstream_of(sorted(stale))
    plan.decided = decided
    if previous is not None and load_records is not None and decided:
        _observe_decided(plan, store, decided, previous, load_records)
    if not recorded:
        has_record = [False] * len(jobs)
    elif decided is None:
        has_record = [any((r := recorded.get(o)) is not None and r.complete for o in job.outputs)
                      for job in jobs]
    else:
        has_record = [False] * len(jobs)
        for j in decided:
            has_record[j] = any((r := recorded.get(o)) is not None and r.complete
                                for o in jobs[j].outputs)
    granularity = store.granularity_ns
    want = states_to_digest(jobs, has_record, observed, recorded, granularity)
    digested = store.with_digests(want, recorded)
    plan.fresh_states = [st for p, st in digested.items()
                         if (r := recorded.get(p)) is None or r.digest != st.digest
                         or not vouches(r, st, granularity)]
    observed.update(digested)

    decide_each(plan, has_record, force, granularity,
                None if previous is None or stale is None else (stale, previous.reasons))
    _remake_needed_temp(graph, order, plan.reasons, plan.virtual_temp)
    if graph.waiting or graph.readers:
        hold_for_checkpoints(plan)
    plan.warnings.extend(_future_mtimes(observed, graph, now_ns))
    return plan


def _temp_outputs(graph: Graph) -> list[str]:
    return [p for job in _with_flags(graph.jobs) for p in job.flagged("temp")]


def _observe_decided(plan: Plan, store: FileStore, decided: Collection[int], previous: Previous,
                     load_records: Callable[[Collection[str] | None],
                                            Mapping[str, RecordedTarget]]) -> None:
    """What deciding these jobs again needs beside what was observed: their inputs' states
    (an input of a job whose outputs are all missing was not looked at), the digest the
    previous plan knew of a path that shows the same state, and the records of their
    outputs and of the inputs without a digest (an unchanged stat stands for the recorded
    digest). Most records wanted: all are read, in one scan."""
    jobs, observed = plan.graph.jobs, plan.observed
    outputs = {p: None for j in decided for p in jobs[j].outputs}
    paths = {p: None for j in decided for p in jobs[j].inputs}
    paths.update(outputs)
    observed.update(store.stat_many([p for p in paths if p not in observed]))
    known, vouched = previous.digests, previous.states
    for path in paths:
        state = observed[path]
        if (state.digest is None and state.exists and (digest := known.get(path)) is not None
                and vouched.get(path) == state_key(state)):
            # state._replace(digest=digest), without its frames: a fan-in has every input here
            observed[path] = _new(FileState, (*state[:4], digest, *state[5:]))
    recorded = plan.recorded
    assert isinstance(recorded, dict)
    wanted = [p for p in paths if p not in recorded
              and (p in outputs or observed[p].digest is None)]
    most = len(wanted) > 5000 and len(wanted) * 2 > len(observed)
    recorded.update(load_records(None if most else wanted))


def hold_for_checkpoints(plan: Plan) -> None:
    """The jobs that cannot run before a checkpoint job has: those that need a job waiting
    for one, and the readers of a checkpoint job that runs again (what they read will
    change), with everything below them."""
    graph = plan.graph
    roots = [w.consumer for w in graph.waiting if w.consumer >= 0]
    roots += [r for job, readers in graph.readers.items() if job in plan.reasons for r in readers]
    plan.held = graph.downstream_of(roots) if roots else set()
    for job_id in plan.held:
        plan.reasons.pop(job_id, None)


def _deleted_temp_as_recorded(graph: Graph, observed: dict[str, FileState],
                              recorded: Mapping[str, RecordedTarget], virtual: set[str]) -> None:
    """A temp() output deleted after its consumers ran is taken as its record says, so its
    absence alone reruns nothing; it is remade only if a consumer has to run, or if the
    targets ask for it (graph.kept_temp: those are kept, so a missing one is made again)."""
    kept = graph.kept_temp
    for job in _with_flags(graph.jobs):
        for path in job.flagged("temp"):
            rec = recorded.get(path)
            if (not observed[path].exists and rec is not None and rec.complete and rec.digest
                    and path not in kept):
                observed[path] = FileState(path, True, rec.size, rec.mtime_ns, rec.digest,
                                           False, rec.ctime_ns, rec.link, rec.seen_ns)
                virtual.add(path)


def states_to_digest(jobs, has_record: Sequence[bool], observed: dict[str, FileState],
                      recorded: Mapping[str, RecordedTarget], granularity: int
                      ) -> dict[str, FileState]:
    """The inputs of jobs with a record, and their outputs where the record does not vouch
    for them: edited by hand, touched, or recorded within a timestamp tick of their last
    change (fileflow.state.vouches)."""
    want: dict[str, FileState] = {}
    for job in compress(jobs, has_record):
        for inp in job.inputs:
            state = observed[inp]
            if state.exists and state.digest is None:
                want[inp] = state
        for out in job.outputs:
            state = observed[out]
            if (state.exists and state.digest is None
                    and (r := recorded.get(out)) is not None and r.complete and r.digest
                    and not vouches(r, state, granularity)):
                want[out] = state
    return want


def decide_each(plan: Plan, has_record: Sequence[bool] | Mapping[int, bool], force: Force,
                granularity: int,
                previous: tuple[set[int], Mapping[int, tuple[Reason, ...]]] | None = None
                ) -> None:
    """Every job's reasons to run, in topological order (a job's upstream decided first);
    with `previous` (the stale jobs, and an earlier plan's decisions), only the stale jobs
    and those below a changed decision are decided, the others keep theirs."""
    graph, observed, recorded = plan.graph, plan.observed, plan.recorded
    jobs, producer, deps = graph.jobs, graph.producer, graph.deps
    forcing = force.all or bool(force.rules) or bool(force.targets)
    # A log file another job reads, or a target names, must be there: its job runs if not.
    missing_logs = {producer[p]: p for p in sorted(graph.needed_logs) if not observed[p].exists}
    # A target with a command and no outputs has nothing to check: it runs every time.
    asked_without_outputs = {t for t in graph.targets
                             if not jobs[t].outputs and jobs[t].rule.action is not None}
    special = missing_logs.keys() | asked_without_outputs

    triggers = plan.triggers

    def decide_one(job_id: int, reasons: Mapping[int, tuple[Reason, ...]]) -> tuple[Reason, ...]:
        job = jobs[job_id]
        producers = deps[job_id]
        upstream = [jobs[d].name for d in producers if d in reasons] if producers else ()
        if has_record[job_id]:
            facts = plan.facts(job_id)
        elif job.values.flags:
            facts = job_facts(job, "")
        else:  # job_facts, without a frame: this runs for each of a million new jobs
            values = job.values
            facts = _new(JobFacts, (job.name, values.outputs.values, values.inputs.values,
                                    _NONE, "", "", ""))
        why = decide(facts, observed, recorded,
                     upstream=upstream, forced=force.why(job) if forcing else None,
                     granularity_ns=granularity, triggers=triggers)
        if special and job_id in special:
            if job_id in missing_logs and not any(r.kind == KIND_FORCED for r in why):
                why = (Reason(KIND_MISSING_OUTPUT, missing_logs[job_id]), *why)
            elif job_id in asked_without_outputs and not any(r.kind == KIND_FORCED for r in why):
                why = (_NO_OUTPUT, *why)
        return why

    if previous is not None:
        plan.reasons = replan(plan.order, deps, previous[0], previous[1], decide_one)
        return
    reasons = plan.reasons
    for job_id in plan.order:
        why = decide_one(job_id, reasons)
        if why:
            reasons[job_id] = why


def rule_keys(graph: Graph) -> dict[str, str]:
    """How each rule of the graph signs its jobs (fileflow.engine.incremental): the same
    key, the same signature for the same job values."""
    keys: dict[str, str] = {}
    for job in graph.jobs:
        rule = job.rule
        if rule.name not in keys:
            software = rule.software.signature if rule.software is not None else ""
            keys[rule.name] = f"{code_digest(rule)}/{software}"
    return keys


def _stale(plan: Plan, previous: Previous) -> set[int]:
    jobs, observed = plan.graph.jobs, plan.observed
    now = dict(zip(observed.keys(), map(state_key, observed.values())))  # in C

    needed_logs = plan.graph.needed_logs  # a log a job reads or a target names must be there

    def paths_of(job: Job) -> tuple[str, ...]:
        logs = job.values.log.values
        if logs and needed_logs:
            return job.inputs + job.outputs + tuple(p for p in logs if p in needed_logs)
        return job.inputs + job.outputs

    return stale_jobs([paths_of(job) for job in jobs], [job.rule.name for job in jobs],
                      now, previous, rule_keys(plan.graph))


def protected_in_the_way(plan: Plan) -> list[tuple[int, str]]:
    """(job id, path) of each existing protected() output of a job the plan runs, in plan
    order: a build would have to overwrite it. A job that runs only because of its upstream
    jobs counts too (its inputs may yet come out unchanged, but a build cannot know that
    before it starts)."""
    jobs = plan.graph.jobs
    found = []
    to_run = plan.to_run
    for job_id in compress(to_run, map(_FLAGS, map(jobs.__getitem__, to_run))):  # flagged
        job = jobs[job_id]
        for path in job.flagged("protected"):
            state = plan.observed.get(path)
            if (state is not None and state.exists and path not in plan.virtual_temp
                    and "://" not in path):  # a remote file cannot be made read-only
                found.append((job_id, path))
    return found


def _future_mtimes(observed: Mapping[str, FileState], graph: Graph, now_ns: int) -> list[str]:
    """Inputs dated in the future (a clock ahead on another machine, a bad `touch -d`): the
    decision does not depend on it (contents decide), but the user should know."""
    limit = now_ns + 1_000_000_000
    # The newest of every path observed first, in C: almost always none is ahead.
    if max(map(_MTIME, observed.values()), default=0) <= limit:
        return []
    looked = graph.sources & observed.keys()  # the sources looked at
    ahead = sorted(p for p in looked if (st := observed[p]).exists and st.mtime_ns > limit
                   and "://" not in p)  # a remote file's time is its store's clock: not ours
    if not ahead:
        return []
    shown = ", ".join(repr(p) for p in ahead[:3]) + (f" and {len(ahead) - 3} more" if len(ahead) > 3 else "")
    return [f"warning: {len(ahead)} input file(s) have a modification time in the future "
            f"({shown}); fileflow decides by content, but check the clocks"]


def _remake_needed_temp(graph: Graph, order: list[int], reasons: dict[int, tuple[Reason, ...]],
                        virtual_temp: set[str]) -> None:
    """A job that runs needs its temp inputs on disk: their producers run too (and theirs)."""
    if not virtual_temp:
        return
    jobs = graph.jobs
    for job_id in reversed(order):
        if job_id not in reasons:
            continue
        for inp in jobs[job_id].inputs:
            if inp in virtual_temp:
                producer = graph.producer[inp]
                if producer not in reasons:
                    reasons[producer] = (Reason(KIND_TEMP_NEEDED, inp, jobs[job_id].name),)
