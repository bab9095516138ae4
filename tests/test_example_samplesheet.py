"""examples/samplesheet, as its README runs it: check, lint and fmt pass, a build writes the
report the sheets and reads call for, a second build does nothing, and an edited row of the
unit sheet reruns only the jobs that row feeds."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import yaml
from buildkit import Project

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "samplesheet"


@pytest.fixture
def example(tmp_path) -> Project:
    dest = tmp_path / "sample sheet"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".fileflow", "results", "logs",
                                                                 "__pycache__"))
    return Project(dest)


def sheet(p: Project, rel: str) -> list[dict]:
    with open(p.path(rel), encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def trimmed_reads(p: Project, fq: str, adapter: str, min_length: int) -> list[str]:
    """The sequences trim keeps, computed here from the raw file."""
    lines = [line.strip() for line in p.read(fq).splitlines() if line.strip()]
    kept = []
    for seq in lines[1::4]:
        if adapter in seq:
            seq = seq[:seq.index(adapter)]
        if len(seq) >= min_length:
            kept.append(seq)
    return kept


def expected_counts(p: Project) -> dict[str, tuple[int, int]]:
    """(reads, bases) of each sample, from the sheets, the config and the schema's default."""
    config = yaml.safe_load(p.read("config/config.yaml"))
    min_length = config.get("min_length", 8)              # the schema's default
    counts: dict[str, tuple[int, int]] = {}
    for unit in sheet(p, "config/units.tsv"):
        seqs = trimmed_reads(p, unit["fq"], config["adapter"], min_length)
        reads, bases = counts.get(unit["sample"], (0, 0))
        counts[unit["sample"]] = (reads + len(seqs), bases + sum(map(len, seqs)))
    return counts


def all_jobs(p: Project) -> list[str]:
    units = sheet(p, "config/units.tsv")
    samples = sheet(p, "config/samples.tsv")
    groups = sorted({s["group"] for s in samples})
    return sorted([f"trim[sample={u['sample']},unit={u['unit']}]" for u in units]
                  + [f"{rule}[sample={s['sample']}]" for s in samples for rule in ("merge", "count")]
                  + [f"group_summary[group={g}]" for g in groups] + ["report"])


def test_example_samplesheet_passes_check_lint_and_fmt(example):
    p = example
    r = p.run("check", log=False)
    assert r.code == 0, r
    assert "6 rules (all, trim, merge, count, group_summary, report)" in r.out
    r = p.run("lint", log=False)
    assert r.code == 0, r
    assert "FF" not in r.text
    r = p.run("fmt", "--check", log=False)
    assert r.code == 0, r


def test_example_samplesheet_builds_the_report_and_then_does_nothing(example):
    p = example
    r = p.run("build", "-j", "2")
    assert r.code == 0, r
    assert "Traceback" not in r.err
    assert sorted(r.ran) == all_jobs(p)
    assert len(r.ran) == 14
    counts = expected_counts(p)
    samples = {s["sample"]: s for s in sheet(p, "config/samples.tsv")}
    for sample, (reads, bases) in counts.items():
        metrics = dict(line.split("\t", 1) for line in p.read(f"results/counts/{sample}.tsv")
                       .splitlines())
        assert (int(metrics["reads"]), int(metrics["bases"])) == (reads, bases)
        # the read group from the helper, passed through a :q-quoted param with a space in it
        assert metrics["read_group"] == (f"@RG\\tID:{sample}\\tSM:{sample}\\tPL:ILLUMINA"
                                         f"\\tDS:{samples[sample]['condition']}")
    report = p.read("results/report.md")
    assert report.startswith("# Sample-sheet example: 3 samples, 5 units\n")  # schema default
    for sample, (reads, bases) in counts.items():
        assert f"| {samples[sample]['group']} | {sample} | {reads} | {bases} |" in report
    treated = [counts[s] for s in samples if samples[s]["group"] == "treated"]
    assert (f"| treated | total | {sum(c[0] for c in treated)} | {sum(c[1] for c in treated)} |"
            in report)
    assert "5 sequencing units in 2 groups." in report
    assert "adapter cut from" in p.read("logs/trim/A/L001.log")
    again = p.run("build", "-j", "2")
    assert again.code == 0, again
    assert again.jobs == []
    assert "nothing to do: all 15 jobs are up to date" in again.out


def test_example_samplesheet_reruns_one_sample_after_a_unit_sheet_edit(example):
    p = example
    assert p.run("build", "-j", "2").code == 0
    before = {s: p.read(f"results/counts/{s}.tsv") for s in ("A", "C")}
    units = p.read("config/units.tsv")
    assert "B\tL002\tdata/B_L002.fq" in units
    p.write("config/units.tsv", units.replace("B\tL002\tdata/B_L002.fq", "B\tL002\tdata/B_L001.fq"))
    r = p.run("build", "-j", "2")
    assert r.code == 0, r
    assert r.ran == ["trim[sample=B,unit=L002]", "merge[sample=B]", "count[sample=B]",
                     "group_summary[group=treated]", "report"]
    reads, bases = expected_counts(p)["B"]
    assert f"reads\t{reads}\nbases\t{bases}\n" in p.read("results/counts/B.tsv")
    assert f"| treated | B | {reads} | {bases} |" in p.read("results/report.md")
    assert {s: p.read(f"results/counts/{s}.tsv") for s in ("A", "C")} == before


def test_example_samplesheet_config_is_checked_against_its_schema(example):
    p = example
    p.write("config/config.yaml", p.read("config/config.yaml").replace(
        'adapter: "AGATCGGAAG"', 'adapter: "agatc"'))
    r = p.run("check", log=False)
    assert r.code == 2, r
    assert "config/config.yaml:" in r.err
    assert "config.adapter: 'agatc' does not match" in r.err
    assert "Traceback" not in r.err
