"""Wiring for `--cluster NAME`: the executor with its backend, and the jobs a killed fileflow
left on the cluster, found in the run log so the next build adopts them. Layer 5.
"""
from __future__ import annotations

import hashlib
import os
import socket
import sys

from fileflow.errors import FileflowError
from fileflow.processes import live_process

__all__ = ["cluster_job_name", "cluster_orphans", "cluster_executor", "drmaa_backend", "release_unclaimed",
           "DEFAULT_CLUSTER_JOBS"]

DEFAULT_CLUSTER_JOBS = 100   # -j when not given: jobs queued or running on the cluster at once


def cluster_job_name(run_id: int, workdir: str) -> str:
    """The job name every cluster job of a run carries: status queries select by it. The
    working directory's digest keeps apart runs of different directories with equal ids."""
    digest = hashlib.sha1(os.path.abspath(workdir).encode("utf-8", "surrogateescape")).hexdigest()
    return f"ff{run_id}-{digest[:8]}"


def _dead_runs(rows) -> set[int]:
    return {r["run_id"] for r in rows
            if live_process(r["pid"], started_by=r["run_started"]) is None}


def cluster_orphans(runlog, executor_name: str, workdir: str):
    """Jobs of `executor_name` still 'running' in runs whose fileflow is gone: returned as
    Adoptable (this build takes them over) with those runs' tags; their rows are closed
    now (the new run records them again under its own id)."""
    from fileflow.executors.cluster_adopting import Adoptable
    from fileflow.executors.cluster_groups import read_member_note

    rows = [r for r in runlog.unfinished_jobs(socket.gethostname())
            if r["executor"] == executor_name]
    dead = _dead_runs(rows)
    # Every dead run's tag: a job submitted just before the crash, its id not yet recorded,
    # is found by it (and cancelled, since it cannot be matched to a job).
    tags = sorted({cluster_job_name(r["run_id"], workdir) for r in rows if r["run_id"] in dead})
    found = [r for r in rows if r["run_id"] in dead and r["external_id"]]
    if not found:
        return [], tags
    adoptable = [Adoptable(r["name"], r["command"] or "", str(r["external_id"]),
                           read_member_note(r.get("message"))) for r in found]
    runlog.close_abandoned(dead, [r["id"] for r in found],
                           message="fileflow stopped while the job was on the cluster; "
                                   "the next build took the job over")
    print(f"fileflow: found {len(found)} {executor_name} job(s) left by a fileflow that is "
          "gone; waiting for them instead of submitting them again", file=sys.stderr)
    return adoptable, tags


def drmaa_backend(options, graph, plan):
    """The DRMAA backend, its session open: a library that cannot be loaded, a DRM that
    cannot be reached or a native template a job cannot fill is reported now, before any
    job runs or is recorded."""
    from fileflow.executors.base import JobSpec
    from fileflow.executors.drmaa import DrmaaBackend, open_session

    backend = DrmaaBackend(open_session(), options.drmaa_native)
    try:
        for job_id in plan.reasons:
            job = graph.jobs[job_id]
            if job.rule.local or (not job.outputs and job.rule.action is None):
                continue
            backend.request(JobSpec(job.id, job.name, job.rule.name, "", "",
                                    threads=job.values.threads, resources=job.values.resources,
                                    wildcards=job.wildcards))
    except BaseException:
        backend.close()
        raise
    return backend


def cluster_executor(options, graph, run_id: int, adoptable, tags, backend=None):
    from fileflow.executors.cluster import ClusterExecutor
    from fileflow.executors.local import LocalExecutor, process_run_tag

    workdir = os.getcwd()
    if backend is not None:
        pass  # made before the run started (drmaa_backend)
    elif options.cluster == "slurm":
        import shutil

        from fileflow.executors.slurm import SlurmBackend

        missing = [c for c in ("sbatch", "squeue", "scancel") if shutil.which(c) is None]
        if missing:
            raise FileflowError(f"--cluster slurm: {', '.join(missing)} not found on PATH "
                                "(run fileflow on a machine that can submit Slurm jobs)")

        backend = SlurmBackend(workdir=workdir)
    else:
        raise FileflowError(f"--cluster {options.cluster} is not available in this version")
    local_rules = {job.rule.name for job in graph.jobs if job.rule.local}
    unused = sorted(set(options.set_resources) - {job.rule.name for job in graph.jobs})
    if unused:
        print(f"fileflow: warning: --set-resources names rule(s) with no job in this build: "
              f"{', '.join(unused)}", file=sys.stderr)
    # localrules run here: tagged as a local build's jobs, so that a later build finds them
    # by the tag too should this one die before their pids are on record (cli/orphans.py)
    executor = ClusterExecutor(backend, LocalExecutor(tag=process_run_tag(run_id, workdir)),
                               workdir=workdir,
                               tag=cluster_job_name(run_id, workdir), local_rules=local_rules,
                               local_cores=options.local_cores or os.cpu_count() or 1,
                               use_arrays=options.job_arrays, group_cores=options.group_cores,
                               group_limits=options.resources)
    executor.adopt(adoptable, tags)
    strays = executor.cancel_strays()
    if strays:
        print(f"fileflow: cancelled {len(strays)} cluster job(s) a dead fileflow submitted "
              f"without recording them: {', '.join(strays[:10])}", file=sys.stderr)
    return executor


def release_unclaimed(executor, result=None) -> None:
    """Adopted jobs this build did not need (the Flowfile or the targets changed): cancel.
    After a build where every job succeeded, its job scripts go too (after a failure they
    stay, to look at)."""
    if result is not None and not result.failed and not result.interrupted:
        executor.remove_scripts()
    ids = executor.release_unclaimed()
    close = getattr(executor.backend, "close", None)
    if close is not None:
        close()  # the run's DRMAA session
    if ids:
        print(f"fileflow: cancelled {len(ids)} left-over cluster job(s) this build does not "
              f"need: {', '.join(ids[:10])}", file=sys.stderr)
