"""The commands that show what a build would do and what runs did: `build -n --graph`,
`graph`, `summary`, `why`, `runs`, `log` and `report`. Layer 5: wires the loading and planning of
fileflow.cli.steps to the views and formats. They change nothing: the run log is opened only to
read (a SQLite log as an immutable file), and the only file written is the one asked for
with -o, whole or not at all.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import replace

from fileflow.cli.steps import (
    BuildOptions,
    load_graph,
    no_gc_pauses,
    open_store,
    plan_build,
    print_line,
    read_recorded,
)
from fileflow.errors import EXIT_OK, FileflowError
from fileflow.printable import printable

__all__ = ["dry_run_graph", "graph", "summary", "why", "runs", "show_log", "report", "open_history",
           "flowfile_rule_graph"]


def _looked(options: BuildOptions, want_plan: bool = True):
    """The graph, its plan (None unless wanted) and the jobs whose last attempt failed."""
    from fileflow.runlog.history import job_states
    from fileflow.views.graph_view import failed_jobs

    store = open_store()
    with no_gc_pauses():
        workflow, graph = load_graph(options, store)
        runlog, recorded = read_recorded(options.db_url, write=False) if want_plan else (None, {})
    try:
        if not want_plan:
            return workflow, graph, None, set()
        with no_gc_pauses():
            plan = plan_build(options, graph, recorded, store)
        for warning in plan.warnings:
            print(printable(warning), file=sys.stderr)
        failed: set[int] = set()
        incomplete = {r.job_id for r in recorded.values() if not r.complete and r.job_id is not None}
        if incomplete and runlog is not None:
            states = job_states(runlog, incomplete)
            failed = failed_jobs(plan, {j for j, s in states.items() if s == "failed"})
        return workflow, graph, plan, failed
    finally:
        if runlog is not None:
            runlog.close()


def _write(path: str, content: str | bytes) -> None:
    """Write the whole file or nothing (a temporary file renamed into place), with the
    permissions a new file gets here."""
    import tempfile

    folder = os.path.dirname(os.path.abspath(path))
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd, tmp = tempfile.mkstemp(prefix=".fileflow-out-", dir=folder)
    except OSError as exc:
        raise FileflowError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        raise FileflowError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def dry_run_graph(options: BuildOptions) -> int:
    """`build -n --graph`: the jobs that would run as a tree, each under what it feeds."""
    from fileflow.views.graph_formats import to_text
    from fileflow.views.graph_view import WILL_RUN, jobs_view

    _, graph, plan, failed = _looked(options)
    view = jobs_view(graph, plan, failed, only_running=True)
    if not view.nodes:
        print_line(f"nothing to do: all {len(graph)} jobs are up to date")
        return EXIT_OK
    print_line(to_text(view, hide_state=WILL_RUN).rstrip("\n"))
    print_line(f"\ndry run: {len(view.nodes)} of {len(graph)} jobs would run")
    return EXIT_OK


def _choose_format(fmt: str | None, out: str | None) -> str:
    from fileflow.views.graph_formats import IMAGE_FORMATS, format_for_path

    if out is None:
        return fmt or "dot"
    by_name = format_for_path(out)
    if by_name is None:
        if fmt is None:
            raise FileflowError(f"-o {out}: cannot tell the format from the extension; use .dot, "
                                ".mmd, .json, .txt, .svg, .png or .pdf, or give --format")
        return fmt
    if fmt is not None and fmt != by_name and not (
            fmt == "dot" and by_name in IMAGE_FORMATS):
        raise FileflowError(f"--format {fmt} does not match -o {out} (a {by_name} file)")
    return by_name if by_name in IMAGE_FORMATS else (fmt or by_name)


def graph(options: BuildOptions, level: str = "jobs", fmt: str | None = None,
          out: str | None = None) -> int:
    """`fileflow graph`: the job, rule or file graph as DOT, Mermaid, JSON or text. Only the
    graph goes to stdout; warnings go to stderr."""
    from fileflow.views.graph_formats import IMAGE_FORMATS, render, render_image
    from fileflow.views.graph_view import files_view, jobs_view, rules_view

    fmt = _choose_format(fmt, out)
    # The rule graph needs no file looked at: it is drawn without states, at once.
    _, g, plan, failed = _looked(options, want_plan=level != "rules")
    make = {"jobs": jobs_view, "rules": rules_view, "files": files_view}[level]
    view = make(g, plan, failed)
    if out is not None:  # an image format comes only from -o's extension
        content = render_image(render(view, "dot"), fmt, out) if fmt in IMAGE_FORMATS else render(view, fmt)
        _write(out, content)
    else:
        try:
            sys.stdout.write(printable(render(view, fmt)))
            sys.stdout.flush()
        except BrokenPipeError:  # `fileflow graph | head`: the reader has all it wants
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the last flush at exit cannot fail
            os.close(devnull)
    return EXIT_OK


def summary(options: BuildOptions) -> int:
    """`fileflow summary` / `build --summary`: one row per output."""
    from fileflow.views.summary import format_rows, orphan_rows, orphaned_outputs, output_rows

    _, graph, plan, _ = _looked(options)
    rows = output_rows(plan)
    # The whole workflow, fully known: what no job makes any more is orphaned.
    if not options.targets and not graph.waiting:
        rows += orphan_rows(orphaned_outputs(graph, plan.recorded), plan.recorded)
    print_line(format_rows(rows).rstrip("\n"))
    return EXIT_OK


def why(options: BuildOptions, path: str) -> int:
    """`fileflow why FILE`: is FILE out of date, and why."""
    options = replace(options, targets=[path], dry_run=True)
    store = open_store()
    workflow, graph = load_graph(options, store)
    runlog, recorded = read_recorded(options.db_url, write=False)
    try:
        plan = plan_build(options, graph, recorded, store)
    finally:
        if runlog is not None:
            runlog.close()
    target = path if "://" in path else os.path.normpath(path)
    producer = graph.producer.get(target)
    later = _decided_later(graph, plan, target, producer)
    if later:
        print_line(f"{path}: decided after checkpoint {later} runs (what it writes decides "
                   "the jobs that make this file)")
        return EXIT_OK
    if producer is None:
        print_line(f"{path}: a source file (no rule makes it); it is never rebuilt")
        return EXIT_OK
    job = graph.jobs[producer]
    reasons = plan.reasons.get(producer)
    if not reasons:
        rec = recorded.get(target)
        when = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rec.built_at))
                if rec and rec.built_at else None)
        print_line(f"{path}: up to date (made by job {job.name}" + (f", recorded {when})" if when else ")"))
        return EXIT_OK
    print_line(f"{path}: out of date; job {job.name} would run because:")
    for reason in reasons:
        print_line(f"  - {reason}")
    # Follow upstream reasons to their roots so the user sees the first cause.
    stack = [d for d in graph.deps[producer] if d in plan.reasons]
    seen = set(stack)
    while stack:
        dep = stack.pop()
        own = [r for r in plan.reasons[dep] if r.kind != "upstream"]
        if own:
            print_line(f"  upstream {graph.jobs[dep].name}: " + "; ".join(str(r) for r in own))
        for d in graph.deps[dep]:
            if d in plan.reasons and d not in seen:
                seen.add(d)
                stack.append(d)
    return EXIT_OK


def _decided_later(graph, plan, path: str, producer: int | None) -> str:
    """The checkpoint job `path` waits for ("" if none): its job waits for one, or is held
    behind one that runs."""
    jobs = graph.jobs
    for waiting in graph.waiting:
        if waiting.path == path or (producer is not None and waiting.consumer == producer):
            return jobs[waiting.checkpoint].name
    if producer is None or producer not in plan.held:
        return ""
    upstream = set(graph.upstream_of([producer]))
    for checkpoint in (*graph.readers, *(w.checkpoint for w in graph.waiting)):
        if checkpoint in upstream and checkpoint in plan.reasons:
            return jobs[checkpoint].name
    return "a checkpoint job"  # never: a held job is below one


# ---------------------------------------------------------------- history

def open_history(db_url: str | None):
    """The run log, opened to read; None when there is none (nothing is created)."""
    from fileflow.runlog.log import open_runlog

    db_url = db_url or os.environ.get("FILEFLOW_DB") or None
    if db_url is None and not os.path.exists(os.path.join(".fileflow", "runlog.db")):
        return None
    return open_runlog(db_url, os.getcwd(), look_only=True)


_NO_LOG = "no runs recorded yet: there is no run log here (.fileflow/runlog.db; see --db)"


def runs(db_url: str | None, limit: int = 20) -> int:
    """`fileflow runs`: the latest runs, newest first."""
    from fileflow.runlog.history import list_runs
    from fileflow.views.runs import format_runs

    log = open_history(db_url)
    if log is None:
        print_line(_NO_LOG)
        return EXIT_OK
    try:
        found = list_runs(log, limit)
    finally:
        log.close()
    print_line(format_runs(found).rstrip("\n") if found else "no runs recorded yet")
    return EXIT_OK


def _note_rewritten_logs(log, jobs: list[dict]) -> None:
    """Mark jobs whose log file a later attempt of the same job has written over."""
    from fileflow.runlog.history import jobs_named

    for job in jobs:
        if job["log_path"]:
            later = [j["id"] for j in jobs_named(log, job["name"], 100)
                     if j["id"] > job["id"] and j["log_path"] == job["log_path"]]
            if later:
                job["log_rewritten_by"] = min(later)


def show_log(db_url: str | None, what: str, tail_lines: int = 15) -> int:
    """`fileflow log RUN|JOB|FILE`: a run (its number, or `last`), a job (#ID or its
    name, e.g. count[sample=a]) or a file (the job that last made it)."""
    from fileflow.runlog.history import get_job, get_run, jobs_for_path, jobs_named, latest_run_id, run_jobs
    from fileflow.views.runs import format_job, format_run

    log = open_history(db_url)
    if log is None:
        raise FileflowError(_NO_LOG)
    try:
        if what == "last" or what.isdigit() or what.lower().startswith("run:"):
            number = what.split(":", 1)[-1]
            run_id = latest_run_id(log) if what == "last" else int(number)
            if run_id is None or (found := get_run(log, run_id)) is None:
                raise FileflowError(f"log {what}: no such run in the run log (see 'fileflow runs')")
            print_line(format_run(found, run_jobs(log, run_id)).rstrip("\n"))
            return EXIT_OK
        if what.startswith("#") or what.lower().startswith("job:"):
            number = what.lstrip("#").split(":", 1)[-1]
            job = get_job(log, int(number)) if number.isdigit() else None
            if job is None:
                raise FileflowError(f"log {what}: no such job in the run log")
            _note_rewritten_logs(log, [job])
            print_line(format_job(job, tail_lines).rstrip("\n"))
            return EXIT_OK
        attempts = jobs_for_path(log, os.path.normpath(what)) or jobs_named(log, what)
        if not attempts:
            raise FileflowError(f"log {what}: no run, job or file of that name in the run log "
                                "(a run is a number or 'last', a job #ID or its name such as "
                                "count[sample=a], a file a path some job made)")
        _note_rewritten_logs(log, attempts[:1])
        print_line(format_job(attempts[0], tail_lines).rstrip("\n"))
        if len(attempts) > 1:
            older = ", ".join(f"#{j['id']} ({j['state']})" for j in attempts[1:])
            print_line(f"\nearlier attempts: {older}")
        return EXIT_OK
    finally:
        log.close()


def report(options: BuildOptions | None, db_url: str | None, run: str, out: str) -> int:
    """`fileflow report -o report.html`: one self-contained HTML page for a run."""
    from fileflow.runlog.history import file_records, get_run, latest_run_id, run_jobs
    from fileflow.views.html_report import ReportData, render_report

    log = open_history(db_url)
    if log is None:
        raise FileflowError(_NO_LOG)
    try:
        run_id = latest_run_id(log) if run == "last" else (int(run) if run.isdigit() else None)
        if run_id is None or (found := get_run(log, run_id)) is None:
            raise FileflowError(f"report: no run {run} in the run log (see 'fileflow runs')")
        jobs = run_jobs(log, run_id)
        files = file_records(log, [p for j in jobs for p in j["outputs"]])
        _note_rewritten_logs(log, [j for j in jobs if j["state"] == "failed"][:200])
    finally:
        log.close()
    rules, note = _run_rule_graph(options, jobs)
    _write(out, render_report(ReportData(found, jobs, files, rules, note)))
    print(f"fileflow: wrote {out} (run {run_id}, {len(jobs)} jobs)", file=sys.stderr)
    return EXIT_OK


def flowfile_rule_graph(options: BuildOptions | None):
    """The rule graph of the Flowfile for its default targets (a View of rules), or None
    and why not."""
    return _run_rule_graph(options, [])


def _run_rule_graph(options: BuildOptions | None, jobs: list[dict]):
    """The rule graph of the Flowfile as it is now, for its default target and what the
    run made; None and the reason when it cannot be worked out (no Flowfile, an input
    gone ...)."""
    from fileflow.views.graph_view import rules_view

    if options is None:
        return None, "no Flowfile here, so no rule graph"
    made = list(dict.fromkeys(p for j in jobs for p in j["outputs"]))

    def with_targets(targets):
        opts = replace(options, targets=targets)
        workflow, g, _, _ = _looked(opts, want_plan=False)
        return workflow, g

    try:
        try:
            workflow, g = with_targets(())
            if any(p not in g.producer for p in made):
                _, g = with_targets(made + list(workflow.default_targets))
        except FileflowError:
            if not made:
                raise
            _, g = with_targets(made)
    except FileflowError as err:
        first = (str(err).strip().splitlines() or ["error"])[0]
        return None, f"no rule graph: the Flowfile does not give this run's jobs now ({first})"
    return rules_view(g), ""
