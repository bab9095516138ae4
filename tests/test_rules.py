"""fileflow.lang.loader and job_values: the checked rule model -- top-level statements, every
directive, per-job values, and the validation errors of the language."""
from __future__ import annotations

import shlex
import textwrap
from pathlib import Path

import pytest

from fileflow.errors import FlowfileError, FlowfileErrors
from fileflow.lang.directives import RULE_DIRECTIVES
from fileflow.lang.job_values import job_values
from fileflow.lang.loader import load_workflow
from fileflow.lang.model import Lazy, Workflow
from fileflow.lang.script_kinds import script_kind
from fileflow.template import render

FULL = Path(__file__).resolve().parent / "flowfiles" / "valid" / "full"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def load(tmp_path: Path, flowfile: str, files: dict[str, str] | None = None, **kwargs) -> Workflow:
    write(tmp_path, {"Flowfile": flowfile, **(files or {})})
    return load_workflow(str(tmp_path / "Flowfile"), workdir=str(tmp_path), **kwargs)


def load_error(tmp_path: Path, flowfile: str, files: dict[str, str] | None = None,
               **kwargs) -> FlowfileError:
    with pytest.raises((FlowfileError, FlowfileErrors)) as info:
        load(tmp_path, flowfile, files, **kwargs)
    err = info.value
    if isinstance(err, FlowfileErrors):
        assert len(err.errors) == 1, err.render()
        err = err.errors[0]
    return err


def namespaces(rule, wildcards, attempt=1) -> dict:
    v = job_values(rule, wildcards, attempt)
    return {"input": v.inputs, "output": v.outputs, "log": v.log, "params": v.params,
            "wildcards": wildcards, "threads": v.threads, "resources": v.resources,
            "rule": rule.name, "attempt": attempt}


@pytest.fixture(scope="module")
def full() -> Workflow:
    return load_workflow(str(FULL / "Flowfile"), workdir=str(FULL))


# ---------------------------------------------------------------- the full example

def test_full_example_top_level(full):
    assert [r.name for r in full.rules] == ["all", "align", "align_special", "align_fallback",
                                            "step", "summary", "continued", "index"]
    assert full.flowfiles == (str(FULL / "Flowfile"), str(FULL / "rules" / "common.flow"),
                              str(FULL / "rules" / "deeper" / "paths.flow"))
    assert full.default_targets == ("results/summary.json",)
    assert full.ruleorder == (("align_special", "align"), ("align", "align_fallback"))
    assert full.localrules == {"all", "summary"}
    assert full.by_name["all"].local and not full.by_name["align"].local
    assert full.constraints == {"sample": "[A-Za-z0-9]+"}
    assert full.config["samples"]["b"]["depth"] == 20
    assert set(full.names) >= {"SAMPLES", "GENOME", "THREADS", "SUMMARY", "BANNER",
                               "SUMMARY_DIR", "READS", "HOME_DIR"}
    assert full.names["READS"].path.endswith("paths.flow")  # defined in a nested include
    assert full.storage == {"s3": {"region": "eu-west-1", "anonymous": False},
                            "https": {"headers": {"User-Agent": "fileflow-test"}}}
    assert sorted(full.hooks) == ["onerror", "onstart", "onsuccess"]
    index = full.by_name["index"]
    assert [(o.pattern.text, o.name) for o in index.outputs] == [
        ("index/{name}.amb", "amb"), ("index/{name}.bwt", "bwt"), ("flags/{name}.done", None),
        ("index/{name}.sum", None), ("benchmarks/index/{name}.tsv", None)]


def test_full_example_align_rule(full):
    align = full.by_name["align"]
    assert align.wildcards == ("sample",)
    assert [(o.pattern.text, o.name, set(o.flags)) for o in align.outputs] == [
        ("aligned/{sample}.bam", "bam", {"temp"}),
        ("aligned/{sample}.bam.bai", "bai", {"protected"})]
    assert [(i.pattern.text, i.name, set(i.flags)) for i in align.inputs] == [
        ("data/{sample}.fq", "reads", set()), ("ref/genome.fa", "ref", {"ancient"})]
    assert [i.pattern.text for i in align.log] == ["logs/align/{sample}.log"]
    assert isinstance(align.params, Lazy)            # reads wildcards: per job
    assert align.threads == 4                        # max(2, min(8, 2 * 2))
    assert isinstance(align.resources, Lazy)         # reads attempt
    assert (align.retries, align.priority) == (2, 10)
    assert align.constraints == {"sample": "[a-z]+"}  # the rule's own beats the global one
    assert align.action.kind == "shell"
    assert align.action.text.splitlines()[1:] == ["index {output.bam:q} {output.bai}",
                                                  "echo ${{HOME}} {params.label:raw}"]
    assert set(align.directive_pos) == set(RULE_DIRECTIVES) - {"script", "benchmark"}
    assert align.directive_pos["threads"].line == 37


def test_full_example_job_values(full):
    v = job_values(full.by_name["align"], {"sample": "a"}, attempt=2)
    assert v.inputs.values == ("data/a.fq", "ref/genome.fa")
    assert v.inputs.names == ("reads", "ref")
    assert v.outputs.values == ("aligned/a.bam", "aligned/a.bam.bai")
    assert v.log.values == ("logs/align/a.log",)
    assert dict(zip(v.params.names, v.params.values)) == {
        "depth": 10, "label": "sample-a", "flags": ["-v", "-q"], "group": "@RG\\tID:a\\tSM:10"}
    assert v.threads == 4
    assert v.resources == {"mem_mb": 2000, "runtime": 30, "disk_mb": 500, "gpu": "none"}
    assert v.flags == {"aligned/a.bam": {"temp"}, "aligned/a.bam.bai": {"protected"},
                       "ref/genome.fa": {"ancient"}}
    assert job_values(full.by_name["align"], {"sample": "b"}, 1).resources["mem_mb"] == 1000


def test_full_example_renders_its_command(full):
    align = full.by_name["align"]
    command = render(align.action.template, namespaces(align, {"sample": "a"}))
    assert command.splitlines() == [
        "align --depth 10 -t 4 --mem 1000     ref/genome.fa data/a.fq > aligned/a.bam "
        "2> logs/align/a.log",
        "index aligned/a.bam aligned/a.bam.bai",
        "echo ${HOME} sample-a"]
    assert render(align.message, namespaces(align, {"sample": "a"})) == "aligning a with 4 threads"


def test_full_example_other_rules(full):
    summary = full.by_name["summary"]
    assert [i.pattern.text for i in summary.inputs] == [
        "aligned/a.bam", "aligned/b.bam", "out/0.txt", "out/1.txt", "out/2.txt"]
    assert [(o.pattern.text, set(o.flags)) for o in summary.outputs] == [
        ("results/by_sample", {"directory"}), ("results/summary.json", set())]
    assert dict(zip(summary.params.names, summary.params.values)) == {"n": 2, "pairs": ["x-1", "y-2"]}
    fallback = full.by_name["align_fallback"]
    assert (fallback.action.kind, fallback.action.text) == ("script", "scripts/align.py")
    assert len(fallback.source_hash) == 64
    continued = full.by_name["continued"]
    assert [i.pattern.text for i in continued.inputs] == ["data/a.fq", "data/b.fq", "data/0.txt"]
    assert dict(zip(continued.params.names, continued.params.values)) == {
        "table": {"a": 1, "b": [2, 3]}, "raw": "\\d+\\t", "n": 3}
    assert continued.priority == -1
    assert continued.action.text == "cat {input} | grep -P '{params.raw}' > {output}"
    step = full.by_name["step"]
    assert step.outputs[0].pattern.match("out/12.txt") == {"k": "12"}
    assert step.outputs[0].pattern.match("out/x.txt") is None


# ---------------------------------------------------------------- per-job values

CHAIN = '''\
rule step:
    input: "data/0.txt" if wildcards.k == "0" else "out/" + str(int(wildcards.k) - 1) + ".txt"
    output: "out/{k}.txt"
    shell: "cp {input} {output}"
'''


def test_chain_example_input_depends_on_wildcards(tmp_path):
    step = load(tmp_path, CHAIN).by_name["step"]
    assert isinstance(step.inputs, Lazy)
    assert job_values(step, {"k": "0"}).inputs.values == ("data/0.txt",)
    assert job_values(step, {"k": "3"}).inputs.values == ("out/2.txt",)
    assert render(step.action.template, namespaces(step, {"k": "3"})) == "cp out/2.txt out/3.txt"


def test_per_job_errors_point_at_the_directive(tmp_path):
    step = load(tmp_path, CHAIN).by_name["step"]
    with pytest.raises(FlowfileError) as info:
        job_values(step, {"k": "x"})
    assert "int() cannot take the string 'x'" in info.value.message
    assert (info.value.pos.line, info.value.pos.column) == (2, 65)  # at int(...)


def test_resources_and_threads_per_attempt(tmp_path):
    rule = load(tmp_path, '''\
        rule a:
            output: "{x}.out"
            threads: 2 * attempt
            resources: mem_mb=1000 * attempt, runtime=10 + threads, tmp=wildcards.x
            shell: "touch {output}"
        ''').by_name["a"]
    first, third = job_values(rule, {"x": "q"}, 1), job_values(rule, {"x": "q"}, 3)
    assert (first.threads, first.resources) == (2, {"mem_mb": 1000, "runtime": 12, "tmp": "q"})
    assert (third.threads, third.resources) == (6, {"mem_mb": 3000, "runtime": 16, "tmp": "q"})


def rule_resources(tmp_path, text: str, defaults=None):
    wf = load(tmp_path, f'rule a:\n    output: "{{x}}.out"\n    resources: {text}\n'
                        '    shell: "touch {output}"\n', default_resources=defaults)
    return job_values(wf.by_name["a"], {"x": "2"}).resources


@pytest.mark.parametrize("text, resources", [
    ('mem = "8G"', {"mem": "8G", "mem_mb": 8000}),
    ('mem = "500MB"', {"mem": "500MB", "mem_mb": 500}),
    ('mem = "8GiB"', {"mem": "8GiB", "mem_mb": 8590}),          # 8 * 2**30 bytes, in MB, up
    ('mem = "1.5 g"', {"mem": "1.5 g", "mem_mb": 1500}),
    ('mem = "100"', {"mem": "100", "mem_mb": 100}),              # digits alone: MB
    ('mem = 300', {"mem": 300, "mem_mb": 300}),
    ('mem = "10k"', {"mem": "10k", "mem_mb": 1}),                # at least 1
    ('disk = "2TB"', {"disk": "2TB", "disk_mb": 2000000}),
    ('disk = "1Ti"', {"disk": "1Ti", "disk_mb": 1099512}),
    ("mem_mib = 1024", {"mem_mib": 1024, "mem_mb": 1073}),
    ('runtime = "2h30m"', {"runtime": 150}),
    ('runtime = "90m"', {"runtime": 90}),
    ('runtime = "1d"', {"runtime": 1440}),
    ('runtime = "1h 30min"', {"runtime": 90}),
    ('runtime = "1.5h"', {"runtime": 90}),
    ('runtime = "30s"', {"runtime": 1}),
    ('runtime = "45"', {"runtime": 45}),
    ('mem = str(int(wildcards.x) * 2) + "G", runtime = wildcards.x + "h"',
     {"mem": "4G", "mem_mb": 4000, "runtime": 120}),
])
def test_resources_with_units_give_mb_and_minutes(tmp_path, text, resources):
    assert rule_resources(tmp_path, text) == resources


def test_a_size_the_rule_gives_replaces_every_spelling_of_it_in_the_defaults(tmp_path):
    defaults = {"mem_mb": 1000, "disk": "1G", "disk_mb": 1000, "runtime": 5}
    # `disk` of the defaults stays, restating the rule's size: a command reading it agrees
    assert rule_resources(tmp_path, 'mem = "2G", disk_mb = 7', defaults) == {
        "runtime": 5, "mem": "2G", "mem_mb": 2000, "disk": "7MB", "disk_mb": 7}
    assert rule_resources(tmp_path, 'mem = "2G" if wildcards.x else "1G"', defaults) == {
        "disk": "1G", "disk_mb": 1000, "runtime": 5, "mem": "2G", "mem_mb": 2000}


SIZE_WORDS = ('write a number and a unit, e.g. "8G", "500MB" or "2TiB" (SI: k, M, G, T, P, '
              'with or without B; IEC: KiB, MiB, GiB, TiB, PiB)')


