"""DRMAA benchmark: N trivial jobs through `fileflow build --cluster drmaa` against the same
N jobs submitted to Grid Engine by hand with `qsub` (one call per job, and one array job),
each waited for until the last output exists. fileflow runs in this process (through
`fileflow.cli.main.main`) so that the DRMAA calls it makes can be counted by name.

Needs a running Grid Engine (.ci/sge-up.sh) and, in the environment before Python starts,
what `.ci/sge-up.sh` prints (GLIBC_TUNABLES above all; this script re-executes itself with
it when it is missing).

    python benchmarks/bench_drmaa.py                 # 500 jobs
    python benchmarks/bench_drmaa.py --jobs 50       # quick check
"""
from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time

TLS = "glibc.rtld.optional_static_tls=16384"


def _reexec_with_tls() -> None:
    if "optional_static_tls" not in os.environ.get("GLIBC_TUNABLES", ""):
        env = dict(os.environ, GLIBC_TUNABLES=TLS)
        env.setdefault("SGE_ROOT", "/var/lib/gridengine")
        env.setdefault("SGE_CELL", "default")
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _wait_outputs(folder: str, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(os.listdir(folder)) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {len(os.listdir(folder))} of {n} outputs in {folder}")
        time.sleep(0.2)


def _drain_queue(name: str, timeout: float) -> None:
    """Wait until Grid Engine lists no job of this name (outputs exist before the DRM is done)."""
    deadline = time.monotonic() + timeout
    while name in subprocess.run(["qstat", "-r"], capture_output=True, text=True).stdout:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for the queue to drain of {name}")
        time.sleep(0.2)


def by_hand(work: str, n: int, array: bool, timeout: float) -> float:
    out = os.path.join(work, "out")
    os.makedirs(out)
    name = "bench_array" if array else "bench_qsub"
    start = time.monotonic()
    if array:
        subprocess.run(["qsub", "-b", "y", "-cwd", "-j", "y", "-o", "/dev/null", "-N", name,
                        "-t", f"1-{n}", "sh", "-c", 'echo $SGE_TASK_ID > out/$SGE_TASK_ID.txt'],
                       cwd=work, check=True, capture_output=True)
    else:
        for i in range(n):
            subprocess.run(["qsub", "-b", "y", "-cwd", "-j", "y", "-o", "/dev/null", "-N", name,
                            "sh", "-c", f"echo {i} > out/{i}.txt"],
                           cwd=work, check=True, capture_output=True)
    _wait_outputs(out, n, timeout)
    wall = time.monotonic() - start
    _drain_queue(name, timeout)
    return wall


def through_fileflow(work: str, n: int, timeout: float) -> tuple[float, collections.Counter, int]:
    from fileflow.cli.main import main
    from fileflow.executors import drmaa as ff_drmaa

    with open(os.path.join(work, "Flowfile"), "w") as fh:
        fh.write(f'rule all:\n    input: expand("out/{{i}}.txt", i=range({n}))\n'
                 'rule one:\n    output: "out/{i}.txt"\n    shell: "echo {wildcards.i} > {output}"\n')
    calls: collections.Counter = collections.Counter()
    original = ff_drmaa.DrmaaSession.call

    def counting(self, name, *args):
        calls[name] += 1
        return original(self, name, *args)

    ff_drmaa.DrmaaSession.call = counting
    cwd = os.getcwd()
    os.chdir(work)
    try:
        start = time.monotonic()
        code = main(["build", "--cluster", "drmaa", "-j", str(n), "-q"])
        wall = time.monotonic() - start
    finally:
        os.chdir(cwd)
        ff_drmaa.DrmaaSession.call = original
    if code != 0:
        raise SystemExit(f"fileflow failed with exit code {code}")
    return wall, calls, len(os.listdir(os.path.join(work, "out")))


def main() -> None:
    _reexec_with_tls()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=1200)
    ap.add_argument("--what", default="fileflow,qsub,array",
                    help="comma-separated: fileflow, qsub (one call per job), array (qsub -t)")
    args = ap.parse_args()
    slots = subprocess.run(["qconf", "-sq", "all.q"], capture_output=True, text=True).stdout
    slots = next((line.split()[1] for line in slots.splitlines() if line.startswith("slots")), "?")
    print(f"{args.jobs} trivial jobs; Grid Engine all.q slots={slots}; {os.cpu_count()} CPUs")
    results = {}
    for what in args.what.split(","):
        work = tempfile.mkdtemp(prefix=f"ff-bench-drmaa-{what}.")
        try:
            if what == "fileflow":
                wall, calls, made = through_fileflow(work, args.jobs, args.timeout)
                results[what] = wall
                detail = ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))
                print(f"fileflow --cluster drmaa: {wall:6.1f} s  ({made} outputs; DRMAA calls: "
                      f"{sum(calls.values())} = {detail})")
            else:
                wall = by_hand(work, args.jobs, what == "array", args.timeout)
                results[what] = wall
                label = "qsub -t (one array)" if what == "array" else f"qsub x {args.jobs}"
                print(f"{label:24s}: {wall:6.1f} s")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        sys.stdout.flush()
    if "fileflow" in results:
        for other in ("qsub", "array"):
            if other in results:
                print(f"wall ratio fileflow / {other}: {results['fileflow'] / results[other]:.2f}")


if __name__ == "__main__":
    main()
