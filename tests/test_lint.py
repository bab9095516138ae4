"""`fileflow lint`: each code on a Flowfile that has the problem and on one that does not, and
the command line (output format, --select/--ignore, --fail-on, exit codes)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fileflow.editor.lint import lint_workflow, run_lint
from fileflow.editor.output_index import OutputIndex
from fileflow.lang.loader import load_workflow
from fileflow.lang.syntax import parse_flowfile
from fileflow.patterns import parse_pattern


def lint_text(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> list:
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    flowfile = tmp_path / "Flowfile"
    flowfile.write_text(textwrap.dedent(text))
    workflow = load_workflow(str(flowfile), workdir=str(tmp_path))
    modules = [parse_flowfile(Path(p).read_text(), p) for p in workflow.flowfiles]
    return lint_workflow(workflow, modules)


def codes(findings, code: str) -> list[str]:
    return [f"{f.pos.line}:{f.pos.column} {f.message}" for f in findings if f.code == code]


CASES = {
    "FF101": ('''\
        rule all:
            input: "b.txt"
        rule make:
            output: "b.txt"
            shell: "echo > {output}"
        ''', '''\
        rule all:
            input: "b.txt"
        rule make:
            output: "b.txt"
            log: "logs/make.log"
            shell: "echo > {output} 2> {log}"
        '''),
    "FF102": ('''\
        rule make:
            input: "/etc/hostname"
            output: "b.txt"
            log: "b.log"
            shell: "cp {input} {output}"
        ''', '''\
        rule make:
            input: "etc/hostname"
            output: "b.txt"
            log: "b.log"
            shell: "cp {input} {output}"
        '''),
    "FF103": ('''\
        rule make:
            input: src="a.txt"
            output: "b.txt"
            log: "b.log"
            shell: "cp {input[0]} {output[0]}"
        ''', '''\
        rule make:
            input: src="a.txt"
            output: "b.txt"
            log: "b.log"
            shell: "cp {input.src} {output[0]}"
        '''),
    "FF104": ('''\
        rule all:
            input: "out/x.txt"
        rule make:
            output: "out/{name}.txt"
            log: "logs/{name}.log"
            shell: "touch {output}"
        ''', '''\
        wildcard_constraints:
            name = "[^/]+"
        rule all:
            input: "out/x.txt"
        rule make:
            output: "out/{name}.txt"
            log: "logs/{name}.log"
            shell: "touch {output}"
        '''),
    "FF105": ('''\
        USED = "b.txt"
        UNUSED = 3
        rule make:
            output: USED
            log: "b.log"
            shell: "touch {output}"
        ''', '''\
        USED = "b.txt"
        rule make:
            output: USED
            log: "b.log"
            shell: "touch {output}"
        '''),
    "FF106": ('''\
        rule all:
            input: "b.txt"
        rule make:
            output: temp("b.txt")
            log: "b.log"
            shell: "touch {output}"
        ''', '''\
        rule all:
            input: "c.txt"
        rule make:
            output: temp("b.txt")
            log: "b.log"
            shell: "touch {output}"
        rule copy:
            input: "b.txt"
            output: "c.txt"
            log: "c.log"
            shell: "cp {input} {output}"
        '''),
    "FF107": ('''\
        rule all:
            input: "b.txt"
        rule make:
            output: "b.txt"
            log: "b.log"
            shell: "touch {output}"
        rule stray:
            output: "z.txt"
            log: "z.log"
            shell: "touch {output}"
        ''', '''\
        rule all:
            input: "b.txt"
        rule make:
            input: "z.txt"
            output: "b.txt"
            log: "b.log"
            shell: "cp {input} {output}"
        rule feed:
            output: "z.txt"
            log: "z.log"
            shell: "touch {output}"
        '''),
    "FF108": ('''\
        rule all:
            input: "r/a.sorted.txt"
        rule sort:
            input: "r/{s}.txt"
            output: "r/{s}.sorted.txt"
            log: "l/{s}.log"
            shell: "sort {input} > {output}"
        rule make:
            output: "r/{s}.txt"
            log: "m/{s}.log"
            shell: "touch {output}"
        ''', '''\
        rule all:
            input: "sorted/a.txt"
        rule sort:
            input: "raw/{s}.txt"
            output: "sorted/{s}.txt"
            log: "l/{s}.log"
            shell: "sort {input} > {output}"
        rule make:
            output: "raw/{s}.txt"
            log: "m/{s}.log"
            shell: "touch {output}"
        '''),
    "FF109": ('''\
        rule make:
            output: "b.txt"
            log: "b.log"
            params: table="data/table.csv"
            shell: "cp {params.table} {output}"
        ''', '''\
        rule make:
            output: "b.txt"
            log: "b.log"
            params: table="data/missing.csv"
            shell: "cp {params.table} {output}"
        '''),
    "FF110": ('''\
        configfile: "config.yaml"
        rule make:
            output: "b.txt"
            log: "b.log"
            params: n = config.used
            shell: "echo {params.n} > {output}"
        ''', '''\
        configfile: "config.yaml"
        rule make:
            output: "b.txt"
            log: "b.log"
            params: n = config.used, m = config["unused"]
            shell: "echo {params.n} {params.m} > {output}"
        '''),
    "FF111": ('''\
        rule make:
            output: "out/{name}.txt"
            log: "logs/{name}.log"
            params: label = "x" + wildcards.name, fixed = "y"
            shell: "echo {params.label} {params.fixed} > {output} 2> {log}"
        ''', '''\
        rule make:
            output: "out/{name}.txt"
            log: "logs/{name}.log"
            params: label = "x" + wildcards.name, fixed = "y", depth = config.depth[wildcards.name],
                    n = int(wildcards.name), other = config.get(wildcards.name, "1")
            shell: "echo {params.label:q} {params.fixed} {params.depth} {params.n} {params.other} 2> {log}"
        '''),
    "FF112": ('''\
        from "w.py" import out, unused
        rule make:
            output: out()
            log: "b.log"
            shell: "touch {output}"
        ''', '''\
        from "w.py" import out
        rule make:
            output: out()
            log: "b.log"
            shell: "touch {output}"
        '''),
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_code_positive_and_negative(tmp_path: Path, code: str) -> None:
    bad, good = CASES[code]
    files = {"data/table.csv": "x\n", "config.yaml": "used: 1\nunused: 2\n",
             "w.py": "def out():\n    return 'b.txt'\n\n\ndef unused():\n    pass\n"}
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    found = codes(lint_text(tmp_path / "bad", bad, files), code)
    assert len(found) == 1, found
    assert codes(lint_text(tmp_path / "good", good, files), code) == []


def test_positions_and_messages(tmp_path: Path) -> None:
    assert codes(lint_text(tmp_path, CASES["FF102"][0]), "FF102") == [
        "2:12 absolute path '/etc/hostname' in input of rule 'make'"]
    assert codes(lint_text(tmp_path, CASES["FF105"][0]), "FF105") == [
        "2:1 variable 'UNUSED' is assigned but never read"]
    (tmp_path / "w.py").write_text("def out():\n    return 'b.txt'\n\n\ndef unused():\n    pass\n")
    assert codes(lint_text(tmp_path, CASES["FF112"][0]), "FF112") == [
        "1:25 function 'unused' is imported but never called"]
    (indexed,) = [f for f in lint_text(tmp_path, CASES["FF103"][0]) if f.code == "FF103"]
    assert (indexed.pos.line, indexed.pos.column, indexed.fix) == (5, 16, "write {input.src}")


def test_unquoted_wildcard_params_by_name_index_and_whole(tmp_path: Path) -> None:
    text = '''\
        rule make:
            output: "out/{name}.txt"
            log: "logs/{name}.log"
            params: wildcards.name, fixed = "y", tag = "-".join([wildcards.name.upper(), "x"])
            shell: "echo {params[0]} {params[1]} {params.fixed} {params.tag:raw} {params} {params:q}"
        '''
    found = [f for f in lint_text(tmp_path, text) if f.code == "FF111"]
    assert [(f.pos.line, f.pos.column, f.fix) for f in found] == [
        (5, 18, "write {params[0]:q}"), (5, 57, "write {params.tag:q}"), (5, 74, "write {params:q}")]
    assert "'out/$(touch X).txt' would run as shell code" in found[0].message


def test_ruleorder_chain_settles_overlap(tmp_path: Path) -> None:
    text = '''\
        ruleorder: a > b > c
        rule a:
            output: "x/{n,[^/]+}.txt"
            log: "a/{n}.log"
            shell: "touch {output}"
        rule b:
            output: "x/{n,[^/]+}.txt"
            log: "b/{n}.log"
            shell: "touch {output}"
        rule c:
            output: "x/{n,[^/]+}.txt"
            log: "c/{n}.log"
            shell: "touch {output}"
        '''
    assert codes(lint_text(tmp_path, text), "FF108") == []


def test_per_job_inputs_silence_reachability(tmp_path: Path) -> None:
    text = '''\
        rule all:
            input: "out/a.txt"
        rule make:
            input: "in/" + wildcards.n + ".txt"
            output: "out/{n,[a-z]+}.txt"
            log: "l/{n}.log"
            shell: "cp {input} {output}"
        rule other:
            output: "in/{n,[a-z]+}.txt"
            log: "o/{n}.log"
            shell: "touch {output}"
        '''
    assert codes(lint_text(tmp_path, text), "FF107") == []


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "fileflow", "lint", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.e2e
def test_command_line(tmp_path: Path) -> None:
    (tmp_path / "Flowfile").write_text(textwrap.dedent('''\
        UNUSED = 1
        rule make:
            output: "/tmp/fileflow-lint-b.txt"
            shell: "touch {output}"
        '''))
    (tmp_path / "clean.flow").write_text(textwrap.dedent(CASES["FF101"][1]))
    (tmp_path / "broken.flow").write_text("rule make:\n    output: \"b.txt\n")

    out = run_cli(tmp_path)
    assert out.returncode == 1, out.stderr
    lines = out.stdout.splitlines()
    assert lines == [
        "Flowfile:1:1: FF105 variable 'UNUSED' is assigned but never read "
        "(fix: remove the assignment (or prefix the name with '_'))",
        "Flowfile:2:6: FF101 rule 'make' has no log "
        "(fix: add log: \"logs/make.log\" and send the output there)",
        "Flowfile:3:13: FF102 absolute path '/tmp/fileflow-lint-b.txt' in output of rule 'make' "
        "(fix: use a path relative to the workflow directory (or a config value))",
    ]
    selected = run_cli(tmp_path, "--select", "FF105,FF102", "--ignore", "FF102")
    selected_codes = [line.split(": ")[1].split()[0] for line in selected.stdout.splitlines()]
    assert (selected.returncode, selected_codes) == (1, ["FF105"])
    assert run_cli(tmp_path, "--ignore", "FF1").stdout == ""
    assert run_cli(tmp_path, "--ignore", "FF1").returncode == 0
    never = run_cli(tmp_path, "--fail-on", "never")
    assert (never.returncode, len(never.stdout.splitlines())) == (0, 3)
    assert run_cli(tmp_path, "--fail-on", "error").returncode == 0  # every code is a warning
    assert run_cli(tmp_path, "clean.flow").returncode == 0
    broken = run_cli(tmp_path, "broken.flow", "Flowfile")
    assert broken.returncode == 2 and "broken.flow:2" in broken.stderr, broken.stderr
    assert len(broken.stdout.splitlines()) == 3  # the other file is still linted
    unknown = run_cli(tmp_path, "--select", "XX1")
    assert unknown.returncode == 2 and "unknown code" in unknown.stderr


def test_run_lint_in_process(tmp_path: Path) -> None:
    (tmp_path / "Flowfile").write_text(textwrap.dedent(CASES["FF109"][0]))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("x\n")
    printed: list[str] = []
    status = run_lint([str(tmp_path / "Flowfile")], print_line=printed.append)
    assert status == 1
    assert [p.split(": ", 1)[1].split()[0] for p in printed] == ["FF109"]


def test_overlap_with_a_leading_wildcard(tmp_path: Path) -> None:
    text = '''\
        rule all:
            input: "res/a.txt"
        rule one:
            output: "res/{s,[a-z]+}.txt"
            log: "l/{s}.log"
            shell: "touch {output}"
        rule two:
            output: "{d,[a-z]+}/a.txt"
            log: "k/{d}.log"
            shell: "touch {output}"
        '''
    assert codes(lint_text(tmp_path, text), "FF108") == [
        "8:13 output '{d,[a-z]+}/a.txt' of rule 'two' can match output 'res/{s,[a-z]+}.txt' of rule 'one'"]


CONFIG = """\
samples:
  alpha: {depth: 30}
  beta: {depth: 10}
