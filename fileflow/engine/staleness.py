"""Decide whether a job must run, and say why. Pure: no I/O, no clock, no database.

fileflow's rebuilder verifies traces: when a job finishes, the run log records, for each of its
outputs, the job's signature and the digest of every input it consumed (captured *before* the
job started, so an input edited while the job ran is seen as changed on the next build). A job
is up to date when those records still match what is observed now. mtimes matter only for
outputs with no record at all (made outside fileflow), where Make's rule is the best we have.

`decide` returns the reasons a job must run, an empty tuple when it is up to date. Kinds:

- ``forced``: the user asked for it (-F, -R ...); `detail` says how. Alone: nothing else matters.
- ``missing-output``: a declared output does not exist.
- ``incomplete-output``: the record says a job started making the output and never finished
  (the record is written before the job starts, so this survives kill -9).
- ``output-changed``: an output's content differs from what its job made (edited by hand, or
  half-written by a job whose "incomplete" mark was lost in a power cut); `fileflow --touch`
  accepts it as it is.
- ``signature-changed``: the rendered command, params or script differ from the recorded ones.
- ``inputs-changed-set``: the set of inputs differs from the recorded one (ancient inputs
  count: wrapping an input in ancient() does not remove it from the set).
- ``input-changed``: an input's content digest differs from the one recorded when the output
  was made. Ancient inputs never give this.
- ``input-newer``: Make's fallback for outputs with no record: an existing non-ancient input's
  mtime is newer than the oldest such output's.
- ``upstream``: a job producing one of the inputs will run; `detail` is its name.
- ``temp-needed``: not given by decide; the planner adds it to the producer of a deleted
  temp() output that a running job needs again (`detail` names that job).
- ``no-output``: not given by decide; the planner gives it to a target job with a command
  and no outputs, which runs each time it is asked for (as in Snakemake).

How content is compared (what the caller must provide): `observed` holds a FileState for every
input and output of the job, with `digest` filled for existing inputs (FileStore.with_digests
reuses the input's own recorded digest when its stat is unchanged, so `touch` costs one hash
and never a rerun). If an existing input's digest is nevertheless None, decide falls back to
its own record in `recorded`: unchanged only when its stat equals that record's and that
record's digest equals the digest the output recorded; otherwise it counts as changed.
The content guarantee is therefore the store's: see fileflow.engine.store for exactly which edits
with a restored mtime are caught (size or ctime changed) and which cannot be. A record vouches
for an unhashed file only when `fileflow.state.vouches` says so: the same stat and symlink
target, and recorded at least one timestamp tick (`granularity_ns`, measured by the caller on
the file system) after the file last changed; a same-size write in that tick could leave the
stat as it was.

Which changes trigger a rerun (`--rerun-triggers`, as in Snakemake): `triggers` holds some of
TRIGGERS, all by default. ``mtime`` gives input-newer, ``content`` input-changed and
output-changed, ``input`` inputs-changed-set, ``code`` and ``params`` signature-changed when
that part of the signature differs from its record (`signature_changes`); ``software-env``
is accepted for Snakemake's sake and triggers nothing (no directive declares a software
environment). The other reasons (forced, missing or incomplete outputs, upstream) always
hold.

Missing inputs are not decide's business: an input no rule makes is an error of the resolver,
one a job makes shows up as an ``upstream`` reason. Early cutoff: the scheduler re-decides a
job once its upstream jobs finished, with `upstream=()`; if their outputs came out
byte-identical to the recorded input digests, no reason remains and the job is skipped.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from fileflow.state import FileState, RecordedTarget, vouches

__all__ = [
    "JobFacts", "Reason", "decide",
    "KIND_FORCED", "KIND_MISSING_OUTPUT", "KIND_INCOMPLETE_OUTPUT", "KIND_OUTPUT_CHANGED",
    "KIND_SIGNATURE_CHANGED",
    "KIND_INPUTS_CHANGED_SET", "KIND_INPUT_CHANGED", "KIND_INPUT_NEWER", "KIND_UPSTREAM",
    "KIND_TEMP_NEEDED", "KIND_NO_OUTPUT",
    "KINDS", "TRIGGERS", "ALL_TRIGGERS", "CONTENT_KINDS", "signature_changes",
]

KIND_FORCED = "forced"
KIND_MISSING_OUTPUT = "missing-output"
KIND_INCOMPLETE_OUTPUT = "incomplete-output"
KIND_OUTPUT_CHANGED = "output-changed"
KIND_SIGNATURE_CHANGED = "signature-changed"
KIND_INPUTS_CHANGED_SET = "inputs-changed-set"
KIND_INPUT_CHANGED = "input-changed"
KIND_INPUT_NEWER = "input-newer"
KIND_UPSTREAM = "upstream"
KIND_TEMP_NEEDED = "temp-needed"
KIND_NO_OUTPUT = "no-output"
KINDS = frozenset({
    KIND_FORCED, KIND_MISSING_OUTPUT, KIND_INCOMPLETE_OUTPUT, KIND_OUTPUT_CHANGED,
    KIND_SIGNATURE_CHANGED, KIND_INPUTS_CHANGED_SET, KIND_INPUT_CHANGED, KIND_INPUT_NEWER, KIND_UPSTREAM,
    KIND_TEMP_NEEDED, KIND_NO_OUTPUT,
})


TRIGGERS = ("mtime", "content", "params", "code", "input", "software-env")
ALL_TRIGGERS = frozenset(TRIGGERS)
_TRIGGER_OF = {KIND_INPUT_NEWER: "mtime", KIND_INPUT_CHANGED: "content",
               KIND_OUTPUT_CHANGED: "content", KIND_INPUTS_CHANGED_SET: "input"}
CONTENT_KINDS = frozenset({KIND_INPUT_CHANGED, KIND_OUTPUT_CHANGED})  # the "content" trigger's
_BOTH_PARTS = frozenset({"code", "params"})
_CODE = frozenset({"code"})


class JobFacts(NamedTuple):
    """What decide needs to know of one job (a named tuple: one is made per job per build)."""

    name: str                      # for messages, e.g. "count[sample=a]"
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    ancient_inputs: frozenset[str] = frozenset()  # never trigger a run
    signature: str = ""
    code_digest: str = ""          # the signature's parts (fileflow.engine.command)
    params_digest: str = ""


class Reason(NamedTuple):
    """One reason a job runs. `path` is the file concerned; `detail` depends on the kind.
    A named tuple: made per job, compared and deduplicated by value."""

    kind: str
    path: str = ""
    detail: str = ""

    def __str__(self) -> str:
        p, d = self.path, self.detail
        if self.kind == KIND_FORCED:
            return f"forced ({d})" if d else "forced"
        if self.kind == KIND_MISSING_OUTPUT:
            return f"output {p!r} is missing"
        if self.kind == KIND_INCOMPLETE_OUTPUT:
            return f"output {p!r} is incomplete (its job started and did not finish)"
        if self.kind == KIND_OUTPUT_CHANGED:
            return (f"output {p!r} changed since its job made it" + (f" ({d})" if d else "")
                    + "; 'fileflow --touch' keeps it as it is")
        if self.kind == KIND_SIGNATURE_CHANGED:
            return "command or params changed"
        if self.kind == KIND_INPUTS_CHANGED_SET:
            return f"the set of inputs changed ({d})" if d else "the set of inputs changed"
        if self.kind == KIND_INPUT_CHANGED:
            return f"input {p!r} changed" + (f" ({d})" if d else "")
        if self.kind == KIND_INPUT_NEWER:
            return (f"input {p!r} is newer than output {d!r} "
                    f"(no record of how {d!r} was made)")
        if self.kind == KIND_UPSTREAM:
            return f"upstream job {d} runs"
        if self.kind == KIND_TEMP_NEEDED:
            return f"temp output {p!r} was deleted and job {d} needs it"
        if self.kind == KIND_NO_OUTPUT:
            return "asked for, and it has no outputs to check: it runs every time"
        return f"{self.kind} {p} {d}".strip()


_new = tuple.__new__


def decide(job: JobFacts, observed: Mapping[str, FileState],
           recorded: Mapping[str, RecordedTarget], *, upstream: Sequence[str] = (),
           forced: str | None = None, granularity_ns: int = 1,
           triggers: frozenset[str] = ALL_TRIGGERS) -> tuple[Reason, ...]:
    """The reasons `job` must run, in a fixed order; () when it is up to date.

    `observed` must hold every input and output of the job (a KeyError is a caller's bug);
    `recorded` holds the run log's record of any path it knows; `upstream` names the jobs
    that will run and produce inputs of this one; `forced` says how the user forced it;
    `granularity_ns` is the file system's timestamp granularity (fileflow.state.settled);
    `triggers` which kinds of change count (TRIGGERS)."""
    if forced is not None:
        return (Reason(KIND_FORCED, detail=forced),)
    # Reasons are made with tuple.__new__: decide runs once per job of a build.
    later = tuple([_new(Reason, (KIND_UPSTREAM, "", name)) for name in upstream]) if upstream else ()
    if not job.outputs:
        return later  # nothing to check: such a job runs when fed (or asked: plan.py)

    reasons: list[Reason] = []
    unrecorded: list[FileState] = []
    for out in job.outputs:
        state = observed[out]
        rec = recorded.get(out)
        if not state.exists:
            reasons.append(_new(Reason, (KIND_MISSING_OUTPUT, out, "")))
        elif rec is None:
            unrecorded.append(state)
        elif not rec.complete:
            reasons.append(Reason(KIND_INCOMPLETE_OUTPUT, out))
        else:
            if rec.digest and not (state.digest is None
                                   and vouches(rec, state, granularity_ns)):
                why = _output_changed(state, rec.digest)
                if why is not None:
                    reasons.append(Reason(KIND_OUTPUT_CHANGED, out, why))
            reasons.extend(_trace_reasons(job, rec, observed, recorded, granularity_ns))
    if unrecorded:
        reasons.extend(_make_reasons(job, unrecorded, observed))
    if triggers is not ALL_TRIGGERS and triggers != ALL_TRIGGERS:
        reasons = _triggered(reasons, job, recorded, triggers)
    # Outputs of one job share a trace, so the same reason may come from each: keep one.
    # The upstream reasons are one per job already, and of their own kind: not compared (an
    # aggregate over a million jobs has a million).
    return (tuple(dict.fromkeys(reasons)) if len(reasons) > 1 else tuple(reasons)) + later


def _trace_reasons(job: JobFacts, rec: RecordedTarget, observed: Mapping[str, FileState],
                   recorded: Mapping[str, RecordedTarget], granularity_ns: int) -> list[Reason]:
    """Compare one output's record with what is observed now: content, never mtime, so clock
    skew or an output older than its input cannot cause an endless rebuild loop."""
    reasons: list[Reason] = []
    if rec.signature != job.signature:
        reasons.append(Reason(KIND_SIGNATURE_CHANGED))  # one job, one signature: no path
    now, then = set(job.inputs), set(rec.input_digests)
    if now != then:
        reasons.append(Reason(KIND_INPUTS_CHANGED_SET, detail=_set_change(now, then)))
    for inp in job.inputs:
        if inp in job.ancient_inputs or inp not in rec.input_digests:
            continue  # ancient never triggers; a new input is already an inputs-changed-set
        state = observed[inp]
        if not state.exists:
            continue  # made by an upstream job (an upstream reason) or a resolver error
        want = rec.input_digests[inp]
        if state.digest is not None:
            if state.digest != want:
                reasons.append(Reason(KIND_INPUT_CHANGED, inp))
        else:
            why = _unhashed_changed(state, recorded.get(inp), want, granularity_ns)
            if why:
                reasons.append(Reason(KIND_INPUT_CHANGED, inp, why))
    return reasons


def signature_changes(job: JobFacts, rec: RecordedTarget) -> frozenset[str]:
    """Which parts of the signature differ from the record: "code", "params", both, or none.
    A record without its parts (an older run log) whose signature differs says both; a
    change that neither part shows (the rendered command only) counts as code."""
    if rec.signature == job.signature:
        return frozenset()
    if not rec.code_digest or not job.code_digest:
        return _BOTH_PARTS
    parts = set()
    if rec.code_digest != job.code_digest:
        parts.add("code")
    if rec.params_digest != job.params_digest:
        parts.add("params")
    return frozenset(parts) if parts else _CODE


def _triggered(reasons: list[Reason], job: JobFacts, recorded: Mapping[str, RecordedTarget],
               triggers: frozenset[str]) -> list[Reason]:
    """The reasons whose kind of change is among `triggers`."""
    kept = []
    for reason in reasons:
        if reason.kind == KIND_SIGNATURE_CHANGED:
            if any(signature_changes(job, r) & triggers for o in job.outputs
                   if (r := recorded.get(o)) is not None and r.complete):
                kept.append(reason)
        elif _TRIGGER_OF.get(reason.kind, "") in triggers or reason.kind not in _TRIGGER_OF:
            kept.append(reason)
    return kept


def _output_changed(state: FileState, recorded_digest: str) -> str | None:
    """Why an existing output differs from its recorded digest (a detail, "" for plain
    content); None when it does not. Its stat differs from the record, or it was hashed."""
    if state.digest is None:
        return "not hashed, and its record does not vouch for it"
    if state.digest == recorded_digest:
        return None
    if state.digest.partition(":")[0] != recorded_digest.partition(":")[0]:
        return None  # recorded with another kind of digest: not comparable, not evidence
    return ""


def _unhashed_changed(state: FileState, own: RecordedTarget | None, want: str,
                      granularity_ns: int) -> str:
    """Why an input that was not hashed cannot be vouched for; "" when its own record does."""
    if own is None:
        return "not hashed, and no record of it"
    if not own.complete:
        return "not hashed, and its record is incomplete"
    if not state.same_stat(own.size, own.mtime_ns, own.ctime_ns):
        return "not hashed, and its size or times differ from its record"
    if state.link != own.link:
        return "not hashed, and its symlink points elsewhere"
    if not vouches(own, state, granularity_ns):
        return "not hashed, and its record was taken within a timestamp tick of its last change"
    if own.digest != want:
        return "its record differs from the content this output was made from"
    return ""


def _make_reasons(job: JobFacts, outputs: list[FileState],
                  observed: Mapping[str, FileState]) -> list[Reason]:
    """Make's rule for outputs fileflow has no record of: an input newer than the oldest."""
    oldest = min(outputs, key=lambda s: s.mtime_ns)
    reasons = []
    for inp in job.inputs:
        state = observed[inp]
        if inp in job.ancient_inputs or not state.exists:
            continue
        if state.mtime_ns > oldest.mtime_ns:
            reasons.append(Reason(KIND_INPUT_NEWER, inp, oldest.path))
    return reasons


def _set_change(now: set[str], then: set[str]) -> str:
    parts = []
    if now - then:
        parts.append("added: " + ", ".join(repr(p) for p in sorted(now - then)))
    if then - now:
        parts.append("removed: " + ", ".join(repr(p) for p in sorted(then - now)))
    return "; ".join(parts)