@pytest.mark.parametrize("text, where, message, hint", [
    ('mem = "8X"', "3:22", f"resource 'mem': '8X' is not a size: {SIZE_WORDS}", ""),
    ('mem = "G"', "3:22", f"resource 'mem': 'G' is not a size: {SIZE_WORDS}", ""),
    ('disk = "2 T B"', "3:23", f"resource 'disk': '2 T B' is not a size: {SIZE_WORDS}", ""),
    ('runtime = "2h30"', "3:26", "resource 'runtime': '2h30' is not a time span: write numbers "
     'with units, e.g. "90m", "2h30m" or "1d" (s, m, h, d, w)', ""),
    ('runtime = "h"', "3:26", "resource 'runtime': 'h' is not a time span: write numbers "
     'with units, e.g. "90m", "2h30m" or "1d" (s, m, h, d, w)', ""),
    ('mem_mb = "8G"', "3:25", "resource 'mem_mb' must be a non-negative number, got '8G'",
     'for a size with a unit, write mem = "8G"'),
    ('mem_mib = "1G"', "3:26", "resource 'mem_mib' must be a non-negative number, got '1G'",
     'for a size with a unit, write mem = "1G"'),
    ("disk = -1", "3:23", "resource 'disk' must be a size such as \"8G\" or a number of MB, got -1",
     ""),
    ('mem = "8G", mem_mb = 100', "3:37", "resources 'mem' and 'mem_mb' give the same size twice",
     "keep one of them: 'mem_mb' is derived from 'mem' (with a unit) and 'mem_mib'"),
])
def test_bad_units_are_errors_at_the_value(tmp_path, text, where, message, hint):
    err = load_error(tmp_path, f'rule a:\n    output: "a"\n    resources: {text}\n'
                               '    shell: "touch {output}"\n')
    assert (str(err.pos), err.message, err.hint) == (f"{tmp_path / 'Flowfile'}:{where}", message, hint)


def test_a_bad_unit_per_job_is_an_error_at_the_directive(tmp_path):
    wf = load(tmp_path, 'rule a:\n    output: "{x}.out"\n    resources: mem = wildcards.x + "X"\n'
                        '    shell: "touch {output}"\n')
    with pytest.raises(FlowfileError) as info:
        job_values(wf.by_name["a"], {"x": "2"})
    assert info.value.message == f"resource 'mem': '2X' is not a size: {SIZE_WORDS}"
    assert str(info.value.pos) == f"{tmp_path / 'Flowfile'}:3:5"


def test_a_command_may_use_the_mb_a_unit_gives(tmp_path):
    wf = load(tmp_path, 'rule a:\n    output: "a"\n    resources: mem = "2G"\n'
                        '    shell: "echo {resources.mem_mb} {resources.disk_mb}"\n',
              default_resources={"disk_mb": 5})
    assert wf.by_name["a"].resources == {"disk_mb": 5, "mem": "2G", "mem_mb": 2000}
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    resources: mem = "2G"\n'
                               '    shell: "echo {resources.disk_mb}"\n', default_resources={})
    assert "has no resource 'disk_mb'" in err.message


def test_per_job_type_checks(tmp_path):
    rule = load(tmp_path, '''\
        rule a:
            output: "{x}.out"
            threads: int(wildcards.x)
            resources: mem_mb=wildcards.x
            shell: "touch {output}"
        ''').by_name["a"]
    with pytest.raises(FlowfileError, match="'threads:' must be at least 0, got -1"):
        job_values(rule, {"x": "-1"})
    with pytest.raises(FlowfileError, match="resource 'mem_mb' must be a non-negative number"):
        job_values(rule, {"x": "5"})


def test_lazy_inputs_can_be_named_flagged_and_patterns(tmp_path):
    rule = load(tmp_path, '''\
        rule a:
            input: reads=ancient("in/" + wildcards.x + ".fq"), more=["{x}.1", "{x}.2"]
            output: "{x}.out"
            log: "logs/" + wildcards.x
            shell: "cat {input.more} > {output}"
        ''').by_name["a"]
    v = job_values(rule, {"x": "s"})
    assert v.inputs.values == ("in/s.fq", "s.1", "s.2")
    assert v.inputs.names == ("reads", "more", "more")
    assert v.flags["in/s.fq"] == {"ancient"}
    assert v.log.values == ("logs/s",)
    assert render(rule.action.template, namespaces(rule, {"x": "s"})) == "cat s.1 s.2 > s.out"


def test_a_name_given_an_empty_list_keeps_its_name_in_the_rule_and_its_jobs(tmp_path):
    workflow = load(tmp_path, '''\
        rule a:
            input: groups=expand("g/{g}.txt", g=[]), main="{x}.in", unpack({"none": []})
            output: "{x}.out"
            log: notes=[], main="{x}.log"
            message: "{input.groups}{log.notes}"
            shell: "echo {input.groups} {log.notes} {input.none} > {output}; cat {input} >> {output}"
        rule b:
            input: nothing=rules.a.input.groups, first=rules.a.input.main
            output: "{x}.b"
        ''')
    rule = workflow.by_name["a"]
    assert rule.empty_names == {"input": ("groups", "none"), "log": ("notes",)}
    v = job_values(rule, {"x": "s"})
    assert (v.inputs.values, v.inputs.names, v.inputs.empty) == (("s.in",), ("main",), ("groups", "none"))
    assert v.inputs.named("groups") == [] and v.log.empty == ("notes",)
    assert render(rule.action.template, namespaces(rule, {"x": "s"})) == (
        "echo    > s.out; cat s.in >> s.out")
    b = workflow.by_name["b"]
    assert [(i.name, i.pattern.text) for i in b.inputs] == [("first", "{x}.in")]
    assert b.empty_names == {"input": ("nothing",)}


def test_a_name_given_an_empty_list_per_job_keeps_its_name(tmp_path):
    rule = load(tmp_path, '''\
        rule a:
            input: groups=[wildcards.x + g for g in []], main="in/" + wildcards.x
            output: "{x}.out"
            log: notes=[wildcards.x for n in []], main="logs/" + wildcards.x
            shell: "echo {input.groups} {log.notes} > {output}"
        ''').by_name["a"]
    v = job_values(rule, {"x": "s"})
    assert (v.inputs.values, v.inputs.names, v.inputs.empty) == (("in/s",), ("main",), ("groups",))
    assert (v.log.values, v.log.empty) == (("logs/s",), ("notes",))
    assert render(rule.action.template, namespaces(rule, {"x": "s"})) == "echo   > s.out"


# ---------------------------------------------------------------- top level

def test_assignments_are_evaluated_in_order(tmp_path):
    wf = load(tmp_path, '''\
        A = 2
        B = A * 3
        C = [B, "x" + str(B)]
        rule r:
            output: C[1]
            shell: "touch {output}"
        ''')
    assert wf.by_name["r"].outputs[0].pattern.text == "x6"
    err = load_error(tmp_path, "A = B\nB = 1\n")
    assert (err.message, err.pos.line, err.pos.column) == ("name 'B' is not defined", 1, 5)


@pytest.mark.parametrize("name, message", [
    ("config", "cannot assign to 'config': it is a built-in name"),
    ("rules", "cannot assign to 'rules': it is a built-in name"),
    ("expand", "cannot assign to 'expand': it is a built-in name"),
    ("true", "cannot assign to 'true': it is a keyword"),
    ("None", "cannot assign to 'None': it is a keyword"),
])
def test_reserved_names_cannot_be_assigned(tmp_path, name, message):
    assert load_error(tmp_path, f"{name} = 1\n").message == message


REFERENCES = '''\
rule all:
    input: rules.count.output.table, expand(rules.align.output[1], sample="a")
rule count:
    input: expand(rules.align.output.bam, sample=["a", "b"])
    output: table="counts.tsv"
    log: rules.align.log[0].replace("{sample}", "count")
    shell: "cat {input} > {output}"
rule align:
    input: "reads/{sample}.fq", ref=rules.index.input
    output: bam="mapped/{sample}.bam", bai="mapped/{sample}.bai"
    log: "logs/{sample}.log"
    shell: "touch {output}"
'''


def test_rules_give_another_rules_patterns_wherever_it_is_defined(tmp_path):
    # `index` comes from an include, after the rules that refer to it
    workflow = load(tmp_path, REFERENCES + 'include: "more.flow"\n', {"more.flow": '''\
        rule index:
            input: "ref/genome.fa"
            output: "ref/genome.fa.fai"
            shell: "touch {output}"
        '''})
    rules = workflow.by_name
    assert [r.name for r in workflow.rules] == ["all", "count", "align", "index"]
    assert [r.index for r in workflow.rules] == [0, 1, 2, 3]
    assert workflow.default_targets == ("all",)
    assert [i.pattern.text for i in rules["all"].inputs] == ["counts.tsv", "mapped/a.bai"]
    assert [i.pattern.text for i in rules["count"].inputs] == ["mapped/a.bam", "mapped/b.bam"]
    assert [i.pattern.text for i in rules["count"].log] == ["logs/count.log"]
    assert [(i.name, i.pattern.text) for i in rules["align"].inputs] == [
        (None, "reads/{sample}.fq"), ("ref", "ref/genome.fa")]


def test_rules_read_the_names_defined_above_the_rule(tmp_path):
    workflow = load(tmp_path, '''\
        folder = "a"
        rule copy:
            input: rules.make.output[0]
            output: folder + "/copy.txt"
            shell: "cp {input} {output}"
        folder = "b"
        rule make:
            output: folder + "/made.txt"
            shell: "touch {output}"
        ''')
    assert [i.pattern.text for i in workflow.by_name["copy"].inputs] == ["b/made.txt"]
    assert [i.pattern.text for i in workflow.by_name["copy"].outputs] == ["a/copy.txt"]


@pytest.mark.parametrize("use, message, column", [
    ("rules.algn.output", "rules.algn: no rule named 'algn'; did you mean 'align'?", 12),
    ("rules.align.output.bai", "rules.align.output.bai: rule 'align' has no output named 'bai'; "
                               "did you mean 'bam'?", 12),
    ("rules.align.output.x", "rules.align.output.x: rule 'align' has no output named 'x'", 12),
    ("rules.align.params", "rules.align.params: a rule reference gives input, output and log", 12),
    ("rules.align.input", "rules.align.input: the input of rule 'align' is evaluated for each job "
                          "(it reads wildcards), so it has no patterns to give", 12),
    ("rules.use.output", "rules.use: a rule cannot refer to its own patterns", 12),
    ("rules.other.output", "rules.use: rule 'use' refers back to this rule through its own "
                           "directives (use -> other -> use)", 12),
    ("'x' + rules.align", "cannot add a string and a rule reference with '+'", 12),
])
def test_rule_reference_errors(tmp_path, use, message, column):
    err = load_error(tmp_path, f'''\
rule use:
    input: {use}
    output: "use.txt"
    shell: "touch {{output}}"
rule align:
    input: "reads/" + wildcards.sample + ".fq"
    output: bam="mapped/{{sample}}.bam"
    shell: "touch {{output}}"
rule other:
    input: rules.use.output
    output: "other.txt"
    shell: "touch {{output}}"
''')
    line = 10 if use == "rules.other.output" else 2  # where the circle closes
    assert (err.message, err.pos.line, err.pos.column) == (message, line, column)
    if use == "rules.align.output.x":
        assert err.hint == "its named outputs: bam"


CONFIGURED = '''\
configfile: "config.yaml"
rule r:
    output: config.out + "/" + str(config.n)
    params: mode=config.nested.mode, keep=config.nested.keep
    shell: "touch {output}"
'''
CONFIG_FILES = {"config.yaml": "out: results\nn: 1\nnested:\n  mode: fast\n  keep: yes\n",
                "extra.yaml": "n: 2\nnested:\n  mode: slow\n"}


def test_configfile_is_merged_into_config(tmp_path):
    wf = load(tmp_path, CONFIGURED, CONFIG_FILES)
    rule = wf.by_name["r"]
    assert rule.outputs[0].pattern.text == "results/1"
    assert rule.params.values == ("fast", True)
    assert wf.config == {"out": "results", "n": 1, "nested": {"mode": "fast", "keep": True}}


def test_command_line_config_and_configfiles_win(tmp_path):
    wf = load(tmp_path, CONFIGURED, CONFIG_FILES, configfiles=[str(tmp_path / "extra.yaml")],
              config={"out": "elsewhere"})
    rule = wf.by_name["r"]
    assert rule.outputs[0].pattern.text == "elsewhere/2"
    # nested keys are merged, not replaced: keep comes from the Flowfile's config file
    assert rule.params.values == ("slow", True)
    # --config beats --configfile
    wf = load(tmp_path, CONFIGURED, CONFIG_FILES, configfiles=[str(tmp_path / "extra.yaml")],
              config={"n": 7})
    assert wf.by_name["r"].outputs[0].pattern.text == "results/7"


SHEETED = """\
SAMPLES = table("samples.tsv", key="sample")
META = load("meta.yaml")
rule all:
    input: expand("out/{s}.txt", s=list(SAMPLES))
rule r:
    input: SAMPLES[wildcards.s].fq1
    output: "out/{s}.txt"
    params: reads = int(SAMPLES[wildcards.s].reads), ref = META.ref
    shell: "cp {input} {output}"
"""


def test_a_sample_sheet_drives_the_rules_and_is_a_file_the_load_read(tmp_path):
    wf = load(tmp_path, SHEETED, {"samples.tsv": "sample\tfq1\treads\nA\ta.fq\t10\nB\tb.fq\t20\n",
                                  "meta.yaml": "ref: hg38\n"})
    assert [i.pattern.text for i in wf.by_name["all"].inputs] == ["out/A.txt", "out/B.txt"]
    values = job_values(wf.by_name["r"], {"s": "B"})
    assert values.inputs.values == ("b.fq",)
    assert values.params.values == (20, "hg38")
    assert list(wf.read_files) == [str(tmp_path / "samples.tsv"), str(tmp_path / "meta.yaml")]


