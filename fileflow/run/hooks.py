"""The run hooks, `onstart:`, `onsuccess:` and `onerror:`: a shell command run on this
machine when a build starts running jobs, and when it ends with success or failure. Layer 4.

Each is given `{log}`, a text summary of the run (.fileflow/hooks/run-ID.txt), and
`{run_id}`. Its output goes to .fileflow/hooks/run-ID-HOOK.log; it is recorded as a row of
the run named after it. A failing hook is reported and recorded, and never changes the
build's outcome.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence

from fileflow.lang.model import Action
from fileflow.runlog.records import JobResult, JobStart
from fileflow.template import Items, render
from fileflow.views.runs import command_line

__all__ = ["HOOKS_DIR", "write_summary", "run_hook"]

HOOKS_DIR = os.path.join(".fileflow", "hooks")


def write_summary(runlog, run_id: int, status: str, argv: Sequence[str], counts: str) -> str:
    """The run in words, from the run log: what each hook gets as {log}. Returns its path."""
    lines = [f"fileflow run {run_id}: {status}", f"command: {command_line(list(argv))}",
             f"directory: {os.getcwd()}", f"jobs: {counts}"]
    rows = runlog.jobs_of_run(run_id) if status != "running" else []
    for row in rows:
        took = (f" in {row['ended_at'] - row['started_at']:.1f} s"
                if row.get("ended_at") and row.get("started_at") else "")
        message = f": {row['message']}" if row.get("message") else ""
        log = f" (log: {row['log_path']})" if row.get("log_path") else ""
        lines.append(f"  {row['state']:<9} {row['name']}{took}{message}{log}")
    os.makedirs(HOOKS_DIR, exist_ok=True)
    path = os.path.join(HOOKS_DIR, f"run-{run_id}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_hook(name: str, hooks: Mapping[str, Action], runlog, run_id: int,
             summary: str) -> str:
    """Run one hook, if the Flowfile has it, and record it in the run log. Returns a warning
    to show when it failed, else ""."""
    action = hooks.get(name)
    if action is None or action.template is None:
        return ""
    command = render(action.template, {"log": Items((summary,)), "run_id": run_id})
    out = os.path.join(HOOKS_DIR, f"run-{run_id}-{name}.log")
    (log_id,) = runlog.jobs_started(run_id, [JobStart(
        name, name, {}, command, [f"the {name} hook"], 1, "local", "", [], out)])
    started = time.time()
    try:
        with open(out, "wb") as f:
            code = subprocess.run(["bash", "-euo", "pipefail", "-c", command], stdin=subprocess.DEVNULL,
                                  stdout=f, stderr=subprocess.STDOUT).returncode
        why = "" if code == 0 else f"exit code {code}"
    except OSError as exc:
        code, why = 127, f"cannot run it: {exc.strerror}"
    message = f"the {name} hook failed ({why}); its output is in {out}" if why else ""
    runlog.jobs_finished([JobResult(log_id, "failed" if why else "done", code, started,
                                    time.time(), socket.gethostname(), None, None, [], {}, "",
                                    message)])
    return f"warning: {message}; the build's outcome stands" if why else ""
