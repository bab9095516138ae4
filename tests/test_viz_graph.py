"""End to end: `fileflow build -n --graph` and `fileflow graph`: each format on a
diamond workflow, the state colours after a failed run, -o by extension, Graphviz rendering
and its absence, stdout carrying only the graph, large graphs summarised per rule, and that
looking changes no file, mtime or run log."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from buildkit import Project
from conftest import need_service

DIAMOND = """
    rule all:
        input: "d.txt"
    rule a:
        input: "in.txt"
        output: "a.txt"
        shell: "cp {input} {output}"
    rule b:
        input: "a.txt"
        output: "b.txt"
        shell: "cp {input} {output}"
    rule c:
        input: "a.txt"
        output: "c.txt"
        shell: "cp {input} {output}"
    rule d:
        input: "b.txt", "c.txt"
        output: "d.txt"
        shell: "cat {input} > {output}"
    """
# data flows producer -> consumer
DIAMOND_EDGES = {("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "all")}


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@pytest.fixture
def diamond(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile(DIAMOND)
    p.write("in.txt", "x\n")
    return p


@pytest.fixture
def failed_once(diamond) -> Project:
    """a and b built; c failed last time; d and all not run."""
    text = diamond.read("Flowfile").replace(
        'output: "c.txt"\n    shell: "cp {input} {output}"',
        'output: "c.txt"\n    shell: "echo c broke >&2; exit 3"')
    diamond.write("Flowfile", text)
    r = diamond.build("-j", "1")
    assert r.code == 1, r
    return diamond


def test_dry_run_graph_on_a_diamond_is_a_tree_with_shared_subtrees_shown_once(diamond):
    r = diamond.run("build", "-n", "--graph", log=False)
    assert r.code == 0, r
    assert r.out == (
        "all: upstream job d runs\n"
        "└─ d: output 'd.txt' is missing; upstream job b runs ...\n"
        "   ├─ b: output 'b.txt' is missing; upstream job a runs\n"
        "   │  └─ a: output 'a.txt' is missing\n"
        "   └─ c: output 'c.txt' is missing; upstream job a runs\n"
        "      └─ a  (shown above)\n"
        "\n"
        "dry run: 5 of 5 jobs would run\n")


def test_dry_run_graph_shows_only_what_would_run(diamond):
    assert diamond.build("-j", "1").code == 0
    diamond.path("c.txt").unlink()             # c reruns, then d and all; a and b do not
    r = diamond.build("-n", "--graph", log=False)
    assert r.code == 0, r
    names = [re.sub(r"^[\s│├└─]*", "", line).split(":")[0] for line in r.out.splitlines()[:-2]]
    assert names == ["all", "d", "c"], r
    assert "└─ c: output 'c.txt' is missing\n" in r.out
    assert r.out.endswith("dry run: 3 of 5 jobs would run\n")
    assert diamond.build("-j", "1").code == 0
    r = diamond.build("-n", "--graph", log=False)
    assert r.out == "nothing to do: all 5 jobs are up to date\n", r


def _mermaid(text: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    assert text.startswith("flowchart TB\n")
    labels = dict(re.findall(r'^\s+(n\d+)\["([^"]*)"\]$', text, re.M))
    edges = re.findall(r"^\s+(n\d+) --> (n\d+)$", text, re.M)
    return labels, {(labels[a], labels[b]) for a, b in edges}


def test_mermaid_has_the_nodes_and_edges(diamond):
    r = diamond.run("graph", "--format", "mermaid", log=False)
    assert r.code == 0, r
    labels, edges = _mermaid(r.out)
    assert sorted(labels.values()) == ["a", "all", "b", "c", "d"]
    assert edges == DIAMOND_EDGES
    # every node is coloured: all of them will run (nothing was built yet)
    assert re.search(r"^\s+classDef willrun fill:#fff1bf", r.out, re.M)
    assert re.search(r"^\s+class (n\d+,){4}n\d+ willrun$", r.out, re.M)


def test_dot_has_the_nodes_and_edges_and_parses_with_graphviz(diamond):
    r = diamond.run("graph", log=False)        # DOT is the default format on stdout
    assert r.code == 0, r
    labels = dict(re.findall(r'^\s+(n\d+) \[label="([^"]*)"', r.out, re.M))
    edges = {(labels[a], labels[b]) for a, b in re.findall(r"^\s+(n\d+) -> (n\d+);$", r.out, re.M)}
    assert sorted(labels.values()) == ["a", "all", "b", "c", "d"] and edges == DIAMOND_EDGES
    dot = shutil.which("dot")
    need_service(dot is not None, "Graphviz (the dot program)")
    # `fileflow graph | dot -Tsvg` works: the DOT parses, and the drawing names every job.
    svg = subprocess.run([dot, "-Tsvg"], input=r.out, capture_output=True, text=True, check=True)
    titles = re.findall(r"<title>([^<]*)</title>", svg.stdout)
    assert {t for t in titles if "&#45;&gt;" not in t} == {"fileflow", *labels}
    assert len([t for t in titles if "&#45;&gt;" in t]) == len(DIAMOND_EDGES)


def test_json_follows_the_documented_schema(diamond):
    r = diamond.run("graph", "--format", "json", log=False)
    assert r.code == 0, r
    data = json.loads(r.out)
    assert set(data) == {"schema", "level", "total_jobs", "roots", "nodes", "edges"}
    assert data["schema"] == "fileflow-graph/1" and data["level"] == "jobs"
    assert data["total_jobs"] == 5
    for i, node in enumerate(data["nodes"]):
        assert set(node) == {"id", "name", "rule", "wildcards", "state", "reasons", "outputs",
                             "checkpoint"}
        assert node["checkpoint"] is False
        assert node["id"] == i and node["state"] == "will run" and node["reasons"]
    names = {n["id"]: n["name"] for n in data["nodes"]}
    assert {(names[a], names[b]) for a, b in data["edges"]} == DIAMOND_EDGES
    assert [names[i] for i in data["roots"]] == ["all"]
    by_name = {n["name"]: n for n in data["nodes"]}
    assert by_name["d"]["outputs"] == ["d.txt"]


def test_rules_and_files_levels(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: expand("out/{s}.n", s=["x", "y", "z"])
        rule count:
            input: "in/{s}.txt"
            output: "out/{s}.n"
            shell: "wc -c < {input} > {output}"
        """)
    for s in "xyz":
        p.write(f"in/{s}.txt", s)
    rules = json.loads(p.run("graph", "--level", "rules", "--format", "json", log=False).out)
    assert [(n["name"], n["jobs"]) for n in rules["nodes"]] == [("all", 1), ("count", 3)]
    assert rules["edges"] == [[1, 0]]
    assert rules["nodes"][1]["examples"] == ["count[s=x]", "count[s=y]", "count[s=z]"]
    files = json.loads(p.run("graph", "--level", "files", "--format", "json", log=False).out)
    kinds = {n["path"]: (n["kind"], n["rule"], n["state"]) for n in files["nodes"]}
    assert kinds["in/x.txt"] == ("source", None, "source")
    assert kinds["out/x.n"] == ("output", "count", "will run")
    paths = {n["id"]: n["path"] for n in files["nodes"]}
    assert {(paths[a], paths[b]) for a, b in files["edges"]} == {
        (f"in/{s}.txt", f"out/{s}.n") for s in "xyz"}
    text = p.run("graph", "--level", "rules", "--format", "text", log=False).out
    assert text.splitlines() == ["all  1 job", "└─ count  3 jobs: count[s=x], count[s=y], count[s=z]"]