def test_repeated_command_line_config_entries_merge():
    from fileflow.lang.config import parse_config_overrides

    assert parse_config_overrides(["a.b=1", "a.c=2"]) == {"a": {"b": 1, "c": 2}}
    assert parse_config_overrides(["a={b: 1}", "a={c: 2}"]) == {"a": {"b": 1, "c": 2}}
    assert parse_config_overrides(["a.b=1", "a=3"]) == {"a": 3}          # a plain value replaces
    assert parse_config_overrides(["a=1", "a.b=2"]) == {"a": {"b": 2}}   # and is replaced
    assert parse_config_overrides(["a.b.c=x", "a.b.d=[1]"]) == {"a": {"b": {"c": "x", "d": [1]}}}


def test_config_errors(tmp_path):
    err = load_error(tmp_path, CONFIGURED.replace("config.n)", "config.m)"), CONFIG_FILES)
    assert (err.message, err.hint) == ("config has no key 'm'", "keys: out, n, nested")
    assert (err.pos.line, err.pos.column) == (3, 36)
    err = load_error(tmp_path, CONFIGURED.replace("nested.mode", "nested.mod"), CONFIG_FILES)
    assert (err.message, err.hint) == ("config.nested has no key 'mod'", "did you mean 'mode'?")
    err = load_error(tmp_path, 'configfile: "missing.yaml"\n')
    assert (err.message, err.pos.line, err.pos.column) == ("config file not found: missing.yaml", 1, 13)
    err = load_error(tmp_path, 'configfile: "bad.yaml"\n', {"bad.yaml": "a: [1\n"})
    assert err.message.startswith("invalid YAML in config file")
    assert err.pos.path.endswith("bad.yaml") and err.pos.line == 2
    err = load_error(tmp_path, 'configfile: "list.yaml"\n', {"list.yaml": "- 1\n"})
    assert err.message == "config file list.yaml must hold a mapping (key: value), not a list"


def test_include_is_relative_to_the_including_file_over_several_levels(tmp_path):
    wf = load(tmp_path, 'include: "rules/a.flow"\nrule top:\n    input: A + B\n', {
        "rules/a.flow": 'include: "sub/b.flow"\nA = "a" + B\n',
        "rules/sub/b.flow": 'B = "b"\nrule from_b:\n    output: "b.txt"\n    shell: "touch {output}"\n',
    })
    assert [r.name for r in wf.rules] == ["from_b", "top"]
    assert wf.by_name["top"].inputs[0].pattern.text == "abb"
    assert wf.flowfiles[1:] == (str(tmp_path / "rules" / "a.flow"),
                                str(tmp_path / "rules" / "sub" / "b.flow"))
    assert wf.by_name["from_b"].pos.path == str(tmp_path / "rules" / "sub" / "b.flow")
    assert wf.default_targets == ("top",)


def test_a_rule_from_an_include_is_never_the_default_target(tmp_path):
    included = {"rules.flow": 'rule inc:\n    output: "i.txt"\n    shell: "x"\n'}
    wf = load(tmp_path, 'include: "rules.flow"\nrule main:\n    output: "m.txt"\n    shell: "x"\n',
              included)
    assert wf.default_targets == ("main",)
    assert load(tmp_path, 'include: "rules.flow"\n', included).default_targets == ()


def test_include_cycle(tmp_path):
    err = load_error(tmp_path, 'include: "a.flow"\n', {
        "a.flow": 'include: "sub/b.flow"\n',
        "sub/b.flow": 'include: "../Flowfile"\n'})
    flowfile = str(tmp_path / "Flowfile")
    assert err.message == (f"include cycle: {flowfile} -> {tmp_path / 'a.flow'} -> "
                           f"{tmp_path / 'sub' / 'b.flow'} -> {flowfile}")
    assert err.pos.path == str(tmp_path / "sub" / "b.flow")
    assert load_error(tmp_path, 'include: "Flowfile"\n').message.startswith("include cycle")


def test_include_errors_report_the_included_file(tmp_path):
    err = load_error(tmp_path, 'include: "bad.flow"\n', {"bad.flow": "\nrule x\n"})
    assert err.pos.path == str(tmp_path / "bad.flow") and err.pos.line == 2
    assert "expected ':' after the rule name 'x'" in err.render()
    assert "    2 | rule x" in err.render()
    err = load_error(tmp_path, 'include: "nope.flow"\n')
    assert err.message == f"file not found: {tmp_path / 'nope.flow'}"


def test_a_byte_order_mark_is_ignored_and_other_encodings_refused(tmp_path):
    (tmp_path / "Flowfile").write_bytes('\ufeffrule a:\n    output: "a"\n'.encode("utf-8"))
    assert [r.name for r in load_workflow(str(tmp_path / "Flowfile")).rules] == ["a"]
    (tmp_path / "Flowfile").write_bytes('X = "\xe9"\n'.encode("latin-1"))
    with pytest.raises(FlowfileError, match="it is not UTF-8 text"):
        load_workflow(str(tmp_path / "Flowfile"))


def test_default_target(tmp_path):
    two_rules = ('rule first:\n    output: "1"\n    shell: "x"\n'
                 'rule second:\n    output: "2"\n    shell: "x"\n')
    assert load(tmp_path, two_rules).default_targets == ("first",)
    assert load(tmp_path, 'default: "2", ["3", temp("4")]\n' + two_rules).default_targets == (
        "2", "3", "4")
    assert load(tmp_path, "").default_targets == ()


def test_localrules_and_ruleorder_names_must_exist(tmp_path):
    rules = "rule alpha:\n    output: 'a'\n    shell: 'x'\n"
    err = load_error(tmp_path, rules + "localrules: alpah\n")
    assert (err.message, err.hint) == ("localrules: no rule named 'alpah'", "did you mean 'alpha'?")
    with pytest.raises(FlowfileErrors) as info:
        load(tmp_path, rules + "ruleorder: alpha > beta > gamma\n")
    assert [(e.message, e.pos.column) for e in info.value.errors] == [
        ("ruleorder: no rule named 'beta'", 20), ("ruleorder: no rule named 'gamma'", 27)]
    wf = load(tmp_path, rules + "rule beta:\n    output: 'b'\n    shell: 'x'\n"
                                "rule gamma:\n    output: 'c'\n    shell: 'x'\n"
                                "ruleorder: alpha > beta > gamma\nlocalrules: alpha, gamma\n")
    assert wf.ruleorder == (("alpha", "beta"), ("beta", "gamma"))
    assert wf.localrules == {"alpha", "gamma"}
    assert load_error(tmp_path, rules + "ruleorder: alpha\n").message.startswith(
        "'ruleorder:' takes rule names separated by '>'")


def test_wildcard_constraints_global_per_rule_and_inline(tmp_path):
    wf = load(tmp_path, '''\
        wildcard_constraints:
            sample = "[a-z]+",
            n = "[0-9]+"
        rule a:
            output: "{sample}/{n}.txt"
            shell: "x"
        rule b:
            output: "{sample}/{n,[xy]}.txt"
            wildcard_constraints: sample="[A-Z]+"
            shell: "x"
        ''')
    a, b = wf.by_name["a"], wf.by_name["b"]
    assert a.constraints == {"sample": "[a-z]+", "n": "[0-9]+"}
    assert b.constraints == {"sample": "[A-Z]+", "n": "[0-9]+"}
    assert a.outputs[0].pattern.match("abc/12.txt", a.constraints) == {"sample": "abc", "n": "12"}
    assert a.outputs[0].pattern.match("ABC/12.txt", a.constraints) is None
    assert b.outputs[0].pattern.match("ABC/x.txt", b.constraints) == {"sample": "ABC", "n": "x"}
    assert b.outputs[0].pattern.match("ABC/1.txt", b.constraints) is None


def test_storage_options_by_protocol_add_up_over_statements(tmp_path):
    wf = load(tmp_path, """
        storage: s3 = {"endpoint": "http://127.0.0.1:9000", "anonymous": true}
        storage: s3 = {"region": "eu-west-1"}, https = {"headers": {"Authorization": "x"}}
        storage: s3 = {"anonymous": false, "version_aware": true}
        rule a:
            output: "a.txt"
            shell: "touch {output}"
        """)
    assert wf.storage == {"s3": {"endpoint": "http://127.0.0.1:9000", "anonymous": False,
                                 "region": "eu-west-1", "version_aware": True},
                          "https": {"headers": {"Authorization": "x"}}}
    assert load(tmp_path, """
        rule a:
            output: "a.txt"
            shell: "touch {output}"
        """).storage == {}


@pytest.mark.parametrize("statement, message", [
    ('storage: "s3"', "'storage:' takes protocol = {options} pairs"),
    ('storage: s3 = {"anonymous": "yes"}', "'anonymous' of s3:// takes true or false"),
    ('storage: https = {"region": "x"}', "'region' does not apply to https://"),
    ('storage: https = {"headers": {"A": 1}}', "mapping of header names to strings"),
    ('storage: gs = {"endpoint": ""}', "'endpoint' of gs:// takes a non-empty string"),
])
def test_storage_options_are_checked_where_they_are_written(tmp_path, statement, message):
    err = load_error(tmp_path, statement + '\nrule a:\n    output: "a.txt"\n    shell: "touch"\n')
    assert message in str(err) and ":1:" in str(err)


def test_global_wildcard_constraints_apply_to_rules_written_before_them_too(tmp_path):
    wf = load(tmp_path, '''\
        rule early:
            output: "{sample}.txt"
            shell: "x"
        wildcard_constraints:
            sample = "[a-z]+"
        rule late:
            output: "{sample}.csv"
            wildcard_constraints: sample="[0-9]+"
            shell: "x"
        ''')
    assert wf.by_name["early"].constraints == {"sample": "[a-z]+"}
    assert wf.by_name["late"].constraints == {"sample": "[0-9]+"}


def test_a_second_default_is_an_error_naming_the_first(tmp_path):
    err = load_error(tmp_path, 'default: "a"\nrule r:\n    output: "a"\n    shell: "x"\n'
                               'default: "b"\n')
    assert err.message == "a second 'default:' (the first is on line 1)", err.message
    assert err.pos.line == 5 and err.hint == "give every default target in one 'default:'"


# ---------------------------------------------------------------- directives

def test_rule_without_directives_values_has_defaults(tmp_path):
    rule = load(tmp_path, 'rule a:\n    output: "a.txt"\n').by_name["a"]
    assert (rule.inputs, rule.log, rule.threads, rule.resources, rule.retries, rule.priority,
            rule.message, rule.action) == ((), (), 1, {}, 0, 0, None, None)
    assert rule.params.values == ()


def test_script_action_path_is_relative_to_its_flowfile(tmp_path):
    wf = load(tmp_path, 'include: "rules/r.flow"\n', {
        "rules/r.flow": 'rule a:\n    output: "a"\n    script: "scripts/make.py"\n',
        "rules/scripts/make.py": "print(1)\n"})
    assert wf.by_name["a"].action.text == "rules/scripts/make.py"
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    script: "nope.py"\n')
    assert err.message == f"script not found: {tmp_path / 'nope.py'}"


@pytest.mark.parametrize("script, kind", [
    ("s.py", "python"), ("plot.R", "r"), ("plot.r", "r"), ("report.Rmd", "rmarkdown"),
    ("report.rmd", "rmarkdown"), ("explore.ipynb", "notebook"), ("run.sh", "bash"),
    ("run.bash", "bash")])
def test_script_kinds_by_extension(tmp_path, script, kind):
    wf = load(tmp_path, f'rule a:\n    output: "a"\n    script: "{script}"\n', {script: ""})
    assert script_kind(wf.by_name["a"].action.text) == kind


@pytest.mark.parametrize("script, what", [
    ("plot.jl", "unknown extension '.jl'"), ("run", "no extension"),
    ("scripts.d/run", "no extension"), ("notes.txt", "unknown extension '.txt'")])
def test_script_of_an_unknown_language_is_an_error_at_its_position(tmp_path, script, what):
    err = load_error(tmp_path, f'rule a:\n    output: "a"\n    script: "{script}"\n',
                     {script: "echo hi\n"})
    assert err.message == f"cannot run script {script!r}: {what}"
    assert (err.pos.line, err.pos.column) == (3, 13)
    assert err.hint == ("a script ends in .py (Python), .R (R), .Rmd (R Markdown), "
                        ".ipynb (Jupyter notebook), .sh (bash)")


def test_notebook_directive_is_an_error_saying_script_runs_notebooks(tmp_path):
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    notebook: "n.ipynb"\n')
    assert err.message == "unknown directive 'notebook' in rule 'a'"
    assert err.hint == ("a notebook is a script: 'script: \"NAME.ipynb\"' runs it, and "
                        "'log: notebook = \"PATH.ipynb\"' keeps the executed copy")


