"""Unit tests of fileflow.engine.selection: the part of a job graph that --until, --omit-from
and --batch keep. The graph comes from a Flowfile's text; the selection looks at no disk
(which paths are missing is a set handed in)."""
from __future__ import annotations

import textwrap

import pytest

from fileflow.engine.resolve import resolve
from fileflow.engine.selection import Batch, Selection, parse_batch, select
from fileflow.errors import FileflowError
from fileflow.lang.loader import load_workflow

FLOW = """
    N = ["1", "2", "3", "4", "5"]

    rule all:
        input: "total.txt", "side.txt"

    rule side:
        output: "side.txt"
        shell: "echo side > {output}"

    rule make:
        output: temp("n/{i}.txt")
        shell: "echo {wildcards.i} > {output}"

    rule sq:
        input: "n/{i}.txt"
        output: "sq/{i}.txt"
        shell: "cat {input} > {output}"

    rule gather:
        input: expand("sq/{i}.txt", i=N)
        output: "total.txt"
        shell: "cat {input} > {output}"
    """


@pytest.fixture
def world(tmp_path):
    flow = tmp_path / "Flowfile"
    flow.write_text(textwrap.dedent(FLOW).lstrip("\n"))
    workflow = load_workflow(str(flow), workdir=str(tmp_path))
    graph = resolve(workflow, ["all"], lambda paths: list(paths))
    return workflow, graph


def chosen(world, missing=(), **kwargs):
    workflow, graph = world
    gone = set(missing)
    return select(graph, Selection(**kwargs), workflow.by_name,
                  lambda paths: [p for p in paths if p in gone])


def names(graph) -> set[str]:
    return {job.name for job in graph.jobs}


def is_consistent(graph) -> None:
    """Ids are positions; every edge, producer and target names a job of the graph."""
    assert [job.id for job in graph.jobs] == list(range(len(graph.jobs)))
    for consumer, deps in enumerate(graph.deps):
        for dep in deps:
            assert consumer in graph.dependents[dep]
            assert set(graph.jobs[dep].outputs) & set(graph.jobs[consumer].inputs)
    assert all(0 <= j < len(graph.jobs) for j in graph.producer.values())
    assert all(0 <= t < len(graph.jobs) for t in graph.targets)
    graph.topological_order()


def test_an_empty_selection_is_the_graph_itself(world):
    assert chosen(world) is world[1]


def test_until_a_rule_keeps_its_jobs_and_what_they_need(world):
    graph = chosen(world, until=("sq",))
    is_consistent(graph)
    assert names(graph) == {f"sq[i={i}]" for i in "12345"} | {f"make[i={i}]" for i in "12345"}
    assert {graph.jobs[t].name for t in graph.targets} == {f"sq[i={i}]" for i in "12345"}


def test_until_a_file_keeps_its_job_and_what_it_needs(world):
    graph = chosen(world, until=("./sq/2.txt",))
    is_consistent(graph)
    assert names(graph) == {"sq[i=2]", "make[i=2]"}
    assert graph.keeps_own_temp == {graph.producer["sq/2.txt"]}


def test_omit_from_leaves_out_the_job_and_everything_below_but_not_above(world):
    graph = chosen(world, omit_from=("sq/3.txt",))
    is_consistent(graph)
    assert names(graph) == ({"side", "make[i=3]"} | {f"sq[i={i}]" for i in "1245"}
                            | {f"make[i={i}]" for i in "1245"})
    assert "n/3.txt" in graph.kept_temp  # its reader is left out: not a temp file to delete
    assert {graph.jobs[t].name for t in graph.targets} == {"side", "make[i=3]"} | {
        f"sq[i={i}]" for i in "1245"}


def test_until_and_omit_from_together(world):
    graph = chosen(world, until=("gather",), omit_from=("sq/3.txt",))
    is_consistent(graph)
    assert names(graph) == {f"sq[i={i}]" for i in "1245"} | {f"make[i={i}]" for i in "12345"}
    # the jobs the left-out ones needed become targets, as in Snakemake
    assert {graph.jobs[t].name for t in graph.targets} == {f"sq[i={i}]" for i in "1245"} | {
        "make[i=3]"}


