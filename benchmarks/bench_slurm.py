"""Slurm benchmark: fileflow's cost on a real Slurm (the one .ci/slurm-up.sh starts).

Three measurements, each in its own temporary directory:

  run      N trivial jobs (`echo I > o/I.txt`, a fan-out) through `fileflow build
           --cluster slurm -j N`: wall time, the fileflow process's own CPU time (user +
           system, without its children: measured inside it at exit), CPU per job, and
           the number of sbatch / sacct / squeue / scancel calls it made (small wrappers on
           PATH count them before running the real commands)
  array    the same N commands as one hand-written job array (`sbatch --wait
           --array=0-(N-1)`), wall time from submission to the end of the last task
  submit   M ready jobs (default 10,000): time from the start of `fileflow build` until
           all M are submitted (every job's Slurm id in the run log), then Ctrl-C (which
           cancels them all, timed too). Nothing of them runs to completion.
  grouped  G one-second jobs (`sleep 1`; --group-sleep) of one group,
           `--group-components group=S` (default 100) and `--group-cores C` (default 4):
           wall time, fileflow's own CPU time per job and the Slurm calls, as for `run`

    python benchmarks/bench_slurm.py                       # run + array with 1,000 jobs, submit 10,000
    python benchmarks/bench_slurm.py --jobs 200 --submit 0 # quicker
    python benchmarks/bench_slurm.py --jobs 0 --submit 0 --grouped 2000   # grouped only
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRAPPED = ("sbatch", "sacct", "squeue", "scancel")
# Runs fileflow's command line and prints the process's own CPU time at exit.
LAUNCHER = ("import atexit, os, sys, runpy\n"
            "def report():\n"
            "    t = os.times()\n"
            "    print(f'FILEFLOW-CPU {t.user + t.system:.3f}', file=sys.stderr)\n"
            "atexit.register(report)\n"
            "sys.argv = ['fileflow'] + sys.argv[1:]\n"
            "runpy.run_module('fileflow', run_name='__main__')\n")


def wrappers(folder: str) -> str:
    os.makedirs(folder, exist_ok=True)
    for name in WRAPPED:
        real = shutil.which(name)
        if real is None:
            sys.exit(f"{name} is not on PATH: start Slurm first (.ci/slurm-up.sh)")
        path = os.path.join(folder, name)
        with open(path, "w") as fh:
            fh.write(f'#!/bin/bash\necho "{name}" >> {folder}/calls.log\nexec {real} "$@"\n')
        os.chmod(path, 0o755)
    return folder


def calls(folder: str) -> dict[str, int]:
    counts = dict.fromkeys(WRAPPED, 0)
    try:
        with open(os.path.join(folder, "calls.log")) as fh:
            for line in fh:
                counts[line.strip()] += 1
    except FileNotFoundError:
        pass
    return counts


def project(root: str, n: int, extra: str = "", command: str = "echo {wildcards.i} > {output}") -> None:
    os.makedirs(root)
    with open(os.path.join(root, "Flowfile"), "w") as fh:
        fh.write(f'rule all:\n    input: expand("o/{{i}}.txt", i=range({n}))\n'
                 f'rule mk:\n    output: "o/{{i}}.txt"\n{extra}    shell: "{command}"\n')


def env_with(folder: str) -> dict[str, str]:
    env = dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ['PATH']}")
    env["PYTHONPATH"] = REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("FILEFLOW_DB", None)
    return env


def bench_run(base: str, n: int, name: str = "run", extra: str = "", command: str = "",
              options: tuple[str, ...] = ()) -> dict:
    root = os.path.join(base, name)
    project(root, n, extra, command) if command else project(root, n)
    bin_dir = wrappers(os.path.join(base, f"{name}-bin"))
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", LAUNCHER, "build", "--cluster", "slurm",
                           "-j", str(n), "-q", *options], cwd=root, env=env_with(bin_dir),
                          capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"fileflow failed:\n{done.stderr}")
    cpu = float(next(line.split()[1] for line in done.stderr.splitlines()
                     if line.startswith("FILEFLOW-CPU")))
    return {"wall": wall, "cpu": cpu, "calls": calls(bin_dir)}


def bench_array(base: str, n: int) -> float:
    root = os.path.join(base, "array")
    os.makedirs(os.path.join(root, "o"))
    script = os.path.join(root, "job.sh")
    with open(script, "w") as fh:
        fh.write('#!/bin/bash\necho $SLURM_ARRAY_TASK_ID > o/$SLURM_ARRAY_TASK_ID.txt\n')
    start = time.monotonic()
    subprocess.run(["sbatch", "--wait", "--parsable", f"--array=0-{n - 1}", "--job-name=bench-array",
                    f"--chdir={root}", "--output=/dev/null", script], check=True,
                   capture_output=True)
    wall = time.monotonic() - start
    made = len(os.listdir(os.path.join(root, "o")))
    if made != n:
        sys.exit(f"the hand-written array made {made} of {n} files")
    return wall


def bench_submit(base: str, m: int) -> dict:
    root = os.path.join(base, "submit")
    project(root, m)
    bin_dir = wrappers(os.path.join(base, "submit-bin"))
    db = os.path.join(root, ".fileflow", "runlog.db")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "fileflow", "build", "--cluster", "slurm",
                             "-j", str(m), "-q"], cwd=root, env=env_with(bin_dir),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    submitted = None
    while proc.poll() is None:
        time.sleep(0.1)
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                (count,) = conn.execute("SELECT count(*) FROM jobs WHERE external_id IS NOT NULL "
                                        "AND external_id != ''").fetchone()
        except sqlite3.Error:
            continue
        if count >= m:
            submitted = time.monotonic() - start
            break
    cancel_start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    cancelled = time.monotonic() - cancel_start
    if submitted is None:
        sys.exit(f"fileflow ended before submitting {m} jobs:\n{err}")
    return {"submitted": submitted, "cancelled": cancelled, "calls": calls(bin_dir)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs for the run and array rows")
    parser.add_argument("--submit", type=int, default=10_000, help="jobs for the submit row (0: skip)")
    parser.add_argument("--grouped", type=int, default=0,
                        help="one-second jobs of one group for the grouped row (0: skip)")
    parser.add_argument("--group-size", type=int, default=100, help="--group-components of it")
    parser.add_argument("--group-cores", type=int, default=4, help="--group-cores of it")
    parser.add_argument("--group-sleep", type=float, default=1.0,
                        help="seconds each job of the grouped row sleeps (0: trivial jobs)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-slurm-")
    try:
        n = args.jobs
        cpus = subprocess.run(["sinfo", "-h", "-o", "%C"], capture_output=True, text=True).stdout.strip()
        version = subprocess.run(["sinfo", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"Slurm: {version}, CPUs (allocated/idle/other/total) {cpus}")
        if n:
            run = bench_run(base, n)
            array = bench_array(base, n)
            c = run["calls"]
            print(f"{n} jobs through fileflow: {run['wall']:.1f} s wall; fileflow CPU "
                  f"{run['cpu']:.2f} s = {1000 * run['cpu'] / n:.2f} ms per job; calls: "
                  f"sbatch {c['sbatch']}, sacct {c['sacct']}, squeue {c['squeue']}, scancel {c['scancel']}")
            print(f"{n} jobs as one hand-written array: {array:.1f} s wall; "
                  f"fileflow / array = {run['wall'] / array:.2f}")
        if args.grouped:
            g = args.grouped
            run = bench_run(base, g, "grouped", '    group: "batch"\n',
                            f"sleep {args.group_sleep:g}; echo {{wildcards.i}} > {{output}}",
                            ("--group-components", f"batch={args.group_size}",
                             "--group-cores", str(args.group_cores)))
            c = run["calls"]
            print(f"{g} jobs of {args.group_sleep:g} s in groups of {args.group_size} "
                  f"({args.group_cores} cores each): {run['wall']:.1f} s wall; "
                  f"fileflow CPU {run['cpu']:.2f} s = "
                  f"{1000 * run['cpu'] / g:.2f} ms per job; calls: sbatch {c['sbatch']}, "
                  f"sacct {c['sacct']}, squeue {c['squeue']}, scancel {c['scancel']}")
        if args.submit:
            s = bench_submit(base, args.submit)
            print(f"{args.submit} ready jobs: all submitted {s['submitted']:.1f} s after the start "
                  f"of 'fileflow build' ({s['calls']['sbatch']} sbatch calls); Ctrl-C cancelled "
                  f"them in {s['cancelled']:.1f} s ({s['calls']['scancel']} scancel calls)")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
