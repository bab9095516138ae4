"""The build command, the composition root: load, resolve and plan (the steps of
fileflow.cli.steps, which the commands that look share), then lock, schedule and record.
Layer 5.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import replace

from fileflow.cli.conda_envs import with_software
from fileflow.cli.dry_run import print_dry_run
from fileflow.cli.orphans import stop_orphans
from fileflow.cli.steps import (
    BuildOptions,
    incremental,
    load_resolution,
    local_cores,
    local_view_of,
    no_gc_pauses,
    open_runlog_at,
    open_store,
    plan_build,
    previous_plan,
    print_line,
)
from fileflow.errors import EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK, FileflowError, FlowfileError
from fileflow.printable import printable

__all__ = ["build", "locked_plan", "check_protected"]


def _noop_key(options: BuildOptions):
    """The key of the no-op shortcut (fileflow.run.noop_cache), or None where it does not apply:
    forced jobs, part of the workflow (--until, --omit-from, --batch), other rerun
    triggers, or a run log that is not a SQLite file."""
    if (options.forceall or options.forcerun or options.force_targets or options.until
            or options.omit_from or options.batch or options.rerun_triggers is not None):
        return None
    from fileflow.run.noop_cache import cache_key

    return cache_key(options.flowfile, options.targets, options.config, options.configfiles,
                     options.db_url or os.environ.get("FILEFLOW_DB") or None,
                     options.default_resources, options.groups)


def _planned_nothing(options, noop_key, clock, runlog_before, runlog, store, workflow, graph,
                     plan) -> int:
    """Say so; record what was hashed; leave the no-op cache for the next build."""
    from fileflow.cli.noop_saves import only_settled_again, save_after_noop
    from fileflow.run.noop_cache import runlog_after_write, runlog_states

    # A graph waiting for a checkpoint is not known yet: no shortcut then. One that read
    # complete checkpoints' outputs is watched through them: their states are the plan's, and
    # the folders glob_wildcards() listed in them and the files read_text() read are watched.
    cacheable = noop_key is not None and not plan.warnings and not graph.waiting
    runlog_clock = None
    if plan.fresh_states:
        cacheable = cacheable and only_settled_again(plan)
        before_write = runlog_states(noop_key) if cacheable else []
        runlog.record_files(plan.fresh_states)
    _keep_plan(options, plan, runlog.generation(), store)
    if plan.fresh_states:
        runlog.close()  # closing the last connection may write the run log again
        after = (runlog_after_write(noop_key, runlog_before, before_write, store)
                 if cacheable else None)
        cacheable = after is not None
        if after is not None:
            runlog_before, runlog_clock = after
    _nothing_to_do(graph)
    if cacheable:
        save_after_noop(noop_key, clock, runlog_before, workflow, graph, plan, options,
                        runlog_clock)
    return EXIT_OK


def build(options: BuildOptions) -> int:
    started = time.monotonic()
    if options.remote_staging == "job" and not options.cluster:
        raise FileflowError("--remote-staging job needs --cluster slurm|drmaa: without a "
                            "cluster every job runs on this machine, where fileflow itself "
                            "stages remote files (--remote-staging head, the default)")
    noop_key = _noop_key(options)
    runlog_before: list = []
    if noop_key is not None:  # nothing changed since a build found nothing to do: say so now
        from fileflow.run.noop_cache import nothing_to_do, runlog_states

        jobs = nothing_to_do(noop_key)
        if jobs is not None:
            print_line(f"nothing to do: all {jobs} jobs are up to date")
            return EXIT_OK
    store = open_store()
    if not options.dry_run:  # its run log's folder, where the file system's clock is read
        with contextlib.suppress(OSError):
            os.makedirs(".fileflow", exist_ok=True)
    # The file system's time, before any state of this build is taken (a dry run writes
    # nothing, not even the probe: it records nothing, and an older reading is still true).
    clock = store.clock if options.dry_run else store.tick()
    if noop_key is not None:
        runlog_before = runlog_states(noop_key)  # before the run log is read
    with no_gc_pauses():
        workflow, graph, state = load_resolution(options, store, keep=True)
        runlog, generation = open_runlog_at(options.db_url, write=not options.dry_run)
    try:
        with no_gc_pauses():
            previous = previous_plan(options, graph, generation)
            # With what the last plan knew, only the records of the jobs decided again
            # are read; else all of them.
            partial = previous is not None and runlog is not None and not (
                graph.waiting or graph.readers)
            recorded = {} if partial or runlog is None else runlog.load_targets()
            plan = plan_build(options, graph, recorded, store, previous=previous,
                              load_records=runlog.load_targets if partial else None)
        if not options.quiet:  # -q: errors and the summary line only
            for warning in plan.warnings:
                print(printable(warning), file=sys.stderr)
        if not options.touch:  # --touch overwrites nothing
            check_protected(plan)
        if options.dry_run:
            print_dry_run(plan, options.quiet, options.print_commands)
            return EXIT_OK
        if not plan.reasons:
            return _planned_nothing(options, noop_key, clock, runlog_before, runlog, store,
                                    workflow, graph, plan)
        if options.touch:
            return _touch(plan, runlog, store, options, generation)
        return _run(options, graph, plan, runlog, store, started, generation, workflow, state,
                    (noop_key, clock))
    finally:
        if runlog is not None:
            runlog.close()


def _keep_plan(options, plan, generation: int | None, store, written=None) -> None:
    """After a build that ran all it planned, or found nothing to do: what its plan knew,
    for the next build's (fileflow.run.plan_cache); `generation`: the run log's after the
    build's last write; `written`: the outputs it wrote, found as recorded after it."""
    from fileflow.run import plan_cache

    if incremental(options) and generation is not None:
        plan_cache.save(plan, generation, store.granularity_ns, written or {})
    else:
        plan_cache.discard()


