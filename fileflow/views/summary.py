"""`fileflow summary`: one row per output of the job graph: its path, state (up to date,
missing, incomplete, stale and why), the job that makes it, when it was last built, its
size, and the run-log job that made it; then the orphaned outputs, which a job of fileflow
made and no job of the workflow makes any more. Layer 4: formatting only; the plan decides.
"""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import NamedTuple

__all__ = ["OutputRow", "output_rows", "orphaned_outputs", "orphan_rows", "format_rows",
           "human_size", "when", "ORPHANED"]

ORPHANED = "orphaned: no job of the workflow makes it any more (fileflow clean --orphans)"


class OutputRow(NamedTuple):
    path: str
    state: str
    job: str                 # the graph job that makes it, e.g. count[sample=a]
    built_at: float | None   # seconds since the epoch
    size: int | None         # bytes, when it exists
    made_by: int | None      # the run-log job id that last made it


def human_size(n: int | None) -> str:
    if n is None or n < 0:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def when(seconds: float | None) -> str:
    if not seconds:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def _state(path: str, job_id: int, plan) -> str:
    st = plan.observed.get(path)
    rec = plan.recorded.get(path)
    if path in plan.virtual_temp:
        return "up to date (temp: deleted after use)"
    if rec is not None and not rec.complete:
        return "incomplete (its job started and did not finish)"
    if job_id in plan.held:
        return "decided after a checkpoint job runs"
    if st is None or not st.exists:
        return "missing"
    reasons = plan.reasons.get(job_id)
    if reasons:
        return "stale: " + "; ".join(str(r) for r in reasons)
    return "up to date"


def output_rows(plan) -> list[OutputRow]:
    """Every output of the graph, producers before consumers."""
    jobs = plan.graph.jobs
    rows = []
    for job_id in plan.order:
        job = jobs[job_id]
        for path in job.outputs:
            st = plan.observed.get(path)
            rec = plan.recorded.get(path)
            exists = st is not None and st.exists and path not in plan.virtual_temp
            rows.append(OutputRow(path, _state(path, job_id, plan), job.name,
                                  rec.built_at if rec is not None and rec.built_at else None,
                                  st.size if exists else None,
                                  rec.job_id if rec is not None else None))
    return rows


def orphaned_outputs(graph, recorded: Mapping) -> list[str]:
    """The local paths the run log says a job of fileflow made and that no job of `graph`
    makes (a rule renamed or removed, a sample gone from the sheet, a checkpoint that now
    finds fewer parts), still on disk; sorted. Meaningful for the graph of the whole
    workflow (its default targets), not of a part of it."""
    producer = graph.producer
    return sorted(path for path, rec in recorded.items()
                  if rec.job_id is not None and path not in producer and "://" not in path
                  and os.path.lexists(path))


def orphan_rows(paths: list[str], recorded: Mapping) -> list[OutputRow]:
    rows = []
    for path in paths:
        rec = recorded[path]
        try:
            size: int | None = os.lstat(path).st_size
        except OSError:
            size = None  # gone since it was listed
        rows.append(OutputRow(path, ORPHANED, "-", rec.built_at or None, size, rec.job_id))
    return rows


def format_rows(rows: list[OutputRow]) -> str:
    table = [("path", "state", "job", "last built", "size", "made by")]
    for r in rows:
        table.append((r.path, r.state, r.job, when(r.built_at), human_size(r.size),
                      f"job #{r.made_by}" if r.made_by is not None else "-"))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
    lines = []
    for row in table:
        cells = [cell.ljust(w) for cell, w in zip(row, widths)] + [row[-1]]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"