@pytest.mark.parametrize("text, index, count, part", [
    ("gather=1/3", 1, 3, ["a", "b"]),
    ("gather=2/3", 2, 3, ["c", "d"]),
    ("gather=3/3", 3, 3, ["e"]),
    ("gather=1/1", 1, 1, ["a", "b", "c", "d", "e"]),
    ("gather=5/5", 5, 5, ["e"]),
])
def test_batches_cut_the_sorted_inputs_evenly(text, index, count, part):
    batch = parse_batch(text)
    assert batch == Batch("gather", index, count)
    assert batch.part(["e", "d", "c", "b", "a", "a"]) == part


def test_every_input_falls_in_exactly_one_batch():
    items = [f"x{i:03}" for i in range(103)]
    parts = [Batch("r", i, 7).part(items) for i in range(1, 8)]
    assert sum(parts, []) == sorted(items)
    assert {len(p) for p in parts} == {14, 15}


@pytest.mark.parametrize("text, message", [
    ("gather", "--batch expects RULE=i/n (such as gather=1/3), got 'gather'"),
    ("gather=1-3", "--batch expects RULE=i/n (such as gather=1/3), got 'gather=1-3'"),
    ("gather=0/3", "--batch gather=0/3: the batch must be from 1 to 3, got 0"),
    ("gather=4/3", "--batch gather=4/3: the batch must be from 1 to 3, got 4"),
    ("gather=1/0", "--batch gather=1/0: the number of batches must be at least 1"),
])
def test_bad_batches_are_refused(text, message):
    with pytest.raises(FileflowError) as err:
        parse_batch(text)
    assert str(err.value) == message


def test_a_batch_before_the_last_builds_its_part_and_leaves_the_rule_out(world):
    graph = chosen(world, batch=Batch("gather", 2, 3))
    is_consistent(graph)
    assert names(graph) == {"side", "sq[i=3]", "sq[i=4]", "make[i=3]", "make[i=4]"}


def test_the_last_batch_runs_the_rule_with_the_earlier_parts_from_disk(world):
    graph = chosen(world, batch=Batch("gather", 3, 3))
    is_consistent(graph)
    assert names(graph) == {"all", "side", "gather", "sq[i=5]", "make[i=5]"}
    assert {f"sq/{i}.txt" for i in "1234"} <= graph.sources
    gather = graph.producer["total.txt"]
    assert [graph.jobs[d].name for d in graph.deps[gather]] == ["sq[i=5]"]


def test_the_last_batch_needs_the_earlier_ones_done(world):
    with pytest.raises(FileflowError) as err:
        chosen(world, batch=Batch("gather", 3, 3), missing={"sq/2.txt", "sq/4.txt"})
    assert str(err.value) == ("--batch gather=3/3: the earlier batches are not all done: "
                              "'sq/2.txt' and 1 more missing; run batches 1 to 2 of it first")


@pytest.mark.parametrize("kwargs, message", [
    (dict(until=("nope.txt",)),
     "--until nope.txt: no rule has that name and no job of this build makes that file"),
    (dict(omit_from=("sq", "nope")),
     "--omit-from nope: no rule has that name and no job of this build makes that file"),
    (dict(batch=Batch("nope", 1, 2)), "--batch nope=1/2: no rule named 'nope'"),
    (dict(batch=Batch("gather", 1, 6)),
     "--batch gather=1/6: job gather has 5 input(s), fewer than 6 batches; choose fewer batches"),
])
def test_unknown_names_are_refused(world, kwargs, message):
    with pytest.raises(FileflowError) as err:
        chosen(world, **kwargs)
    assert str(err.value) == message


def test_a_rule_without_jobs_in_the_graph_is_refused(tmp_path):
    flow = tmp_path / "Flowfile"
    flow.write_text(textwrap.dedent(FLOW).lstrip("\n"))
    workflow = load_workflow(str(flow), workdir=str(tmp_path))
    graph = resolve(workflow, ["side"], lambda paths: list(paths))
    for selection, flag in [(Selection(until=("gather",)), "--until gather"),
                            (Selection(omit_from=("gather",)), "--omit-from gather"),
                            (Selection(batch=Batch("gather", 1, 2)), "--batch gather=1/2")]:
        with pytest.raises(FileflowError) as err:
            select(graph, selection, workflow.by_name, lambda paths: [])
        assert str(err.value) == f"{flag}: no job of rule 'gather' is part of this build"