def _nothing_to_do(graph) -> int:
    print_line(f"nothing to do: all {len(graph)} jobs are up to date")  # the summary, even with -q
    return EXIT_OK


def _recorded_jobs(graph, plan) -> int:
    """How many of the planned jobs the run log will record: all but target rules such as
    `all`, which have nothing to run."""
    return sum(1 for j in plan.reasons
               if graph.jobs[j].outputs or graph.jobs[j].rule.action is not None)


def _run(options, graph, plan, runlog, store, started, generation, workflow, state=None,
         noop=(None, None)) -> int:
    """Run the plan under the build lock; while jobs wait for checkpoints that ran, grow
    the graph (their outputs now decide it: `state`, the walk that resolved it, resumes)
    and run the new part, until nothing waits. One run in the run log, however many times
    the graph grew. A run of all it planned, in one round, leaves the plan state and the
    no-op shortcut (`noop`: its key, and the clock read before the graph was loaded)."""
    from fileflow import __version__
    from fileflow.run.run_result import RunResult
    from fileflow.run.script_jobs import check_runtimes

    _interrupt_on_termination()
    backend = None
    if options.cluster == "drmaa":  # library, session and templates checked before anything runs
        from fileflow.cli.cluster_setup import drmaa_backend
        backend = drmaa_backend(options, graph, plan)
    lock, plan = locked_plan(options, graph, plan, runlog, store, generation)
    if not plan.reasons:  # another build made it all meanwhile
        lock.release()
        return _nothing_to_do(graph)
    total = RunResult()
    config, hooks = workflow.config, workflow.hooks
    kept = False
    try:
        adoptable, tags = [], []
        if options.cluster:  # before stop_orphans, which would close their records
            from fileflow.cli.cluster_setup import cluster_orphans
            adoptable, tags = cluster_orphans(runlog, options.cluster, os.getcwd())
        stop_orphans(runlog)
        base_settings = _settings(options, config)
        planned = _recorded_jobs(graph, plan)
        run_id = runlog.start_run(list(options.argv), os.getcwd(), __version__, planned)
        extensions = 0
        _hook("onstart", hooks, runlog, run_id, options, "running",
              f"{len(plan.reasons)} to run")
        try:
            while True:
                # Environments of the rules this round runs, made before any of its jobs.
                settings = with_software(base_settings, options, graph, plan)
                _check_resources(graph, plan, settings)
                check_runtimes((graph.jobs[j] for j in plan.reasons), settings.python)
                check_protected(plan)  # planned again under the lock
                result = _round(options, graph, plan, runlog, store, run_id, settings,
                                (adoptable, tags, backend), total)
                adoptable, tags = [], []
                if result.interrupted or not (plan.held or graph.waiting) or (
                        not result.ok and not options.keep_going) or (
                        total.failed and not _ran_checkpoint(plan, total.failures)):
                    break
                lock.release()
                extensions += 1
                graph, plan, lock, planned, state = _extended(
                    options, graph, plan, runlog, store, total.failures,
                    (run_id, extensions, planned), state)
                if not plan.reasons:
                    break
                if options.cluster == "drmaa":  # the last round closed its session
                    from fileflow.cli.cluster_setup import drmaa_backend
                    backend = drmaa_backend(options, graph, plan)
        except BaseException:
            with contextlib.suppress(Exception):  # the run log may be what failed
                runlog.finish_run(run_id, "failed", total.done, total.failed)
            raise
        status = "interrupted" if total.interrupted else ("success" if total.ok else "failed")
        if status != "interrupted":
            _hook("onsuccess" if total.ok else "onerror", hooks, runlog, run_id, options,
                  status, f"{total.done} done, {total.failed} failed, "
                          f"{total.skipped} skipped, {total.not_run} not run")
        runlog.finish_run(run_id, status, total.done, total.failed)
        kept = status == "success" and not extensions and incremental(options)
        # Read under the lock, before the no-op shortcut takes the run log's state.
        generation_after = runlog.generation() if kept else None
        if not kept:
            _keep_plan(options, plan, None, store)
    finally:
        lock.release()
    if kept:
        _leave_caches(options, noop, workflow, plan, runlog, store, generation_after)
    return _report_result(total, started)


