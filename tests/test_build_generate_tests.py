"""End to end: `fileflow generate-tests` writes tests/unit/RULE/ from jobs that succeeded;
the tests pass right after, and fail once a rule's command is broken (docs/testing.md)."""
from __future__ import annotations

import subprocess
import sys

from buildkit import Project

FLOW = """
rule all:
    input: "report.json", "big.out", "grown.txt"

rule count:
    input: "data/{sample}.txt"
    output: "results/{sample}.tsv"
    shell: "sort {input} | uniq -c | awk '{{print $2 \\",\\" $1}}' > {output}"

rule report:
    input: a = "results/a.tsv", b = "results/b.tsv"
    output: "report.json"
    script: "scripts/report.py"

rule big:
    input: "data/big.txt"
    output: "big.out"
    shell: "cp {input} {output}"

rule grow:
    input: "data/b.txt"
    output: "grown.txt"
    shell: "printf %06000d 0 > {output}"

rule never:
    output: "never.txt"
    shell: "echo never > {output}"
"""

REPORT = """import json
from fileflow.script import job
rows = {}
for name in ("a", "b"):
    with open(getattr(job.input, name)) as fh:
        rows[name] = sorted(line.strip() for line in fh)
with open(job.output[0], "w") as out:
    json.dump({"samples": rows}, out, indent=2)
"""


def _pytest(p: Project, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "fileflow.testing", *args], cwd=p.root, capture_output=True,
                          text=True, timeout=120, env=p.env())


def _files(p: Project) -> dict[str, tuple]:
    """The project's files, without what pytest and its plugins keep (.benchmarks, ...)."""
    return {k: v for k, v in p.snapshot().items()
            if k != "." and not k.startswith(".benchmarks") and "__pycache__" not in k}


def _built(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile(FLOW)
    p.write("scripts/report.py", REPORT)
    p.write("data/a.txt", "x\ny\nx\n")
    p.write("data/b.txt", "z\n")
    p.write("data/big.txt", "b" * 5000)
    r = p.build("-q")
    assert r.code == 0, r
    return p


def test_generated_tests_pass_then_fail_when_a_command_breaks(tmp_path):
    p = _built(tmp_path)
    r = p.build("generate-tests", "--max-size", "4k")
    assert r.code == 0, r
    assert "wrote tests for 3 of 5 rules in tests/unit" in r.out
    assert "skipped rule never: no job of it succeeded" in r.err
    assert "skipped rule big: input data/big.txt of job big holds 5000 bytes" in r.err
    sample = "a" if "JOB = 'count[sample=a]'" in p.read("tests/unit/count/test_count.py") else "b"
    assert p.read(f"tests/unit/count/inputs/data/{sample}.txt") == p.read(f"data/{sample}.txt")
    assert p.read(f"tests/unit/count/expected/results/{sample}.tsv") == p.read(
        f"results/{sample}.tsv")
    assert p.exists("tests/unit/report/expected/report.json")
    assert not p.exists("tests/unit/big")
    before = _files(p)
    proc = _pytest(p, "tests/unit")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    assert _files(p) == before  # the tests wrote nothing in the workflow's folder
    p.flowfile(FLOW.replace("uniq -c", "uniq"))
    proc = _pytest(p, "tests/unit")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 2 passed" in proc.stdout
    assert "FAILED tests/unit/count/test_count.py::test_count" in proc.stdout


def test_generate_tests_for_named_rules_and_an_output_over_the_limit(tmp_path):
    p = _built(tmp_path)
    r = p.build("generate-tests", "grow", "big", "--max-size", "5000", "--tests-dir", "checks")
    assert r.code == 0, r
    assert "wrote tests for 2 of 2 rules in checks" in r.out
    assert ("rule grow: output grown.txt holds 6000 bytes, more than the limit of 5000 "
            "(--max-size): the test checks it is made, not its content") in r.err
    assert not p.exists("checks/grow/expected")
    assert p.read("checks/big/expected/big.out") == "b" * 5000
    r = p.build("generate-tests", "nope")
    assert r.code == 2 and "no rule named 'nope'" in r.text, r
    r = p.build("generate-tests", "--max-size", "lots")
    assert r.code == 2 and "not a size: 'lots'" in r.text, r
    proc = _pytest(p, "checks")
    assert proc.returncode == 0 and "2 passed" in proc.stdout, proc.stdout + proc.stderr


def test_generate_tests_without_a_run_log_says_to_build_first(tmp_path):
    p = Project(tmp_path)
    p.flowfile(FLOW)
    p.write("scripts/report.py", REPORT)
    r = p.build("generate-tests")
    assert r.code == 2 and "no runs recorded yet: build first" in r.text, r


def test_generate_tests_takes_a_profile_as_build_does(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule copy:
            input: config["source"]
            output: "out.txt"
            shell: "cp {input} {output}"
        """)
    p.write("b.csv", "b\n")
    p.write("profiles/alt/config.yaml", "config: {source: b.csv}\n")
    assert p.build("--profile", "alt", "-q").code == 0
    r = p.build("generate-tests")  # without the profile the Flowfile lacks its config
    assert r.code == 2 and "source" in r.err, r
    r = p.build("generate-tests", "--profile", "alt")
    assert r.code == 0, r
    assert "wrote tests for 1 of 1 rules in tests/unit" in r.out
    assert p.read("tests/unit/copy/inputs/b.csv") == "b\n"
    assert p.read("tests/unit/copy/expected/out.txt") == "b\n"
    assert "CONFIG = {'source': 'b.csv'}" in p.read("tests/unit/copy/test_copy.py")
    proc = _pytest(p, "tests/unit")  # the test loads the Flowfile with the profile's config
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
    # --config as well, a value Python cannot write as a literal (a date) included
    r = p.build("generate-tests", "--config", "source=b.csv", "--config", "day=2024-01-02")
    assert r.code == 0, r
    assert "yaml.safe_load(" in p.read("tests/unit/copy/test_copy.py")
    proc = _pytest(p, "tests/unit")
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
