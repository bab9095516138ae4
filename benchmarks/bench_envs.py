"""Conda environments: what `conda:` costs.

Two figures, from the local channel the tests build (tests/condachannel.py, no network):

  create   the environment of `fftool` (two packages) created from nothing by
           fileflow.envs.conda.create_env, package cache included: the median of --runs
  jobs     a build of N trivial jobs (`touch o/I.txt`, default 1,000) with `--use-conda -F`,
           its rule with `conda:` (one existing environment) and without it, alternately,
           --runs times each: the median wall time of each, and how much slower with

    python benchmarks/bench_envs.py                 # 5 runs, 1,000 jobs
    python benchmarks/bench_envs.py --jobs 200 --runs 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests")]

from condachannel import env_file, make_channel  # noqa: E402

from fileflow.envs.conda import create_env, read_env_file  # noqa: E402


def bench_create(work: Path, channel: str, runs: int) -> list[float]:
    (work / "tool.yaml").write_text(env_file(channel, "fftool"))
    spec = read_env_file(str(work / "tool.yaml"))
    times = []
    for i in range(runs):
        root = work / f"create-{i}"
        started = time.perf_counter()
        create_env(spec, str(root))
        times.append(time.perf_counter() - started)
    return times


FLOW = """\
rule all:
    input: expand("o/{{i}}.txt", i=range({jobs}))
rule make:
    output: "o/{{i}}.txt"
{conda}    shell: "touch {{output}}"
"""


def bench_jobs(work: Path, channel: str, jobs: int, runs: int) -> dict[str, list[float]]:
    project = work / "jobs"
    project.mkdir()
    (project / "tool.yaml").write_text(env_file(channel, "fftool"))
    env = {**os.environ, "PYTHONPATH": REPO}
    times: dict[str, list[float]] = {"without conda:": [], "with conda:": []}
    flows = {"without conda:": FLOW.format(jobs=jobs, conda=""),
             "with conda:": FLOW.format(jobs=jobs, conda='    conda: "tool.yaml"\n')}
    for text in flows.values():  # the environment made, and a first run, before timing
        (project / "Flowfile").write_text(text)
        subprocess.run([sys.executable, "-m", "fileflow", "-q", "--use-conda"], cwd=project,
                       env=env, check=True)
    for _ in range(runs):
        for name, text in flows.items():
            (project / "Flowfile").write_text(text)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "fileflow", "-q", "--use-conda", "-F"],
                           cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fileflow-bench-envs-") as tmp:
        work = Path(tmp)
        channel = make_channel(work / "channel")
        created = bench_create(work, channel, args.runs)
        print(f"create   median {statistics.median(created):.3f} s  "
              f"(min {min(created):.3f}, max {max(created):.3f}; {args.runs} runs)")
        times = bench_jobs(work, channel, args.jobs, args.runs)
        medians = {name: statistics.median(t) for name, t in times.items()}
        for name, median in medians.items():
            print(f"jobs     {args.jobs} jobs {name:15} median {median:.2f} s  "
                  f"(min {min(times[name]):.2f}, max {max(times[name]):.2f})")
        slower = medians["with conda:"] / medians["without conda:"] - 1
        print(f"jobs     with conda: {slower * 100:+.1f}% against without")


if __name__ == "__main__":
    main()
