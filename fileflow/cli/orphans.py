"""Jobs a killed fileflow left running on this host: found by their recorded pid and by the
run tag in their environment, stopped before a new build races them for the same outputs.
Layer 5.
"""
from __future__ import annotations

import contextlib
import sys

__all__ = ["stop_orphans"]


def stop_orphans(runlog) -> None:
    """Jobs a killed fileflow left running on this host would race this build for the same
    outputs: stop their process trees, and record their runs as interrupted. A job is found
    by its recorded pid, and by the run tag in its environment (executors.local.RUN_TAG),
    which also finds a job killed before its pid was recorded, and daemons it started."""
    import socket

    rows = runlog.unfinished_jobs(socket.gethostname())
    if not rows:  # the usual case: psutil (tens of ms to import) is not needed
        return
    import psutil

    from fileflow.executors.local import process_run_tag, tagged_processes
    from fileflow.processes import live_process

    dead_runs = {r["run_id"] for r in rows
                 if live_process(r["pid"], started_by=r["run_started"]) is None}
    abandoned = [r for r in rows if r["run_id"] in dead_runs]
    local = [r for r in abandoned if r["executor"] == "local"]
    victims: dict[int, psutil.Process] = {}
    for r in local:
        proc = live_process(r["external_id"], started_by=r["started_at"] + 60,
                            started_after=r["started_at"])
        if proc is not None:
            with contextlib.suppress(psutil.Error):
                for p in (proc, *proc.children(recursive=True)):
                    victims[p.pid] = p
    if local:
        tags = {process_run_tag(r["run_id"], r["run_workdir"]) for r in local}
        for p in tagged_processes(tags):
            victims.setdefault(p.pid, p)
    for p in victims.values():
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, left = psutil.wait_procs(list(victims.values()), timeout=3)
    for p in left:
        with contextlib.suppress(psutil.Error):
            p.kill()
    if victims:
        shown = ", ".join(str(pid) for pid in sorted(victims)[:10])
        print(f"fileflow: stopped {len(victims)} process(es) left running by a fileflow that "
              f"is gone (pid {shown}{' ...' if len(victims) > 10 else ''}); their jobs' outputs "
              "will be made again", file=sys.stderr)
    runlog.close_abandoned(dead_runs, [r["id"] for r in abandoned])
