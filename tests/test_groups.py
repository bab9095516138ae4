"""Group jobs: which jobs of a graph run together (engine/groups.py, pure), what one group
job asks for, and the runner that runs a group's members on a node
(executors/group_runner.py, real processes)."""
from __future__ import annotations

import json
import os
import textwrap
import time

import pytest

from fileflow.engine.groups import GroupMember, group_request, make_groups
from fileflow.engine.resolve import resolve
from fileflow.errors import FileflowError
from fileflow.executors.group_runner import run_group
from fileflow.lang.loader import load_workflow

FLOW = """
    S = ["a", "b", "c", "d"]

    rule all:
        input: expand("c/{s}.txt", s=S), "total.txt"

    rule a:
        output: "a/{s}.txt"
        group: "chain"
        shell: "echo {wildcards.s} > {output}"

    rule b:
        input: "a/{s}.txt"
        output: "b/{s}.txt"
        group: "chain"
        shell: "cat {input} > {output}"

    rule c:
        input: "b/{s}.txt"
        output: "c/{s}.txt"
        group: "chain"
        shell: "cat {input} > {output}"

    rule total:
        input: expand("b/{s}.txt", s=S)
        output: "total.txt"
        shell: "cat {input} > {output}"
    """


def grouped(tmp_path, flow: str = FLOW, components=None, run=None):
    path = tmp_path / "Flowfile"
    path.write_text(textwrap.dedent(flow).lstrip("\n"))
    workflow = load_workflow(str(path), workdir=str(tmp_path))
    graph = resolve(workflow, ["all"], lambda paths: list(paths))
    order = graph.topological_order()
    to_run = set(range(len(graph.jobs))) if run is None else {
        j.id for j in graph.jobs if j.name in run}
    grouping = make_groups(graph.jobs, graph.deps, order, to_run, components or {})
    return [sorted(graph.jobs[j].name for j in members) for members in grouping.members]


def test_connected_jobs_of_one_group_form_one_group_per_component(tmp_path):
    groups = grouped(tmp_path, FLOW.replace('group: "chain"', 'group: "per_{s}"'))
    assert sorted(groups) == [[f"{r}[s={s}]" for r in "abc"] for s in "abcd"]


def test_a_group_connected_through_a_job_outside_it_is_dissolved(tmp_path):
    # a -> b -> c of one sample are connected, but nothing links the samples, and `total`
    # (outside the group) reads b of each: no cycle, four groups of three.
    assert len(grouped(tmp_path)) == 4
    flow = FLOW.replace('input: "b/{s}.txt"\n        output: "c/{s}.txt"',
                        'input: "b/{s}.txt", "total.txt"\n        output: "c/{s}.txt"')
    # c now also waits for `total`, which waits for every b: a group {a, b, c} of a sample
    # would wait for itself through `total`. Those groups run as single jobs.
    assert grouped(tmp_path, flow) == []


def test_group_components_put_n_unconnected_pieces_in_one_group(tmp_path):
    flow = FLOW.replace('        group: "chain"\n', "", 2)  # only c is grouped: 4 single jobs
    assert grouped(tmp_path, flow) == []
    groups = grouped(tmp_path, flow, {"chain": 3})
    assert [len(g) for g in groups] == [3]  # 3 + 1: a group of one is no group
    assert len(grouped(tmp_path, flow, {"chain": 4})[0]) == 4


def test_only_jobs_to_run_are_grouped(tmp_path):
    groups = grouped(tmp_path, run={"b[s=a]", "c[s=a]", "a[s=b]"})
    assert groups == [["b[s=a]", "c[s=a]"]]


def test_a_group_name_with_an_unknown_wildcard_is_a_load_error(tmp_path):
    with pytest.raises(FileflowError, match="not a wildcard of rule 'a'"):
        grouped(tmp_path, FLOW.replace('group: "chain"', 'group: "per_{sample}"', 1))