def test_rmarkdown_script_needs_an_output_to_render_to(tmp_path):
    err = load_error(tmp_path, 'rule a:\n    input: "x"\n    script: "r.Rmd"\n', {"r.Rmd": ""})
    assert err.message == ("rule 'a' runs the R Markdown script 'r.Rmd' but has no output to "
                           "render it to")
    assert err.pos.line == 3
    assert err.hint == 'give the rule the output document, e.g. output: report = "reports/{sample}.html"'


def test_directive_blocks_and_one_line_forms_are_equal(tmp_path):
    one = load(tmp_path, 'rule a:\n    input: "x", "y"\n    output: "z"\n').by_name["a"]
    block = load(tmp_path, 'rule a:\n    input:\n        "x",\n        "y"\n    output: "z"\n').by_name["a"]
    assert [i.pattern.text for i in one.inputs] == [i.pattern.text for i in block.inputs] == ["x", "y"]


@pytest.mark.parametrize("body, message", [
    ('    output: "a"\n    shell: "x"\n    shell: "y"\n', "directive 'shell' given twice in rule 'a'"),
    ('    output: "a"\n    shell: "x"\n    script: "y"\n',
     "rule 'a' has two actions ('shell' at line 3 and 'script')"),
    ('    outptu: "a"\n', "unknown directive 'outptu' in rule 'a'"),
    ('    output: "a"\n    run:\n        print(1)\n', "'run:' blocks of Python are not supported"),
    ('    output: "{x}", "{y}"\n', "all outputs of rule 'a' must use the same wildcards: {x} vs {y}"),
    ('    input: "{y}"\n    output: "{x}"\n',
     "wildcard '{y}' in input of rule 'a' is not defined by any output (outputs define: x)"),
    ('    log: "{y}"\n    output: "{x}"\n',
     "wildcard '{y}' in log of rule 'a' is not defined by any output (outputs define: x)"),
    ('    input: wildcards.y\n    output: "{x}"\n', "rule 'a' has no wildcard 'y' (its outputs define: x)"),
    ('    output: wildcards.x\n', "'output:' cannot use 'wildcards': the outputs define the wildcards"),
    ('    output: ancient("a")\n', "ancient() applies to inputs, not outputs"),
    ('    input: temp("a")\n    output: "b"\n', "temp() applies to outputs, not to input"),
    ('    output: "a"\n    threads: "4"\n', "'threads:' takes a whole number, not a string"),
    ('    output: "a"\n    threads: -1\n', "'threads:' must be at least 0, got -1"),
    ('    output: "a"\n    retries: -1\n', "'retries:' must be at least 0, got -1"),
    ('    output: "a"\n    priority: 1.5\n', "'priority:' takes a whole number, not a float"),
    ('    output: "a"\n    threads: 1, 2\n', "'threads:' takes one whole number"),
    ('    output: "a"\n    resources: 100\n', "'resources:' takes name=value pairs (e.g. mem_mb=2000)"),
    ('    output: "a"\n    resources: mem_mb=-1\n',
     "resource 'mem_mb' must be a non-negative number, got -1"),
    ('    output: "a"\n    resources: x=[1]\n', "resource 'x' must be a number or a string, not a list"),
    ('    output: "a"\n    params: p=1, p=2\n', "'p' given twice in 'params:' of rule 'a'"),
    ('    output: x="a", x="b"\n', "'x' given twice in 'output:' of rule 'a'"),
    ('    output: x=[], y="a"\n',
     "output 'x' of rule 'a' is an empty list: an output names the files a job makes"),
    ('    output: "a"\n    input: 3\n', "input entries must be file paths (strings), not an int"),
    ('    output: "a"\n    shell: 3\n', "'shell:' takes a string, not an int"),
    ('    output: "a"\n    shell: "x" + wildcards.y\n',
     "'shell:' cannot depend on wildcards; write {wildcards.NAME} inside the string instead"),
    ('    output: "a"\n    message: "{output.nope}"\n',
     "{output.nope}: output of rule 'a' has no entry named 'nope' (named entries: none)"),
    ('    output: "a"\n    shell: "{log}"\n', "{log}: rule 'a' has no 'log:'"),
    ('    output: "a"\n    shell: "{threads.x}"\n',
     "{threads.x}: 'threads' is a single value; write {threads}"),
    ('    output: "a"\n    params: 1\n    shell: "{params[3]}"\n', "{params[3]}: rule 'a' has only 1 params"),
    ('    output: "a"\n    params: p=1\n    shell: "{params.q}"\n',
     "{params.q}: rule 'a' has no param 'q' (params: p)"),
    ('    output: "{x}"\n    shell: "{wildcards[0]}"\n',
     "{wildcards[0]}: wildcards are taken by name, e.g. {wildcards.NAME}"),
    ('    output: "{x}"\n    shell: "{wildcards.y}"\n',
     "{wildcards.y}: rule 'a' has no wildcard 'y' (its outputs define: x)"),
    ('    output: "a"\n    shell: "{resources.gpu}"\n',
     "{resources.gpu}: rule 'a' has no resource 'gpu' (set it in its 'resources:', or give every "
     "job one: --default-resources gpu=VALUE)"),
    ('    output: "a"\n    wildcard_constraints: x="("\n',
     "bad regex for wildcard 'x': missing ), unterminated subpattern at position 0"),
    ('    output: "{x,(}"\n',
     "bad regex for wildcard 'x' in pattern '{x,(}': missing ), unterminated subpattern at position 0"),
    ('    output: "a"\n    input: attempt\n', "'attempt' cannot be used in 'input:'"),
])
def test_rule_validation_errors(tmp_path, body, message):
    err = load_error(tmp_path, "rule a:\n" + body)
    assert err.message == message
    assert err.pos.line >= 2 and err.pos.path == str(tmp_path / "Flowfile")


@pytest.mark.parametrize("text, message, column", [
    ('configfile: "c\\x00.yaml"\n', "configfile path 'c\\x00.yaml' contains a NUL byte", 13),
    ('include: "rules\\x00.flow"\n', "include path 'rules\\x00.flow' contains a NUL byte", 10),
    ('default: "a\\x00"\n', "default target path 'a\\x00' contains a NUL byte", 10),
    ('rule a:\n    output: "a\\x00b"\n', "output path 'a\\x00b' contains a NUL byte", 13),
    ('rule a:\n    input: ["x", directory("y\\x00")]\n    output: "a"\n',
     "input path 'y\\x00' contains a NUL byte", 12),
    ('rule a:\n    output: "a"\n    log: expand("{n}.log", n=["x", "y\\x00"])\n',
     "log path 'y\\x00.log' contains a NUL byte", 10),
    ('rule a:\n    output: "a"\n    script: "s\\x00.py"\n',
     "script path 's\\x00.py' contains a NUL byte", 13),
])
def test_a_nul_byte_in_a_path_is_an_error_at_its_place(tmp_path, text, message, column):
    err = load_error(tmp_path, text)
    assert err.message.startswith(message), err.message
    assert err.message.endswith("no file name can hold one")
    assert (err.pos.line, err.pos.column) == (text[:text.index("\\x00")].count("\n") + 1, column)


def test_a_nul_byte_in_a_per_job_path_or_a_command_line_config_file(tmp_path):
    rule = load(tmp_path, 'rule a:\n    output: "{x}"\n    input: wildcards.x + "\\x00"\n').by_name["a"]
    with pytest.raises(FlowfileError, match=r"input path 'q\\x00' contains a NUL byte") as info:
        job_values(rule, {"x": "q"})
    assert info.value.pos.line == 3
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n', configfiles=["c\x00.yaml"])
    assert err.message == "config file path 'c\\x00.yaml' contains a NUL byte; no file name can hold one"


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path):
    import time

    start = time.monotonic()
    err = load_error(tmp_path, 'configfile: "bomb.yaml"\n', {"bomb.yaml": BILLION_LAUGHS})
    assert err.message == ("config file bomb.yaml is too large once its aliases (*name) are "
                           "expanded: more than 1000000 values, or a value that holds itself")
    assert (err.pos.line, err.pos.column) == (1, 13)
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n', {"bomb.yaml": BILLION_LAUGHS},
                     configfiles=[str(tmp_path / "bomb.yaml")])
    assert "is too large once its aliases (*name) are expanded" in err.message
    err = load_error(tmp_path, 'configfile: "self.yaml"\n', {"self.yaml": "a: &x [1, *x]\n"})
    assert "a value that holds itself" in err.message
    assert time.monotonic() - start < 10


def test_a_yaml_alias_bomb_on_the_command_line_is_refused():
    from fileflow.lang.config import parse_config_overrides

    bomb = "[&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1], " + ", ".join(
        f"&{n} [{', '.join([f'*{p}'] * 10)}]" for p, n in zip("abcdefg", "bcdefgh")) + "]"
    with pytest.raises(FlowfileError, match=r"--config x=\.\.\. is too large once its aliases"):
        parse_config_overrides([f"x={bomb}"])


@pytest.mark.parametrize("directive", ["include", "configfile"])
def test_only_regular_files_are_read(tmp_path, directive):
    import os
    import threading

    what = "config file " if directive == "configfile" else ""
    err = load_error(tmp_path, f'{directive}: "/dev/zero"\n')
    assert err.message == f"cannot read {what}/dev/zero: it is a character device, not a regular file"
    (tmp_path / "folder").mkdir()
    err = load_error(tmp_path, f'{directive}: "folder"\n')
    assert err.message.endswith("it is a directory, not a regular file")
    os.mkfifo(tmp_path / "fifo")
    result: list = []
    loading = threading.Thread(target=lambda: result.append(
        load_error(tmp_path, f'{directive}: "fifo"\n')), daemon=True)
    loading.start()
    loading.join(10)
    if loading.is_alive():  # it waits for a writer: give it one, so the thread ends
        with open(tmp_path / "fifo", "w"):
            pass
        pytest.fail("reading a FIFO waited for a writer")
    assert result[0].message.endswith("fifo: it is a FIFO, not a regular file")
    assert (result[0].pos.line, result[0].pos.column) == (1, len(directive) + 3)


@pytest.mark.parametrize("directive, limit, what", [
    ("include", "MAX_FLOWFILE_BYTES", "a Flowfile"), ("configfile", "MAX_CONFIG_BYTES", "a config file")])
def test_a_file_larger_than_the_limit_is_refused(tmp_path, directive, limit, what):
    from fileflow.lang import source_files

    size = getattr(source_files, limit)
    with open(tmp_path / "big", "wb") as fh:
        fh.truncate(size + 1)  # sparse: no disk used
    err = load_error(tmp_path, f'{directive}: "big"\n')
    assert err.message.endswith(f"big: it is larger than {size // 2 ** 20} MiB, the most {what} "
                                "may hold")


def test_includes_read_many_times_add_up_to_a_limit(tmp_path, monkeypatch):
    import fileflow.lang.loader

    monkeypatch.setattr(fileflow.lang.loader, "MAX_LOAD_BYTES", 1000)
    part = "X = 1  # " + "-" * 90 + "\n"   # 100 bytes
    err = load_error(tmp_path, 'include: "part.flow"\n' * 20, {"part.flow": part})
    assert err.message.endswith("part.flow: the Flowfile and its includes would be larger than "
                                "0 MiB together")
    assert err.pos.line == 6   # the Flowfile (420 bytes) and five includes fit


def test_a_dict_or_list_param_is_indexed_in_a_command(tmp_path):
    rule = load(tmp_path, '''\
        rule a:
            output: "a"
            params: p={"epsilon": 0.5, "n": [1, 2]}, q=[3, 4]
            shell: "run --eps {params.p[epsilon]} --first {params.q[0]} --n {params.p[n][1]}"
        ''').by_name["a"]
    command = render(rule.action.template, namespaces(rule, {}))
    assert command == "run --eps 0.5 --first 3 --n 2"


@pytest.mark.parametrize("field, message", [
    ("{params.p[nope]}", "{params.p[nope]}: no 'nope' in params.p (has: epsilon)"),
    ("{params.q[2]}", "{params.q[2]}: index 2 is out of range (params.q has 2 items)"),
])
def test_indexing_a_param_is_checked_when_the_flowfile_loads(tmp_path, field, message):
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    params: p={"epsilon": 0.5}, q=[3, 4]\n'
                               f'    shell: "run {field}"\n')
    assert err.message == message
    assert (err.pos.line, err.pos.column, err.pos.end_column) == (4, 17, 17 + len(field))


def test_an_output_given_twice_in_a_rule_is_an_error_at_the_second(tmp_path):
    err = load_error(tmp_path, 'rule a:\n    output: "x.txt", y="{s}.txt", z="x.txt"\n')
    assert err.message == "output 'x.txt' is given twice in rule 'a'"
    assert (err.pos.line, err.pos.column, err.hint) == (2, 35, "first given at line 2, column 13")
    err = load_error(tmp_path, 'rule a:\n    output: expand("{s}.txt", s=["p", "q", "p"])\n')
    assert err.message == "output 'p.txt' is given twice in rule 'a'"


