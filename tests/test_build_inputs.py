"""End to end: what a Flowfile reads beyond itself to make its jobs: sample sheets
(`table()`), data files (`load()`), and resources written in units. Real builds on real
files: an edited sheet makes exactly the jobs it changes run again."""
from __future__ import annotations

import time

from buildkit import Project

SHEET_FLOW = """
    SAMPLES = table("samples.tsv", key="sample")
    rule all:
        input: expand("out/{s}.txt", s=list(SAMPLES))
    rule copy:
        input: SAMPLES[wildcards.s].fq1
        output: "out/{s}.txt"
        params: lane = SAMPLES[wildcards.s].lane
        shell: "cat {input} > {output}; echo {params.lane} >> {output}"
    """


def test_an_edited_sample_sheet_runs_the_jobs_it_changes(tmp_path):
    p = Project(tmp_path)
    p.flowfile(SHEET_FLOW)
    for name in ("a", "b", "c"):
        p.write(f"{name}.fq", f"{name}\n")
    p.write("samples.tsv", "sample\tfq1\tlane\nA\ta.fq\t1\nB\tb.fq\t1\n")
    assert p.build().ran == ["copy[s=A]", "copy[s=B]"]
    time.sleep(0.02)
    assert "nothing to do" in p.build(log=False).out  # and the no-op shortcut is written
    time.sleep(0.02)
    # B's lane changes, C is new, A is as it was.
    p.write("samples.tsv", "sample\tfq1\tlane\nA\ta.fq\t1\nB\tb.fq\t2\nC\tc.fq\t1\n")
    again = p.build()
    assert again.code == 0, again
    assert again.ran == ["copy[s=B]", "copy[s=C]"]
    assert p.read("out/B.txt") == "b\n2\n"


def test_an_error_in_a_sample_sheet_names_its_line(tmp_path):
    p = Project(tmp_path)
    p.flowfile(SHEET_FLOW)
    p.write("samples.tsv", "sample\tfq1\tlane\nA\ta.fq\t1\nB\tb.fq\n")
    result = p.build()
    assert result.code == 2
    assert "samples.tsv:3:1: error: this row of samples.tsv has 2 fields, the header has 3" in result.err
    assert "Traceback" not in result.err
