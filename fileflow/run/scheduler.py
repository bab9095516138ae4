"""The run loop: ready jobs go to the executor within the core and resource limits, finished
jobs are checked, hashed and recorded, and their dependents are released. Layer 4.

The loop holds readiness (the ready heap, how many upstream jobs each job still waits for),
retries, early cutoff (the staleness decision made again once a job's upstream jobs are
done) and Ctrl-C, and composes the parts that hold the rest:

    resources.py         the cores and --resources: what a job holds, and hands back
    recording_ahead.py   jobs recorded as started ahead of their processes
    file_waits.py        jobs waiting for their files to be hashed, downloaded, uploaded
    preparing.py         a job about to start made into what its executor runs
    recorder.py          what each tick writes to the run log
    run_result.py        what the loop reports as it goes, and returns

Work per finished job is proportional to its dependents. A scheduler tick writes the run log
in one transaction (jobs that ended, jobs about to start); a job's outputs are marked
incomplete in the log before its process starts, so a crash never leaves a partial output
looking done. Local jobs that will run whatever happens are recorded a few ticks ahead of
their processes, so that at -j 2 one transaction serves several jobs.
"""
from __future__ import annotations

import heapq
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import cast

from fileflow.engine.graph import Job
from fileflow.engine.groups import Grouping
from fileflow.engine.plan import Plan
from fileflow.engine.staleness import (
    KIND_UPSTREAM,
    Reason,
)
from fileflow.engine.store import FileStore
from fileflow.executors.base import JobOutcome
from fileflow.fs import make_read_only, remove_path
from fileflow.lang.job_values import retry_values
from fileflow.lang.units import span
from fileflow.run.background_hashing import INLINE_BYTES
from fileflow.run.file_waits import FileWaits
from fileflow.run.group_runs import GroupRuns
from fileflow.run.job_records import PreparedJob, ReadyJob, RunningJob, StartedJob
from fileflow.run.output_checks import clock_skew, failed_check, touch_outputs
from fileflow.run.preparing import JobPreparer
from fileflow.run.recorder import RunRecorder
from fileflow.run.recording_ahead import RecordedAhead
from fileflow.run.resources import ResourcePool
from fileflow.run.retry_waits import RetryWaits, retry_delay
from fileflow.run.run_result import Reporter, RunResult
from fileflow.run.script_jobs import remove_job_files
from fileflow.run.settings import Settings
from fileflow.runlog.log import JobResult
from fileflow.state import FileState

__all__ = ["Scheduler"]