@pytest.mark.parametrize("outputs, message, line", [
    ('rule a:\n    output: directory("out")\nrule b:\n    output: "out/x.txt"\n',
     "output 'out/x.txt' of rule 'b' is inside the directory() output 'out' of rule 'a'", 4),
    ('rule b:\n    output: "./out/{s}/x.txt"\nrule a:\n    output: directory("out/")\n',
     "output './out/{s}/x.txt' of rule 'b' is inside the directory() output 'out/' of rule 'a'", 2),
    ('rule a:\n    output: directory("out"), "out/summary.txt"\n',
     "output 'out/summary.txt' of rule 'a' is inside the directory() output 'out' of rule 'a'", 2),
])
def test_an_output_inside_a_directory_output_is_an_error_when_loading(tmp_path, outputs, message, line):
    err = load_error(tmp_path, outputs)
    assert err.message == message
    assert err.pos.line == line
    assert "removed as a whole" in err.hint


def test_outputs_beside_a_directory_output_are_fine(tmp_path):
    wf = load(tmp_path, '''\
        rule a:
            output: directory("out")
        rule b:
            input: "out"
            output: "out.txt", "outer/x.txt", "other/out/x.txt"
        rule c:
            output: directory("per/{s}")
        rule d:
            output: "per/x/file.txt"
        ''')
    assert [r.name for r in wf.rules] == ["a", "b", "c", "d"]


def test_threads_zero_is_a_job_that_needs_no_core(tmp_path):
    wf = load(tmp_path, '''\
        rule a:
            output: "a"
            threads: 0
        rule b:
            output: "{x}.b"
            threads: 0 if wildcards.x == "none" else 2
        ''')
    assert wf.by_name["a"].threads == 0
    assert job_values(wf.by_name["b"], {"x": "none"}).threads == 0


def test_a_flowfile_without_rules_loads(tmp_path):
    wf = load(tmp_path, 'include: "empty.flow"\n', {"empty.flow": ""})
    assert (wf.rules, wf.default_targets) == ((), ())


def test_duplicate_rule_and_several_errors_reported_together(tmp_path):
    with pytest.raises(FlowfileErrors) as info:
        load(tmp_path, '''\
            rule a:
                output: "a"
                shell: "x"
            rule a:
                output: "b"
            rule b:
                outptu: "c"
            ''')
    messages = [(e.pos.line, e.message) for e in info.value.errors]
    assert messages == [(4, "duplicate rule name 'a'"), (7, "unknown directive 'outptu' in rule 'b'")]
    assert info.value.errors[0].hint == f"first defined at {tmp_path / 'Flowfile'}:1:6"


def test_template_errors_point_into_the_string(tmp_path):
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    shell: "cp {inpt} {output}"\n')
    assert (err.pos.line, err.pos.column, err.pos.end_column) == (3, 16, 22)
    # through the dedenting of a triple-quoted string
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    shell: """\n        one\n'
                               '          two {inpt}\n        """\n')
    assert (err.pos.line, err.pos.column, err.pos.end_column) == (5, 15, 21)
    # through escapes
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    shell: "\\t\\x41{inpt}"\n')
    assert (err.pos.line, err.pos.column, err.pos.end_column) == (3, 19, 25)
    # a computed string has no place for the field: the expression is shown instead
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    shell: "cp " + "{inpt}"\n')
    assert (err.pos.line, err.pos.column) == (3, 12)


def test_shell_quoting_of_hostile_wildcards_end_to_end(tmp_path):
    rule = load(tmp_path, 'rule a:\n    output: "out/{name}.txt"\n'
                          '    shell: "touch {output} {output:raw}"\n').by_name["a"]
    command = render(rule.action.template, namespaces(rule, {"name": "a b;rm -rf x"}))
    assert command == "touch 'out/a b;rm -rf x.txt' out/a b;rm -rf x.txt"
    assert shlex.split(command)[:2] == ["touch", "out/a b;rm -rf x.txt"]


@pytest.mark.parametrize("directive", ["retries", "priority"])
def test_retries_and_priority_cannot_depend_on_wildcards(tmp_path, directive):
    with pytest.raises(FlowfileErrors) as info:
        load(tmp_path, f"""
            rule a:
                output: "{{s}}.x"
                {directive}: len(wildcards.s)
                shell: "touch {{output}}"
            """)
    (error,) = info.value.errors
    assert f"'{directive}:' cannot depend on wildcards" in error.message
    assert "wildcards.s" in error.render()  # the caret line shows the expression


def test_command_line_threads_and_resources_go_into_the_rules(tmp_path):
    from fileflow.errors import FileflowError
    from fileflow.lang.overrides import RunOverrides, with_overrides

    wf = load(tmp_path, 'rule a:\n    output: "{x}.txt"\n    threads: 2 + len(wildcards.x)\n'
                        '    resources: mem_mb = 10 * threads, gpu = 1\n    shell: "x"\n'
                        'rule b:\n    output: "b"\n    threads: 6\n    shell: "x"\n')
    got = with_overrides(wf, RunOverrides({"mem_mb": 1, "queue": "short"}, {"a": {"gpu": 2}},
                                          {"b": 9}, max_threads=4))
    a, b = got.by_name["a"], got.by_name["b"]
    assert (b.threads, b.resources) == (4, {"mem_mb": 1, "queue": "short"})
    assert job_values(a, {"x": "y"}).threads == 3
    assert job_values(a, {"x": "long"}).threads == 4                 # capped, before resources
    assert job_values(a, {"x": "long"}).resources == {"mem_mb": 40, "queue": "short", "gpu": 2}
    assert with_overrides(wf, RunOverrides()) is wf
    with pytest.raises(FileflowError, match="threads must be a whole number >= 0"):
        with_overrides(wf, RunOverrides(set_resources={"b": {"threads": "many"}}))
    with pytest.raises(FileflowError, match="threads must be a whole number >= 0"):
        with_overrides(wf, RunOverrides(set_threads={"b": -1}))
    assert with_overrides(wf, RunOverrides(set_threads={"b": 0})).by_name["b"].threads == 0


def test_a_size_the_command_line_sets_replaces_every_spelling_of_it_in_the_rule(tmp_path):
    from fileflow.lang.overrides import RunOverrides, with_overrides
    from fileflow.lang.units import given_resources

    wf = load(tmp_path, 'rule a:\n    output: "{x}.txt"\n    resources: mem = "8G", runtime = "1h"\n'
                        '    shell: "x"\n'
                        'rule b:\n    output: "b{x}"\n    resources: mem_mib = 1000 + len(wildcards.x)\n'
                        '    shell: "x"\n')
    assert wf.by_name["a"].resources == {"mem": "8G", "mem_mb": 8000, "runtime": 60}

    def resources(rule, **given):
        over = with_overrides(wf, RunOverrides(set_resources={rule: given_resources(given, "x")}))
        return job_values(over.by_name[rule], {"x": "y"}).resources

    assert resources("a", mem="16G", runtime="2h30m") == {"mem": "16G", "mem_mb": 16000,
                                                          "runtime": 150}
    assert resources("a", mem_mb=2000) == {"mem": "2000MB", "mem_mb": 2000, "runtime": 60}
    assert resources("a", mem_mib=1000) == {"mem": "1048MB", "mem_mib": 1000, "mem_mb": 1048,
                                            "runtime": 60}
    assert resources("b", mem="1G") == {"mem": "1G", "mem_mib": 953, "mem_mb": 1000}  # per job
    assert resources("b", mem_mb=3000) == {"mem_mib": 2861, "mem_mb": 3000}


# ---------------------------------------------------------------- Python functions

COMMON = '''\
SAMPLES = {"a": "raw/a.fq", "b": "raw/b.fq"}


def get_fastq(wildcards):
    """The reads of one sample."""
    return SAMPLES[wildcards.sample]


def read_group(wildcards, config):
    config["platform"] = "changed"  # a copy: the Flowfile's config is untouched
    return {"id": wildcards["sample"], "platform": config["platform"], "keys": tuple(wildcards)}


def samples():
    return list(SAMPLES)


def nothing(*args):
    return None
'''


def test_imported_functions_are_called_at_load_time_and_per_job(tmp_path):
    wf = load(tmp_path, """\
        from "workflow/common.py" import get_fastq, read_group, samples, nothing
        rule all:
            input: expand("out/{s}.txt", s=samples())
        rule align:
            input: get_fastq(wildcards)
            output: "out/{sample}.txt"
            params: rg = read_group(wildcards, config), id = read_group(wildcards, config).id,
                nil = nothing(wildcards, [config], {"k": temp("t")})
            shell: "x"
        """, {"workflow/common.py": COMMON}, config={"platform": "illumina"})
    assert [i.pattern.text for i in wf.by_name["all"].inputs] == ["out/a.txt", "out/b.txt"]
    v = job_values(wf.by_name["align"], {"sample": "b"})
    assert v.inputs.values == ("raw/b.fq",)
    assert dict(zip(v.params.names, v.params.values)) == {
        "rg": {"id": "b", "platform": "changed", "keys": ("sample",)}, "id": "b", "nil": None}
    assert wf.config == {"platform": "illumina"}
    assert str(tmp_path / "workflow" / "common.py") in wf.read_files
    info = wf.functions["get_fastq"]
    assert (info.file, info.line, info.signature, info.doc) == (
        str(tmp_path / "workflow" / "common.py"), 4, "get_fastq(wildcards)", "The reads of one sample.")


def test_imported_functions_work_in_comprehensions_and_f_strings_and_keep_tuples(tmp_path):
    module = "def pair(x):\n    return (x, x.upper())\n\ndef kind(t):\n    return type(t).__name__\n"
    wf = load(tmp_path, """\
        from "w.py" import pair, kind
        NAMES = {s: pair(s)[1] for s in ["a", "b"]}
        rule all:
            input: [f"out/{NAMES[s]}.txt" for s in NAMES]
        rule one:
            output: "out/{name}.txt"
            params: p = pair(wildcards.name), k = kind((1, 2)), label = f"{pair('x')[1]}-{kind([])}"
            shell: "x"
        """, {"w.py": module})
    assert [i.pattern.text for i in wf.by_name["all"].inputs] == ["out/A.txt", "out/B.txt"]
    v = job_values(wf.by_name["one"], {"name": "A"})
    assert dict(zip(v.params.names, v.params.values)) == {
        "p": ("A", "A"), "k": "tuple", "label": "X-list"}


def test_a_module_runs_once_per_load_and_paths_are_relative_to_the_flowfile(tmp_path):
    counting = "import os\nwith open(os.path.join(os.path.dirname(__file__), 'runs'), 'a') as f:\n" \
               "    f.write('x')\ndef one():\n    return 1\n"
    wf = load(tmp_path, """\
        include: "rules/more.flow"
        from "rules/f.py" import one
        X = one() + one()
        """, {"rules/f.py": counting, "rules/more.flow": 'from "f.py" import one\nfrom "f.py" import one\n'})
    assert (tmp_path / "rules" / "runs").read_text() == "x"
    assert wf.functions["one"].line == 4
    del wf
    load(tmp_path, 'from "rules/f.py" import one\nX = one()\n')
    assert (tmp_path / "rules" / "runs").read_text() == "xx"  # each load runs it anew


def test_a_helper_module_imports_its_sibling_modules_at_load_time_and_per_job(tmp_path):
    sibling = "def prefix():\n    return 'raw'\n"
    module = "import fileflow_test_sibling\n\n\ndef fastq(w):\n" \
             "    import fileflow_test_sibling as late\n" \
             "    return late.prefix() + '/' + w.sample + '.fq'\n"
    wf = load(tmp_path, """\
        from "workflow/common.py" import fastq
        rule align:
            input: fastq(wildcards)
            output: "out/{sample}.txt"
            shell: "x"
        """, {"workflow/common.py": module, "workflow/fileflow_test_sibling.py": sibling})
    assert job_values(wf.by_name["align"], {"sample": "b"}).inputs.values == ("raw/b.fq",)