def _leave_caches(options, noop, workflow, plan, runlog, store, generation: int | None) -> None:
    """After a build that ran all it planned, in one round: the no-op shortcut, then the
    plan state, which vouches for the outputs the shortcut's check found as recorded."""
    from fileflow.cli.noop_saves import save_after_build

    noop_key, clock = noop
    written = save_after_build(noop_key, clock, workflow, plan.graph, plan, options, runlog,
                               store)
    _keep_plan(options, plan, generation, store, written)


def _round(options, graph, plan, runlog, store, run_id, settings, cluster, total):
    """Run the jobs the plan runs (one round of a build: all of it, unless checkpoints
    decide more); the scheduler's result, also added to `total` (even when it raises)."""
    from fileflow.executors.local import MAX_SPAWNERS, LocalExecutor, process_run_tag
    from fileflow.run.progress import make_reporter, progress_mode
    from fileflow.run.scheduler import Scheduler

    adoptable, tags, backend = cluster
    if options.cluster:
        from fileflow.cli.cluster_setup import cluster_executor
        executor = cluster_executor(options, graph, run_id, adoptable, tags, backend)
    else:  # processes start from threads of their own while the run loop goes on
        executor = LocalExecutor(tag=process_run_tag(run_id, os.getcwd()),
                                 spawners=min(settings.jobs, MAX_SPAWNERS))
    reporter = make_reporter(len(plan.reasons), progress_mode(options.progress, options.quiet),
                             options.print_commands)
    staging = None
    # Remote inputs are downloaded before their jobs, outputs uploaded after.
    if plan.local_view is not None:  # the graph names remote files (local_view_of)
        from fileflow.remote.staging import Staging
        staging = Staging(store.remote, options.keep_remote, store.stage_root,
                          in_job=options.remote_staging == "job")
    grouping = None
    if options.cluster and staging is None and any(job.rule.group for job in graph.jobs):
        from fileflow.engine.groups import make_groups
        grouping = make_groups(graph.jobs, graph.deps, plan.order, plan.reasons,
                               options.group_components)
    scheduler = Scheduler(plan, executor, runlog, run_id, store, settings, reporter, staging,
                          grouping)
    try:
        return scheduler.run()
    finally:
        _add_result(total, scheduler.result)
        reporter.close()
        if staging is not None:
            staging.cleanup()
            if staging.summary() and not options.quiet:
                print_line(staging.summary())
        if options.cluster:
            from fileflow.cli.cluster_setup import release_unclaimed
            release_unclaimed(executor, scheduler.result)


