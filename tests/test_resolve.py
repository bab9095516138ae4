"""The resolver: requested files -> job graph (rules matched, wildcards bound, sources found),
and its errors. In-process on Flowfile text, plus a 50,000-step chain in a real process."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from fileflow.engine.resolve import resolve
from fileflow.errors import (
    AmbiguousRuleError,
    CycleError,
    MissingInputError,
    NoRuleCanRunError,
    WorkflowError,
)
from fileflow.lang.loader import load_workflow


def graph_of(tmp_path, text: str, targets=None, files=()):
    for name in files:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    flow = tmp_path / "Flowfile"
    flow.write_text(textwrap.dedent(text).lstrip("\n"))
    workflow = load_workflow(str(flow), workdir=str(tmp_path))
    targets = list(targets or workflow.default_targets)
    return resolve(workflow, targets,
                   lambda paths: [p for p in paths if not os.path.exists(os.path.join(tmp_path, p))])


def names(graph, ids):
    return [graph.jobs[i].name for i in ids]


CHAIN = """
    rule all:
        input: expand("c/{s}.txt", s=["x", "y"])
    rule a:
        input: "src/{s}.txt"
        output: "a/{s}.txt"
        shell: "cp {input} {output}"
    rule c:
        input: "a/{s}.txt", "shared.txt"
        output: "c/{s}.txt"
        shell: "cat {input} > {output}"
    rule shared:
        output: "shared.txt"
        shell: "touch {output}"
    """


def test_graph_of_a_small_workflow(tmp_path):
    g = graph_of(tmp_path, CHAIN, files=["src/x.txt", "src/y.txt"])
    assert sorted(j.name for j in g.jobs) == sorted(
        ["all", "a[s=x]", "a[s=y]", "c[s=x]", "c[s=y]", "shared"])
    assert g.sources == {"src/x.txt", "src/y.txt"}
    by_name = {j.name: j.id for j in g.jobs}
    assert g.producer["c/x.txt"] == by_name["c[s=x]"]
    assert sorted(names(g, g.deps[by_name["c[s=x]"]])) == ["a[s=x]", "shared"]
    assert sorted(names(g, g.dependents[by_name["shared"]])) == ["c[s=x]", "c[s=y]"]
    order = g.topological_order()
    position = {j: i for i, j in enumerate(order)}
    for job in range(len(g.jobs)):
        for dep in g.deps[job]:
            assert position[dep] < position[job]
    assert names(g, g.targets) == ["all"]


def test_one_job_per_rule_and_wildcards_however_often_it_is_needed(tmp_path):
    g = graph_of(tmp_path, CHAIN, targets=["c/x.txt", "c/x.txt", "a/x.txt"],
                 files=["src/x.txt"])
    assert sorted(j.name for j in g.jobs) == ["a[s=x]", "c[s=x]", "shared"]


def test_missing_input_names_file_needer_and_rules_tried(tmp_path):
    with pytest.raises(MissingInputError) as err:
        graph_of(tmp_path, CHAIN, files=["src/x.txt"])
    assert err.value.path == "src/y.txt"
    assert err.value.needed_by == "a[s=y]"
    assert "src/y.txt" in str(err.value) and "a[s=y]" in str(err.value)


AMBIGUOUS = """
    rule all:
        input: "out/x.txt"
    rule one:
        output: "out/{n}.txt"
        shell: "touch {output}"
    rule two:
        output: "out/{n}.txt"
        shell: "touch {output}"
    rule three:
        output: "out/{n}.txt"
        shell: "touch {output}"
    """


def test_ambiguity_names_the_rules(tmp_path):
    with pytest.raises(AmbiguousRuleError) as err:
        graph_of(tmp_path, AMBIGUOUS)
    assert sorted(err.value.rules) == ["one", "three", "two"]
    assert err.value.path == "out/x.txt"


def test_ruleorder_is_transitive(tmp_path):
    g = graph_of(tmp_path, AMBIGUOUS + "\n    ruleorder: three > two\n    ruleorder: two > one\n")
    assert sorted(j.name for j in g.jobs) == ["all", "three[n=x]"]


def test_partial_ruleorder_still_ambiguous(tmp_path):
    with pytest.raises(AmbiguousRuleError) as err:
        graph_of(tmp_path, AMBIGUOUS + "\n    ruleorder: three > two\n")
    assert sorted(err.value.rules) == ["one", "three"]


def graph_on(tmp_path, text: str, targets, existing=()):
    """The graph with the files on disk faked: `existing` are there, nothing else is."""
    flow = tmp_path / "Flowfile"
    flow.write_text(textwrap.dedent(text).lstrip("\n"))
    workflow = load_workflow(str(flow), workdir=str(tmp_path))
    return resolve(workflow, list(targets), lambda paths: [p for p in paths if p not in existing])


def test_a_missing_input_names_the_jobs_that_want_it_a_long_chain_cut_short(tmp_path):
    text = 'rule all:\n    input: "s12.txt"\n' + "".join(
        f'rule s{n}:\n    input: "{f"s{n - 1}" if n else "raw"}.txt"\n    output: "s{n}.txt"\n'
        '    shell: "cp {input} {output}"\n' for n in range(13))
    with pytest.raises(MissingInputError) as err:
        graph_on(tmp_path, text, ["all"])
    assert err.value.needed_by == "s0"
    assert err.value.chain == ["all", *(f"s{n}" for n in range(12, -1, -1))]
    assert str(err.value).endswith(
        "; wanted through all -> s12 -> (7 more) -> s4 -> s3 -> s2 -> s1 -> s0")
    with pytest.raises(MissingInputError) as err:  # the target needs it: no chain
        graph_on(tmp_path, text, ["s0"])
    assert err.value.chain == ["s0"] and "wanted through" not in str(err.value)


TWO_WAYS = """
    rule from_raw:
        input: "raw/{n}.txt"
        output: "out/{n}.txt"
        shell: "cp {input} {output}"
    rule from_sra:
        input: "sra/{n}.sra"
        output: "out/{n}.txt"
        shell: "cp {input} {output}"
    """


def test_a_rule_whose_input_cannot_exist_is_no_candidate(tmp_path):
    g = graph_on(tmp_path, TWO_WAYS, ["out/x.txt"], existing={"sra/x.sra"})
    assert [j.name for j in g.jobs] == ["from_sra[n=x]"]
    # before ruleorder: the preferred rule cannot run here
    g = graph_on(tmp_path, TWO_WAYS + "ruleorder: from_raw > from_sra\n", ["out/x.txt"],
                 existing={"sra/x.sra"})
    assert [j.name for j in g.jobs] == ["from_sra[n=x]"]
    # an input another rule makes can exist
    g = graph_on(tmp_path, TWO_WAYS + """
    rule unpack:
        output: "raw/{n}.txt"
        shell: "touch {output}"
    """, ["out/x.txt"], existing=set())
    assert sorted(j.name for j in g.jobs) == ["from_raw[n=x]", "unpack[n=x]"]
    with pytest.raises(AmbiguousRuleError) as err:
        graph_on(tmp_path, TWO_WAYS, ["out/x.txt"], existing={"sra/x.sra", "raw/x.txt"})
    assert err.value.rules == ["from_raw", "from_sra"]
    with pytest.raises(NoRuleCanRunError) as lacking:  # none can run: a missing input
        graph_on(tmp_path, TWO_WAYS, ["out/x.txt"], existing=set())
    assert [(name, lacks) for name, _, lacks in lacking.value.candidates] == [
        ("from_raw", ["raw/x.txt"]), ("from_sra", ["sra/x.sra"])]


def test_every_rule_dropped_for_lacking_inputs_is_a_missing_input_naming_each(tmp_path):
    text = """
    rule all:
        input: "final/x.txt"
    rule final:
        input: "out/{n}.txt"
        output: "final/{n}.txt"
        shell: "cp {input} {output}"
    """ + TWO_WAYS.replace('input: "sra/{n}.sra"', 'input: "sra/{n}.sra", "meta/{n}.json"')
    for order in ("", "ruleorder: from_raw > from_sra\n"):
        with pytest.raises(MissingInputError) as err:
            graph_on(tmp_path, text + order, ["all"], existing={"meta/x.json"})
        assert not isinstance(err.value, AmbiguousRuleError)
        assert err.value.path == "out/x.txt" and err.value.needed_by == "final[n=x]"
        assert (err.value.pos.line, err.value.pos.column) == (4, 12)
        assert str(err.value).replace(f"{tmp_path}{os.sep}", "") == (
            "missing input 'out/x.txt' needed by final[n=x] (rule at "
            "Flowfile:3:6): the file does not exist and none of the rules that could make it "
            "can run (rule 'from_raw' (Flowfile:8:6) needs 'raw/x.txt'; rule 'from_sra' "
            "(Flowfile:12:6) needs 'sra/x.sra': files that do not exist and that no rule "
            "makes); wanted through all -> final[n=x]")
    # a rule needing the file itself is named too; asked for on the command line
    with pytest.raises(NoRuleCanRunError) as err:
        graph_on(tmp_path, TWO_WAYS + """
    rule fill:
        input: "out/{n}.txt"
        output: "out/{n}.txt"
        shell: "touch {output}"
    """, ["out/x.txt"], existing=set())
    assert str(err.value).replace(f"{tmp_path}{os.sep}", "").startswith(
        "no rule can make 'out/x.txt' and there is no such file: none of the rules that could "
        "make it can run (rule 'from_raw' (Flowfile:1:6) needs 'raw/x.txt'; rule 'from_sra' "
        "(Flowfile:5:6) needs 'sra/x.sra'; rule 'fill' (Flowfile:10:6) needs 'out/x.txt' "
        "itself: ")


def test_a_rule_whose_inputs_fail_for_the_job_is_no_candidate(tmp_path):
    text = TWO_WAYS.replace('input: "raw/{n}.txt"', 'input: {"y": "raw/y.txt"}[wildcards.n]')
    g = graph_on(tmp_path, text, ["out/x.txt"], existing={"sra/x.sra", "raw/y.txt"})
    assert [j.name for j in g.jobs] == ["from_sra[n=x]"]
    g = graph_on(tmp_path, text, ["out/y.txt"], existing={"raw/y.txt"})
    assert [j.name for j in g.jobs] == ["from_raw[n=y]"]


SELF_NEEDING = """
    rule report:
        input: "table.csv"
        output: "report.txt"
        shell: "cp {input} {output}"
    rule fill:
        input: "{name}.csv", "defaults.csv"
        output: "{name}.csv"
        shell: "touch {output}"
    rule patch:
        input: "{name}.csv", "fix.diff"
        output: "{name}.csv"
        shell: "touch {output}"
    """


def test_an_existing_file_only_rules_needing_it_could_make_is_a_source(tmp_path):
    g = graph_on(tmp_path, SELF_NEEDING, ["report.txt"], existing={"table.csv"})
    assert [j.name for j in g.jobs] == ["report"] and g.sources == {"table.csv"}
    # a rule that does not need it is chosen over those that do
    g = graph_on(tmp_path, SELF_NEEDING + """
    rule export:
        output: "{name}.csv"
        shell: "touch {output}"
    """, ["report.txt"], existing={"table.csv"})
    assert sorted(j.name for j in g.jobs) == ["export[name=table]", "report"]


def test_an_existing_file_the_only_rule_making_it_would_need_is_a_source(tmp_path):
    text = """
    rule report:
        input: "table.csv"
        output: "report.txt"
        shell: "cp {input} {output}"
    rule fill:
        input: "{name}.csv", "defaults.csv"
        output: "{name}.csv"
        shell: "touch {output}"
    """
    g = graph_on(tmp_path, text, ["report.txt"], existing={"table.csv"})
    assert [j.name for j in g.jobs] == ["report"] and g.sources == {"table.csv"}
    with pytest.raises(CycleError) as err:
        graph_on(tmp_path, text, ["report.txt"], existing=set())
    assert err.value.cycle == ["fill[name=table]", "fill[name=table]"]
    assert (err.value.pos.line, err.value.pos.column) == (6, 12)


def test_ruleorder_chooses_among_rules_that_can_run(tmp_path):
    g = graph_on(tmp_path, TWO_WAYS + "ruleorder: from_sra > from_raw\n", ["out/x.txt"],
                 existing={"sra/x.sra", "raw/x.txt"})
    assert [j.name for j in g.jobs] == ["from_sra[n=x]"]


MULTIQC = """
    rule fastqc:
        output: "qc/{sample}.txt"
        shell: "touch {output}"
    rule multiqc:
        input: "qc/a.txt", "qc/b.txt"
        output: "qc/multiqc.txt"
        shell: "cat {input} > {output}"
    """


def test_a_rule_without_wildcards_beats_one_with_wildcards(tmp_path):
    g = graph_on(tmp_path, MULTIQC, ["qc/multiqc.txt"])
    assert sorted(j.name for j in g.jobs) == ["fastqc[sample=a]", "fastqc[sample=b]", "multiqc"]
    # a ruleorder says otherwise: it wins
    g = graph_on(tmp_path, MULTIQC + "ruleorder: fastqc > multiqc\n", ["qc/multiqc.txt"])
    assert [j.name for j in g.jobs] == ["fastqc[sample=multiqc]"]


def test_an_ambiguity_names_every_candidate_left_with_its_place(tmp_path):
    with pytest.raises(AmbiguousRuleError) as err:
        graph_on(tmp_path, AMBIGUOUS, ["out/x.txt"])
    assert str(err.value).replace(f"{tmp_path}{os.sep}", "") == (
        "rules 'one' (Flowfile:3:6), 'two' (Flowfile:6:6) and 'three' (Flowfile:9:6) can all make "
        "'out/x.txt'; add 'ruleorder: one > two > three' or a wildcard constraint to choose one")


def test_global_wildcard_constraints(tmp_path):
    g = graph_of(tmp_path, """
        wildcard_constraints:
            n = "[0-9]+"
        rule all:
            input: "out/12.txt"
        rule numbered:
            output: "out/{n}.txt"
            shell: "touch {output}"
        """)
    assert [j.wildcards for j in g.jobs if j.rule.name == "numbered"] == [{"n": "12"}]
    with pytest.raises(MissingInputError):
        graph_of(tmp_path, """
            wildcard_constraints:
                n = "[0-9]+"
            rule all:
                input: "out/abc.txt"
            rule numbered:
                output: "out/{n}.txt"
                shell: "touch {output}"
            """)


def test_an_existing_file_a_rule_can_make_is_still_made_by_the_rule(tmp_path):
    g = graph_of(tmp_path, CHAIN, files=["src/x.txt", "src/y.txt", "a/x.txt"])
    assert "a/x.txt" in g.producer
    assert "a/x.txt" not in g.sources


def test_two_jobs_making_the_same_file_is_an_error(tmp_path):
    with pytest.raises(WorkflowError, match="both make 'shared.txt'"):
        graph_of(tmp_path, """
            rule all:
                input: "x.txt", "y.txt"
            rule x:
                output: "x.txt", "shared.txt"
                shell: "touch {output}"
            rule y:
                output: "y.txt", "shared.txt"
                shell: "touch {output}"
            """)


def test_cycle_is_reported_as_a_closed_path(tmp_path):
    g = graph_of(tmp_path, """
        rule all:
            input: "b.txt"
        rule a:
            input: "b.txt"
            output: "a.txt"
            shell: "cp {input} {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            shell: "cp {input} {output}"
        """)
    with pytest.raises(CycleError) as err:
        g.topological_order()
    cycle = err.value.cycle
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b"]


def test_rule_name_targets(tmp_path):
    g = graph_of(tmp_path, CHAIN, targets=["shared"])
    assert [j.name for j in g.jobs] == ["shared"]
    with pytest.raises(WorkflowError, match="wildcards"):
        graph_of(tmp_path, CHAIN, targets=["a"])


@pytest.mark.parametrize("target", ["a/../../x.txt", "a/../x.txt"])
def test_wildcards_leaving_the_directory_are_refused(tmp_path, target):
    with pytest.raises(WorkflowError, match="leaves the working directory"):
        graph_of(tmp_path, CHAIN, targets=[target])


def test_a_dotdot_inside_the_directory_still_is_refused_as_a_wildcard_value(tmp_path):
    """'a/sub/../x.txt' stays inside, but fileflow refuses any '..' segment in a wildcard
    value rather than reasoning about where it leads."""
    with pytest.raises(WorkflowError, match="leaves the working directory"):
        graph_of(tmp_path, CHAIN, targets=["a/sub/../x.txt"])


@pytest.mark.slow
@pytest.mark.e2e
def test_a_50000_step_chain_resolves(tmp_path):
    """A long chain: no recursion anywhere, so 50,000 steps are fine (a dry run, in a
    real process; how long it takes is for benchmarks/, not for this test)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "0.txt").write_text("0\n")
    (tmp_path / "Flowfile").write_text(textwrap.dedent("""\
        rule step:
            input: "data/0.txt" if wildcards.k == "0" else "out/" + str(int(wildcards.k) - 1) + ".txt"
            output: "out/{k}.txt"
            shell: "cp {input} {output}"
        """))
    proc = subprocess.run([sys.executable, "-m", "fileflow", "-n", "out/49999.txt"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert re.search(r"^step\s+50000$", proc.stdout, re.M)
    assert "50000 of 50000 jobs would run" in proc.stdout
    assert sorted(os.listdir(tmp_path)) == ["Flowfile", "data"]


@pytest.mark.parametrize("target", ["../outside.txt", "./../outside.txt", "/tmp/outside.txt"])
def test_a_catch_all_pattern_never_makes_files_outside(tmp_path, target):
    with pytest.raises(WorkflowError, match="leaves the working directory"):
        graph_of(tmp_path, """
            rule any:
                output: "{name}.txt"
                shell: "touch {output}"
            """, targets=[target])


def test_a_rule_that_feeds_itself_with_growing_wildcards_is_refused(tmp_path):
    import resource

    (tmp_path / "Flowfile").write_text(textwrap.dedent("""\
        rule x:
            input: "{n}.a.txt"
            output: "{n}.txt"
            shell: "cp {input} {output}"
        """))

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))

    proc = subprocess.run([sys.executable, "-m", "fileflow", "-n", "1.txt"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, preexec_fn=limit_memory)
    assert proc.returncode == 2, proc.stderr[-1000:]
    assert "Traceback" not in proc.stderr
    assert "'x'" in proc.stderr or " x" in proc.stderr


def test_every_way_of_making_a_rules_jobs_keeps_a_name_given_an_empty_list(tmp_path):
    g = graph_of(tmp_path, """
        rule all:
            input: "fixed.txt", "w/s.txt", "lazy/s.txt", "params/s.txt", "nologs/s.txt"
        rule fixed:
            input: groups=expand("g/{g}.txt", g=[]), main="a.txt"
            output: "fixed.txt"
            log: notes=[], main="fixed.log"
        rule formatted:
            input: groups=expand("g/{g}.txt", g=[]), main="a.txt"
            output: "w/{x}.txt"
            log: notes=[], main="w/{x}.log"
        rule lazy_inputs:
            input: groups=[wildcards.x for g in []], main="a.txt"
            output: "lazy/{x}.txt"
            log: notes=[], main="lazy/{x}.log"
        rule lazy_params:
            input: groups=expand("g/{g}.txt", g=[]), main="a.txt"
            output: "params/{x}.txt"
            log: notes=[], main="params/{x}.log"
            params: p=wildcards.x
        rule no_logs:
            input: groups=expand("g/{g}.txt", g=[]), main="a.txt"
            output: "nologs/{x}.txt"
            log: notes=[]
        """, files=["a.txt"])
    jobs = {j.rule.name: j.values for j in g.jobs}
    assert set(jobs) == {"all", "fixed", "formatted", "lazy_inputs", "lazy_params", "no_logs"}
    for name, v in jobs.items():
        if name == "all":
            continue
        assert (v.inputs.values, v.inputs.names, v.inputs.empty) == (("a.txt",), ("main",), ("groups",))
        assert v.log.empty == ("notes",) and v.log.has("notes") and v.log.named("notes") == []
        assert v.outputs.empty == ()
    assert jobs["no_logs"].log.values == ()


def test_edges_of_one_and_of_many_jobs_are_kept_in_the_order_met(tmp_path):
    """A job's producers and consumers, however many (none, one, a few, more than a
    job's producers are looked through one by one), in the order the walk met them;
    an input asked twice is one edge."""
    g = graph_of(tmp_path, """
        rule all:
            input: "agg.txt", "pair.txt"
        rule agg:
            input: expand("o/{i}.txt", i=range(40)), "o/3.txt"
            output: "agg.txt"
            shell: "cat {input} > {output}"
        rule pair:
            input: "o/1.txt", "o/2.txt"
            output: "pair.txt"
            shell: "cat {input} > {output}"
        rule work:
            input: "data/{i}.txt"
            output: "o/{i}.txt"
            shell: "cp {input} {output}"
        """, files=[f"data/{i}.txt" for i in range(40)])
    by_name = {j.name: j.id for j in g.jobs}
    assert names(g, g.deps[by_name["agg"]]) == [f"work[i={i}]" for i in range(40)]
    assert names(g, g.deps[by_name["pair"]]) == ["work[i=1]", "work[i=2]"]
    assert names(g, g.deps[by_name["all"]]) == ["agg", "pair"]
    assert names(g, g.dependents[by_name["work[i=0]"]]) == ["agg"]
    assert names(g, g.dependents[by_name["work[i=1]"]]) == ["agg", "pair"]
    assert names(g, g.dependents[by_name["agg"]]) == ["all"]
    assert list(g.deps[by_name["work[i=5]"]]) == []
    order = g.topological_order()
    assert order.index(by_name["work[i=2]"]) < order.index(by_name["pair"]) < order.index(
        by_name["all"])
    g.add_edge(by_name["work[i=0]"], by_name["pair"])  # a third producer, a second consumer
    assert names(g, g.deps[by_name["pair"]]) == ["work[i=1]", "work[i=2]", "work[i=0]"]
    assert names(g, g.dependents[by_name["work[i=0]"]]) == ["agg", "pair"]
    assert names(g, g.dependents[by_name["work[i=9]"]]) == ["agg"]


def test_a_target_rule_asked_twice_is_one_job(tmp_path):
    g = graph_of(tmp_path, """
        rule all:
            input: "a.txt"
        rule a:
            output: "a.txt"
            shell: "touch {output}"
        """, targets=["all", "all", "a"])
    assert sorted(j.name for j in g.jobs) == ["a", "all"]
    assert names(g, g.targets) == ["all", "all", "a"]  # each as asked, one job each