@pytest.mark.parametrize(("flowfile", "module", "message", "where"), [
    ('from "w.py" import get_fq\n', "def get_fastq(w):\n    pass\ndef samples():\n    pass\nX = 1\n",
     "w.py has no function 'get_fq'; it has: get_fastq, samples", (1, 20)),
    ('from "w.py" import X\n', "def f():\n    pass\nX = {}\n",
     "'X' in w.py is not a function (it is a Python dict); it has: f", (1, 20)),
    ('from "nope.py" import f\n', "", "file not found: nope.py", (1, 6)),
    ('from "w.py" import f\n', "def f(:\n    pass\n", "cannot import w.py: invalid syntax (line 1)", (1, 6)),
    ('from "w.py" import f\n', "import os\nX = 1 / 0\n",
     "importing w.py raised ZeroDivisionError: division by zero at w.py:2 (X = 1 / 0)", (1, 6)),
    ('from "w.py" import f\n', "import sys\nsys.exit(3)\n",
     "importing w.py raised SystemExit: 3 at w.py:2 (sys.exit(3))", (1, 6)),
    ('from "w.py" import len\n', "def len(x):\n    pass\n",
     "cannot import 'len': it is a built-in name", (1, 20)),
    ('from "w.py" import true\n', "def true():\n    pass\n",
     "cannot import 'true': it is a keyword", (1, 20)),
    ('from "w.py" import f\nf = 1\n', "def f():\n    pass\n",
     "cannot assign to 'f': it is a function imported on line 1", (2, 1)),
    ('f = 1\nfrom "w.py" import f\n', "def f():\n    pass\n",
     "cannot import 'f': it is assigned on line 1", (2, 20)),
    ('from "w.py" import f\nfrom "v.py" import f\n', "def f():\n    pass\n",
     "'f' is imported from two files (first on line 1)", (2, 20)),
    ('from "w.py" import f\nX = f\n', "def f():\n    pass\n",
     "'f' is a function; call it as f(...)", (2, 5)),
    ('from "w.py" import f\nX = f(1)\n', "def f(x):\n    return {1, 2}\n",
     "f() returned a Python set; an imported function must return a string, a number, a bool, "
     "a list, a tuple, a dict or None", (2, 5)),
    ('from "w.py" import f\nX = f(1, 2)\n', "def f(x):\n    return x\n",
     "f() raised TypeError: f() takes 1 positional argument but 2 were given", (2, 5)),
    ('from "w.py" import f\nX = f(1)\n', "def f(x):\n    return {(1, 2): x}\n",
     "f() returned a dict with a Python tuple as a key; keys must be strings or numbers", (2, 5)),
    ('from "w.py" import f\nX = f()\n', "import pathlib\ndef f():\n    return pathlib.Path('a')\n",
     "f() returned a Python PosixPath; an imported function must return a string, a number, "
     "a bool, a list, a tuple, a dict or None; convert it with str(...)", (2, 5)),
    ('from "w.py" import f\nX = f()\n', "def f():\n    raise GeneratorExit\n",
     "f() raised GeneratorExit at w.py:2 (raise GeneratorExit)", (2, 5)),
    ('from "w.py" import f\n', "class Stop(BaseException):\n    pass\nraise Stop('early')\n",
     "importing w.py raised Stop: early at w.py:3 (raise Stop('early'))", (1, 6)),
    ('from "w.py" import f\nX = f()\n', "class E(Exception):\n    def __str__(self):\n"
     "        raise RuntimeError\ndef f():\n    raise E()\n",
     "f() raised E: (its text cannot be shown: RuntimeError in its __str__) at w.py:5 (raise E())",
     (2, 5)),
    ('from "w.py" import f\nX = f()\n', "class L(list):\n    def __iter__(self):\n"
     "        raise RuntimeError('no')\n    def __len__(self):\n        raise RuntimeError('no')\n"
     "def f():\n    return L([1])\n",
     "f() returned a value that cannot be read: RuntimeError: no", (2, 5)),
])
def test_errors_of_imported_functions(tmp_path, flowfile, module, message, where):
    (tmp_path / "v.py").write_text("def f():\n    pass\n")
    err = load_error(tmp_path, flowfile, {"w.py": module} if module else {})
    assert err.message == message
    assert (err.pos.line, err.pos.column) == where


def test_a_subclass_an_imported_function_returns_is_read_as_its_base_type(tmp_path):
    # Its overridden methods (__str__, __repr__, __eq__) never run, now or later.
    module = ("class I(int):\n    def __str__(self):\n        raise RuntimeError\n"
              "class S(str):\n    def __str__(self):\n        raise RuntimeError\n"
              "    def __eq__(self, other):\n        raise RuntimeError\n"
              "    __hash__ = str.__hash__\n"
              "class L(list):\n    def __repr__(self):\n        raise RuntimeError\n"
              "def f():\n    return {S('k'): L([I(3), S('x'), 1.5])}\n")
    wf = load(tmp_path, """\
        from "w.py" import f
        X = f()
        rule one:
            output: "a"
            params: p = X
            shell: "echo {params.p} > {output}"
        """, {"w.py": module})
    value = job_values(wf.by_name["one"], {}).params.values[0]
    assert value == {"k": [3, "x", 1.5]}
    assert [type(v) for v in value["k"]] == [int, str, float] and type(next(iter(value))) is str


def test_an_imported_function_that_raises_per_job_names_the_line_of_its_file(tmp_path):
    wf = load(tmp_path, """\
        from "workflow/common.py" import get_fastq, read_group
        rule align:
            input: get_fastq(wildcards)
            output: "out/{sample}.txt"
            params: x = read_group(wildcards, 1)
            shell: "x"
        """, {"workflow/common.py": COMMON})
    with pytest.raises(FlowfileError) as info:
        job_values(wf.by_name["align"], {"sample": "zz"})
    assert info.value.message == ("get_fastq() raised KeyError: 'zz' at workflow/common.py:6 "
                                  "(return SAMPLES[wildcards.sample])")
    assert (info.value.pos.line, info.value.pos.column) == (3, 12)
    with pytest.raises(FlowfileError) as info:
        job_values(wf.by_name["align"], {"sample": "a"})
    assert info.value.message == ("read_group() raised TypeError: 'int' object does not support item "
                                  "assignment at workflow/common.py:10 (config[\"platform\"] = \"changed\"  "
                                  "# a copy: the Flowfile's config is untouched)")


def test_wildcards_are_read_only_for_an_imported_function(tmp_path):
    wf = load(tmp_path, 'from "w.py" import f\nrule a:\n    output: "{x}"\n    params: p = f(wildcards)\n',
              {"w.py": "def f(w):\n    assert w.x == w['x'] == dict(w)['x']\n    w.x = 1\n"})
    with pytest.raises(FlowfileError) as info:
        job_values(wf.by_name["a"], {"x": "v"})
    assert info.value.message == "f() raised AttributeError: wildcards are read-only at w.py:3 (w.x = 1)"


def test_unpack_turns_a_returned_dict_into_named_inputs(tmp_path):
    wf = load(tmp_path, """\
        from "w.py" import get_inputs
        rule a:
            input: unpack(get_inputs(wildcards)), "extra.txt"
            output: "out/{s}.txt"
            shell: "x"
        rule b:
            input: unpack({"ref": "ref.fa"}), unpack(["x.txt", ["y.txt"]])
            output: "b.txt"
            shell: "x"
        """, {"w.py": "def get_inputs(w):\n    return {'reads': [w.s + '.fq'], 'ref': 'ref.fa'}\n"})
    v = job_values(wf.by_name["a"], {"s": "one"})
    assert v.inputs.values == ("one.fq", "ref.fa", "extra.txt")
    assert v.inputs.names == ("reads", "ref", None)
    b = wf.by_name["b"]
    assert [(i.pattern.text, i.name) for i in b.inputs] == [
        ("ref.fa", "ref"), ("x.txt", None), ("y.txt", None)]


@pytest.mark.parametrize(("flowfile", "message"), [
    ('rule a:\n    input: x = unpack({"k": "v"})\n    output: "o"\n',
     "'x = unpack(...)': unpack() gives the names itself"),
    ('rule a:\n    output: "o"\n    params: unpack({"k": "v"})\n', "unpack() belongs in 'input:'"),
    ('rule a:\n    input: unpack("a.txt")\n    output: "o"\n',
     "unpack() takes one dict (named inputs) or list, not a string"),
    ('rule a:\n    input: unpack({"a b": "x"})\n    output: "o"\n',
     "unpack(): input names must be names, not 'a b'"),
    ('rule a:\n    input: [unpack({"k": "v"})]\n    output: "o"\n',
     "input entries must be file paths (strings), not an unpack(...)"),
])
def test_unpack_errors(tmp_path, flowfile, message):
    assert load_error(tmp_path, flowfile).message == message


def test_config_is_copied_once_for_all_the_calls_of_a_function(tmp_path):
    wf = load(tmp_path,
              'from "w.py" import f\nrule a:\n    output: "{x}"\n    params: p = f(config, wildcards)\n',
              {"w.py": "def f(config, wildcards):\n    config['calls'] = config.get('calls', 0) + 1\n"
                       "    return config['calls']\n"}, config={"k": 1})
    assert [job_values(wf.by_name["a"], {"x": x}).params.values for x in "abc"] == [(1,), (2,), (3,)]
    assert wf.config == {"k": 1}


# ---------------------------------------------------------------- configschema:

SCHEMA = r"""
type: object
properties:
  threads: {type: integer, default: 4}
  opts:
    type: object
    default: {}
    properties:
      mode: {type: string, default: fast, enum: [fast, slow]}
  samples:
    type: array
    items:
      type: object
      required: [name]
      properties:
        name: {type: string}
        fq1: {type: string, pattern: '^.+\.fq\.gz$'}
required: [samples]
"""
SCHEMED = """\
configfile: "config.yaml"
configschema: "schemas/config.schema.yaml"
rule a:
    output: "a.txt"
    params: t = config.threads, m = config.opts.mode
    shell: "touch {output}"
"""


def schema_errors(tmp_path, monkeypatch, config_yaml: str, **kwargs) -> list[tuple[str, str]]:
    monkeypatch.chdir(tmp_path)
    with pytest.raises((FlowfileError, FlowfileErrors)) as info:
        load(tmp_path, SCHEMED, {"config.yaml": config_yaml, "schemas/config.schema.yaml": SCHEMA},
             **kwargs)
    errors = info.value.errors if isinstance(info.value, FlowfileErrors) else [info.value]
    return [(str(e.pos).replace(str(tmp_path) + "/", ""), e.message) for e in errors]


def test_configschema_fills_defaults_in_and_watches_the_schema(tmp_path):
    wf = load(tmp_path, SCHEMED, {"config.yaml": "samples: [{name: a, fq1: a.fq.gz}]\n",
                                  "schemas/config.schema.yaml": SCHEMA})
    assert wf.by_name["a"].params.values == (4, "fast")
    assert wf.config == {"samples": [{"name": "a", "fq1": "a.fq.gz"}], "threads": 4,
                         "opts": {"mode": "fast"}}
    assert str(tmp_path / "schemas/config.schema.yaml") in wf.read_files
    overridden = load(tmp_path, SCHEMED, config={"threads": 8, "opts": {"mode": "slow"}})
    assert overridden.by_name["a"].params.values == (8, "slow")


def test_configschema_names_each_violation_at_its_line_in_the_config_file(tmp_path, monkeypatch):
    config = "samples:\n  - name: a\n    fq1: a.fq\n  - fq1: b.fq.gz\nthreads: many\n"
    assert schema_errors(tmp_path, monkeypatch, config) == [
        ("config.yaml:3:10", "config.samples[0].fq1: 'a.fq' does not match '^.+\\.fq\\.gz$' "
                             "(schemas/config.schema.yaml: properties.samples.items.properties.fq1.pattern)"),
        ("config.yaml:4:5", "config.samples[1]: 'name' is a required property "
                            "(schemas/config.schema.yaml: properties.samples.items.required)"),
        ("config.yaml:5:10", "config.threads: 'many' is not of type 'integer' "
                             "(schemas/config.schema.yaml: properties.threads.type)"),
    ]


def test_configschema_names_the_command_line_for_what_it_set(tmp_path, monkeypatch):
    extra = tmp_path / "extra.yaml"
    extra.write_text("opts:\n  mode: medium\n")
    assert schema_errors(tmp_path, monkeypatch, "threads: 2\n", config={"threads": "x"},
                         configfiles=[str(extra)]) == [
        ("Flowfile:2:15", "config.threads (set by --config): 'x' is not of type 'integer' "
                          "(schemas/config.schema.yaml: properties.threads.type)"),
        ("extra.yaml:1:1", "config: 'samples' is a required property "
                           "(schemas/config.schema.yaml: required)"),
        ("extra.yaml:2:9", "config.opts.mode: 'medium' is not one of ['fast', 'slow'] "
                           "(schemas/config.schema.yaml: properties.opts.properties.mode.enum)"),
    ]


@pytest.mark.parametrize("schema, message", [
    ("type: objekt\n", "config schema schemas/config.schema.yaml is not a valid JSON Schema: "
                       "'objekt' is not valid under any of the given schemas (at type)"),
    ("- 1\n", "config schema schemas/config.schema.yaml must hold a mapping (a JSON Schema), "
              "not a list"),
    ("a: [\n", "invalid YAML in config schema: expected the node content, but found "
               "'<stream end>'"),
    ("$schema: 4\ntype: object\n", "config schema schemas/config.schema.yaml is not a valid JSON "
                                    "Schema: its $schema must be the URI of a draft, not an int"),
])
def test_a_bad_schema_is_an_error(tmp_path, monkeypatch, schema, message):
    monkeypatch.chdir(tmp_path)
    err = load_error(tmp_path, SCHEMED, {"config.yaml": "samples: []\n",
                                         "schemas/config.schema.yaml": schema})
    assert err.message == message
    err = load_error(tmp_path, 'configschema: "none.yaml"\n')
    assert (err.message, err.pos.line, err.pos.column) == ("config schema not found: none.yaml", 1, 15)