tools:
  sort: sort -k1
  cut: cut -f1
threads: 4
label: x
stale: 1
opts:
  a: 1
  b:
    deep: 2
"""


def test_unused_config_keys_nested_and_dynamic(tmp_path: Path) -> None:
    text = '''\
        configfile: "config.yaml"
        T = config.get("threads", 1)
        rule make:
            output: "o/{sample,[a-z]+}.txt"
            log: "l/{sample}.log"
            params:
                depth = config.samples[wildcards.sample].depth,
                sort = config["tools"]["sort"],
                label = config.label.upper(),
                a = config.opts.a
            threads: T
            shell: "echo {params} > {output}"
        '''
    found = [f for f in lint_text(tmp_path, text, {"config.yaml": CONFIG}) if f.code == "FF110"]
    # samples is indexed by a key known only per job, so all of it counts as read; tools.sort,
    # threads (through get()), label (through a method) and opts.a are read
    assert [(Path(f.pos.path).name, f.pos.line, f.pos.column, f.message) for f in found] == [
        ("config.yaml", 6, 3, "config key 'tools.cut' is not read by any Flowfile"),
        ("config.yaml", 9, 1, "config key 'stale' is not read by any Flowfile"),
        ("config.yaml", 12, 3, "config key 'opts.b' is not read by any Flowfile"),  # and not opts.b.deep too
    ]
    assert found[0].fix == "remove it from config.yaml, or read it as config.tools.cut"


@pytest.mark.parametrize("use", ["config[wildcards.sample]", "config.get(wildcards.sample, 1)",
                                 "sorted(config.keys())", "str(config)"])
def test_a_whole_config_use_silences_unused_keys(tmp_path: Path, use: str) -> None:
    text = f'''\
        configfile: "config.yaml"
        rule make:
            output: "o/{{sample,[a-z]+}}.txt"
            log: "l/{{sample}}.log"
            params: v = {use}
            shell: "echo {{params.v}} > {{output}}"
        '''
    assert codes(lint_text(tmp_path, text, {"config.yaml": CONFIG}), "FF110") == []


def test_unused_keys_of_a_command_line_configfile(tmp_path: Path) -> None:
    (tmp_path / "Flowfile").write_text(textwrap.dedent(CASES["FF110"][0]))
    (tmp_path / "config.yaml").write_text("used: 1\nunused: 2\n")
    (tmp_path / "more.yaml").write_text("# extra settings\nused: 2\nforgotten: true\n")
    out = run_cli(tmp_path, "--configfile", "more.yaml", "--select", "FF110")
    assert out.returncode == 1, out.stderr
    assert out.stdout.splitlines() == [
        "config.yaml:2:1: FF110 config key 'unused' is not read by any Flowfile "
        "(fix: remove it from config.yaml, or read it as config.unused)",
        "more.yaml:3:1: FF110 config key 'forgotten' is not read by any Flowfile "
        "(fix: remove it from more.yaml, or read it as config.forgotten)"]
    (tmp_path / "config.yaml").write_text("used: 1\n")
    assert run_cli(tmp_path, "--select", "FF110").stdout == ""


# ---------------------------------------------------------------- the output index (FF107, FF108)
#
# lint finds the outputs a pattern can overlap through an index of literal prefixes and
# suffixes; `OutputIndex.every_overlapping` tries every output instead. They must agree, entry
# for entry and in order, which fixes the findings, their messages and their order.

# Few and short pieces, so that generated patterns often share prefixes and suffixes.
LITERALS = ["a", "b", "/", "a/", "ab/", ".txt", "b.txt", "/x", "res/", "res/a"]
FIELDS = ["{w}", "{v}", "{w,[a-z]+}", "{u,[^/]+}"]
CONSTRAINTS = [{}, {"w": "[ab]+"}, {"v": "[^/]*"}, {"w": "a", "v": ".+"}]


def pattern_texts(draw_piece, pieces: int) -> str:
    """Literals and fields, with at most one literal in a row (two would just be a longer one)."""
    text, literal_last = [], False
    for _ in range(pieces):
        piece = draw_piece(literal_last)
        literal_last = piece in LITERALS
        text.append(piece)
    return "".join(text)


@st.composite
def patterns(draw) -> str:
    return pattern_texts(lambda literal_last: draw(st.sampled_from(
        FIELDS if literal_last else LITERALS + FIELDS)), draw(st.integers(1, 4)))


@st.composite
def rule_sets(draw) -> list:
    rules = []
    for number in range(draw(st.integers(1, 12))):
        outputs = draw(st.lists(patterns(), min_size=1, max_size=3))
        rules.append(SimpleNamespace(
            name=f"r{number}", constraints=draw(st.sampled_from(CONSTRAINTS)),
            outputs=tuple(SimpleNamespace(pattern=parse_pattern(t)) for t in outputs)))
    return rules


def agree(rules, queries) -> None:
    outputs = OutputIndex(rules)
    for text, constraints in queries:
        pattern = parse_pattern(text)
        fast = [(r.name, i.pattern.text) for r, i in outputs.overlapping(pattern, constraints)]
        slow = [(r.name, i.pattern.text) for r, i in outputs.every_overlapping(pattern, constraints)]
        assert fast == slow, text
        if pattern.is_constant:  # a path: the rules that can make it
            path = "".join(pattern.parts)
            fast = [(r.name, i.pattern.text) for r, i in outputs.matching(path)]
            slow = [(r.name, i.pattern.text) for r in rules for i in r.outputs
                    if i.pattern.match(path, r.constraints) is not None]
            assert sorted(fast) == sorted(slow), path


@settings(max_examples=300, deadline=None, database=None)
@given(rule_sets(), st.lists(st.tuples(patterns(), st.sampled_from(CONSTRAINTS)), max_size=5))
def test_the_output_index_finds_what_every_pair_finds(rules, extra) -> None:
    queries = [(o.pattern.text, r.constraints) for r in rules for o in r.outputs] + extra
    agree(rules, queries)


def test_the_output_index_on_constants_and_edge_cases() -> None:
    texts = ["", "a", "a/b", "res/a", "res/a.txt", "res/{w}.txt", "{w}", "{w}{v}", "{w}/a",
             "res/{w}/{w}.txt", "a{{b}}", "a{{b}}/{w}", "res/", "res"]
    rules = [SimpleNamespace(name=f"r{n}", constraints={"w": "[^/]+"} if n % 2 else {},
                             outputs=(SimpleNamespace(pattern=parse_pattern(t)),))
             for n, t in enumerate(texts)]
    agree(rules, [(t, c) for t in texts + ["res/x/x.txt", "b", "a{b}"] for c in ({}, {"w": "a"})])


def generated_flowfile(seed: int, rules: int) -> str:
    """A random workflow whose rules read each other's outputs and overlap at times."""
    import random

    rng = random.Random(seed)
    dirs = ["res/", "res/sub/", "out/", "", "{d,[a-z]+}/"]
    stems = ["{s}", "{s}.x", "{s,[a-z]+}", "fixed", "{s}.{k}", "{s}.step%d", "step%d/{s}"]
    ends = [".txt", ".sorted.txt", ".bam", "", ".x.txt", ".step%d.txt"]
    made = [(rng.choice(dirs) + rng.choice(stems) + rng.choice(ends)).replace("%d", str(n))
            for n in range(rules)]
    made = [m if m else "res/{s}.txt" for m in made]
    lines = ["wildcard_constraints: s=\"[a-z]+\"", "", "rule all:",
             "    input: \"res/a.txt\", \"out/b.bam\"", ""]
    for n, output in enumerate(made):
        wild = parse_pattern(output).wildcards
        source = rng.choice(made)
        if not set(parse_pattern(source).wildcards) <= set(wild):
            source = "data/x.txt"
        lines += [f"rule r{n}:", f'    input: "{source}"', f'    output: "{output}"',
                  f'    log: "logs/r{n}' + "".join(f"/{{{w}}}" for w in wild) + '.log"',
                  '    shell: "touch {output} {log}"', ""]
    if rng.random() < 0.5:
        lines.append(f"ruleorder: r{rules - 1} > r0")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(6))
