"""End to end: `fileflow test-job TARGET` runs one job in a temporary folder of its own,
leaving the working directory's outputs and run log as they are (docs/cli.md#test-job)."""
from __future__ import annotations

import os
import re
import shutil

from buildkit import Project

FLOW = """
rule count:
    input: "data/{sample}.txt"
    output: "results/{sample}.n"
    shell: "wc -l < {input} > {output}; echo counted {wildcards.sample}"

rule report:
    input: "results/a.n"
    output: "report.txt"
    script: "scripts/report.py"
"""

REPORT = """import os
from fileflow.script import job

with open(job.input[0]) as fh:
    n = fh.read().strip()
with open(job.output[0], "w") as out:
    out.write(f"{n} lines, genome {job.config['genome']}, in {os.path.basename(os.getcwd())}\\n")
"""


def _project(tmp_path) -> Project:
    p = Project(tmp_path)
    p.flowfile('configfile: "config.yaml"\n' + FLOW)
    p.write("config.yaml", "genome: hg38\n")
    p.write("data/a.txt", "x\ny\nz\n")
    p.write("scripts/report.py", REPORT)
    return p


def _folder(out: str) -> str:
    found = re.search(r"run in (\S+)", out)
    assert found, out
    return found.group(1)


def test_test_job_runs_a_named_job_apart_and_leaves_the_workdir_alone(tmp_path):
    p = _project(tmp_path)
    before = p.snapshot()
    r = p.build("test-job", "count[sample=a]", "--keep")
    assert r.code == 0, r
    folder = _folder(r.out)
    try:
        assert not folder.startswith(str(tmp_path))
        with open(os.path.join(folder, "results", "a.n")) as fh:
            assert fh.read().strip() == "3"
        assert f"output {folder}/results/a.n (2 bytes)" in r.out
        log = re.search(r"log\s+(\S+)", r.out).group(1)
        with open(log) as fh:
            assert fh.read() == "counted a\n"
    finally:
        shutil.rmtree(folder)
    assert p.snapshot() == before  # no output, no run log, no .fileflow made here
    assert not p.exists(".fileflow")


def test_test_job_by_file_runs_a_script_with_its_config_and_removes_its_folder(tmp_path):
    p = _project(tmp_path)
    p.write("results/a.n", "3\n")  # as an earlier build left it
    r = p.build("test-job", "report.txt", "--keep")
    assert r.code == 0, r
    folder = _folder(r.out)
    try:
        with open(os.path.join(folder, "report.txt")) as fh:
            assert fh.read() == f"3 lines, genome hg38, in {os.path.basename(folder)}\n"
    finally:
        shutil.rmtree(folder)
    assert not p.exists("report.txt")
    r = p.build("test-job", "report.txt")
    assert r.code == 0, r
    assert not os.path.exists(_folder(r.out))  # without --keep the folder goes


def test_test_job_exits_with_the_jobs_status_and_shows_its_log(tmp_path):
    p = _project(tmp_path)
    p.write("results/a.n", "old\n")
    p.flowfile(FLOW.replace("wc -l < {input} > {output}", "echo broken >&2; exit 7"))
    r = p.build("test-job", "count[sample=a]")
    assert r.code == 7, r
    assert "failed (exit 7)" in r.out and "| broken" in r.out
    assert p.read("results/a.n") == "old\n"  # the working directory's output is untouched


def test_test_job_names_what_is_wrong_with_the_target(tmp_path):
    p = _project(tmp_path)
    r = p.build("test-job", "nothing.txt")
    assert r.code == 2 and "no rule makes 'nothing.txt'" in r.text, r
    r = p.build("test-job", "data/a.txt")  # a source: no job makes it
    assert r.code == 2 and "test-job data/a.txt: no rule makes it" in r.text, r
    r = p.build("test-job", "count[other=a]")
    assert r.code == 2 and "rule count has the wildcards sample" in r.text, r
    r = p.build("test-job", "count[sample=zz]")
    assert r.code == 2 and "data/zz.txt" in r.text, r
    r = p.build("test-job", "report.txt")  # its input was never made
    assert r.code == 2 and "input results/a.n does not exist" in r.text, r


def test_test_job_keeps_the_rules_timeout(tmp_path):
    p = Project(tmp_path)
    p.flowfile("""
        rule slow:
            output: "slow.txt"
            timeout: "1s"
            shell: "sleep 30; touch {output}"
        """)
    r = p.build("test-job", "slow")
    assert r.code == 1, r
    assert "failed (exit -15, timed out after 1s)" in r.out


def test_test_job_takes_a_profile_as_build_does(tmp_path):
    p = _project(tmp_path)
    p.write("results/a.n", "3\n")
    p.write("profiles/t2t/config.yaml", "config: {genome: t2t}\n")
    r = p.build("test-job", "report.txt", "--keep", "--profile", "t2t")
    assert r.code == 0, r
    folder = _folder(r.out)
    try:
        with open(os.path.join(folder, "report.txt")) as fh:
            assert fh.read() == f"3 lines, genome t2t, in {os.path.basename(folder)}\n"
    finally:
        shutil.rmtree(folder)
    # the command line wins over the profile, as for build
    r = p.build("test-job", "report.txt", "--keep", "--profile", "t2t", "--config", "genome=hs1")
    assert r.code == 0, r
    folder = _folder(r.out)
    try:
        with open(os.path.join(folder, "report.txt")) as fh:
            assert "genome hs1," in fh.read()
    finally:
        shutil.rmtree(folder)
    r = p.build("test-job", "report.txt", "--profile", "nope")
    assert r.code == 2 and "--profile nope: no profile found" in r.err, r
    assert not p.exists("report.txt")