REFERRING = r"""
type: object
properties:
  units: {$ref: "units.schema.yaml"}
  samples:
    type: array
    items: {$ref: "defs/defs.schema.json#/definitions/sample"}
"""
REFERRED = {
    "schemas/units.schema.yaml": "type: array\nitems:\n  type: object\n  required: [unit]\n"
                                 "  properties:\n    kind: {type: string, default: lane}\n",
    "schemas/defs/defs.schema.json": '{"definitions": {"sample": {"type": "object", '
                                     '"required": ["name"], "properties": {"fq1": '
                                     '{"$ref": "#/definitions/fastq"}}}, '
                                     '"fastq": {"type": "string", "pattern": "^.+\\\\.fq\\\\.gz$"}}}',
}


def test_configschema_follows_a_ref_to_another_schema_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {"config.yaml": "units: [{unit: u1}]\nsamples:\n  - name: a\n    fq1: a.fq.gz\n",
             "schemas/config.schema.yaml": REFERRING, **REFERRED}
    flowfile = SCHEMED.replace("t = config.threads, m = config.opts.mode",
                               "k = config.units[0].kind")
    wf = load(tmp_path, flowfile, files)
    assert wf.by_name["a"].params.values == ("lane",)  # a default inside the referred schema
    for name in ("schemas/config.schema.yaml", "schemas/units.schema.yaml",
                 "schemas/defs/defs.schema.json"):
        assert str(tmp_path / name) in wf.read_files
    config = "units: [{kind: x}]\nsamples:\n  - name: a\n    fq1: a.fq\n  - fq1: b.fq.gz\n"
    (tmp_path / "config.yaml").write_text(config)
    with pytest.raises(FlowfileErrors) as info:
        load(tmp_path, flowfile)
    assert [(str(e.pos).replace(str(tmp_path) + "/", ""), e.message) for e in info.value.errors] == [
        ("config.yaml:1:9", "config.units[0]: 'unit' is a required property "
                            "(schemas/units.schema.yaml: items.required)"),
        ("config.yaml:4:10", "config.samples[0].fq1: 'a.fq' does not match '^.+\\.fq\\.gz$' "
                             "(schemas/defs/defs.schema.json: definitions.fastq.pattern)"),
        ("config.yaml:5:5", "config.samples[1]: 'name' is a required property "
                            "(schemas/defs/defs.schema.json: definitions.sample.required)"),
    ]


@pytest.mark.parametrize("referred, message", [
    ({}, "config schema not found: schemas/units.schema.yaml (a $ref of config schema "
         "schemas/config.schema.yaml)"),
    ({"schemas/units.schema.yaml/x": ""}, "cannot read config schema schemas/units.schema.yaml: "
                                          "it is a directory, not a regular file (a $ref of config schema "
                                          "schemas/config.schema.yaml)"),
    ({"schemas/units.schema.yaml": "type: objekt\n"},
     "config schema schemas/units.schema.yaml is not a valid JSON Schema: 'objekt' is not valid "
     "under any of the given schemas (at type) (a $ref of config schema "
     "schemas/config.schema.yaml)"),
    ({"schemas/units.schema.yaml": "items: {$ref: 'defs/defs.schema.json#/definitions/unit'}\n"},
     "config schema schemas/units.schema.yaml: $ref 'defs/defs.schema.json#/definitions/unit' "
     "names no place in schemas/defs/defs.schema.json: it has no '/definitions/unit'"),
    ({"schemas/units.schema.yaml": "items: {$ref: 'https://example.com/unit.json'}\n"},
     "config schema schemas/config.schema.yaml refers to 'https://example.com/unit.json' (a "
     "$ref): only schema files are read, by a path relative to the schema that names them"),
])
def test_a_ref_to_a_schema_file_that_cannot_be_used_is_an_error_naming_it(
        tmp_path, monkeypatch, referred, message):
    monkeypatch.chdir(tmp_path)
    files = {"config.yaml": "samples: []\n", "schemas/config.schema.yaml": REFERRING,
             "schemas/defs/defs.schema.json": REFERRED["schemas/defs/defs.schema.json"],
             **referred}
    err = load_error(tmp_path, SCHEMED, files)  # whether or not the config has units
    assert (err.message, err.pos.line) == (message, 2)


DRAFT4 = "$schema: 'http://json-schema.org/draft-04/schema#'\n"
DRAFT2020 = "$schema: 'https://json-schema.org/draft/2020-12/schema'\n"


@pytest.mark.parametrize("main, referred, defs", [
    # a draft-04 schema referring to 2020-12 files: exclusiveMinimum is a number there
    (DRAFT4, DRAFT2020 + "type: integer\nexclusiveMinimum: 0\n",
     DRAFT2020 + "$defs:\n  batch: {type: integer, exclusiveMaximum: 100}\n"
                 "  opts: {type: object, properties: {mode: {type: string, default: fast}}}\n"),
    # and the other way round: a boolean beside minimum there
    (DRAFT2020, DRAFT4 + "type: integer\nminimum: 0\nexclusiveMinimum: true\n",
     DRAFT4 + "definitions:\n  batch: {type: integer, maximum: 100, exclusiveMaximum: true}\n"
              "  opts: {type: object, properties: {mode: {type: string, default: fast}}}\n"),
])
def test_a_referred_schema_is_read_under_its_own_draft(tmp_path, monkeypatch, main, referred,
                                                       defs):
    monkeypatch.chdir(tmp_path)
    place = "$defs" if "$defs" in defs else "definitions"
    files = {"config.yaml": "threads: 2\nbatch: 5\nopts: {}\n",
             "schemas/config.schema.yaml": main + (
                 "type: object\nproperties:\n  threads: {$ref: 'threads.schema.yaml'}\n"
                 f"  batch: {{$ref: 'defs.schema.yaml#/{place}/batch'}}\n"
                 f"  opts: {{$ref: 'defs.schema.yaml#/{place}/opts'}}\n"),
             "schemas/threads.schema.yaml": referred, "schemas/defs.schema.yaml": defs}
    wf = load(tmp_path, SCHEMED, files)
    assert wf.by_name["a"].params.values == (2, "fast")  # a default in a file of another draft
    (tmp_path / "config.yaml").write_text("threads: 0\nbatch: 100\nopts: {}\n")
    with pytest.raises(FlowfileErrors) as info:
        load(tmp_path, SCHEMED)
    assert [(str(e.pos).replace(str(tmp_path) + "/", ""), e.message) for e in info.value.errors] == [
        ("config.yaml:1:10", "config.threads: 0 is less than or equal to the minimum of 0 "
                             "(schemas/threads.schema.yaml: "
                             f"{'exclusiveMinimum' if place == '$defs' else 'minimum'})"),
        ("config.yaml:2:8", "config.batch: 100 is greater than or equal to the maximum of 100 "
                            f"(schemas/defs.schema.yaml: {place}.batch."
                            f"{'exclusiveMaximum' if place == '$defs' else 'maximum'})"),
    ]