class Scheduler:
    def __init__(self, plan: Plan, executor, runlog, run_id: int, store: FileStore,
                 settings: Settings, reporter: Reporter, staging=None,
                 grouping: Grouping | None = None):
        self.plan = plan
        # fileflow.remote.staging.Staging when the graph has remote files: it downloads their
        # inputs before they start and uploads their outputs before they count as done.
        self.staging = staging
        self.graph = plan.graph
        self.executor = executor
        # A local executor that starts processes from a thread of its own hands their pids
        # over once they started (submit() returns none).
        self.started_ids = getattr(executor, "started", None)
        self.store = store
        self.settings = settings
        self.reporter = reporter
        self.position = {job_id: i for i, job_id in enumerate(plan.order)}
        self.waiting = {j: sum(1 for d in self.graph.deps[j] if d in plan.reasons)
                        for j in plan.reasons}
        # The planned consumers of each job, for its temp() outputs: none in most graphs.
        self.consumers_left = {j: sum(1 for c in self.graph.dependents[j] if c in plan.reasons)
                               for j in range(len(self.graph.jobs))} if any(
            j.flagged("temp") for j in self.graph.jobs if j.values.flags) else {}
        self.ready: list[ReadyJob] = []  # a heap
        self.attempts: dict[int, int] = {}
        self.retry_waits = RetryWaits()  # failed jobs waiting for their next attempt
        self.active: dict[int, RunningJob] = {}
        # Remote files are moved and large files hashed off the loop: jobs wait there for
        # their inputs before they start, and for their outputs before they count as done.
        self.waits = FileWaits(store, staging, plan.recorded)
        self.pool = ResourcePool(settings)
        self.result = RunResult()
        self.ran: set[int] = set()
        self.ahead = RecordedAhead(plan, settings, staged=staging is not None)
        self.stopping = False
        self.signalled = False     # set by a signal handler while run() runs
        self.recorder = RunRecorder(runlog, run_id, plan, settings)
        self.preparer = JobPreparer(plan, store, settings, run_id, executor, staging,
                                    self.waits, self.recorder)
        self.clock_warned = False
        # Group jobs on a cluster (engine/groups.py): a group starts as a whole.
        self.groups = GroupRuns(grouping, plan, self.waiting, self.recorder) if grouping else None
        for job_id, count in self.waiting.items():
            if count == 0 and (self.groups is None or self.groups.pushable(job_id)):
                self._push(job_id)

    # ---------------------------------------------------------------- public

    def run(self) -> RunResult:
        total = len(self.plan.reasons)
        previous = self._defer_signals()
        self.preparer.prepare_logs()
        try:
            waits = self.waits
            while self.ready or self.active or self.ahead or waits or self.retry_waits:
                if self.signalled:
                    raise KeyboardInterrupt
                self._retries_due()
                self._submit_ready()
                if not self.active and not waits:
                    if (self.ready or self.ahead) and not self.stopping:
                        continue
                    if self.retry_waits and not self.stopping:
                        time.sleep(min(self.retry_waits.next_in(), 0.5))
                        continue
                    break
                self._prepare_next()
                transferring = waits.transferring
                timeout = 0.02 if waits.hashing else 0.05 if transferring else 0.5
                timeout = min(timeout, self.retry_waits.next_in())
                if self.executor.active():
                    outcomes = self.executor.wait(timeout)
                    self._record_pids()
                else:  # no process: only files being hashed (or transferred) are left
                    outcomes = []
                    waits.wait_for_hashes(timeout)
                if outcomes:
                    try:
                        self._hand_over(outcomes)
                    finally:  # even if a start failed: these ended and must be recorded
                        self._finish(outcomes)
                if waits.hashing:
                    self._hashes_ended()
                if transferring:
                    self._transfers_ended()
                self._tick(total)
            if self.signalled:  # it came as the last jobs ended (as their outputs were awaited)
                raise KeyboardInterrupt
            self.recorder.flush()
            self._tick(total)  # the target-only jobs reached last (such as `all`) count too
        except KeyboardInterrupt:
            self.result.interrupted = True
            stopped = self.executor.cancel()
            self._finish([o for o in stopped if o.ended_before_cancel])
            self._finish([o for o in stopped if not o.ended_before_cancel], cancelled=True)
            self._stop_hashes()
            self._stop_transfers()
            self._drop_ahead()
            self.recorder.flush()
        except BaseException:
            # fileflow's own error (an output it cannot prepare, the run log gone): no job
            # may go on running, unwatched and unrecorded, after fileflow exits.
            self._abort()
            raise
        finally:
            self.waits.close()
            discard = getattr(self.executor, "discard_unused_logs", None)
            if discard is not None:
                discard()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        r = self.result
        r.not_run = total - r.done - r.failed - r.skipped
        self.recorder.record_files()
        return self.result

    def _retries_due(self) -> None:
        """Jobs whose retry delay is over are ready again; none waits once the build stops."""
        if self.stopping:
            self.retry_waits.clear()
        for job_id in self.retry_waits.due():
            self._push(job_id)

    def _tick(self, total: int) -> None:
        r = self.result
        self.reporter.tick(r.done + r.skipped, r.failed, len(self.active), total)

    def _defer_signals(self) -> dict:
        """Ctrl-C, SIGTERM and SIGHUP only set a flag that the loop checks between steps: an
        interrupt raised in the middle of recording finished jobs would lose their results
        (left 'running' in the run log) or stop the cleanup of cancelled ones halfway."""
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handler(signum, frame):
            self.signalled = True

        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, handler)
        return previous

    def _abort(self) -> None:
        outcomes = self.executor.cancel()
        try:
            self._finish(outcomes, cancelled=True)
            self._stop_hashes()
            self._stop_transfers()
            self._drop_ahead()
            self.recorder.flush()
        except Exception:
            pass  # the first error is the one to report; their outputs stay incomplete

    # ---------------------------------------------------------------- readiness

    def _push(self, job_id: int) -> None:
        job = self.graph.jobs[job_id]
        heapq.heappush(self.ready, ReadyJob(-job.rule.priority, self.position[job_id], job_id))

    def _release(self, job_id: int) -> None:
        """A job is done (ran or skipped): dependents may become ready; temp files may go."""
        groups = self.groups
        for child in self.graph.dependents[job_id]:
            if child in self.waiting:
                left = self.waiting[child] = self.waiting[child] - 1
                if groups is not None and child in groups.group_of:
                    if (ready := groups.released(child, left)) >= 0:
                        self._push(ready)
                elif left == 0:
                    self._push(child)
        for dep in self.graph.deps[job_id] if self.consumers_left else ():
            left = self.consumers_left[dep] - 1
            self.consumers_left[dep] = left
            if left == 0:
                self._delete_temp(dep)

    def _delete_temp(self, job_id: int) -> None:
        """The temp() outputs of a job that no job of this build needs any more go, but
        those the targets name or that a target job without outputs reads (graph.kept_temp)."""
        job = self.graph.jobs[job_id]
        if not job.values.flags:
            return
        kept = self.graph.kept_temp
        for path in job.flagged("temp"):
            if path not in kept:
                remove_path(path)

    # ---------------------------------------------------------------- submitting

    def _submit_ready(self) -> None:
        if self.stopping:
            self.ready.clear()
            self._drop_ahead()
            return
        self._start_ahead()
        batch: list[PreparedJob] = []
        deferred: list[ReadyJob] = []
        pool = self.pool
        while self.ready and pool.free_cores > 0:
            entry = heapq.heappop(self.ready)
            if self.groups is not None and self.groups.waits_to_launch(entry.job_id):
                if not pool.fits(self.graph.jobs[entry.job_id]):
                    deferred.append(entry)
                else:
                    batch.extend(self._launch_group(entry.job_id))
                continue
            job = self.graph.jobs[entry.job_id]
            attempt = self.attempts.get(job.id, 1)
            if attempt > 1:  # resources and threads may depend on the attempt
                job = job.with_values(retry_values(job.values, job.rule, job.wildcards, attempt))
            reasons = self._redecide(job)
            if not reasons:
                self._skip(job, "its inputs came out unchanged (early cutoff)")
                continue
            if not job.outputs and job.rule.action is None:
                self._gather(job)  # a target rule such as `all`: nothing to run
                continue
            if not pool.fits(job):
                deferred.append(entry)
                continue
            pool.hold(job)
            batch.append(self.preparer.prepare(job, reasons, attempt))
        for entry in deferred:
            heapq.heappush(self.ready, entry)
        # Topped up before it runs dry, so that every core that frees finds a job on record.
        low = batch or len(self.ahead) < self.settings.jobs
        ahead = self.ahead.pick(self.ready, self.attempts) if low else []
        if not batch and not ahead:
            # What ended and the new pids wait for the next tick while jobs recorded ahead
            # keep the cores busy, but never long: a later build finds orphans by their pids.
            if not self.ahead or self.recorder.overdue():
                self.recorder.flush()
            return
        # One transaction per tick: the jobs that ended since the last one, and these.
        log_ids = self.recorder.tick(self.recorder.starts(batch, ahead))
        self.ahead.add(ahead, log_ids[len(batch):])
        if batch:
            self._start(batch, log_ids[:len(batch)])

    def _launch_group(self, first: int) -> list[PreparedJob]:
        """A group starts as one cluster job: its members, prepared, holding one slot."""
        assert self.groups is not None
        key, members = self.groups.launch(first, self._redecide, lambda job: self._skip(
            job, "its inputs came out unchanged (early cutoff)"))
        if members:
            self.pool.hold_group([job.id for job, _, _ in members], members[0][0])
        return [prepared._replace(spec=replace(prepared.spec, group=key, after=after,
                                               group_size=len(members)))
                for job, reasons, after in members
                for prepared in [self.preparer.prepare(job, reasons, 1)]]

    def _start_ahead(self) -> None:
        """Jobs recorded ahead start first, in order, with no run-log write: their rows and
        incomplete outputs are on record already."""
        queue, pool = self.ahead.queue, self.pool
        while queue and pool.free_cores > 0 and pool.fits(queue[0].job):
            entry = queue[0]
            prepared = entry.prepared
            if prepared is None:  # recorded ahead: a first attempt (RecordedAhead.pick)
                prepared = self.preparer.prepare(entry.job, entry.reasons, 1)
            del queue[0]  # only now: if prepare raised, _drop_ahead still sees it
            pool.hold(entry.job)
            self._start([prepared], [entry.log_id])

    def _prepare_next(self) -> None:
        """Prepare the jobs recorded ahead that start next (inputs hashed, old outputs
        removed) while the cores are busy, so a core that frees waits only for a spawn."""
        if self.stopping or self.signalled:  # they will not start: leave their outputs be
            return
        for entry in self.ahead.queue[:self.settings.jobs]:
            if entry.prepared is None:
                entry.prepared = self.preparer.prepare(entry.job, entry.reasons, 1)

    def _hand_over(self, outcomes: list[JobOutcome]) -> None:
        """Jobs that exited 0 with their outputs in place give their cores to jobs recorded
        ahead at once, before they are hashed and recorded (_finish): at -j 2 a core would
        otherwise stand idle through this process's bookkeeping. A failure goes the usual
        way, since it may stop the build."""
        if not self.ahead or self.stopping or self.signalled or self.staging is not None:
            return
        specs = [self.active[outcome.job_id].spec for outcome in outcomes]
        if not all(outcome.ok for outcome in outcomes) or not all(
                os.path.lexists(path) for spec in specs for path in spec.outputs):
            return
        for outcome, spec in zip(outcomes, specs):
            self.pool.hand_back_early(outcome.job_id, spec)
        self._start_ahead()

    def _start(self, batch: list[PreparedJob], log_ids: list[int]) -> None:
        for (job, spec, reasons, inputs), log_id in zip(batch, log_ids):
            self.active[job.id] = RunningJob(spec, log_id, inputs)
            self.reporter.job_started(job, spec, reasons)
        # Those waiting for their inputs are launched by _transfers_ended or _hashes_ended.
        batch, log_ids = self.waits.hold_back(batch, log_ids)
        self._launch(batch, log_ids)

    def _launch(self, batch: list[PreparedJob], log_ids: list[int]) -> None:
        """Hand these jobs, recorded as started, to the executor."""
        if not batch:
            return
        ids = self.executor.submit([prepared.spec for prepared in batch])
        if any(ids):  # else they follow once the processes started (_record_pids)
            self.recorder.launched(log_ids, ids)
        if getattr(self.executor, "remote", False):
            self._record_pids()  # members of a group handed over before: its job's id
            self.recorder.flush()  # cluster jobs outlive a crash: their ids must be on record now

    def _record_pids(self) -> None:
        """The pids of jobs whose processes started since the last call, recorded with the
        next tick, as submit()'s ids are; a job that ended meanwhile has its pid in its
        result."""
        if self.started_ids is None:
            return
        started = self.started_ids()
        if started:
            active = self.active
            pairs = [(active[job_id].log_id, pid) for job_id, pid in started if job_id in active]
            self.recorder.launched([log_id for log_id, _ in pairs], [pid for _, pid in pairs])

    def _drop_ahead(self) -> None:
        """The build stops: jobs recorded ahead whose processes never started are recorded
        as cancelled ("not started"). Their outputs stay marked incomplete, as after a crash,
        so the next build runs them: each had a lasting reason to run anyway."""
        dropped = self.ahead.drop()
        if not dropped:
            return
        self.recorder.unrecorded.extend(self.recorder.not_started(dropped))
        self.recorder.flush()

    def _transfers_ended(self) -> None:
        """Jobs whose inputs are staged start; a job whose input could not be had fails
        before it starts. Jobs whose uploads ended are recorded done, or failed. With no
        job running, wait here for a transfer instead of spinning."""
        idle = not self.executor.active()
        for waited, result in self.waits.transfers_ended(0.5 if idle else 0.0):
            if isinstance(waited, StartedJob):
                why = cast(str, result)  # its downloads ended: why one failed, or ""
                if why:
                    now = time.time()
                    self._finish([JobOutcome(waited.prepared.job.id, 1, now, now, message=why)])
                else:
                    self._launch([waited.prepared], [waited.log_id])
                continue
            # its uploads ended: the outputs' states, and why one failed or ""
            states, message = cast("tuple[dict[str, FileState], str]", result)
            job = self.graph.jobs[waited.job_id]
            if message:
                self.recorder.unrecorded.append(self._failed(job, waited.running, waited.outcome,
                                                             message, False))
            else:
                self.recorder.unrecorded.append(self._done(job, waited.running, waited.outcome,
                                                           states))

    def _stop_transfers(self) -> None:
        """Ctrl-C or fileflow's own error: no transfer starts any more; jobs waiting for
        their inputs or their uploads are recorded cancelled (their outputs not done)."""
        if self.staging is None:
            return
        parked, uploading = self.waits.stop_transfers()
        now = time.time()
        self._finish([JobOutcome(job_id, -15, now, now, message="cancelled while its remote "
                                 "inputs were downloading") for job_id in parked], cancelled=True)
        for ended in uploading:
            self.recorder.unrecorded.append(self._failed(
                self.graph.jobs[ended.job_id], ended.running, ended.outcome,
                "cancelled while its remote outputs were uploading", True))

    def _redecide(self, job: Job) -> tuple[Reason, ...]:
        """Once upstream jobs are done, decide again (early cutoff: Plan.decide_again)."""
        reasons = self.plan.reasons[job.id]
        if job.id in self.attempts or not any(r.kind == KIND_UPSTREAM for r in reasons):
            return reasons
        return self.plan.decide_again(job, self.ran, self.store.granularity_ns)

    def _gather(self, job: Job) -> None:
        """A target-only job (inputs, no outputs, no action: `all`) is done once its inputs
        are: it counts as one job done, as it counted in the plan, and has no run-log row."""
        self.result.done += 1
        self._release(job.id)

    def _skip(self, job: Job, why: str) -> None:
        self.result.skipped += 1
        self.reporter.job_skipped(job, why)
        self._release(job.id)

    # ---------------------------------------------------------------- finishing

    def _finish(self, outcomes: list[JobOutcome], cancelled: bool = False) -> None:
        results: list[JobResult] = []
        if not cancelled:  # the outputs observed below are stamped with the file system's time
            self.store.tick()
        for outcome in outcomes:
            running = self.active.pop(outcome.job_id)
            spec = running.spec
            job = self.graph.jobs[outcome.job_id]
            if outcome.started_at and outcome.ended_at:
                self.ahead.last_duration = outcome.ended_at - outcome.started_at
            seen = self.pool.hand_back_ended(outcome.job_id, spec)  # outputs checked already?
            message = outcome.message
            if spec.group and self.groups and self.groups.ended(job, running, outcome, cancelled):
                if self.groups.may_run_alone(job.id) and not self.stopping:
                    self._push(job.id)  # it waited for a member that failed
                continue
            if outcome.ok and not cancelled:
                local = self.preparer.local(job)
                touch_outputs(local)
                missing = [] if seen else self._await_outputs(local)
                if missing and self.signalled:  # stopped while waiting: the build is interrupted
                    results.append(self._failed(job, running, outcome, "cancelled while its "
                                                "outputs were waited for", True))
                    continue
                if missing:
                    message = (f"the command exited 0 but output {missing[0]!r} is missing "
                               f"(after waiting {self.settings.latency_wait:g} s)")
                elif problem := failed_check(local):
                    message = problem
                else:
                    # Files over the inline size come back unhashed (digest None).
                    states = self.store.observe(local.outputs, INLINE_BYTES)
                    if any(st.exists and st.digest is None for st in states.values()):
                        if local is job and not spec.group and self.waits.hash_outputs_apart(
                                states, job.id, running, outcome):
                            continue  # done when hashed (_hashes_ended); its core goes on
                        states = self.store.with_digests(states, {})
                    why = ""
                    if local is not job and spec.stage:  # the job uploaded them itself
                        states, why = self.staging.job_result(job, spec.stage, states)
                    elif local is not job and self.waits.upload(job, states, running, outcome):
                        continue  # done once its remote outputs are uploaded (_transfers_ended)
                    if not why:
                        results.append(self._done(job, running, outcome, states))
                        continue
                    message = why
            elif spec.stage and not cancelled:  # its own staging may say what failed
                message = self.staging.job_error(spec.stage) or message
            results.append(self._failed(job, running, outcome, message, cancelled))
        self.recorder.unrecorded.extend(results)  # written with the next tick's starts

    def _hashes_ended(self) -> None:
        """Jobs whose large outputs are hashed are done; jobs whose large inputs are hashed
        start, with those digests recorded as what they read."""
        for waited, states in self.waits.hashes_ended():
            if isinstance(waited, StartedJob):
                self.preparer.observe_inputs(states)
                waited.prepared.inputs.update((p, st.digest) for p, st in states.items()
                                              if st.digest)
                self._launch([waited.prepared], [waited.log_id])
                continue
            self.recorder.unrecorded.append(self._done(
                self.graph.jobs[waited.job_id], waited.running, waited.outcome, states))

    def _stop_hashes(self) -> None:
        """Stopped while files were hashed. A job whose outputs were being hashed ran to the
        end, but without digests it cannot count as done: recorded cancelled, its outputs
        kept and marked incomplete, so the next build makes them again. A job whose inputs
        were being hashed never started: recorded cancelled."""
        now = time.time()
        unstarted = []
        for waited in self.waits.stop_hashes():
            if isinstance(waited, StartedJob):
                unstarted.append(JobOutcome(waited.prepared.job.id, -15, now, now, message=(
                    "cancelled while its inputs were hashed")))
                continue
            self.recorder.unrecorded.append(self.recorder.failed(
                self.graph.jobs[waited.job_id], waited.running, waited.outcome, "cancelled",
                "stopped while its outputs were hashed"))
        if unstarted:
            self._finish(unstarted, cancelled=True)

    def _done(self, job: Job, running: RunningJob, outcome: JobOutcome,
              states: dict[str, FileState]) -> JobResult:
        spec = running.spec
        local = self.preparer.local(job)
        for path in local.flagged("protected"):
            make_read_only(path)
            if local is job and path in states:  # chmod sets the ctime: record the new one
                states[path] = states[path]._replace(ctime_ns=os.stat(path).st_ctime_ns)
        if "FILEFLOW_JOB" in spec.env:  # a script's job file; kept after a failure
            remove_job_files(spec.env["FILEFLOW_JOB"])
        self._check_clock(job, states if local is job else {})  # a store's clock is its own
        self.plan.observed.update(states)
        needed_logs = self.graph.needed_logs
        if needed_logs and (logs := [p for p in job.values.log.values if p in needed_logs]):
            # Another job reads them: it decides, and records, what they hold now.
            self.plan.observed.update(self.store.observe(logs))
        self.result.done += 1
        self.ran.add(job.id)
        self.reporter.job_finished(job, outcome)
        self._release(job.id)
        if self.consumers_left.get(job.id) == 0 and job.id not in self.graph.keeps_own_temp:
            self._delete_temp(job.id)  # no job of this build needs its temp() outputs
        return self.recorder.done(job, running, outcome, states)

    def _failed(self, job: Job, running: RunningJob, outcome: JobOutcome, message: str,
                cancelled: bool) -> JobResult:
        """Failed, cancelled, or outputs missing: nothing it wrote may be taken as done."""
        spec = running.spec
        for path in self.preparer.local(job).outputs:
            remove_path(path)
        if not message:
            message = f"exit code {outcome.exit_code}"
        retrying = (not cancelled and not self.stopping
                    and spec.attempt <= job.rule.retries)
        delay = retry_delay(job.rule, self.settings.retry_delay, spec.attempt) if retrying else 0
        later = f" in {span(round(delay, 1))}" if delay else ""
        result = self.recorder.failed(job, running, outcome,
                                      "cancelled" if cancelled else "failed",
                                      message + (f" (will retry{later})" if retrying else ""))
        self.reporter.job_failed(job, spec, outcome,
                                 message + (f" (next attempt{later})" if later else ""), retrying)
        if retrying:
            self.attempts[job.id] = spec.attempt + 1
            if delay:
                self.retry_waits.add(job.id, delay)  # holds no core while it waits
                self.reporter.job_waiting(job, delay)
            else:
                self._push(job.id)
            return result
        self.result.failed += 1
        self.result.failures.append(job.name)
        if not self.settings.keep_going:
            self.stopping = True
        return result

    def _check_clock(self, job: Job, states: Mapping[str, FileState]) -> None:
        """Say it once when outputs come out dated before their inputs (output_checks)."""
        if not self.clock_warned and (warning := clock_skew(job, states, self.plan.observed)):
            self.clock_warned = True
            self.reporter.line(warning, error=True)

    def _await_outputs(self, job: Job) -> list[str]:
        """Outputs may appear late on shared file systems: wait up to --latency-wait."""
        missing = [p for p in job.outputs if not os.path.lexists(p)]
        deadline = time.monotonic() + self.settings.latency_wait
        while missing and time.monotonic() < deadline and not self.signalled:
            time.sleep(0.1)
            missing = [p for p in missing if not os.path.lexists(p)]
        return missing

