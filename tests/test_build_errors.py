"""End to end: a workflow that cannot be built gives exit code 2 and a message naming the
things involved, never a traceback, and changes nothing on disk."""
from __future__ import annotations

import textwrap

import pytest
from buildkit import Project


def assert_usage_error(result, *needles: str) -> None:
    assert result.code == 2, result
    assert "Traceback" not in result.text, result
    for needle in needles:
        assert needle in result.err, f"{needle!r} not in:\n{result.err}"
    assert result.ran == []


def test_missing_input_names_the_job_and_the_file(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out/a.txt"
        rule copy:
            input: "data/{name}.csv"
            output: "out/{name}.txt"
            shell: "cp {input} {output}"
        """)
    r = p.build()
    assert_usage_error(r, "missing input 'data/a.csv'", "copy[name=a]")
    assert not p.exists(".fileflow/runlog.db")


def test_missing_input_lists_the_rules_tried(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out/a.txt"
        rule copy:
            input: "mid/{name}.csv"
            output: "out/{name}.txt"
            shell: "cp {input} {output}"
        rule mid:
            input: "src/{name}.csv"
            output: "mid/{name}.csv"
            shell: "cp {input} {output}"
        """)
    r = p.build()
    assert_usage_error(r, "missing input 'src/a.csv'", "mid[name=a]")


def test_missing_target_on_the_command_line(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            shell: "touch {output}"
        """)
    assert_usage_error(p.build("nothing-makes-this.txt"), "nothing-makes-this.txt")


AMBIGUOUS = """
    rule all:
        input: "out/x.txt"
    rule one:
        output: "out/{name}.txt"
        shell: "echo one > {output}"
    rule two:
        output: "out/{name}.txt"
        shell: "echo two > {output}"
    """


def test_ambiguous_rules_name_both(tmp_path):
    p = Project(tmp_path)
    p.flowfile(AMBIGUOUS)
    assert_usage_error(p.build(), "'one'", "'two'", "out/x.txt", "ruleorder")
    assert not p.exists("out")


@pytest.mark.parametrize("order,winner", [("one > two", "one"), ("two > one", "two")])
def test_ruleorder_resolves_the_ambiguity(tmp_path, order, winner):
    p = Project(tmp_path)
    p.flowfile(textwrap.dedent(AMBIGUOUS) + f"\nruleorder: {order}\n")
    r = p.build()
    assert r.code == 0, r
    assert r.ran == [f"{winner}[name=x]"]
    assert p.read("out/x.txt") == f"{winner}\n"


def test_wildcard_constraint_resolves_the_ambiguity(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out/x.txt", "out/7.txt"
        rule letters:
            output: "out/{name,[a-z]+}.txt"
            shell: "echo letters > {output}"
        rule digits:
            output: "out/{name,[0-9]+}.txt"
            shell: "echo digits > {output}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert p.read("out/x.txt") == "letters\n"
    assert p.read("out/7.txt") == "digits\n"


def test_cycle_is_printed_as_a_path(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "c.txt"
        rule a:
            input: "c.txt"
            output: "a.txt"
            shell: "cp {input} {output}"
        rule b:
            input: "a.txt"
            output: "b.txt"
            shell: "cp {input} {output}"
        rule c:
            input: "b.txt"
            output: "c.txt"
            shell: "cp {input} {output}"
        """)
    r = p.build()
    assert_usage_error(r, "cycle")
    line = next(err_line for err_line in r.err.splitlines() if "cycle" in err_line)
    path = line.split("cycle:")[1].strip().split(" -> ")
    assert path[0] == path[-1]                       # a closed path
    assert sorted(path[:-1]) == ["a", "b", "c"]
    # in the direction data flows: each job feeds the next
    feeds = {("a", "b"), ("b", "c"), ("c", "a")}
    assert all((x, y) in feeds for x, y in zip(path, path[1:]))


def test_a_rule_feeding_itself_is_a_cycle(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule loop:
            input: "x.txt"
            output: "x.txt"
            shell: "touch {output}"
        """)
    assert_usage_error(p.build(), "cycle", "loop")


def test_rule_name_target_with_wildcards_is_refused(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "w/a.txt"
        rule count:
            output: "w/{sample}.txt"
            shell: "touch {output}"
        """)
    assert_usage_error(p.build("count"), "'count'", "sample")


