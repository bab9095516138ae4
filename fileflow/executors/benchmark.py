"""A job's benchmark: its command run (once, or as many times as `repeat()` says) under
this wrapper, which measures the command's process tree with psutil while it runs and
writes Snakemake's benchmark table, one row per run. Layer 3.

The wrapper is the job's command (`python -m fileflow.executors.benchmark FILE TIMES --
COMMAND`), so it runs wherever the job runs: here or on a cluster node, and the command
shown and recorded is the real one inside it.

Columns: s (wall seconds), h:m:s, max_rss, max_vms, max_uss, max_pss (MiB, the largest sum
over the tree seen), io_in, io_out (MiB read and written by the tree), mean_load (CPU
percent: 100 * cpu_time / s), cpu_time (user + system seconds, of every process waited for).
"""
from __future__ import annotations

import datetime
import os
import shlex
import subprocess
import sys
import time

__all__ = ["COLUMNS", "benchmark_command", "measure", "main"]

COLUMNS = ("s", "h:m:s", "max_rss", "max_vms", "max_uss", "max_pss", "io_in", "io_out",
           "mean_load", "cpu_time")
_MIB = 1024 * 1024


def benchmark_command(command: str, path: str, times: int, python: str) -> str:
    """The job's command with its benchmark wrapper around it."""
    return (f"exec {shlex.quote(python)} -m fileflow.executors.benchmark {shlex.quote(path)} "
            f"{times} -- {shlex.quote(command)}")


def measure(command: str) -> tuple[int, list[object]]:
    """Run `command` with bash -euo pipefail and measure it: (exit status, a row)."""
    import psutil

    started = time.monotonic()
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", command])
    peaks = [0, 0, 0, 0]                       # rss, vms, uss, pss
    io: dict[int, tuple[int, int]] = {}        # pid -> last (read, written) bytes
    status, usage = 0, None
    interval = 0.05
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        except psutil.Error:
            tree = []
        sums = [0, 0, 0, 0]
        for member in tree:
            try:
                with member.oneshot():
                    mem = member.memory_full_info()
                    counters = member.io_counters()
            except (psutil.Error, AttributeError, NotImplementedError):
                continue
            for i, value in enumerate((mem.rss, mem.vms, mem.uss, getattr(mem, "pss", 0))):
                sums[i] += value
            io[member.pid] = (counters.read_bytes, counters.write_bytes)
        peaks = [max(a, b) for a, b in zip(peaks, sums)]
        time.sleep(interval)
        interval = min(interval * 1.5, 1.0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it
    seconds = time.monotonic() - started
    peaks[0] = max(peaks[0], usage.ru_maxrss * 1024)  # a tree too short-lived to sample
    cpu = usage.ru_utime + usage.ru_stime
    reads = sum(r for r, _ in io.values())
    writes = sum(w for _, w in io.values())
    row: list[object] = [f"{seconds:.4f}", _hms(seconds), *(p / _MIB for p in peaks),
                         reads / _MIB, writes / _MIB,
                         100.0 * cpu / seconds if seconds > 0 else 0.0, cpu]
    return proc.returncode, row


def _hms(seconds: float) -> str:
    delta = datetime.timedelta(seconds=int(seconds))
    hours, rest = divmod(delta.seconds, 3600)
    text = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{delta.days} day{'s' if delta.days != 1 else ''}, {text}" if delta.days else text


def _cell(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main(argv: list[str]) -> int:
    path, times, command = argv[0], int(argv[1]), argv[3]
    rows = []
    for _ in range(times):
        code, row = measure(command)
        if code != 0:
            return code if code > 0 else 128 - code
        rows.append(row)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for row in rows:
            f.write("\t".join(map(_cell, row)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