def _add_result(total, result) -> None:
    total.done += result.done
    total.failed += result.failed
    total.skipped += result.skipped
    total.not_run += result.not_run
    total.interrupted = total.interrupted or result.interrupted
    total.failures.extend(result.failures)


def _extended(options, graph, plan, runlog, store, failed: list[str], extension, state):
    """After a round that ran checkpoint jobs: the graph grown (what they wrote now decides
    the jobs that waited for them), planned, and locked; the run log records the extension
    (`extension`: run id, how many times the graph grew, and how many jobs the run planned
    before), with the jobs planned in all rounds as the run's planned count. Jobs that
    failed in this build, and those below them, do not run again (-k). A round that ran no
    checkpoint while jobs still wait is an error naming one. Returns the graph, plan, lock,
    the new planned count and the walk's state."""
    from fileflow.errors import WorkflowError

    if not _ran_checkpoint(plan, failed):
        waiting = graph.waiting[0].name if graph.waiting else graph.jobs[min(plan.held)].name
        raise WorkflowError(f"job {waiting} waits for a checkpoint job that this build cannot run")
    ran = [j for j in plan.to_run if graph.jobs[j].rule.checkpoint
           and graph.jobs[j].name not in failed]
    names = [graph.jobs[j].name for j in ran]
    # What this build ran is not forced again (-F, -R, --force): it would run in every round.
    plan.force = replace(plan.force, ran=plan.force.ran.union(graph.jobs[j].name
                                                              for j in plan.reasons))
    known = {job.name for job in graph.jobs}  # before the walk resumes and adds to it
    grown = _grown(plan, ran, runlog, store, state) if state is not None else None
    if grown is None:  # resolved and planned again, whole
        with no_gc_pauses():
            _, graph, state = load_resolution(options, store)
            plan = plan_build(options, graph, runlog.load_targets(), store, plan.force.ran)
        added = sum(1 for job in graph.jobs if job.name not in known)
    else:
        plan, added = grown
    skip = frozenset(failed)
    lock, plan = locked_plan(options, graph, _without(plan, skip), runlog, store,
                             runlog.generation(), skip)
    run_id, number, planned = extension
    planned += _recorded_jobs(graph, plan)
    runlog.graph_extended(run_id, number, names, added, planned)
    if not options.quiet:
        print_line(f"checkpoints done: the graph has {len(graph)} jobs ({added} new); "
                   f"{len(plan.reasons)} to run")
    return graph, plan, lock, planned, state


def _grown(plan, ran: list[int], runlog, store, state):
    """The graph grown where it waited (fileflow.engine.extend): (the plan of the jobs
    added and of those held, how many jobs were added); None when the checkpoint jobs that
    ran change jobs already known, which only resolving and planning again settles."""
    from fileflow.engine import extend

    if not extend.resumable(plan, ran):
        return None
    graph = plan.graph
    before = len(graph.jobs)
    with no_gc_pauses():
        added = extend.resume(state)
        job_ids = extend.to_decide(plan, before, ())
        if not extend.plain(graph, job_ids):
            return None
        recorded = runlog.load_targets(extend.paths_of(graph, job_ids))
        grown = extend.extend_plan(plan, job_ids, store, recorded)
        # The jobs added may name the graph's first remote files: their commands see
        # them at their staged local paths.
        grown.local_view = local_view_of(graph, store)
        return grown, added


def _ran_checkpoint(plan, failed: list[str]) -> bool:
    """Whether the plan ran a checkpoint job that did not fail."""
    jobs = plan.graph.jobs
    return any(jobs[j].rule.checkpoint and jobs[j].name not in failed for j in plan.reasons)


def _without(plan, failed: frozenset[str]):
    """The plan without the jobs named in `failed` and those below them."""
    if failed:
        graph = plan.graph
        for job_id in graph.downstream_of([j.id for j in graph.jobs if j.name in failed]):
            plan.reasons.pop(job_id, None)
            plan.held.add(job_id)
    return plan


