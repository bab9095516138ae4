"""End to end: reusing rules with `use rule ... with:` and modules (another Flowfile's rules,
its own config and folder, its paths under a prefix), with real processes on real files."""
from __future__ import annotations

from buildkit import Project

QC_MODULE = """
configfile: "defaults.yaml"
from "helpers.py" import shout

SAMPLES = [row.sample for row in table("samples.tsv")]

rule all:
    input: expand("counts/{s}.txt", s=SAMPLES)

rule count:
    input: "data/{s}.txt"
    output: "counts/{s}.txt"
    log: "logs/{s}.log"
    params: word = shout(config.word), n = config.n
    shell: "echo {params.word} {params.n} > {output}; wc -l < {input} >> {output}; echo ok > {log}"

rule summary:
    input: rules.all.input
    output: "summary.txt"
    shell: "cat {input} > {output}"
"""


def qc_project(tmp_path) -> Project:
    p = Project(tmp_path)
    p.write("modules/qc/Flowfile", QC_MODULE)
    p.write("modules/qc/defaults.yaml", "word: bye\nn: 3\n")
    p.write("modules/qc/helpers.py", "def shout(text):\n    return text.upper()\n")
    p.write("modules/qc/samples.tsv", "sample\na\nb\n")
    p.write("config.yaml", "qc:\n  word: hello\n")
    p.write("raw/a.txt", "1\n2\n")
    p.write("raw/b.txt", "1\n")
    return p


def test_module_rules_run_under_the_prefix_with_the_modules_config(tmp_path):
    p = qc_project(tmp_path)
    p.flowfile("""
        configfile: "config.yaml"

        module qc:
            flowfile: "modules/qc/Flowfile"
            config: config.qc
            prefix: "results/qc"
            replace_prefix: {"data/": "raw/"}

        use rule * from qc as qc_*
        """)
    r = p.build("-j1", "results/qc/summary.txt")
    assert r.code == 0, r
    # the config given wins over the module's own file; its helper and sample sheet are its own
    assert p.read("results/qc/counts/a.txt") == "HELLO 3\n2\n"
    assert p.read("results/qc/summary.txt") == "HELLO 3\n2\nHELLO 3\n1\n"
    assert p.read("results/qc/logs/b.log") == "ok\n"
    assert sorted(r.ran) == ["qc_count[s=a]", "qc_count[s=b]", "qc_summary"]


def test_module_rules_keep_their_names_without_as(tmp_path):
    p = qc_project(tmp_path)
    p.flowfile("""
        module qc:
            flowfile: "modules/qc/Flowfile"
            config: {"word": "x", "n": 1}
            prefix: "out"
            replace_prefix: {"data/": "raw/"}

        use rule count from qc
        """)
    r = p.build("-j1", "out/counts/b.txt")
    assert r.code == 0, r
    assert r.ran == ["count[s=b]"]
    assert p.read("out/counts/b.txt") == "X 1\n1\n"


def test_use_rule_with_overrides_output_params_and_shell(tmp_path):
    p = Project(tmp_path)
    p.write("in/a.txt", "data\n")
    p.flowfile("""
        rule all:
            input: "plain/a.txt", "loud/a.txt"

        rule copy:
            input: "in/{s}.txt"
            output: "plain/{s}.txt"
            params: tag = "plain"
            shell: "echo {params.tag} > {output}; cat {input} >> {output}"

        use rule copy as loud with:
            output: "loud/{s}.txt"
            params: tag = "LOUD"
            shell: "echo {params.tag}! > {output}; cat {input} >> {output}"
        """)
    r = p.build("-j1")
    assert r.code == 0, r
    assert p.read("plain/a.txt") == "plain\ndata\n"
    assert p.read("loud/a.txt") == "LOUD!\ndata\n"
    assert sorted(r.ran) == ["copy[s=a]", "loud[s=a]"]


def test_a_modules_rule_used_with_overrides(tmp_path):
    p = qc_project(tmp_path)
    p.flowfile("""
        module qc:
            flowfile: "modules/qc/Flowfile"
            config: {"word": "w", "n": 2}
            prefix: "results/qc"
            replace_prefix: {"data/": "raw/"}

        use rule count from qc as special with:
            output: "special/{s}.txt"
            log: "/dev/null"
        """)
    r = p.build("-j1", "results/qc/special/a.txt")
    assert r.code == 0, r
    assert p.read("results/qc/special/a.txt") == "W 2\n2\n"
    assert not p.exists("results/qc/logs")


def test_an_error_in_a_module_names_the_modules_file_and_line(tmp_path):
    p = Project(tmp_path)
    p.write("modules/qc/Flowfile", 'rule count:\n    output: "x.txt"\n    shel: "touch x.txt"\n')
    p.flowfile("""
        module qc:
            flowfile: "modules/qc/Flowfile"

        use rule * from qc
        """)
    r = p.build("-j1")
    assert r.code == 2, r
    assert "modules/qc/Flowfile:3:5: error: unknown directive 'shel' in rule 'count'" in r.err
    assert "Traceback" not in r.err


CHECKPOINT_MODULE = """
checkpoint split:
    output: directory("parts")
    shell: "mkdir -p {output}; echo 1 > {output}/a.txt; echo 2 > {output}/b.txt"

rule gather:
    input: expand("parts/{p}.txt", p=glob_wildcards(checkpoints.split.get().output[0] + "/{p}.txt").p)
    output: "all.txt"
    shell: "cat {input} > {output}"
"""


def test_a_renamed_modules_checkpoint_decides_its_rules_jobs(tmp_path):
    p = Project(tmp_path)
    p.write("m/Flowfile", CHECKPOINT_MODULE)
    p.flowfile("""
        module m:
            flowfile: "m/Flowfile"
            prefix: "r"

        use rule * from m as m_*
        """)
    r = p.build("-j1", "r/all.txt")
    assert r.code == 0, r
    assert p.read("r/all.txt") == "1\n2\n"
    assert r.ran == ["m_split", "m_gather"]


def test_a_modules_rule_whose_checkpoint_is_not_taken_is_an_error(tmp_path):
    p = Project(tmp_path)
    p.write("m/Flowfile", CHECKPOINT_MODULE)
    p.flowfile("""
        module m:
            flowfile: "m/Flowfile"

        use rule gather from m
        """)
    r = p.build("-j1")
    assert r.code == 2, r
    assert ("m/Flowfile:7:53: error: rule 'gather' of module 'm' reads checkpoints.split, which "
            "no 'use rule' takes") in r.err
    assert "hint: take it too: use rule split from m" in r.err
