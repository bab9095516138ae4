"""A group job on its cluster node: `python -m fileflow.executors.group_runner MANIFEST
JOB_ID` (JOB_ID fills the %j of the manifest's results path).
Layer 3; the standard library only, so that it starts fast on the node.

The manifest (JSON, written by fileflow.executors.cluster) lists the group's members: each
one's job script, its threads, and the members it waits for. They run in that order,
side by side while their threads fit the group's cores (one always may run). A member that
fails keeps the members that wait for it (directly or not) from starting; the others go on.
Each member's result is one JSON line appended to the results file as it ends (its id
and name, exit status, start and end times, host, peak memory and CPU time of its processes), so that
the head records each member on its own, even when the group job is killed or cancelled
later (a member that ends once the group job is told to stop is marked so). A
member past its `timeout:` is stopped, its process group and all, and fails. The exit
status is 0 when every member succeeded, else 1.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

__all__ = ["run_group", "main"]


def _line(out, record: dict) -> None:
    out.write(json.dumps(record) + "\n")
    out.flush()


def run_group(manifest: dict) -> int:
    members = manifest["members"]
    cores = max(1, int(manifest.get("cores", 1)))
    host = socket.gethostname()
    waiting = {m["id"]: set(m["after"]) for m in members}
    by_id = {m["id"]: m for m in members}
    dependents: dict[int, list[int]] = {}
    for m in members:
        for a in m["after"]:
            dependents.setdefault(a, []).append(m["id"])
    order = [m["id"] for m in members]
    running: dict[int, tuple[subprocess.Popen, float, int]] = {}  # pid -> (process, start, id)
    used = 0
    failed = False
    stop = {"now": False}
    timed_out: set[int] = set()

    def terminate(signum, frame):
        stop["now"] = True
        for pid in running:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, terminate)
    with open(manifest["results"], "w", encoding="utf-8") as out:
        while order or running:
            if stop["now"]:
                break
            for job_id in list(order):
                m = by_id[job_id]
                threads = max(1, int(m.get("threads", 1)))
                if waiting[job_id] or (running and used + threads > cores):
                    continue
                order.remove(job_id)
                proc = subprocess.Popen(["bash", m["script"]], stdin=subprocess.DEVNULL,
                                        start_new_session=True)
                running[proc.pid] = (proc, time.time(), job_id)
                used += threads
            if not running:
                break  # what is left waits for members that failed
            pid, status, usage = _next_ended(running, by_id, timed_out)
            if pid not in running:
                continue
            _, started, job_id = running.pop(pid)
            used -= max(1, int(by_id[job_id].get("threads", 1)))
            code = os.waitstatus_to_exitcode(status)
            record = {"id": job_id, "name": by_id[job_id]["name"], "exit": code,
                      "started": started, "ended": time.time(), "host": host, "rss": usage.ru_maxrss * 1024,
                      "cpu": usage.ru_utime + usage.ru_stime}
            if job_id in timed_out:
                record["timed_out"] = True
            if stop["now"]:  # ended as the group job was cancelled: whatever its exit status
                record["stopped"] = True
            _line(out, record)
            if code == 0:
                for d in dependents.get(job_id, ()):
                    waiting[d].discard(job_id)
                continue
            failed = True
            _not_run(out, job_id, by_id, dependents, order)
    if stop["now"]:
        return 143
    return 1 if failed or order else 0


def _next_ended(running: dict, by_id: dict, timed_out: set[int]):
    """Wait for a member to end; one past its `timeout:` (seconds) is stopped, its process
    group and all (SIGTERM, then SIGKILL 5 s later)."""
    limits = {pid: started + by_id[job_id]["timeout"]
              for pid, (_, started, job_id) in running.items() if by_id[job_id].get("timeout")}
    if not limits:
        return os.wait4(-1, 0)
    while True:
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid:
            return pid, status, usage
        now = time.time()
        for pid, limit in limits.items():
            job_id = running[pid][2]
            if now >= limit:
                signum = signal.SIGKILL if job_id in timed_out and now >= limit + 5 else signal.SIGTERM
                if job_id not in timed_out or signum == signal.SIGKILL:
                    try:
                        os.killpg(pid, signum)
                    except ProcessLookupError:
                        pass
                timed_out.add(job_id)
        time.sleep(0.05)


def _not_run(out, failed_id: int, by_id: dict, dependents: dict, order: list[int]) -> None:
    """The members that wait for `failed_id`, directly or not, never start."""
    stack = list(dependents.get(failed_id, ()))
    while stack:
        job_id = stack.pop()
        if job_id not in order:
            continue
        order.remove(job_id)
        now = time.time()
        _line(out, {"id": job_id, "name": by_id[job_id]["name"],
                    "not_run": by_id[failed_id]["name"], "started": now, "ended": now})
        stack.extend(dependents.get(job_id, ()))


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m fileflow.executors.group_runner MANIFEST [JOB_ID]",
              file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        manifest = json.load(fh)
    if len(argv) == 2:  # the results file is named after the group job's id (its %j)
        manifest["results"] = manifest["results"].replace("%j", argv[1])
    return run_group(manifest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