def test_a_referred_schema_invalid_under_its_own_draft_is_an_error_naming_it(tmp_path,
                                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {"config.yaml": "samples: []\n",
             "schemas/config.schema.yaml": REFERRING,   # no $schema: the latest draft
             "schemas/defs/defs.schema.json": REFERRED["schemas/defs/defs.schema.json"],
             "schemas/units.schema.yaml": DRAFT4 + "type: array\nminItems: 1\n"
                                                   "exclusiveMinimum: 1\n"}
    err = load_error(tmp_path, SCHEMED, files)
    assert (err.message, err.pos.line) == (
        "config schema schemas/units.schema.yaml is not a valid JSON Schema: 1 is not of type "
        "'boolean' (at exclusiveMinimum) (a $ref of config schema schemas/config.schema.yaml)", 2)


# ---------------------------------------------------------------- checkpoints

CHECKPOINTED = """
checkpoint split:
    input: "data/{s}.txt"
    output: directory("chunks/{s}"), listing = "chunks/{s}.list"
    shell: "x"

rule gather:
    input: checkpoints.split.get(s=wildcards.s).output.listing
    params: n = len(read_text(checkpoints.split.get(s=wildcards.s).output[1]).split())
    output: "out/{s}.txt"
    shell: "y"
"""


def test_a_checkpoint_is_a_rule_marked_as_one(tmp_path):
    wf = load(tmp_path, CHECKPOINTED)
    assert wf.by_name["split"].checkpoint and not wf.by_name["gather"].checkpoint
    assert isinstance(wf.by_name["gather"].inputs, Lazy)  # read per job, as wildcards are


def test_checkpoints_get_is_pending_until_the_oracle_says_complete(tmp_path):
    from fileflow.lang.checkpoints import CheckpointPending, Checkpoints

    wf = load(tmp_path, CHECKPOINTED)
    gather = wf.by_name["gather"]
    with pytest.raises(CheckpointPending) as info:
        job_values(gather, {"s": "a"})                    # no oracle: every checkpoint waits
    assert (info.value.rule, info.value.wildcards) == ("split", {"s": "a"})
    asked = []

    def complete(rule, wildcards, outputs):
        asked.append(outputs)
        return True

    write(tmp_path, {"chunks/a.list": "p1\np2\np3\n"})
    values = job_values(gather, {"s": "a"}, checkpoints=Checkpoints(wf.by_name, complete))
    assert values.inputs.values == ("chunks/a.list",)
    assert values.params.values == (3,)
    assert asked[0] == ["chunks/a", "chunks/a.list"]
    never = Checkpoints(wf.by_name, lambda rule, wildcards, outputs: False)
    with pytest.raises(CheckpointPending):
        job_values(gather, {"s": "a"}, checkpoints=never)


def test_checkpoints_get_needs_exactly_the_checkpoints_wildcards(tmp_path):
    from fileflow.lang.checkpoints import Checkpoints

    wf = load(tmp_path, CHECKPOINTED.replace("get(s=wildcards.s).output.listing",
                                             "get(sample=wildcards.s).output.listing"))
    with pytest.raises(FlowfileError) as info:
        job_values(wf.by_name["gather"], {"s": "a"},
                   checkpoints=Checkpoints(wf.by_name, lambda *a: True))
    assert info.value.message == ("get(): checkpoint 'split' has the wildcards s; give exactly "
                                  "those (given: sample)")


def test_checkpoints_errors_at_load_time(tmp_path):
    err = load_error(tmp_path, CHECKPOINTED.replace("checkpoints.split.get(s=wildcards.s).output.listing",
                                                    "checkpoints.gather.get(s=wildcards.s).output[0]"))
    assert err.message == "checkpoints.gather: rule 'gather' is not a checkpoint"
    assert (err.pos.line, err.pos.column) == (8, 12)
    err = load_error(tmp_path, CHECKPOINTED.replace("threads", "x").replace(
        '    shell: "y"', '    threads: len(checkpoints.split.get(s="a").output)\n    shell: "y"'))
    assert err.message == "'checkpoints' cannot be used in 'threads:'"
    err = load_error(tmp_path, "checkpoints = 1\n")
    assert err.message == "cannot assign to 'checkpoints': it is a built-in name"


def test_conda_and_envmodules_are_the_rules_software(tmp_path):
    wf = load(tmp_path, """\
        rule a:
            output: "a"
            conda: "envs/a.yaml"
            envmodules: "bwa/0.7.17", ["samtools/1.19"]
            shell: "x"
        rule b:
            output: "b"
            conda: "/opt/envs/tools"
            shell: "x"
        rule c:
            output: "c"
            conda: "tools"
            shell: "x"
        rule d:
            output: "d"
            shell: "x"
        """, {"rules/../envs/a.yaml": "dependencies: [python]\n"})
    a = wf.by_name["a"].software
    assert (a.conda.kind, a.conda.value) == ("file", "envs/a.yaml")
    assert a.modules == ("bwa/0.7.17", "samtools/1.19")
    assert str(tmp_path / "envs" / "a.yaml") in wf.read_files   # its edits reload the Flowfile
    b, c = wf.by_name["b"].software.conda, wf.by_name["c"].software.conda
    assert (b.kind, b.value, c.kind, c.value) == ("prefix", "/opt/envs/tools", "name", "tools")
    assert wf.by_name["d"].software is None


@pytest.mark.parametrize("body, message", [
    ('conda: "envs/missing.yaml"', "conda environment file not found"),
    ('conda: 3', "'conda:' takes a string, not an int"),
    ('conda: "a.yaml", "b.yaml"', "'conda:' takes one string"),
    ('envmodules: 1', "'envmodules:' takes module names (strings), not an int"),
    ('envmodules: "bwa; rm -rf x"', "takes module names; 'bwa; rm -rf x' is not one"),
    ('conda: f"envs/{wildcards.x}.yaml"', "'conda:' cannot depend on wildcards"),
    ('envmodules: "a", "b/" + str(attempt)', "'envmodules:' cannot depend on wildcards or attempt"),
])
def test_software_errors_are_located(tmp_path, body, message):
    err = load_error(tmp_path, f'rule a:\n    output: "a"\n    {body}\n    shell: "x"\n')
    assert message in str(err)
    assert err.pos.line == 3


def test_output_helpers_in_a_rule(tmp_path):
    wf = load(tmp_path, """
        rule index:
            output: multiext("ref/{name}", ".amb", ".bwt"), touch("flags/{name}.done"),
                    ensure("ref/{name}.fa", non_empty=true)
            shell: "x"
        """)
    v = job_values(wf.by_name["index"], {"name": "g"})
    assert v.outputs.values == ("ref/g.amb", "ref/g.bwt", "flags/g.done", "ref/g.fa")
    assert v.flags == {"flags/g.done": frozenset({"touch"}),
                       "ref/g.fa": frozenset({"ensure_non_empty"})}


@pytest.mark.parametrize("directive, value, words", [
    ("input", 'touch("a")', "touch() applies to outputs, not to input"),
    ("input", 'ensure("a", non_empty=true)', "ensure() applies to outputs, not to input"),
    ("output", 'repeat("a", 2)', "repeat() applies to a 'benchmark:' file"),
])
def test_output_helpers_in_the_wrong_place(tmp_path, directive, value, words):
    err = load_error(tmp_path, f"""
        rule r:
            {directive}: {value}
            output: "o"
            shell: "x"
        """ if directive == "input" else f"""
        rule r:
            {directive}: {value}
            shell: "x"
        """)
    assert words in err.message


def test_hooks_are_loaded_with_their_commands(tmp_path):
    wf = load(tmp_path, """
        onstart: shell="echo {run_id}"
        onsuccess: shell="mail -s done me < {log}"
        """)
    assert sorted(wf.hooks) == ["onstart", "onsuccess"]
    assert wf.hooks["onsuccess"].text == "mail -s done me < {log}"


@pytest.mark.parametrize("text, words", [
    ('onerror: "echo"', "'onerror:' takes one shell command: onerror: shell=\"...\""),
    ('onsuccess: shell="echo {output}"', "unknown field '{output}'"),
    ('onstart: shell=3', "takes a command string, not an int"),
    ('onstart: shell="a"\nonstart: shell="b"', "'onstart:' is given twice"),
])
def test_hook_errors(tmp_path, text, words):
    assert words in load_error(tmp_path, text + "\n").message


def test_benchmark_is_an_output_the_command_is_not_given(tmp_path):
    from fileflow.lang.job_values import benchmark_file, command_outputs

    wf = load(tmp_path, """
        rule r:
            output: "o/{s}.txt"
            benchmark: repeat("b/{s}.tsv", 3)
            shell: "cat {output}"
        """)
    v = job_values(wf.by_name["r"], {"s": "x"})
    assert v.outputs.values == ("o/x.txt", "b/x.tsv")
    assert command_outputs(v).values == ("o/x.txt",)
    assert benchmark_file(v) == ("b/x.tsv", 3)


@pytest.mark.parametrize("value, words", [
    ('"b.tsv", "c.tsv"', "'benchmark:' takes one file path"),
    ('"b/{other}.tsv"', "must use the outputs' wildcards: {s}"),
    ('temp("b/{s}.tsv")', "temp() does not apply to a benchmark file"),
    ('"o/{s}.txt"', "is both an output and the benchmark file"),
])
def test_benchmark_errors(tmp_path, value, words):
    err = load_error(tmp_path, f"""
        rule r:
            output: "o/{{s}}.txt"
            benchmark: {value}
            shell: "x"
        """)
    assert words in err.message


def test_output_index_in_the_command_does_not_reach_the_benchmark_file(tmp_path):
    err = load_error(tmp_path, """
        rule r:
            output: "o.txt"
            benchmark: "b.tsv"
            shell: "cat {output[1]}"
        """)
    assert "output of rule 'r' has only 1 entries" in err.message


def test_timeout_is_seconds_from_a_time_span_or_a_number(tmp_path):
    from fileflow.lang.units import span

    w = load(tmp_path, 'rule a:\n    output: "a"\n    timeout: "1h 30m"\n    shell: "x"\n'
                       'rule b:\n    output: "b"\n    timeout: 2.5\n    shell: "x"\n'
                       'rule c:\n    output: "c"\n    shell: "x"\n')
    assert [w.by_name[r].timeout for r in "abc"] == [5400.0, 2.5, 0.0]
    assert [span(t) for t in (5400, 7200, 2.5, 1, 90061)] == ["1h30m", "2h", "2.5s", "1s", "1d1h1m1s"]
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    timeout: ["1h"]\n    shell: "x"\n')
    assert "'timeout:' takes a time span such as \"2h\", not a list" in err.message


def test_retry_delay_and_backoff(tmp_path):
    from fileflow.run.retry_waits import RETRY_DELAY_CAP, retry_delay

    w = load(tmp_path, 'rule a:\n    output: "a"\n    retry_delay: "30s"\n    retry_backoff: 2\n'
                       '    shell: "x"\nrule b:\n    output: "b"\n    shell: "x"\n')
    a, b = w.by_name["a"], w.by_name["b"]
    assert (a.retry_delay, a.retry_backoff, b.retry_delay, b.retry_backoff) == (30.0, 2.0, 0.0, 1.0)
    assert [retry_delay(a, 5, n) for n in (1, 2, 3)] == [30.0, 60.0, 120.0]
    assert retry_delay(a, 5, 40) == RETRY_DELAY_CAP      # capped
    assert [retry_delay(b, 5, n) for n in (1, 2)] == [5.0, 5.0]  # --retry-delay, no backoff
    assert retry_delay(b, 0, 1) == 0.0
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    retry_backoff: 0.5\n    shell: "x"\n')
    assert "'retry_backoff:' takes a number >= 1" in err.message
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    retry_delay: "later"\n    shell: "x"\n')
    assert "'later' is not a time span" in err.message


# ---------------------------------------------------------------- use rule and modules

COPY_RULE = """
rule copy:
    input: "in/{s}.txt"
    output: "out/{s}.txt"
    params: tag = "a"
    threads: 2
    shell: "cp {input} {output}"
"""


def test_use_rule_alone_copies_every_directive(tmp_path):
    wf = load(tmp_path, COPY_RULE + "use rule copy as copy2\n")
    copy, copy2 = wf.by_name["copy"], wf.by_name["copy2"]
    assert [i.pattern.text for i in copy2.outputs] == ["out/{s}.txt"]
    assert (copy2.params, copy2.threads, copy2.action.text) == (copy.params, 2, copy.action.text)
    assert copy2.pos.line == 8 and copy2.index == 1


def test_use_rule_with_replaces_the_directives_it_gives_and_keeps_the_rest(tmp_path):
    wf = load(tmp_path, COPY_RULE + """
use rule copy as copy2 with:
    output: "two/{s}.txt"
    params: tag = "b"
    script: "s.py"
""", {"s.py": ""})
    copy2 = wf.by_name["copy2"]
    assert [i.pattern.text for i in copy2.outputs] == ["two/{s}.txt"]
    assert [i.pattern.text for i in copy2.inputs] == ["in/{s}.txt"]
    assert copy2.params.named("tag") == ["b"] and copy2.threads == 2
    assert copy2.action.kind == "script"  # the script replaces the shell command


def test_use_rule_errors(tmp_path):
    err = load_error(tmp_path, COPY_RULE + "use rule cpoy as c2\n")
    assert (err.message, err.hint, err.pos.line) == (
        "use rule: no rule named 'cpoy' above", "did you mean 'copy'?", 8)
    err = load_error(tmp_path, COPY_RULE + "use rule copy as copy\n")
    assert err.message == "duplicate rule name 'copy'"
    err = load_error(tmp_path, COPY_RULE + "use rule copy as c2 with:\n    parms: k = 1\n")
    assert (err.message, err.hint) == ("unknown directive 'parms' in 'use rule ... with:'",
                                       "did you mean 'params'?")
    err = load_error(tmp_path, COPY_RULE + "use rule copy\n")
    assert err.message == "'use rule copy' needs a new name: 'use rule copy as NEW'"
    err = load_error(tmp_path, COPY_RULE + "use rule * from qc\n")
    assert err.message == "use rule: no module named 'qc' above"


MODULE_FILES = {
    "modules/qc/Flowfile": """
        configfile: "defaults.yaml"
        SAMPLES = [r.sample for r in table("samples.tsv")]
        rule count:
            input: "data/{s}.txt", "/abs/ref.txt", "https://example.org/x.txt"
            output: "counts/{s}.txt"
            log: "logs/{s}.log"
            benchmark: "bench/{s}.tsv"
            params: n = config.n, samples = SAMPLES
            script: "scripts/count.py"
        rule lazy:
            input: f"lazy/{wildcards.s}.in"
            output: "lazy/{s}.out"
            shell: "cp {input} {output}"
        """,
    "modules/qc/defaults.yaml": "n: 1\n",
    "modules/qc/samples.tsv": "sample\nx\n",
    "modules/qc/scripts/count.py": "",
}


def test_module_rules_are_renamed_and_their_relative_paths_prefixed(tmp_path):
    wf = load(tmp_path, """
module qc:
    flowfile: "modules/qc/Flowfile"
    config: {"n": 5}
    prefix: "results/qc"
    replace_prefix: {"data/": "raw/"}

use rule * from qc as qc_*
""", MODULE_FILES)
    count = wf.by_name["qc_count"]
    assert [r.name for r in wf.rules] == ["qc_count", "qc_lazy"]
    assert [i.pattern.text for i in count.inputs] == [
        "raw/{s}.txt", "/abs/ref.txt", "https://example.org/x.txt"]
    assert [i.pattern.text for i in count.outputs] == ["results/qc/counts/{s}.txt",
                                                       "results/qc/bench/{s}.tsv"]
    assert [i.pattern.text for i in count.log] == ["results/qc/logs/{s}.log"]
    assert count.params.named("n") == [5] and count.params.named("samples") == [["x"]]
    assert count.action.text == "modules/qc/scripts/count.py"
    assert count.pos.path.endswith("modules/qc/Flowfile")
    values = job_values(wf.by_name["qc_lazy"], {"s": "a"})
    assert values.inputs.values == ("results/qc/lazy/a.in",)
    assert wf.default_targets == ("qc_count",)


def test_use_rule_from_a_module_by_name_and_its_errors(tmp_path):
    head = 'module qc:\n    flowfile: "modules/qc/Flowfile"\n'
    wf = load(tmp_path, head + "use rule count, lazy from qc\n", MODULE_FILES)
    assert [r.name for r in wf.rules] == ["count", "lazy"]
    assert wf.by_name["count"].outputs[0].pattern.text == "counts/{s}.txt"
    err = load_error(tmp_path, head + "use rule cont from qc\n", MODULE_FILES)
    assert (err.message, err.hint) == ("use rule: module 'qc' has no rule 'cont'",
                                       "did you mean 'count'?")
    err = load_error(tmp_path, head + "use rule * from qc as x\n", MODULE_FILES)
    assert err.message.startswith("'as NEW' names one rule")
    err = load_error(tmp_path, head + "    prefx: 'r'\n", MODULE_FILES)
    assert (err.message, err.hint) == ("unknown setting 'prefx' in module 'qc'",
                                       "did you mean 'prefix'?")


def test_use_rule_of_a_taken_module_rule_points_at_the_module(tmp_path):
    err = load_error(tmp_path, 'module qc:\n    flowfile: "modules/qc/Flowfile"\n'
                     "use rule * from qc as qc_*\nuse rule qc_lazy as again\n", MODULE_FILES)
    assert (err.message, err.hint) == (
        "use rule: no rule named 'qc_lazy' above",
        "a module's rule is reused from its module: 'use rule NAME from MODULE as NEW with:'")


def test_an_error_in_an_inherited_directive_names_the_use_rule_line(tmp_path):
    with pytest.raises(FlowfileErrors) as info:
        load(tmp_path, COPY_RULE + 'use rule copy as other with:\n    output: "o/{x}.txt"\n')
    (err,) = [e for e in info.value.errors if "'other'" in e.message]
    assert err.message == ("wildcard '{s}' in input of rule 'other' is not defined by any output "
                           "(outputs define: x)")
    assert err.pos.line == 3  # the inherited input
    assert err.hint.endswith("; rule 'other' inherits this directive from rule 'copy' "
                             "('use rule' on line 8)")


def test_group_is_a_name_that_may_hold_the_rules_wildcards(tmp_path):
    w = load(tmp_path, 'rule a:\n    output: "a/{s}"\n    group: "per_{s}"\n    shell: "x"\n'
                       'rule b:\n    output: "b"\n    shell: "x"\n')
    assert (w.by_name["a"].group, w.by_name["b"].group) == ("per_{s}", "")
    err = load_error(tmp_path, 'rule a:\n    output: "a/{s}"\n    group: "g_{x}"\n    shell: "x"\n')
    assert "'group:' 'g_{x}' names {x}, which is not a wildcard of rule 'a'" in err.message
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    group: 3\n    shell: "x"\n')
    assert "'group:' takes a string, not" in err.message
    err = load_error(tmp_path, 'rule a:\n    output: "a"\n    group: ""\n    shell: "x"\n')
    assert "'group:' takes a group name, not an empty string" in err.message