def test_rule_name_target_without_wildcards_builds_that_rule(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "a.txt", "b.txt"
        rule a:
            output: "a.txt"
            shell: "touch {output}"
        rule b:
            output: "b.txt"
            shell: "touch {output}"
        """)
    r = p.build("b")
    assert r.code == 0, r
    assert r.ran == ["b"]
    assert not p.exists("a.txt")


@pytest.mark.parametrize("target", ["w/../../escape.txt", "w/../../../tmp/escape.txt"])
def test_wildcard_with_dotdot_escaping_the_directory_is_refused(tmp_path, target):
    p = Project(tmp_path / "work")
    p.flowfile("""
        rule w:
            output: "w/{name}.txt"
            shell: "echo escaped > {output}"
        """)
    assert_usage_error(p.build(target), "{name}", "leaves the working directory")
    assert not (tmp_path / "escape.txt").exists()


def test_dotdot_wildcard_from_an_input_is_refused(tmp_path):
    p = Project(tmp_path / "work")
    p.flowfile("""
        rule all:
            input: "w/../../escape.txt"
        rule w:
            output: "w/{name}.txt"
            shell: "echo escaped > {output}"
        """)
    assert_usage_error(p.build(), "leaves the working directory")
    assert not (tmp_path / "escape.txt").exists()


def test_absolute_output_written_in_the_flowfile_is_allowed(tmp_path):
    outside = tmp_path / "outside.txt"
    p = Project(tmp_path / "work")
    p.flowfile(f"""
        rule abs:
            output: "{outside}"
            shell: "echo made > {{output}}"
        """)
    r = p.build()
    assert r.code == 0, r
    assert outside.read_text() == "made\n"


def test_syntax_error_gives_position_and_exit_2_in_a_real_process(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output "a.txt"
            shell: "touch {output}"
        """)
    r = p.run("build")
    assert r.code == 2
    assert "Traceback" not in r.err
    assert "Flowfile:2:" in r.err


def test_workflow_errors_in_a_real_process_have_no_traceback(tmp_path):
    p = Project(tmp_path)
    p.flowfile(AMBIGUOUS)
    r = p.run("build")
    assert r.code == 2
    assert "Traceback" not in r.err
    assert "'one'" in r.err and "'two'" in r.err


@pytest.mark.parametrize("args,needle", [
    (["--resources", "mem_mb"], "--resources"),
    (["-j", "-1"], "-j"),
    (["--latency-wait", "soon"], "--latency-wait"),
    (["--no-such-option"], "--no-such-option"),
])
def test_bad_arguments_exit_2(tmp_path, args, needle):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            shell: "touch {output}"
        """)
    r = p.build(*args)
    assert r.code == 2, r
    assert needle in r.err
    assert not p.exists("a.txt")


def test_no_flowfile_is_a_clear_error(tmp_path):
    r = Project(tmp_path).build()
    assert r.code == 2
    assert "no Flowfile" in r.err


def test_a_job_needing_more_than_the_resource_limit_is_refused_before_running(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "small.txt", "big.txt"
        rule small:
            output: "small.txt"
            shell: "touch {output}"
        rule big:
            output: "big.txt"
            resources: mem_mb = 5000
            shell: "touch {output}"
        """)
    r = p.build("--resources", "mem_mb=1000")
    assert r.code == 2, r
    assert "big" in r.err and "mem_mb" in r.err
    assert not p.exists("small.txt")
    # and no run is left looking as if it were still going
    assert all(run["status"] != "running" for run in p.runs())


def test_a_flowfile_whose_rules_all_come_from_includes_has_no_default_target(tmp_path):
    p = Project(tmp_path)
    p.write("rules.flow", 'rule inc:\n    output: "i.txt"\n    shell: "touch {output}"\n')
    p.flowfile('include: "rules.flow"\n')
    assert_usage_error(p.build(), "has no rule of its own and no 'default:'",
                       "never the default target")
    assert not p.exists("i.txt")
    assert p.build("i.txt").code == 0 and p.exists("i.txt")
