"""Unit tests of fileflow.engine.staleness.decide: no disk at all, every state is built by hand."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fileflow.engine.staleness as rebuild
from fileflow.engine.staleness import (
    KIND_FORCED,
    KIND_INCOMPLETE_OUTPUT,
    KIND_INPUT_CHANGED,
    KIND_INPUT_NEWER,
    KIND_INPUTS_CHANGED_SET,
    KIND_MISSING_OUTPUT,
    KIND_OUTPUT_CHANGED,
    KIND_SIGNATURE_CHANGED,
    KIND_UPSTREAM,
    KINDS,
    TRIGGERS,
    JobFacts,
    Reason,
    decide,
    signature_changes,
)
from fileflow.state import FileState, RecordedTarget

SIG = "shell:wc -l a.txt > b.txt|params:{}"


def digest(content: str) -> str:
    return "sha256:" + content.encode().hex()  # any injective text works: decide compares


def f(path: str, content: str | None = "x", mtime: int = 100, *, hashed: bool = True,
      ctime: int = -1) -> FileState:
    """An observed file; content None means missing."""
    if content is None:
        return FileState(path, exists=False)
    return FileState(path, True, len(content), mtime, digest(content) if hashed else None,
                     ctime_ns=ctime)


def rec(path: str, inputs: dict[str, str], *, content: str = "out", mtime: int = 200,
        signature: str = SIG, complete: bool = True) -> RecordedTarget:
    """The record of an output made from `inputs` (path -> content)."""
    return RecordedTarget(path, complete, len(content), mtime, digest(content),
                          signature=signature,
                          input_digests={p: digest(c) for p, c in inputs.items()})


JOB = JobFacts("count[sample=a]", outputs=("b.txt",), inputs=("a.txt",), signature=SIG)


def up_to_date_world(**changes):
    """A consistent world where JOB is up to date: a.txt == "A", b.txt made from it."""
    observed = {"a.txt": f("a.txt", "A", 100), "b.txt": f("b.txt", "out", 200)}
    recorded = {"b.txt": rec("b.txt", {"a.txt": "A"})}
    observed.update(changes)
    return observed, recorded


def kinds(reasons) -> list[str]:
    return [r.kind for r in reasons]


# ---- up to date, and the non-reasons --------------------------------------------------------

def test_consistent_world_is_up_to_date():
    observed, recorded = up_to_date_world()
    assert decide(JOB, observed, recorded) == ()


def test_touched_input_with_same_content_does_not_rerun():
    # Newer mtime (and ctime), same content: the digest decides.
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 10**12, ctime=10**12)})
    assert decide(JOB, observed, recorded) == ()


def test_output_older_than_input_with_a_record_does_not_rerun():
    # Clock skew: the record, not the mtimes, decides, so no endless rebuild loop.
    observed, recorded = up_to_date_world(**{"b.txt": f("b.txt", "out", 1)})
    assert decide(JOB, observed, recorded) == ()


def test_changed_ancient_input_does_not_rerun():
    job = JobFacts("j", ("b.txt",), ("a.txt",), ancient_inputs=frozenset({"a.txt"}),
                   signature=SIG)
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "CHANGED", 999)})
    assert decide(job, observed, recorded) == ()


def test_ancient_input_newer_than_unrecorded_output_does_not_rerun():
    job = JobFacts("j", ("b.txt",), ("a.txt",), ancient_inputs=frozenset({"a.txt"}))
    observed = {"a.txt": f("a.txt", "A", 500), "b.txt": f("b.txt", "out", 200)}
    assert decide(job, observed, {}) == ()


def test_unrecorded_output_newer_than_inputs_is_up_to_date():
    observed = {"a.txt": f("a.txt", "A", 100), "b.txt": f("b.txt", "out", 200)}
    assert decide(JOB, observed, {}) == ()


def test_unrecorded_output_with_input_of_equal_mtime_is_up_to_date():
    observed = {"a.txt": f("a.txt", "A", 200), "b.txt": f("b.txt", "out", 200)}
    assert decide(JOB, observed, {}) == ()


def test_early_cutoff_after_upstream_rewrote_identical_content():
    # Before: upstream runs. After it finished, a.txt has a new mtime but the same bytes:
    # the re-decision without upstream finds nothing.
    observed, recorded = up_to_date_world()
    assert kinds(decide(JOB, observed, recorded, upstream=["make_a"])) == [KIND_UPSTREAM]
    after = dict(observed, **{"a.txt": f("a.txt", "A", 5000, ctime=5000)})
    assert decide(JOB, after, recorded) == ()


def test_no_early_cutoff_when_upstream_output_changed():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A2", 5000)})
    assert decide(JOB, observed, recorded) == (Reason(KIND_INPUT_CHANGED, "a.txt"),)


def test_missing_input_without_upstream_is_not_decides_business():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", None)})
    assert decide(JOB, observed, recorded) == ()


# ---- each reason ----------------------------------------------------------------------------

def test_forced_alone_is_enough():
    observed = {"a.txt": f("a.txt", None), "b.txt": f("b.txt", None)}
    reasons = decide(JOB, observed, {}, forced="-F", upstream=["x"])
    assert reasons == (Reason(KIND_FORCED, detail="-F"),)
    assert str(reasons[0]) == "forced (-F)"


def test_forced_on_an_up_to_date_job():
    observed, recorded = up_to_date_world()
    assert kinds(decide(JOB, observed, recorded, forced="-R count")) == [KIND_FORCED]


def test_missing_output():
    observed, recorded = up_to_date_world(**{"b.txt": f("b.txt", None)})
    reasons = decide(JOB, observed, recorded)
    assert reasons == (Reason(KIND_MISSING_OUTPUT, "b.txt"),)
    assert str(reasons[0]) == "output 'b.txt' is missing"


def test_missing_output_with_no_record():
    observed = {"a.txt": f("a.txt", "A"), "b.txt": f("b.txt", None)}
    assert decide(JOB, observed, {}) == (Reason(KIND_MISSING_OUTPUT, "b.txt"),)


def test_one_of_two_outputs_missing():
    job = JobFacts("j", ("b.txt", "c.txt"), ("a.txt",), signature=SIG)
    observed, recorded = up_to_date_world(**{"c.txt": f("c.txt", None)})
    recorded["c.txt"] = rec("c.txt", {"a.txt": "A"})
    assert decide(job, observed, recorded) == (Reason(KIND_MISSING_OUTPUT, "c.txt"),)


def test_incomplete_output():
    observed, recorded = up_to_date_world()
    recorded["b.txt"] = rec("b.txt", {"a.txt": "A"}, complete=False)
    reasons = decide(JOB, observed, recorded)
    assert reasons == (Reason(KIND_INCOMPLETE_OUTPUT, "b.txt"),)
    assert "incomplete" in str(reasons[0]) and "'b.txt'" in str(reasons[0])


def test_signature_changed():
    observed, recorded = up_to_date_world()
    job = JobFacts(JOB.name, JOB.outputs, JOB.inputs, signature=SIG + " --verbose")
    reasons = decide(job, observed, recorded)
    assert reasons == (Reason(KIND_SIGNATURE_CHANGED),)
    assert str(reasons[0]) == "command or params changed"


def test_signature_changed_is_reported_once_for_several_outputs():
    job = JobFacts("j", ("b.txt", "c.txt"), ("a.txt",), signature="new")
    observed, recorded = up_to_date_world(**{"c.txt": f("c.txt", "out", 200)})
    recorded["c.txt"] = rec("c.txt", {"a.txt": "A"})
    assert kinds(decide(job, observed, recorded)) == [KIND_SIGNATURE_CHANGED]


def test_input_added_to_the_set():
    job = JobFacts(JOB.name, JOB.outputs, ("a.txt", "c.txt"), signature=SIG)
    observed, recorded = up_to_date_world(**{"c.txt": f("c.txt", "C")})
    reasons = decide(job, observed, recorded)
    assert reasons == (Reason(KIND_INPUTS_CHANGED_SET, detail="added: 'c.txt'"),)
    assert str(reasons[0]) == "the set of inputs changed (added: 'c.txt')"


def test_input_removed_from_the_set():
    job = JobFacts(JOB.name, JOB.outputs, (), signature=SIG)
    observed, recorded = up_to_date_world()
    reasons = decide(job, observed, recorded)
    assert reasons == (Reason(KIND_INPUTS_CHANGED_SET, detail="removed: 'a.txt'"),)


def test_ancient_input_still_counts_in_the_set():
    job = JobFacts("j", ("b.txt",), ("a.txt", "z.txt"), ancient_inputs=frozenset({"z.txt"}),
                   signature=SIG)
    observed, recorded = up_to_date_world(**{"z.txt": f("z.txt", "Z")})
    assert kinds(decide(job, observed, recorded)) == [KIND_INPUTS_CHANGED_SET]


def test_input_content_changed():
    # Same size and mtime, different digest: the store re-hashed (e.g. ctime moved).
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "B", 100)})
    reasons = decide(JOB, observed, recorded)
    assert reasons == (Reason(KIND_INPUT_CHANGED, "a.txt"),)
    assert str(reasons[0]) == "input 'a.txt' changed"


def test_input_changed_is_reported_once_for_several_outputs():
    job = JobFacts("j", ("b.txt", "c.txt"), ("a.txt",), signature=SIG)
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "B"),
                                             "c.txt": f("c.txt", "out", 200)})
    recorded["c.txt"] = rec("c.txt", {"a.txt": "A"})
    assert decide(job, observed, recorded) == (Reason(KIND_INPUT_CHANGED, "a.txt"),)


def test_only_the_changed_input_is_named():
    job = JobFacts("j", ("b.txt",), ("a.txt", "c.txt"), signature=SIG)
    observed = {"a.txt": f("a.txt", "A"), "c.txt": f("c.txt", "C2"), "b.txt": f("b.txt", "out")}
    recorded = {"b.txt": rec("b.txt", {"a.txt": "A", "c.txt": "C"})}
    assert decide(job, observed, recorded) == (Reason(KIND_INPUT_CHANGED, "c.txt"),)


def test_unrecorded_output_with_newer_input():
    observed = {"a.txt": f("a.txt", "A", 300), "b.txt": f("b.txt", "out", 200)}
    reasons = decide(JOB, observed, {})
    assert reasons == (Reason(KIND_INPUT_NEWER, "a.txt", "b.txt"),)
    assert str(reasons[0]) == ("input 'a.txt' is newer than output 'b.txt' "
                               "(no record of how 'b.txt' was made)")


def test_unrecorded_outputs_compare_with_the_oldest():
    job = JobFacts("j", ("b.txt", "c.txt"), ("a.txt",))
    observed = {"a.txt": f("a.txt", "A", 150), "b.txt": f("b.txt", "o", 200),
                "c.txt": f("c.txt", "o", 100)}
    assert decide(job, observed, {}) == (Reason(KIND_INPUT_NEWER, "a.txt", "c.txt"),)


def test_upstream_one_reason_per_job():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", None)})
    reasons = decide(JOB, observed, recorded, upstream=["make_a[x=1]", "make_a[x=2]"])
    assert reasons == (Reason(KIND_UPSTREAM, detail="make_a[x=1]"),
                       Reason(KIND_UPSTREAM, detail="make_a[x=2]"))
    assert str(reasons[0]) == "upstream job make_a[x=1] runs"


def test_reasons_accumulate_in_a_fixed_order():
    job = JobFacts("j", ("b.txt",), ("a.txt", "c.txt"), signature="new")
    observed = {"a.txt": f("a.txt", "A2"), "c.txt": f("c.txt", "C"), "b.txt": f("b.txt", "out")}
    recorded = {"b.txt": rec("b.txt", {"a.txt": "A"})}
    assert kinds(decide(job, observed, recorded, upstream=["u"])) == [
        KIND_SIGNATURE_CHANGED, KIND_INPUTS_CHANGED_SET, KIND_INPUT_CHANGED, KIND_UPSTREAM]


# ---- jobs with no outputs -------------------------------------------------------------------

def test_job_without_outputs_runs_only_when_forced_or_fed():
    job = JobFacts("all", (), ("b.txt",))
    observed = {"b.txt": f("b.txt", "changed", 10**9)}
    assert decide(job, observed, {}) == ()
    assert kinds(decide(job, observed, {}, upstream=["count"])) == [KIND_UPSTREAM]
    assert kinds(decide(job, observed, {}, forced="-F")) == [KIND_FORCED]


# ---- inputs whose digest the caller did not fill --------------------------------------------

def own_record(content: str, mtime: int = 100, complete: bool = True) -> RecordedTarget:
    return RecordedTarget("a.txt", complete, len(content), mtime, digest(content))


def test_unhashed_input_vouched_for_by_its_own_record():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 100, hashed=False)})
    recorded["a.txt"] = own_record("A", 100)
    assert decide(JOB, observed, recorded) == ()


def test_unhashed_input_with_stat_differing_from_its_record():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 101, hashed=False)})
    recorded["a.txt"] = own_record("A", 100)
    reasons = decide(JOB, observed, recorded)
    assert kinds(reasons) == [KIND_INPUT_CHANGED]
    assert "not hashed" in str(reasons[0])


def test_unhashed_input_whose_record_moved_on():
    # Its own record is current, but it is not the content b.txt was made from.
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "Z", 100, hashed=False)})
    recorded["a.txt"] = own_record("Z", 100)
    assert kinds(decide(JOB, observed, recorded)) == [KIND_INPUT_CHANGED]


def test_unhashed_input_without_record_counts_as_changed():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 100, hashed=False)})
    assert kinds(decide(JOB, observed, recorded)) == [KIND_INPUT_CHANGED]


def test_unhashed_input_with_incomplete_record_counts_as_changed():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 100, hashed=False)})
    recorded["a.txt"] = own_record("A", 100, complete=False)
    assert kinds(decide(JOB, observed, recorded)) == [KIND_INPUT_CHANGED]


def test_unhashed_input_with_changed_ctime_counts_as_changed():
    # Content rewritten and mtime restored: only ctime moved.
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 100, hashed=False,
                                                        ctime=7)})
    recorded["a.txt"] = RecordedTarget("a.txt", True, 1, 100, digest("A"), ctime_ns=5)
    assert kinds(decide(JOB, observed, recorded)) == [KIND_INPUT_CHANGED]


def test_unhashed_input_recorded_within_a_tick_of_its_change_counts_as_changed():
    """Git's racily clean files: a record taken less than one timestamp tick after the
    file's last change (mtime 100, seen at 100 + tick - 1) vouches for nothing, since a
    same-size write later in that tick leaves the stat as it is."""
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 100, hashed=False,
                                                        ctime=100)})
    tick = 1_000
    racy = RecordedTarget("a.txt", True, 1, 100, digest("A"), ctime_ns=100,
                          seen_ns=100 + tick - 1)
    recorded["a.txt"] = racy
    reasons = decide(JOB, observed, recorded, granularity_ns=tick)
    assert kinds(reasons) == [KIND_INPUT_CHANGED]
    assert "within a timestamp tick" in str(reasons[0])
    recorded["a.txt"] = racy._replace(seen_ns=100 + tick)  # a whole tick later: settled
    assert decide(JOB, observed, recorded, granularity_ns=tick) == ()


def test_times_of_whole_seconds_are_taken_as_a_file_system_of_two_second_steps():
    second = 10**9
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 5 * second,
                                                        hashed=False, ctime=5 * second)})
    own = RecordedTarget("a.txt", True, 1, 5 * second, digest("A"), ctime_ns=5 * second,
                         seen_ns=6 * second)
    recorded["a.txt"] = own
    assert kinds(decide(JOB, observed, recorded, granularity_ns=1)) == [KIND_INPUT_CHANGED]
    recorded["a.txt"] = own._replace(seen_ns=7 * second)
    assert decide(JOB, observed, recorded, granularity_ns=1) == ()


def test_unhashed_output_recorded_within_a_tick_of_its_writing_is_hashed_or_counts_changed():
    observed, recorded = up_to_date_world(**{"b.txt": f("b.txt", "out", 200, hashed=False,
                                                        ctime=200)})
    recorded["b.txt"] = recorded["b.txt"]._replace(ctime_ns=200, seen_ns=200)
    assert kinds(decide(JOB, observed, recorded, granularity_ns=1)) == [KIND_OUTPUT_CHANGED]
    recorded["b.txt"] = recorded["b.txt"]._replace(seen_ns=201)
    assert decide(JOB, observed, recorded, granularity_ns=1) == ()


def test_record_seen_at_an_unknown_time_is_trusted_as_before():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "A", 100, hashed=False)})
    recorded["a.txt"] = own_record("A", 100)  # seen_ns -1: a record of an older fileflow
    assert decide(JOB, observed, recorded, granularity_ns=10**9) == ()


def test_unhashed_input_whose_symlink_points_elsewhere_counts_as_changed():
    link = f("a.txt", "A", 100, hashed=False)._replace(link="b-v2.txt")
    observed, recorded = up_to_date_world(**{"a.txt": link})
    recorded["a.txt"] = own_record("A", 100)._replace(link="b-v1.txt")
    reasons = decide(JOB, observed, recorded)
    assert kinds(reasons) == [KIND_INPUT_CHANGED]
    assert "symlink" in str(reasons[0])
    recorded["a.txt"] = recorded["a.txt"]._replace(link="b-v2.txt")
    assert decide(JOB, observed, recorded) == ()


# ---- contract details -----------------------------------------------------------------------

def test_observed_must_hold_every_output():
    with pytest.raises(KeyError):
        decide(JOB, {"a.txt": f("a.txt", "A")}, {})


# ---- the output itself, against its record ----------------------------------------------

def test_output_edited_after_its_job_reruns_it():
    observed, recorded = up_to_date_world(**{"b.txt": f("b.txt", "hand", 300)})
    reasons = decide(JOB, observed, recorded)
    assert kinds(reasons) == [KIND_OUTPUT_CHANGED]
    assert reasons[0].path == "b.txt" and "--touch" in str(reasons[0])


def test_touched_output_with_its_content_does_not_rerun():
    observed, recorded = up_to_date_world(**{"b.txt": f("b.txt", "out", 10**12, ctime=10**12)})
    assert decide(JOB, observed, recorded) == ()


def test_output_not_hashed_counts_as_changed_only_when_its_stat_differs():
    same = up_to_date_world(**{"b.txt": f("b.txt", "out", 200, hashed=False)})
    assert decide(JOB, *same) == ()
    observed, recorded = up_to_date_world(**{"b.txt": f("b.txt", "out", 201, hashed=False)})
    (reason,) = decide(JOB, observed, recorded)
    assert reason.kind == KIND_OUTPUT_CHANGED and "not hashed" in reason.detail


def test_output_digest_of_another_kind_is_no_evidence_of_change():
    observed, recorded = up_to_date_world(**{"b.txt": FileState("b.txt", True, 3, 300,
                                                                "etag:abc")})
    assert decide(JOB, observed, recorded) == ()


def test_every_kind_has_its_own_text():
    samples = [Reason(k, "p", "d") for k in sorted(KINDS)]
    texts = [str(r) for r in samples]
    assert len(set(texts)) == len(KINDS)
    assert all(t != f"{k} p d" for k, t in zip(sorted(KINDS), texts))  # not the fallback


def test_unknown_kind_still_has_a_text():
    assert str(Reason("new-kind", "p", "d")) == "new-kind p d"


def test_paths_are_quoted_so_odd_names_stay_readable():
    assert str(Reason(KIND_MISSING_OUTPUT, "a b\nc")) == "output 'a b\\nc' is missing"


def test_decide_does_not_mutate_its_arguments():
    observed, recorded = up_to_date_world(**{"a.txt": f("a.txt", "B")})
    before = (dict(observed), dict(recorded))
    decide(JOB, observed, recorded, upstream=("u",))
    assert (observed, recorded) == before


# ---- property -------------------------------------------------------------------------------

names = st.text(alphabet="abcdefgh/._ ", min_size=1, max_size=8)


@st.composite
def worlds(draw):
    paths = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    n_out = draw(st.integers(1, len(paths)))
    outputs, inputs = tuple(paths[:n_out]), tuple(paths[n_out:])
    ancient = frozenset(draw(st.sets(st.sampled_from(inputs)))) if inputs else frozenset()
    sig = draw(st.text(max_size=10))
    observed = {p: FileState(p, True, draw(st.integers(0, 10**6)),
                             draw(st.integers(0, 10**18)), digest(draw(st.text(max_size=5))))
                for p in paths}
    trace = {i: observed[i].digest for i in inputs}
    recorded = {o: RecordedTarget(o, True, observed[o].size, observed[o].mtime_ns,
                                  observed[o].digest, signature=sig, input_digests=trace)
                for o in outputs}
    return JobFacts("j", outputs, inputs, ancient, sig), observed, recorded


@given(worlds())
def test_observed_matching_the_record_means_up_to_date_whatever_the_mtimes(world):
    job, observed, recorded = world
    assert decide(job, observed, recorded) == ()


@given(worlds(), st.data())
def test_a_changed_non_ancient_input_always_reruns(world, data):
    job, observed, recorded = world
    live = [i for i in job.inputs if i not in job.ancient_inputs]
    if not live:
        return
    victim = data.draw(st.sampled_from(live))
    observed = dict(observed)
    observed[victim] = FileState(victim, True, 1, 1, "sha256:something-else")
    assert Reason(KIND_INPUT_CHANGED, victim) in decide(job, observed, recorded)


# ---- rerun triggers -------------------------------------------------------------------------

PARTED = JOB._replace(code_digest="code-1", params_digest="params-1")


def parted(**changes) -> JobFacts:
    """JOB with its signature's parts; `changes` say which differ from the record."""
    return PARTED._replace(**changes)


