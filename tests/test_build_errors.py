"""End to end: a workflow that cannot be built gives exit code 2 and a message naming the
things involved, never a traceback, and changes nothing on disk."""
from __future__ import annotations

import os
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
    assert_usage_error(r, "missing input 'data/a.csv'", "copy[name=a]",
                       "; wanted through all -> copy[name=a]")
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
    assert_usage_error(r, "missing input 'src/a.csv'", "mid[name=a]",
                       "wanted through all -> copy[name=a] -> mid[name=a]\n")


def test_a_missing_input_names_the_jobs_that_want_it(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "final/x.txt"
        rule final:
            input: "mid/{n}.txt"
            output: "final/{n}.txt"
            shell: "cp {input} {output}"
        rule mid:
            input: "raw/{n}.txt"
            output: "mid/{n}.txt"
            shell: "cp {input} {output}"
        """)
    r = p.build()
    assert_usage_error(r)
    assert r.err.splitlines()[0] == (
        "Flowfile:8:12: error: missing input 'raw/x.txt' needed by mid[n=x] (rule at "
        "Flowfile:7:6): the file does not exist and no rule can make it (rules tried: no rule "
        "has a matching output); wanted through all -> final[n=x] -> mid[n=x]")
    assert '    8 |     input: "raw/{n}.txt"' in r.err
    # the job wanting the file is a target itself: no chain to name
    r = p.build("mid/x.txt")
    assert_usage_error(r, "missing input 'raw/x.txt' needed by mid[n=x]")
    assert r.err.splitlines()[0].endswith("(rules tried: no rule has a matching output)")
    assert "wanted through" not in r.err


def test_every_rule_that_could_make_an_input_lacking_files_is_a_missing_input(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out/a.txt"
        rule from_raw:
            input: "raw/{name}.txt"
            output: "out/{name}.txt"
            shell: "cp {input} {output}"
        rule from_sra:
            input: "sra/{name}.sra"
            output: "out/{name}.txt"
            shell: "cp {input} {output}"
        """)
    r = p.build()
    assert_usage_error(r, "Flowfile:2:12: error: missing input 'out/a.txt' needed by all (rule at "
                          "Flowfile:1:6)", "rule 'from_raw' (Flowfile:3:6) needs 'raw/a.txt'",
                       "rule 'from_sra' (Flowfile:7:6) needs 'sra/a.sra'")
    assert "ruleorder" not in r.err and "can both make" not in r.err


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


@pytest.mark.parametrize("flowfile, needle", [
    ('rule a:\n    output: "a\\x00b"\n    shell: "touch a"\n',
     "Flowfile:2:13: error: output path 'a\\x00b' contains a NUL byte"),
    ('rule a:\n    input: "in\\x00"\n    output: "a"\n    shell: "touch a"\n',
     "Flowfile:2:12: error: input path 'in\\x00' contains a NUL byte"),
    ('configfile: "c\\x00.yaml"\nrule a:\n    output: "a"\n    shell: "touch a"\n',
     "Flowfile:1:13: error: configfile path 'c\\x00.yaml' contains a NUL byte"),
    ('include: "r\\x00.flow"\nrule a:\n    output: "a"\n    shell: "touch a"\n',
     "Flowfile:1:10: error: include path 'r\\x00.flow' contains a NUL byte"),
    ('rule a:\n    output: "a"\n    params: p="x\\x00y"\n    shell: "touch a {params.p}"\n',
     "Flowfile:4:5: error: the command of job a contains a NUL byte"),
])
def test_a_nul_byte_in_a_path_is_refused_before_anything_runs(tmp_path, flowfile, needle):
    p = Project(tmp_path)
    p.write("Flowfile", flowfile)
    assert_usage_error(p.build(), needle)
    assert not p.exists("a")


