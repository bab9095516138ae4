"""What `fileflow build -n` prints: each job that would run with its reasons (and with
`-p` its command), the jobs decided only after a checkpoint runs, a count per rule and a
summary line. Layer 5.
"""
from __future__ import annotations

from collections import Counter

from fileflow.cli.steps import print_line

__all__ = ["print_dry_run"]


def print_dry_run(plan, quiet: bool = False, print_commands: bool = False) -> None:
    """Each job that would run (rule, wildcards, outputs, reasons, and with `print_commands`
    its command), a per-rule count table and a one-line summary; with `quiet`, the summary
    line alone."""
    jobs = plan.graph.jobs
    later = _decided_later(plan)
    more = (f"; more once {len({w for _, w in later})} checkpoint job(s) have run"
            if later else "")
    if quiet:
        n = len(plan.reasons)
        print_line(f"dry run: {n} of {len(jobs)} jobs would run{more}" if n else
             f"nothing to do: all {len(jobs)} jobs are up to date")
        return
    lines = []
    for job_id in plan.to_run:
        job = jobs[job_id]
        reasons = plan.reasons[job_id]
        lines.append(f"job {job.name}")
        if job.outputs:
            lines.append("    output: " + ", ".join(job.outputs))
        lines.append("    reason: " + "; ".join(str(r) for r in reasons))
        if print_commands:
            lines.extend(_planned_command(plan, job_id))
    lines.extend(f"job {name}: decided after checkpoint {waits} runs" for name, waits in later)
    counts = Counter(jobs[j].rule for j in plan.reasons)
    if counts:
        width = max(len("total"), *(len(rule.name) for rule in counts)) + 2
        lines.append("")
        lines.append(f"{'rule':<{width}}jobs")
        for rule, n in sorted(counts.items(), key=lambda kv: kv[0].index):
            lines.append(f"{rule.name:<{width}}{n}")
        lines.append(f"{'total':<{width}}{sum(counts.values())}")
        lines.append("")
        lines.append(f"dry run: {sum(counts.values())} of {len(jobs)} jobs would run{more}")
    else:
        lines.append(f"nothing to do: all {len(jobs)} jobs are up to date")
    print_line("\n".join(lines))


def _decided_later(plan) -> list[tuple[str, str]]:
    """(job, checkpoint job) for each job a dry run cannot decide: one that waits for a
    checkpoint job, or a job that reads one which runs again (its outputs will change)."""
    graph = plan.graph
    jobs = graph.jobs
    found = {w.name: jobs[w.checkpoint].name for w in graph.waiting}
    for checkpoint, readers in graph.readers.items():
        if checkpoint in plan.reasons:
            for reader in readers:
                found.setdefault(jobs[reader].name, jobs[checkpoint].name)
    return list(found.items())


def _planned_command(plan, job_id: int) -> list[str]:
    """What `-n -p` shows of a job's action: its command as the run log records it."""
    from fileflow.runlog.records import shown_command

    action = plan.graph.jobs[job_id].rule.action
    if action is None:
        return []
    if action.kind == "script":
        return [f"    script: {action.text}"]
    command = shown_command(plan.command(job_id))
    return ["    command: " + command.replace("\n", "\n             ")] if command else []