def parted_world(**changes):
    observed, recorded = up_to_date_world(**changes)
    recorded["b.txt"] = recorded["b.txt"]._replace(code_digest="code-1",
                                                   params_digest="params-1")
    return observed, recorded


def triggered(job, world, *triggers):
    return kinds(decide(job, *world, triggers=frozenset(triggers)))


def test_every_trigger_is_the_default():
    job = parted(signature="other", params_digest="params-2")
    world = parted_world(**{"a.txt": f("a.txt", "B")})
    assert decide(job, *world) == decide(job, *world, triggers=frozenset(TRIGGERS))
    assert kinds(decide(job, *world)) == [KIND_SIGNATURE_CHANGED, KIND_INPUT_CHANGED]


def test_a_params_change_triggers_only_with_params():
    job = parted(signature="other", params_digest="params-2")
    assert triggered(job, parted_world(), "params") == [KIND_SIGNATURE_CHANGED]
    assert triggered(job, parted_world(), "code", "content", "input", "mtime") == []


def test_a_code_change_triggers_only_with_code():
    job = parted(signature="other", code_digest="code-2")
    assert triggered(job, parted_world(), "code") == [KIND_SIGNATURE_CHANGED]
    assert triggered(job, parted_world(), "params", "content", "input", "mtime") == []