def _hook(name: str, hooks, runlog, run_id: int, options, status: str, counts: str) -> None:
    """Run a hook of the Flowfile, if it has it; its failure is only reported."""
    if name not in hooks:
        return
    from fileflow.run.hooks import run_hook, write_summary

    try:
        summary = write_summary(runlog, run_id, status, options.argv, counts)
    except OSError as exc:
        print(printable(f"warning: the {name} hook did not run: cannot write the run's summary "
                        f"{exc.filename!r}: {exc.strerror}"), file=sys.stderr)
        return
    warning = run_hook(name, hooks, runlog, run_id, summary)
    if warning:
        print(printable(warning), file=sys.stderr)


def _settings(options: BuildOptions, config):
    """The run loop's settings: how many jobs at once (all cores here, or as many queued on
    a cluster), resource limits, failure handling."""
    from fileflow.run.settings import Settings

    jobs = local_cores(options)
    if options.cluster and not options.jobs:
        from fileflow.cli.cluster_setup import DEFAULT_CLUSTER_JOBS as jobs
    return Settings(jobs=jobs, resources=options.resources,
                    keep_going=options.keep_going, latency_wait=options.latency_wait,
                    default_timeout=options.default_timeout, retry_delay=options.retry_delay,
                    executor_name=options.cluster or "local", workdir=os.getcwd(),
                    cluster=bool(options.cluster), config=config)


