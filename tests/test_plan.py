"""The planner: graph + observed files + run log records -> which jobs run and why. Real
files and a real run log (made by a real build); the plan is computed in-process."""
from __future__ import annotations

import os

import pytest
from buildkit import Project

from fileflow.engine.plan import Force, make_plan
from fileflow.engine.resolve import resolve
from fileflow.engine.store import FileStore
from fileflow.lang.loader import load_workflow

FLOW = """
    rule all:
        input: "final.txt"
    rule a:
        input: "in.txt"
        output: "a.txt"
        shell: "cp {input} {output}"
    rule mid:
        input: "a.txt"
        output: temp("mid.txt")
        shell: "cp {input} {output}"
    rule final:
        input: "mid.txt", "other.txt"
        output: "final.txt"
        shell: "cat {input} > {output}"
    rule other:
        output: "other.txt"
        shell: "echo other > {output}"
    """


NOTHING_FORCED = Force()


def plan_of(p: Project, force: Force = NOTHING_FORCED, targets=None):
    workflow = load_workflow(str(p.path("Flowfile")), workdir=str(p.root))
    graph = resolve(workflow, list(targets or workflow.default_targets),
                    lambda paths: [q for q in paths if not os.path.exists(p.path(q))])
    recorded = p.recorded() if p.has_runlog() else {}
    store = FileStore(str(p.root))
    plan = make_plan(graph, store, recorded, force)
    return plan, store


def kinds(plan) -> dict[str, list[str]]:
    jobs = plan.graph.jobs
    return {jobs[j].name: [r.kind for r in plan.reasons[j]] for j in plan.to_run}


@pytest.fixture
def project(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile(FLOW)
    p.write("in.txt", "one\n")
    return p


def test_nothing_built_everything_runs_in_dependency_order(project):
    plan, _ = plan_of(project)
    got = kinds(plan)
    assert got["a"] == ["missing-output"]
    assert got["mid"] == ["missing-output", "upstream"]
    assert got["final"] == ["missing-output", "upstream", "upstream"]   # mid, other
    names = [plan.graph.jobs[j].name for j in plan.to_run]
    assert names.index("a") < names.index("mid") < names.index("final") < names.index("all")


def settled_build(p: Project) -> None:
    """A build, then a no-op one: it hashes again the outputs recorded within a timestamp
    tick of their writing, and records them as settled."""
    assert p.build().code == 0
    assert p.build(log=False).code == 0


def test_after_a_build_nothing_runs_though_a_temp_file_is_gone(project):
    settled_build(project)
    assert not project.exists("mid.txt")
    plan, store = plan_of(project)
    assert plan.reasons == {}
    assert "mid.txt" in plan.virtual_temp
    assert store.hashed_count == 0        # every stat matched its record: nothing was read


def test_a_build_leaves_what_it_wrote_recorded_as_settled(project):
    """A build's end finds its outputs as recorded once the clock has passed their writing,
    and records them so: a later plan (a dry run, `why`) reads none of them again."""
    assert project.build().code == 0
    plan, store = plan_of(project)
    assert plan.reasons == {}
    assert store.hashed_count == 0


def test_touched_input_is_hashed_once_and_offered_for_recording(project):
    settled_build(project)
    project.set_mtime_ns("in.txt", project.mtime_ns("in.txt") + 10**9)
    plan, store = plan_of(project)
    assert plan.reasons == {}
    assert store.hashed_count == 1
    assert [s.path for s in plan.fresh_states] == ["in.txt"]


def test_changed_input_reruns_the_temp_producer_below_it(project):
    assert project.build().code == 0
    project.write("in.txt", "two\n")
    plan, _ = plan_of(project)
    got = kinds(plan)
    assert got["a"] == ["input-changed"]
    assert got["mid"] == ["upstream"]
    assert got["final"] == ["upstream"]
    assert "other" not in got


def test_a_job_needing_a_deleted_temp_file_remakes_it(project):
    assert project.build().code == 0
    os.unlink(project.path("final.txt"))
    plan, _ = plan_of(project)
    got = kinds(plan)
    assert got["final"] == ["missing-output"]
    assert got["mid"] == ["temp-needed"]
    assert "a" not in got and "other" not in got


@pytest.mark.parametrize("force,expected", [
    (Force(all=True), {"a", "mid", "final", "other", "all"}),
    # final must run, so the deleted temp mid.txt is made again for it
    (Force(rules=frozenset({"other"})), {"other", "mid", "final", "all"}),
    (Force(targets=frozenset({"a.txt"})), {"a", "mid", "final", "all"}),
    (Force(targets=frozenset({"other"})), {"other", "mid", "final", "all"}),
])
def test_forcing(project, force, expected):
    assert project.build().code == 0
    plan, _ = plan_of(project, force)
    assert set(kinds(plan)) == expected
    forced = [n for n, k in kinds(plan).items() if k == ["forced"]]
    assert forced and set(forced) <= expected


def test_an_output_with_no_record_follows_makes_rule(project):
    project.write("a.txt", "made by hand\n")
    project.age("in.txt", 50)
    plan, _ = plan_of(project, targets=["a.txt"])
    assert plan.reasons == {}
    project.age("a.txt", 100)
    plan, _ = plan_of(project, targets=["a.txt"])
    assert kinds(plan) == {"a": ["input-newer"]}


def test_planning_writes_nothing(project):
    assert project.build().code == 0
    project.write("in.txt", "two\n")
    before = project.snapshot()
    plan_of(project, Force(all=True))
    after = project.snapshot()
    assert {k: v for k, v in after.items() if k != ".fileflow"} == \
        {k: v for k, v in before.items() if k != ".fileflow"}