def test_a_command_change_that_neither_part_shows_counts_as_code():
    job = parted(signature="other")
    assert signature_changes(job, parted_world()[1]["b.txt"]) == {"code"}
    assert triggered(job, parted_world(), "code") == [KIND_SIGNATURE_CHANGED]
    assert triggered(job, parted_world(), "params") == []


def test_a_record_without_parts_counts_as_both():
    job = parted(signature="other")
    world = up_to_date_world()  # recorded by an older fileflow: no parts
    assert signature_changes(job, world[1]["b.txt"]) == {"code", "params"}
    assert triggered(job, world, "params") == [KIND_SIGNATURE_CHANGED]
    assert triggered(job, world, "code") == [KIND_SIGNATURE_CHANGED]
    assert triggered(job, world, "content") == []


def test_the_same_signature_has_no_changes():
    assert signature_changes(PARTED, parted_world()[1]["b.txt"]) == frozenset()


def test_content_triggers_on_changed_inputs_and_outputs():
    world = parted_world(**{"a.txt": f("a.txt", "B")})
    assert triggered(PARTED, world, "content") == [KIND_INPUT_CHANGED]
    assert triggered(PARTED, world, "code", "params", "input", "mtime", "software-env") == []
    edited = parted_world(**{"b.txt": f("b.txt", "edited", 200)})
    assert triggered(PARTED, edited, "content") == [KIND_OUTPUT_CHANGED]
    assert triggered(PARTED, edited, "mtime", "input") == []