def _report_result(result, started: float) -> int:
    """The run's one-line summary (stderr when it did not succeed) and its exit code."""
    elapsed = time.monotonic() - started
    parts = [f"{result.done} done", f"{result.failed} failed"]
    if result.skipped:
        parts.append(f"{result.skipped} skipped (their inputs came out unchanged)")
    if result.not_run:
        parts.append(f"{result.not_run} not run")
    summary = f"fileflow: {', '.join(parts)} in {elapsed:.1f} s"
    if result.interrupted:
        print(f"{summary}; interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not result.ok:
        failed = ", ".join(result.failures[:5]) + (" ..." if len(result.failures) > 5 else "")
        print(printable(f"{summary}; failed: {failed}"), file=sys.stderr)
        return EXIT_JOB_FAILED
    print_line(summary)
    return EXIT_OK


def locked_plan(options, graph, plan, runlog, store, generation: int,
                skip: frozenset[str] = frozenset()):
    """The build lock over what the jobs that run write and read, and the plan it covers.
    `generation` is the run log's when `plan` was made. When the lock had to wait, or the run
    log changed since (another build recorded jobs, perhaps finishing just before this one
    took the lock), what is out of date may have changed: plan again, and if the new plan
    writes or reads outside the lock, lock again."""
    from fileflow.run.locks import BuildLock

    while True:
        lock = BuildLock(".", *_files_of_jobs(graph, plan))
        try:
            waited = lock.acquire(options.lock_timeout, options.quiet)
            now = runlog.generation()
            if not waited and now == generation:
                return lock, plan
            generation = now
            store.forget_remote()  # what the other build uploaded is seen anew
            plan = _without(plan_build(options, graph, runlog.load_targets(), store,
                                       plan.force.ran), skip)
        except BaseException:
            lock.release()
            raise
        if lock.covers(*_files_of_jobs(graph, plan)):
            return lock, plan
        lock.release()


def _files_of_jobs(graph, plan) -> tuple[set[str], set[str]]:
    """(outputs, inputs) of the jobs the plan runs: what the build lock guards."""
    jobs = [graph.jobs[j] for j in plan.reasons]
    return {p for job in jobs for p in job.outputs}, {p for job in jobs for p in job.inputs}


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP (a closed terminal, a batch system's kill) clean up like Ctrl-C."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def check_protected(plan) -> None:
    """Refuse, while planning, a plan that would overwrite an existing protected() output:
    exit 2 before anything starts or is deleted, naming the file, its job and rule and the
    rule's output line. Dry runs refuse alike."""
    from fileflow.engine.plan import protected_in_the_way
    from fileflow.engine.staleness import KIND_UPSTREAM
    from fileflow.errors import FlowfileError

    found = protected_in_the_way(plan)
    if not found:
        return
    job_id, path = found[0]
    job = plan.graph.jobs[job_id]
    rule = job.rule
    reasons = plan.reasons[job_id]
    why = "; ".join(str(r) for r in reasons)
    more = f" (and {len(found) - 1} more protected outputs)" if len(found) > 1 else ""
    hint = "delete it first if it must be remade"
    if all(r.kind == KIND_UPSTREAM for r in reasons):
        made = [p for p in job.inputs if plan.graph.producer.get(p) in plan.reasons]
        shown = " ".join(made[:3]) + (" ..." if len(made) > 3 else "")
        hint += (f"; if its inputs may come out unchanged, build them first "
                 f"('fileflow build {shown}')")
    who = f"rule {rule.name}" if job.name == rule.name else f"job {job.name} of rule {rule.name}"
    raise FlowfileError(f"{who} would overwrite protected "
                        f"output {path!r}{more} ({why})",
                        rule.directive_pos.get("output", rule.pos), hint)


def _check_resources(graph, plan, settings) -> None:
    for job_id in plan.reasons:
        job = graph.jobs[job_id]
        for key, limit in settings.resources.items():
            need = job.values.resources.get(key, 0)
            if isinstance(need, str):  # a limit cannot count it: say so, do not ignore it
                raise FlowfileError(
                    f"rule '{job.rule.name}' gives resource '{key}' the string {need!r} (job "
                    f"{job.name}), but --resources limits {key} as a number",
                    job.rule.directive_pos.get("resources"), f"give {key} a number, e.g. {key}=1")
            if isinstance(need, (int, float)) and need > limit:
                raise FileflowError(f"job {job.name} needs {key}={need:g} but --resources "
                                    f"allows {key}={limit:g}")


def _touch(plan, runlog, store, options, generation: int) -> int:
    """--touch: record the jobs that would run as done, without running them. Under the
    build lock: a build running now may be writing those very outputs."""
    # The lock holds what the jobs write and read: --touch records their inputs' digests.
    lock, plan = locked_plan(options, plan.graph, plan, runlog, store, generation)
    if not plan.reasons:
        lock.release()
        return _nothing_to_do(plan.graph)
    try:
        return _record_touched(plan, runlog, store, options)
    finally:
        lock.release()


def _record_touched(plan, runlog, store, options) -> int:
    """Record the outputs of the jobs that would run as made now. An output that does not
    exist is left missing, as Snakemake's --touch does (its job runs next time), and said so;
    an output the record says a job made, unchanged since, keeps that job."""
    from fileflow.state import RecordedTarget

    jobs = plan.graph.jobs
    targets = []
    missing = []
    # A temp() output deleted once its consumers were done stands as its record says (as
    # in the plan): it is recorded again as it was made, not reported missing.
    virtual = {p: plan.observed[p] for p in plan.virtual_temp}
    paths = [p for j in plan.reasons for p in jobs[j].outputs if p not in virtual]
    states = {**store.with_digests(store.stat_many(paths), {}), **virtual}
    digests = {**store.with_digests(store.stat_many(
        {p for j in plan.reasons for p in jobs[j].inputs if p not in virtual}), plan.recorded),
        **virtual}
    now = time.time()
    for job_id in plan.to_run:
        job = jobs[job_id]
        inputs = {p: digests[p].digest for p in job.inputs if digests[p].digest}
        parts = plan.parts(job_id)
        for path in job.outputs:
            st = states[path]
            if not st.exists:
                missing.append(path)
                continue
            rec = plan.recorded.get(path)
            made_by = rec.job_id if rec is not None and rec.digest == st.digest else None
            targets.append(RecordedTarget(path, True, st.size, st.mtime_ns, st.digest,
                                          signature=plan.signature(job_id), input_digests=inputs,
                                          job_id=made_by, built_at=now, changed_at=now,
                                          ctime_ns=st.ctime_ns, seen_ns=st.seen_ns,
                                          link=st.link, code_digest=parts[0],
                                          params_digest=parts[1]))
    runlog.mark_complete(targets)
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        print(f"warning: --touch: {len(missing)} output(s) not touched because they do not "
              f"exist: {shown}; their jobs run in the next build", file=sys.stderr)
    if not options.quiet:
        print_line(f"touched: {len(targets)} outputs of {len(plan.reasons)} jobs recorded as up to date")
    return EXIT_OK