@pytest.mark.parametrize("args, needle", [
    (["a\x00b"], "target 'a\\x00b' contains a NUL byte"),
    (["--force", "a\x00", "a"], "--force 'a\\x00' contains a NUL byte"),
    (["why", "a\x00"], "why 'a\\x00' contains a NUL byte"),
])
def test_a_nul_byte_in_a_command_line_target_is_refused(tmp_path, args, needle):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a"
            shell: "touch {output}"
        """)
    assert_usage_error(p.build(*args), needle)
    assert not p.exists("a")


def test_a_file_name_that_is_not_utf8_is_refused_before_anything_runs(tmp_path):
    # A file of the data folder named with a byte that is not UTF-8 (os.fsdecode gives '\udcff').
    p = Project(tmp_path)
    p.flowfile("""
        NAMES = glob_wildcards("data/{name}.txt").name
        rule all:
            input: expand("out/{name}.txt", name=NAMES)
        rule copy:
            input: "data/{name}.txt"
            output: "out/{name}.txt"
            shell: "cp {input} {output}"
        """)
    (tmp_path / "data").mkdir()
    with open(os.path.join(os.fsencode(tmp_path), b"data", b"caf\xe9.txt"), "w") as fh:
        fh.write("x\n")
    r = p.run("build")
    assert_usage_error(r, "Flowfile:3:12: error: input path 'out/caf\\udce9.txt' is not UTF-8 text")
    assert not p.exists("out")
    r = p.run("build", "out/caf\udce9.txt")  # the same name typed as a target
    assert_usage_error(r, "target 'out/caf\\udce9.txt' is not UTF-8 text")


@pytest.mark.parametrize("flowfile, env, needle", [
    ('rule a:\n    output: "a"\n    params: p = env("WHO")\n    shell: "echo {params.p} > a"\n',
     {"WHO": "caf\udce9"}, "Flowfile:4:5: error: the command of job a is not UTF-8 text"),
    ('rule a:\n    output: "a"\n    params: p = "\\ud800"\n    shell: "echo {params.p} > a"\n',
     {}, "Flowfile:4:5: error: the command of job a is not UTF-8 text (it holds '\\ud800')"),
    ('rule a:\n    output: "a"\n    params: p = "x\\x00y"\n    script: "s.py"\n',
     {}, "Flowfile:3:5: error: param 'p' of rule 'a' holds '\\x00', which a script cannot be given"),
    ('default: "a.txt"\nrule a:\n    output: "{x}.txt"\n    params: p = [wildcards.x, "\\ud800"]\n'
     '    script: "s.py"\n',
     {}, "Flowfile:4:5: error: param 'p' of rule 'a' holds '\\ud800', which a script cannot be given"),
])
def test_a_command_or_script_param_no_process_can_take_is_refused(tmp_path, flowfile, env, needle):
    p = Project(tmp_path)
    p.write("Flowfile", flowfile)
    p.write("s.py", "open('a', 'w').write('x')\n")
    r = p.run("build", env=p.env(**env))
    assert_usage_error(r, needle)
    assert not p.exists("a")


@pytest.mark.parametrize("files, needle", [
    ({"Flowfile": 'include: "/dev/zero"\n'},
     "Flowfile:1:10: error: cannot read /dev/zero: it is a character device, not a regular file"),
    ({"Flowfile": 'configfile: "c.yaml"\nrule a:\n    output: "a"\n    shell: "touch a"\n',
      "c.yaml": "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
          f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))},
     "Flowfile:1:13: error: config file c.yaml is too large once its aliases (*name) are expanded"),
    ({"Flowfile": 'R = range(10000)\nX = expand("{a}/{b}", a=R, b=R)\n'},
     "Flowfile:2:5: error: expand() would make 100000000 paths (at most 10000000)"),
    ({"Flowfile": 'R = [range(5000)] * 1000\nX = R + R + R + R + R + R + R + R + R + R\n'},
     "Flowfile:2:5: error: '+' would make a list of 10002000 items (at most 10000000)"),
])
def test_resource_bombs_are_refused_quickly_in_a_real_process(tmp_path, files, needle):
    """What would exhaust the machine is an error at its place, found quickly with little
    memory (guarantees.md: Errors in words, never a traceback)."""
    import resource
    import time

    p = Project(tmp_path)
    for name, text in files.items():
        p.write(name, text)

    def limit_memory():  # 1 GiB of address space: a bomb that went off would fail, not swap
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    start = time.monotonic()
    r = p.run("build", log=False, timeout=60, preexec_fn=limit_memory)
    assert_usage_error(r, needle)
    assert time.monotonic() - start < 30


def test_a_fifo_as_configfile_or_include_is_refused_without_waiting(tmp_path):
    import os

    p = Project(tmp_path)
    os.mkfifo(p.path("fifo"))
    for directive, column in (("configfile", 13), ("include", 10)):
        p.flowfile(f'{directive}: "fifo"\n')
        r = p.run("check", log=False, timeout=30)
        assert_usage_error(r, f"Flowfile:1:{column}: error: cannot read ",
                           "fifo: it is a FIFO, not a regular file")


def test_an_output_inside_another_rules_directory_output_is_refused_before_running(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out", "out/x.txt"
        rule a:
            output: directory("out")
            shell: "mkdir -p {output}"
        rule b:
            output: "out/x.txt"
            shell: "mkdir -p out && touch {output}"
        """)
    for command in ("check", "build"):
        assert_usage_error(p.build(command), "Flowfile:7:13: error: output 'out/x.txt' of rule 'b' "
                                             "is inside the directory() output 'out' of rule 'a'")
    assert not p.exists("out")


def test_a_string_resource_limited_as_a_number_is_refused_naming_rule_and_resource(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            resources: gpu="one"
            shell: "touch {output}"
        """)
    r = p.build("--resources", "gpu=1")
    assert_usage_error(r, "Flowfile:3:5: error: rule 'a' gives resource 'gpu' the string 'one' "
                          "(job a), but --resources limits gpu as a number")
    assert not p.exists("a.txt")
    assert p.build().code == 0   # without a limit on it, a string resource is fine


def test_threads_zero_runs_a_job_that_needs_no_core(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule a:
            output: "a.txt"
            threads: 0
            shell: "echo {threads} > {output}"
        """)
    r = p.build("-j", "1")
    assert r.code == 0, r
    assert p.read("a.txt") == "0\n"