def test_input_triggers_on_a_changed_set_of_inputs():
    job = parted(inputs=("a.txt", "c.txt"))
    world = parted_world(**{"c.txt": f("c.txt", "C")})
    assert triggered(job, world, "input") == [KIND_INPUTS_CHANGED_SET]
    assert triggered(job, world, "content", "code", "params", "mtime") == []


def test_mtime_triggers_make_s_rule_for_outputs_without_record():
    observed = {"a.txt": f("a.txt", "A", 300), "b.txt": f("b.txt", "out", 200)}
    assert triggered(JOB, (observed, {}), "mtime") == [KIND_INPUT_NEWER]
    assert triggered(JOB, (observed, {}), "content", "code", "params", "input") == []


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_missing_and_incomplete_outputs_and_upstream_jobs_always_trigger(trigger):
    triggers = frozenset({trigger})
    missing = parted_world(**{"b.txt": f("b.txt", None)})
    assert kinds(decide(PARTED, *missing, triggers=triggers)) == [KIND_MISSING_OUTPUT]
    observed, recorded = parted_world()
    recorded["b.txt"] = recorded["b.txt"]._replace(complete=False)
    assert kinds(decide(PARTED, observed, recorded, triggers=triggers)) == [KIND_INCOMPLETE_OUTPUT]
    assert kinds(decide(PARTED, *parted_world(), upstream=["make"], triggers=triggers)) == [
        KIND_UPSTREAM]
    assert kinds(decide(PARTED, *parted_world(), forced="-F", triggers=triggers)) == [KIND_FORCED]


# ---- purity ---------------------------------------------------------------------------------

def test_rebuild_imports_only_pure_modules():
    tree = ast.parse(Path(rebuild.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert imported <= {"__future__", "collections.abc", "dataclasses", "typing",
                        "fileflow.state"}, imported


def test_importing_rebuild_loads_no_database_or_io_layer():
    code = ("import sys, fileflow.engine.staleness; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy' "
            "or m in ('fileflow.engine.store', 'fileflow.runlog.log')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
