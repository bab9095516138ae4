"""`fileflow runs` and `fileflow log`: the run log's history as text. Layer 4: formatting
only; fileflow.runlog.history reads the rows.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence

from fileflow.run.progress import log_tail
from fileflow.views.summary import human_size, when

__all__ = ["format_runs", "format_run", "format_job", "command_line", "duration", "job_log_tail"]


def duration(start: float | None, end: float | None) -> str:
    if not start or not end:
        return "-"
    seconds = max(0.0, end - start)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def command_line(argv: list[str]) -> str:
    """The command as typed: `fileflow` and the arguments, with any password in a
    database URL (--db postgresql://user:secret@host/db) hidden."""
    from fileflow.runlog.records import hide_passwords

    shown = hide_passwords(argv[1:])  # runs recorded before the run log hid them
    return shlex.join(["fileflow", *shown]) if argv else "fileflow"


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([c.ljust(w) for c, w in zip(row, widths)] + [row[-1]]).rstrip()
                     for row in rows) + "\n"


def format_runs(runs: list[dict]) -> str:
    rows = [("run", "started", "duration", "status", "done", "failed", "command")]
    for r in runs:
        rows.append((str(r["id"]), when(r["started_at"]), duration(r["started_at"], r["ended_at"]),
                     r["status"], str(r["jobs_done"]), str(r["jobs_failed"]),
                     command_line(r["argv"])))
    return _table(rows)


def format_run(run: dict, jobs: list[dict]) -> str:
    lines = [f"run {run['id']}: {run['status']}, {run['jobs_done']} done, "
             f"{run['jobs_failed']} failed",
             f"  command:  {command_line(run['argv'])}",
             f"  started:  {when(run['started_at'])} on {run['host'] or '?'} by {run['user'] or '?'}"
             f" (fileflow {run['fileflow_version'] or '?'})",
             f"  duration: {duration(run['started_at'], run['ended_at'])}",
             f"  workdir:  {run['workdir']}", ""]
    if not jobs:
        lines.append("no jobs")
        return "\n".join(lines) + "\n"
    rows = [("job", "name", "state", "exit", "duration", "peak memory", "cpu")]
    for j in jobs:
        rows.append((f"#{j['id']}", j["name"], j["state"],
                     "-" if j["exit_code"] is None else str(j["exit_code"]),
                     duration(j["started_at"], j["ended_at"]), human_size(j["peak_rss_bytes"]),
                     "-" if j["cpu_seconds"] is None else f"{j['cpu_seconds']:.2f} s"))
    return "\n".join(lines) + "\n" + _table(rows)


def format_job(job: dict, tail_lines: int = 15) -> str:
    cpu = "-" if job["cpu_seconds"] is None else f"{job['cpu_seconds']:.2f} s"
    lines = [f"job #{job['id']} {job['name']} (run {job['run_id']}, attempt {job['attempt']}): "
             f"{job['state']}",
             f"  rule:        {job['rule']}",
             f"  command:     {job['command'] or '-'}",
             f"  reasons:     {'; '.join(job['reasons']) or '-'}",
             f"  exit code:   {'-' if job['exit_code'] is None else job['exit_code']}",
             f"  host:        {job['host'] or '-'} ({job['executor'] or '?'} executor"
             + (f", id {job['external_id']}" if job["external_id"] else "") + ")",
             f"  started:     {when(job['started_at'])}",
             f"  duration:    {duration(job['started_at'], job['ended_at'])}",
             f"  peak memory: {human_size(job['peak_rss_bytes'])}",
             f"  cpu time:    {cpu}",
             f"  outputs:     {', '.join(job['outputs']) or '-'}"]
    if job.get("message"):
        lines.append(f"  message:     {job['message']}")
    path = job["log_path"]
    if path:
        tail, note = job_log_tail(job, tail_lines)
        if tail:
            lines.append(f"  log:         {path} (last {len(tail)} lines):")
            lines.extend(f"    {line}" for line in tail)
        else:
            lines.append(f"  log:         {path} ({note})")
    return "\n".join(lines) + "\n"


def job_log_tail(job: dict, lines: int) -> tuple[list[str], str]:
    """The last lines of a job's log file, or none and why: a later attempt of the same
    job writes the same file, and its lines must not pass for this attempt's."""
    import os

    path = job["log_path"]
    if job.get("log_rewritten_by"):
        return [], f"rewritten since by job #{job['log_rewritten_by']}"
    try:
        mtime = os.stat(path).st_mtime
    except OSError:  # fileflow's own logs are made only when the job writes to them
        return [], "none: the job wrote nothing, or the file was removed"
    if job["ended_at"] and mtime > job["ended_at"] + 2:
        return [], f"rewritten by a later job at {when(mtime)}"
    tail = log_tail(path, lines)
    return tail, "" if tail else "empty"