def test_states_after_a_failed_run(failed_once):
    data = json.loads(failed_once.run("graph", "--format", "json", log=False).out)
    states = {n["name"]: n["state"] for n in data["nodes"]}
    assert states == {"a": "up to date", "b": "up to date", "c": "failed last time",
                      "d": "will run", "all": "will run"}
    dot = failed_once.run("graph", log=False).out
    colour = dict(re.findall(r'label="(\w+)", fillcolor="(#\w+)"', dot))
    assert colour == {"a": "#d8f0d8", "b": "#d8f0d8", "c": "#f7c9c9", "d": "#fff1bf",
                      "all": "#fff1bf"}
    text = failed_once.run("graph", "--format", "text", log=False).out
    assert "c  [failed last time]: output 'c.txt' is missing" in text
    assert "b  [up to date]" in text


def test_output_format_from_the_extension(failed_once):
    diamond = failed_once
    before = diamond.snapshot()
    written = ["g.json", "g.mmd", "g.gv", "g.txt"]
    for name, check in zip(written, [lambda t: json.loads(t)["schema"] == "fileflow-graph/1",
                                     lambda t: t.startswith("flowchart TB"),
                                     lambda t: t.startswith("digraph fileflow {"),
                                     lambda t: t.startswith("all  [will run]")]):
        r = diamond.run("graph", "-o", name, log=False)
        assert r.code == 0 and r.out == "", r
        assert check(diamond.read(name)), name
        assert oct(diamond.path(name).stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    after = diamond.snapshot()
    # only the files asked for are new; nothing else (the run log included) changed
    assert sorted(set(after) - set(before)) == sorted(written)
    assert {k: after[k] for k in before if k != "."} == {k: v for k, v in before.items() if k != "."}
    bad = diamond.run("graph", "-o", "g.xyz", log=False)
    assert bad.code == 2 and "cannot tell the format" in bad.err and not diamond.exists("g.xyz")
    clash = diamond.run("graph", "--format", "json", "-o", "g2.mmd", log=False)
    assert clash.code == 2 and "does not match" in clash.err and not diamond.exists("g2.mmd")


def test_svg_and_png_through_graphviz(diamond):
    need_service(shutil.which("dot") is not None, "Graphviz (the dot program)")
    r = diamond.run("graph", "--level", "rules", "-o", "rules.svg", log=False)
    assert r.code == 0, r
    svg = diamond.read("rules.svg")
    assert "<svg" in svg and ">all<" in svg and ">d<" in svg
    r = diamond.run("graph", "-o", "jobs.png", log=False)
    assert r.code == 0, r
    assert diamond.path("jobs.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_clear_message_when_graphviz_is_missing(diamond, tmp_path_factory):
    empty = tmp_path_factory.mktemp("nobin")   # a PATH where there is no dot
    r = diamond.run("graph", "-o", "g.svg", log=False, env=diamond.env(PATH=str(empty)))
    assert r.code == 2, r
    assert "needs Graphviz's 'dot' program, which is not installed" in r.err
    assert "-o g.dot" in r.err and r.out == ""
    assert not diamond.exists("g.svg")
    assert not [n for n in os.listdir(diamond.root) if n.startswith(".fileflow-")]


def test_stdout_carries_only_the_graph(diamond):
    assert diamond.build().code == 0  # outputs on disk: their inputs' times are looked at
    diamond.set_mtime_ns("in.txt", (int(os.path.getmtime(diamond.path("in.txt"))) + 10**6) * 10**9)
    r = diamond.run("graph", "--format", "json", log=False)
    assert r.code == 0
    assert "modification time in the future" in r.err    # the warning goes to stderr
    json.loads(r.out)                                       # stdout is the graph alone
    piped = subprocess.run(f"{sys.executable} -m fileflow graph | cat", shell=True,
                           cwd=diamond.root, capture_output=True, text=True, env=diamond.env())
    assert piped.stdout.startswith("digraph fileflow {") and piped.stdout.endswith("}\n")


def test_large_graphs_are_summarised_per_rule(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        N = 400
        rule all:
            input: expand("o/{i}.txt", i=range(N))
        rule work:
            input: "data.txt"
            output: "o/{i}.txt"
            shell: "cp {input} {output}"
        """)
    p.write("data.txt", "d\n")
    r = p.run("build", "-n", "--graph", log=False)
    assert r.code == 0, r
    assert r.out.splitlines() == [
        "401 jobs: too many to list, shown per rule (count, first 3 of each)",
        "all  1 job, 1 to run: upstream job work[i=0] runs",
        "└─ work  400 jobs, 400 to run: work[i=0], work[i=1], work[i=2], ...  "
        "(e.g. output 'o/0.txt' is missing)",
        "",
        "dry run: 401 of 401 jobs would run"]
    # a plain -n keeps its per-rule table
    plain = p.run("-n", log=False)
    assert re.search(r"^work\s+400$", plain.out, re.M) and "├─" not in plain.out


LOOKS = [
    ["build", "-n", "--graph"],
    ["graph"],
    ["graph", "--format", "mermaid"],
    ["graph", "--format", "json", "--level", "files"],
    ["graph", "--format", "text", "--level", "rules"],
    ["summary"],
    ["build", "--summary"],
    ["runs"],
    ["log"],
    ["log", "c.txt"],
]


@pytest.mark.parametrize("args", LOOKS, ids=[" ".join(a) for a in LOOKS])
def test_looking_changes_no_file_mtime_or_run_log(failed_once, args):
    failed_once.write("in.txt", "changed\n")    # something is out of date too
    failed_once.age("in.txt", 5)
    before = failed_once.snapshot()
    r = failed_once.run(*args, log=False)
    assert r.code == 0, r
    assert r.out
    assert failed_once.snapshot() == before


def test_graph_on_a_fresh_directory_creates_no_run_log(diamond):
    before = diamond.snapshot()
    for args in (["graph"], ["build", "-n", "--graph"], ["summary"], ["runs"]):
        assert diamond.run(*args, log=False).code == 0
    assert diamond.snapshot() == before and not diamond.exists(".fileflow")


def test_a_workflow_error_goes_to_stderr_with_nothing_on_stdout(diamond):
    diamond.path("in.txt").unlink()     # a's input is gone: the graph cannot be made
    for args in (["graph"], ["graph", "--format", "json"], ["build", "-n", "--graph"]):
        r = diamond.run(*args, log=False)
        assert r.code == 2 and r.out == "", r
        assert "in.txt" in r.err