def test_lint_findings_with_and_without_the_index(tmp_path: Path, seed: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    flowfile = tmp_path / "Flowfile"
    flowfile.write_text(generated_flowfile(seed, 40))
    workflow = load_workflow(str(flowfile), workdir=str(tmp_path))
    fast = lint_workflow(workflow)
    monkeypatch.setattr(OutputIndex, "overlapping", OutputIndex.every_overlapping)
    slow = lint_workflow(workflow)
    assert [f.render() for f in fast] == [f.render() for f in slow]
    assert {"FF107", "FF108"} <= {f.code for f in fast}  # the generator makes both


def test_constraints_that_keep_two_outputs_apart_are_no_overlap(tmp_path: Path) -> None:
    text = '''\
        rule all:
            input: "calls/a.vcf", "calls/a/chr1.vcf"
        rule merge:
            input: "calls/{sample}/chr1.vcf"
            output: "calls/{sample,[A-Za-z0-9]+}.vcf"
            log: "logs/merge/{sample}.log"
            shell: "cat {input} > {output}"
        rule call:
            output: "calls/{sample}/{chrom}.vcf"
            log: "logs/call/{sample}/{chrom}.log"
            wildcard_constraints: chrom="[^/]+"
            shell: "touch {output}"
        '''
    assert codes(lint_text(tmp_path, text), "FF108") == []
    # the same layout without the constraint: a sample may be "a/chr1", so they do overlap
    loose = text.replace("{sample,[A-Za-z0-9]+}", "{sample}")
    assert len(codes(lint_text(tmp_path, loose), "FF108")) == 1


@pytest.mark.parametrize(("mine", "theirs", "overlap"), [
    ("x/{a,\\d{3}}.txt", "x/{b,[0-9]{4}}.txt", False),
    ("x/{a,\\d{3}}.txt", "x/{b,[0-9]{2,3}}.txt", True),
    ("x/{a,(?:ab|cd)+}", "x/{b,a[^b].*}", False),
    ("x/{a,(?:ab|cd)+}", "x/{b,c[^b].*}", True),
    ("{a,[^/]+}.txt", "{b}/{c}.txt", False),
    ("{a,[a-z]+}.{b,[0-9]+}", "{c,[a-z]+}.txt", False),
    ("{a,(?=x).*}", "{b,y.*}", True),  # a lookahead is not modelled: assumed to overlap
])
def test_overlap_of_wildcard_regexes(mine: str, theirs: str, overlap: bool) -> None:
    from fileflow.editor.pattern_overlap import can_overlap

    assert can_overlap(parse_pattern(mine), parse_pattern(theirs)) is overlap
    assert can_overlap(parse_pattern(theirs), parse_pattern(mine)) is overlap


@settings(max_examples=300, deadline=None, database=None)
@given(patterns(), st.sampled_from(CONSTRAINTS), patterns(), st.sampled_from(CONSTRAINTS),
       st.lists(st.fixed_dictionaries({w: st.text("ab/.xt", min_size=1, max_size=5)
                                       for w in ("w", "v", "u")}), min_size=1, max_size=20))
def test_no_overlap_means_no_path_matches_both(a, a_constraints, b, b_constraints, values) -> None:
    """The automata may call an overlap where there is none, never the other way round: no
    path made by filling in either pattern matches both when they are said not to overlap."""
    from fileflow.editor.pattern_overlap import can_overlap

    first, second = parse_pattern(a), parse_pattern(b)
    if can_overlap(first, second, a_constraints, b_constraints):
        return
    paths = [p.format(v) for p in (first, second) for v in values]
    for path in paths:
        assert not (first.match(path, a_constraints) is not None
                    and second.match(path, b_constraints) is not None), path


def test_a_literal_output_beside_a_pattern_is_no_overlap_finding(tmp_path):
    # the rule without wildcards wins, as a build chooses it: no ruleorder is needed
    text = '''\
        rule all:
            input: "qc/multiqc.txt"
        rule fastqc:
            output: "qc/{sample}.txt"
            shell: "touch {output}"
        rule multiqc:
            input: "qc/a.txt"
            output: "qc/multiqc.txt"
            shell: "cat {input} > {output}"
        '''
    assert codes(lint_text(tmp_path, text), "FF108") == []


def test_config_and_variables_read_by_a_module_or_use_rule_count_as_read(tmp_path: Path) -> None:
    text = '''\
        configfile: "config.yaml"
        TAG = "x"
        rule make:
            output: "o/{sample,[a-z]+}.txt"
            log: "l/{sample}.log"
            shell: "echo > {output}"
        use rule make as make2 with:
            output: "p/{sample,[a-z]+}.txt"
            params: tag = TAG
        module qc:
            flowfile: "qc.flow"
            config: config.qc
        use rule * from qc as qc_*
        '''
    files = {"config.yaml": "qc:\n  n: 1\nstale: 1\n",
             "qc.flow": 'rule count:\n    output: "c.txt"\n    log: "c.log"\n    shell: "touch c.txt"\n'}
    found = [(f.code, f.message) for f in lint_text(tmp_path, text, files)
             if f.code in ("FF105", "FF110")]
    assert found == [("FF110", "config key 'stale' is not read by any Flowfile")]