def test_parallel_members_sum_and_layers_take_the_largest_runtime_adds_up():
    # Two independent members (one layer), then one that waits for both (a second layer).
    members = [GroupMember(2, {"mem_mb": 100, "runtime": 10}),
               GroupMember(1, {"mem_mb": 300, "runtime": 20}),
               GroupMember(4, {"mem_mb": 200, "runtime": 5}, after=(0, 1))]
    request = group_request(members)
    assert request.layers == 2
    assert request.threads == 4                     # max(2 + 1, 4)
    assert request.resources["mem_mb"] == 400       # max(100 + 300, 200)
    assert request.resources["runtime"] == 25       # max(10, 20) + 5


def test_a_layer_beyond_the_group_cores_is_cut_into_layers_one_after_the_other():
    members = [GroupMember(1, {"mem_mb": 100, "runtime": 1}) for _ in range(5)]
    request = group_request(members, max_threads=2)
    assert (request.threads, request.layers) == (2, 3)
    assert request.resources == {"mem_mb": 200, "runtime": 3}
    limited = group_request(members, limits={"mem_mb": 300})
    assert (limited.threads, limited.layers, limited.resources["mem_mb"]) == (3, 2, 300)


def test_text_resources_must_agree_and_a_missing_runtime_gives_none():
    same = group_request([GroupMember(1, {"slurm_partition": "short"}),
                          GroupMember(1, {"slurm_partition": "short", "runtime": 5})])
    assert same.resources == {"slurm_partition": "short"}  # one member has no time limit
    with pytest.raises(FileflowError, match="different values of resource 'slurm_partition'"):
        group_request([GroupMember(1, {"slurm_partition": "short"}),
                       GroupMember(1, {"slurm_partition": "long"})], what="group g")
    timed = group_request([GroupMember(1, {}, timeout=120), GroupMember(1, {}, (0,), 60)])
    assert timed.resources["runtime"] == 3          # timeouts: 2 min, then 1 min


def _script(tmp_path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.sh"
    path.write_text(f"#!/bin/bash\n{body}\n")
    return str(path)


def test_the_runner_runs_members_in_order_and_a_failure_stops_only_its_dependents(tmp_path):
    order = tmp_path / "order.txt"
    members = [
        {"id": 1, "name": "a", "after": [], "script": _script(tmp_path, "a", f"echo a >> {order}")},
        {"id": 2, "name": "b", "after": [1], "script": _script(tmp_path, "b", "exit 3")},
        {"id": 3, "name": "c", "after": [2], "script": _script(tmp_path, "c", f"echo c >> {order}")},
        {"id": 4, "name": "d", "after": [1], "script": _script(tmp_path, "d", f"echo d >> {order}")},
    ]
    results = tmp_path / "results"
    code = run_group({"cores": 1, "results": str(results), "members": members})
    assert code == 1
    assert order.read_text() == "a\nd\n"
    lines = {r["id"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert lines[1]["exit"] == 0 and lines[4]["exit"] == 0 and lines[2]["exit"] == 3
    assert lines[3]["not_run"] == "b" and "exit" not in lines[3]
    assert lines[1]["ended"] <= lines[4]["started"]



def test_the_runner_stops_a_member_past_its_timeout_and_runs_the_others(tmp_path):
    members = [
        {"id": 1, "name": "slow", "after": [], "timeout": 0.5,
         "script": _script(tmp_path, "slow", f"sleep 30 & echo $! > {tmp_path}/child; wait")},
        {"id": 2, "name": "next", "after": [1], "script": _script(tmp_path, "next", "true")},
        {"id": 3, "name": "other", "after": [], "script": _script(tmp_path, "other", "sleep 1")},
    ]
    results = tmp_path / "results"
    started = time.monotonic()
    assert run_group({"cores": 2, "results": str(results), "members": members}) == 1
    assert time.monotonic() - started < 10
    lines = {r["id"]: r for r in map(json.loads, results.read_text().splitlines())}
    assert lines[1]["timed_out"] and lines[1]["exit"] != 0
    assert lines[2]["not_run"] == "slow" and lines[3]["exit"] == 0
    child = int((tmp_path / "child").read_text())
    assert not os.path.exists(f"/proc/{child}") or "Z" in open(f"/proc/{child}/stat").read().split()[2]
