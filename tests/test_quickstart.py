"""The README's main job: examples/quickstart builds, its summary has the right totals, and a
second build does nothing."""
from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from buildkit import Project

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart"


def expected_counts(text: str) -> Counter:
    return Counter(w.lower() for w in re.findall(r"[A-Za-z]+", text))


@pytest.fixture
def quickstart(tmp_path) -> Project:
    dest = tmp_path / "quick start"
    shutil.copytree(QUICKSTART, dest, ignore=shutil.ignore_patterns(".fileflow", "results",
                                                                   "logs"))
    return Project(dest)


def test_quickstart_builds_the_summary_and_then_does_nothing(quickstart):
    p = quickstart
    config = yaml.safe_load(p.read("config.yaml"))
    samples = config["samples"]
    r = p.run("build")                            # as the README says: a real process
    assert r.code == 0, r
    assert "Traceback" not in r.err
    assert sorted(j["name"] for j in r.jobs) == sorted(
        [f"count_words[sample={s}]" for s in samples] + ["summary"])
    summary = json.loads(p.read("results/summary.json"))
    total = 0
    for s in samples:
        counts = expected_counts(p.read(f"data/{s}.txt"))
        got = summary["samples"][s]
        assert got["words"] == sum(counts.values())
        assert got["distinct_words"] == len(counts)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:config["top_words"]]
        assert got["top_words"] == dict(top)
        total += sum(counts.values())
    assert summary["total_words"] == total
    assert summary["title"] == config["title"]
    for s in samples:
        assert "distinct words" in p.read(f"logs/count_words/{s}.log")
    again = p.run("build")
    assert again.code == 0, again
    assert again.jobs == []
    assert "nothing to do" in again.out


def test_quickstart_reruns_one_sample_and_the_summary_after_an_edit(quickstart):
    p = quickstart
    assert p.build().code == 0
    p.write("data/beta.txt", p.read("data/beta.txt") + "extra words here\n")
    r = p.build()
    assert r.code == 0, r
    assert r.ran == ["count_words[sample=beta]", "summary"]
    summary = json.loads(p.read("results/summary.json"))
    assert summary["samples"]["beta"]["words"] == sum(
        expected_counts(p.read("data/beta.txt")).values())


def test_quickstart_from_the_repository_root_with_dash_C(quickstart, tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "fileflow", "-C", str(quickstart.root), "-q"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env=quickstart.env())
    assert proc.returncode == 0, proc.stderr
    assert quickstart.exists("results/summary.json")
    assert proc.stdout.strip().startswith("fileflow: 5 done")  # 4 jobs and `all`


def test_quickstart_config_override_reruns_what_uses_it(quickstart):
    p = quickstart
    assert p.build().code == 0
    r = p.build("--config", "top_words=5")
    assert r.code == 0, r
    assert sorted(r.ran) == ["count_words[sample=alpha]", "count_words[sample=beta]",
                             "count_words[sample=gamma]", "summary"]
    assert all("command or params changed" in j["reasons"] for j in r.jobs
               if j["rule"] == "count_words")
    summary = json.loads(p.read("results/summary.json"))
    assert all(len(s["top_words"]) == 5 for s in summary["samples"].values())
    assert p.build("--config", "top_words=5").ran == []


def test_the_readme_says_how_long_the_tests_take_as_developing_md_does():
    """The README's test commands are the contributor guide's, timings and fast subset included."""
    root = QUICKSTART.parent.parent

    def commands(name: str) -> dict[str, str]:
        lines = (root / name).read_text(encoding="utf-8").splitlines()
        found = [line.strip() for line in lines if line.strip().startswith("python -m pytest")]
        return {line.split("#")[0].strip(): line.split("#", 1)[1].strip()
                for line in found if "#" in line}

    readme, developing = commands("README.md"), commands("docs/developing.md")
    for command in ('python -m pytest -m "not e2e"', "python -m pytest"):
        assert readme.get(command) == developing[command], command
        assert re.search(r"about [\d,]+ (s|minutes)\b", readme[command]), readme[command]


def test_quickstart_unit_tests_pass_through_the_pytest_plugin(quickstart):
    """examples/quickstart/tests runs each rule's job on its own (docs/testing.md); the
    workflow's folder gains no output and no run log by it."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "fileflow.testing", "tests"], cwd=quickstart.root,
                          capture_output=True, text=True, timeout=120, env=quickstart.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout
    assert not quickstart.exists("results") and not quickstart.exists(".fileflow")