def test_a_flowfile_without_rules_has_nothing_to_do(tmp_path):
    p = Project(tmp_path)
    p.write("empty.flow", "# nothing here yet\n")
    p.flowfile('include: "empty.flow"\n')
    r = p.build("check")
    assert (r.code, r.out) == (0, "Flowfile: ok: 0 rules, 1 included file; default target: none\n")
    for args in ((), ("-n",), ("build",)):
        r = p.build(*args)
        assert (r.code, r.err) == (0, ""), r
        assert r.out == "nothing to do: Flowfile has no rules and no 'default:'\n"
    assert not p.exists(".fileflow/runlog.db")


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


def test_a_missing_input_points_at_the_input_and_the_rule(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "out/a.txt"
        rule copy:
            input: "data/{name}.csv", "extra.txt"
            output: "out/{name}.txt"
            shell: "cp {input} {output}"
        """)
    p.write("data/a.csv", "x\n")
    r = p.build()
    assert_usage_error(r, "Flowfile:4:31: error: missing input 'extra.txt' needed by copy[name=a] "
                          "(rule at Flowfile:3:6)")
    assert r.err.splitlines()[0].endswith("; wanted through all -> copy[name=a]")
    assert '    4 |     input: "data/{name}.csv", "extra.txt"' in r.err
    assert r.err.splitlines()[2].endswith("^^^^^^^^^^^")  # the caret under the input


def test_a_cycle_points_at_an_input_and_says_how_to_break_it(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
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
    r = p.build()
    assert_usage_error(r, "dependency cycle: ", "hint: ", "break the cycle")
    assert r.err.startswith(("Flowfile:4:12: error: dependency cycle: b -> a -> b",
                             "Flowfile:8:12: error: dependency cycle: a -> b -> a")), r.err


def test_an_ambiguity_points_at_the_input_and_names_where_the_rules_are(tmp_path):
    p = Project(tmp_path)
    p.flowfile(AMBIGUOUS)
    r = p.build()
    assert_usage_error(r, "Flowfile:2:12: error: rules 'one' (Flowfile:3:6) and 'two' (Flowfile:6:6) "
                          "can both make 'out/x.txt'")


def test_an_ambiguity_names_every_candidate_with_its_place(tmp_path):
    p = Project(tmp_path)
    p.flowfile(AMBIGUOUS + """
    rule three:
        input: "other/{name}.txt"
        output: "out/{name}.txt"
        shell: "cp {input} {output}"
    rule four:
        output: "out/{name}.txt"
        shell: "echo four > {output}"
    rule not_this_one:
        input: "absent/{name}.txt"
        output: "out/{name}.txt"
        shell: "cp {input} {output}"
    """)
    p.write("other/x.txt", "x\n")
    r = p.build()
    assert_usage_error(r, "Flowfile:2:12: error: rules 'one' (Flowfile:3:6), 'two' (Flowfile:6:6), "
                          "'three' (Flowfile:10:6) and 'four' (Flowfile:14:6) can all make "
                          "'out/x.txt'; add 'ruleorder: one > two > three > four' or a wildcard "
                          "constraint to choose one")


def test_a_runaway_wildcard_value_is_shortened_in_the_message(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule all:
            input: "a"
        rule back:
            input: "ref/genome.fa", "{n}.bak"
            output: "{n,[a-z.]+}"
            shell: "cp {input} {output}"
        """)
    r = p.build()
    assert_usage_error(r, "Flowfile:4:29: error: rule 'back' feeds itself", "…")
    assert ".bak" * 50 not in r.err  # 100 of them today, twice
    assert max(len(line) for line in r.err.splitlines()) < 600


RESOURCE_IN_COMMAND = """
    rule a:
        output: "a.txt"
        shell: "echo {resources.runtime} > {output}"
    """


def test_a_resource_the_rule_does_not_set_comes_from_default_resources_as_check_says(tmp_path):
    p = Project(tmp_path)
    p.flowfile(RESOURCE_IN_COMMAND)
    check = p.run("check")
    build = p.build()
    assert_usage_error(build, "Flowfile:3:18: error: {resources.runtime}: rule 'a' has no resource")
    assert check.code == 2 and check.err == build.err  # the same verdict, the same words
    assert p.run("check", "--default-resources", "runtime=5").code == 0
    r = p.build("--default-resources", "runtime=5")
    assert r.code == 0, r
    assert p.read("a.txt") == "5\n"
    # resources are left out of a job's signature, as -j is: another value reruns nothing
    r = p.build("--default-resources", "runtime=6")
    assert (r.code, r.ran) == (0, []), r
    assert p.read("a.txt") == "5\n"
    # a rule whose resources are per job keeps the defaults under its own
    p.flowfile(RESOURCE_IN_COMMAND.replace('"a.txt"', '"a.txt"\n        resources: mem_mb = 10 * attempt')
               .replace("{resources.runtime}", "{resources.runtime} {resources.mem_mb}"))
    assert_usage_error(p.build(), "has no resource 'runtime'")
    r = p.build("--default-resources", "runtime=7", "mem_mb=1")
    assert r.code == 0, r
    assert p.read("a.txt") == "7 10\n"
