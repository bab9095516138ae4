"""What every cluster executor shares (Slurm, DRMAA): one job script per job, job arrays,
status rounds with backoff, retries of failed scheduler calls, Ctrl-C cancelling, head-node
(local) jobs, and adopting the jobs of a fileflow that died. Layer 3.

A backend (SlurmBackend, a DRMAA one) only answers the calls of
fileflow.executors.cluster_backend: submit a group of job scripts with one resource
request, poll jobs by id, cancel jobs by id, and describe itself. Everything else lives
here, so all cluster executors behave alike.

Each job script (fileflow.executors.job_scripts) runs the command with `bash -euo
pipefail`, in the working directory, with stdout and stderr to the job's log, and then
writes the command's exit status to `.fileflow/<executor>/exit/<external id>`: the head
can judge a job even when the scheduler keeps no accounting (or forgot the job already).

Group jobs (fileflow.executors.cluster_groups): the members of a group are gathered as the
run loop hands them over, then go as one cluster job of their own, with the group's
request; once it ends, its outcome becomes one outcome per member. A group job a dead
fileflow left is taken over for the members of this build it runs, unchanged.

Status rounds: the first round comes POLL_MIN seconds after a submission; while nothing
changes, the gap grows by POLL_GROWTH up to POLL_MAX; any change (a job started, ended, or
its exit file appeared) brings it back to POLL_MIN. A failing poll (controller busy or
restarting) is retried with the same backoff; only after GIVE_UP_SECONDS of failures in a
row does the build stop with an error.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from fileflow.chunks import chunked
from fileflow.errors import FileflowError
from fileflow.executors.base import JobOutcome, JobSpec
from fileflow.executors.cluster_adopting import Adoptable, LeftJobs
from fileflow.executors.cluster_backend import STATE_MEANING, Backend, JobStatus, TransientError
from fileflow.executors.cluster_groups import (
    GroupForming,
    GroupJob,
    adopted_group,
    cancelled_members,
    member_outcomes,
    new_group,
)
from fileflow.executors.job_scripts import JobScripts
from fileflow.fs import remove_file
from fileflow.lang.units import span

__all__ = ["POLL_MIN", "POLL_MAX", "POLL_GROWTH", "GIVE_UP_SECONDS", "ClusterJob",
           "ClusterExecutor", "retry_transient"]

POLL_MIN = 1.0          # seconds between status rounds while jobs change
POLL_MAX = 30.0         # ... at most, when nothing changes for a while
POLL_GROWTH = 1.5
GIVE_UP_SECONDS = 300.0  # scheduler commands failing this long in a row end the build
EXIT_FILE_GRACE = 10.0   # an exit file seen, the scheduler still says running: trust the file after this
LOST_AFTER = 120.0       # a job neither the scheduler nor an exit file knows of for this long is lost
ARRAY_MIN = 2            # this many ready jobs with one request go as an array

def time_limit(spec: JobSpec) -> str:
    """The time limit a cluster job was given, as a time span ("2h"): resources' runtime
    (minutes), else its timeout; "" when neither is known."""
    runtime = spec.resources.get("runtime")
    try:
        minutes = float(runtime) if runtime not in (None, "") else 0.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        minutes = 0.0
    if minutes > 0:
        return span(max(1, math.ceil(minutes)) * 60)
    return span(max(1, math.ceil(spec.timeout / 60)) * 60) if spec.timeout > 0 else ""


@dataclass(slots=True)
class ClusterJob:
    spec: JobSpec
    external_id: str
    submitted_at: float
    state: str = "PENDING"
    exit_seen_at: float | None = None
    unknown_since: float | None = None
    group: GroupJob | None = None    # a group job: the members it runs


def retry_transient(call: Callable[[], object], what: str, give_up: float = GIVE_UP_SECONDS,
                    sleep: Callable[[float], None] = time.sleep, stop: Callable[[], bool] = lambda: False):
    """Run `call`, retrying TransientError with backoff (1 s doubling to 30 s) for up to
    `give_up` seconds; then a FileflowError naming `what`."""
    delay, deadline = 1.0, time.monotonic() + give_up
    while True:
        try:
            return call()
        except TransientError as exc:
            if time.monotonic() + delay > deadline or stop():
                raise FileflowError(f"{what} kept failing for {give_up:g} s: {exc}") from None
            sleep(delay)
            delay = min(POLL_MAX, delay * 2)


class ClusterExecutor:
    """The executor for `--cluster NAME`: cluster jobs through `backend`, jobs of
    `local_rules` on this machine through `local` (at most `local_cores` threads at once)."""

    def __init__(self, backend: Backend, local, *, workdir: str, tag: str,
                 local_rules: Iterable[str] = (), local_cores: int = 1,
                 use_arrays: bool = True, clock: Callable[[], float] = time.monotonic,
                 group_cores: int = 0, group_limits: Mapping[str, float] | None = None):
        self.backend = backend
        self.local = local
        self.workdir = os.path.abspath(workdir)
        self.tag = tag
        self.tags = [tag]
        self.local_rules = frozenset(local_rules)
        self.local_cores = max(1, local_cores)
        self.use_arrays = use_arrays
        self.clock = clock
        base = os.path.join(self.workdir, ".fileflow", backend.name)
        self.script_dir = os.path.join(base, "jobs", tag)
        self.exit_dir = os.path.join(base, "exit")
        self.jobs: dict[str, ClusterJob] = {}          # external id -> job
        self.local_waiting: list[JobSpec] = []         # head-node jobs beyond --local-cores
        self.local_threads = 0                         # threads of head-node jobs running
        self.local_held: dict[int, int] = {}           # graph job id -> its threads
        self.left = LeftJobs()                         # jobs a dead fileflow left
        self.next_round = 0.0
        self.interval = POLL_MIN
        self.failing_since: float | None = None
        self.submissions = 0                           # scheduler submit calls made (arrays count once)
        self.rounds = 0
        self.remote = True                             # the scheduler records ids at once
        self.refused: list[JobOutcome] = []            # jobs the scheduler would not take
        self.scripts = JobScripts(self.workdir, self.script_dir, self.exit_dir,
                                  backend.job_id_shell, backend.array_index_shell)
        self.forming = GroupForming()                  # members of groups not all handed over
        self.late_ids: list[tuple[int, str]] = []      # started(): members handed over early
        self.group_cores = group_cores                 # --group-cores: a group job's cores at most
        self.group_limits = dict(group_limits or {})   # --resources: what a group's layer may use
        self.groups: dict[int, GroupJob] = {}          # a group's own (negative) id -> the group
        self.group_count = 0                           # group jobs made in this run

    # ---------------------------------------------------------------- Executor contract

    def active(self) -> int:
        return (len(self.jobs) + self.local.active() + len(self.local_waiting)
                + len(self.refused) + len(self.forming)
                + sum(len(job.group.members) - 1 for job in self.jobs.values() if job.group))

    def submit(self, specs: list[JobSpec]) -> list[str]:
        ids: dict[int, str] = {}
        remote: list[JobSpec] = []
        for spec in specs:
            if self.left.was_superseded(spec):
                self._cancel_old([], [spec])
            if spec.group:
                members = self.forming.add(spec)
                if members is not None and (found := self._adopt_group(members)):
                    ids.update((member.job_id, found) for member in members)
                elif members is not None:
                    self.group_count += 1
                    try:
                        spec, group = new_group(-self.group_count, members, self.backend.name,
                                                self.workdir, self.group_cores,
                                                self.group_limits)
                        self.backend.request(spec)  # its request can be made
                    except FileflowError as exc:  # its members cannot share one request
                        now = time.time()
                        self.refused += [JobOutcome(m.job_id, 1, now, now, message=str(exc))
                                         for m in members]
                        continue
                    self.groups[spec.job_id] = group
                    remote.append(spec)
            elif spec.rule in self.local_rules:
                self.local_waiting.append(spec)
                ids[spec.job_id] = ""
            elif spec.name in self.left.by_name:
                grouped = self.left.by_name[spec.name].note
                found = self._adopt_group([spec]) if grouped else self._adopt(spec)
                if found:
                    ids[spec.job_id] = found
                else:
                    remote.append(spec)
            else:
                remote.append(spec)
        ids.update(self._start_local())
        for spec, external_id in self._submit_remote(remote):
            for member in self.groups[spec.job_id].members if spec.job_id < 0 else (spec,):
                ids[member.job_id] = external_id
        handed = {spec.job_id for spec in specs}
        self.late_ids += [(job_id, found) for job_id, found in ids.items()
                          if found and job_id not in handed]
        return [ids.get(spec.job_id, "") for spec in specs]

    def started(self) -> list[tuple[int, str]]:
        """(job id, group job id) of members handed over before the rest of their group,
        whose group job went since the last call: on record, as any cluster job's id."""
        late, self.late_ids = self.late_ids, []
        return late

    def wait(self, timeout: float) -> list[JobOutcome]:
        deadline = self.clock() + max(0.0, timeout)
        out, self.refused = self.refused, []
        while True:
            if self.jobs and self.clock() >= self.next_round:
                out.extend(self._round())
            if self.local.active():
                wait = 0 if out else max(0.0, min(deadline, self._round_due()) - self.clock())
                finished = self.local.wait(wait)
                for outcome in finished:
                    self.local_threads -= self._threads_of(outcome.job_id)
                out.extend(finished)
                self._start_local()
            if out or self.clock() >= deadline or not (self.jobs or self.local.active()):
                return out
            if not self.local.active():
                time.sleep(max(0.0, min(deadline, self._round_due()) - self.clock()))

    def cancel(self) -> list[JobOutcome]:
        """Cancel every job of this run (one scheduler call), stop the head-node ones."""
        ids = list(dict.fromkeys([*self.jobs, *self.left.ids()]))
        if ids:
            try:
                retry_transient(lambda: self.backend.cancel(ids), f"cancelling {len(ids)} "
                                f"{self.backend.name} jobs", give_up=30.0)
            except FileflowError:
                pass  # reported per job below; nothing more can be done from here
        now = time.time()
        out = [JobOutcome(job.spec.job_id, -15, job.submitted_at, now, message=(
                   f"cancelled: {self.backend.name} job {job.external_id} was cancelled"),
                          external_id=job.external_id, log_path=self._log_of(job))
               for job in self.jobs.values() if job.group is None]
        for job in self.jobs.values():
            if job.group is not None:
                out += cancelled_members(job.group, job.external_id, job.submitted_at)
        out += [JobOutcome(spec.job_id, -15, now, now, message="cancelled before it started")
                for spec in self.forming.drop()]
        self.jobs.clear()
        self.left.by_name.clear()
        out += [JobOutcome(spec.job_id, -15, now, now, message="cancelled before it started")
                for spec in self.local_waiting]
        self.local_waiting.clear()
        return out + self.local.cancel()

    # ---------------------------------------------------------------- adopting

    def adopt(self, jobs: Iterable[Adoptable], tags: Iterable[str] = ()) -> None:
        """Jobs a dead fileflow left on the cluster: a job of this build with the same name
        and command takes over the running one instead of being submitted again."""
        self.left.add(jobs)
        self.tags.extend(t for t in tags if t not in self.tags)

    def cancel_strays(self) -> list[str]:
        """Jobs of the adopted runs' tags still queued or running that no record names (a
        crash between sbatch and recording the id): cancelled, never raced. Needs the
        backend's optional `active_ids(tags)`."""
        active_ids = getattr(self.backend, "active_ids", None)
        if active_ids is None or len(self.tags) < 2:
            return []
        known = set(self.left.ids())
        strays = [i for i in retry_transient(lambda: active_ids(self.tags[1:]), "listing old jobs",
                                             give_up=30.0) if i not in known]
        if strays:
            retry_transient(lambda: self.backend.cancel(strays), "cancelling old jobs", give_up=30.0)
        return strays

    def adopts(self, name: str) -> bool:
        """Will this job be taken over (so its outputs must not be deleted first)?"""
        return name in self.left.by_name

    def release_unclaimed(self) -> list[str]:
        """Cancel adopted jobs this build did not need; their ids. A group job this build
        took over for some of its members is not cancelled for the others."""
        ids = self.left.unclaimed()
        if ids:
            try:
                retry_transient(lambda: self.backend.cancel(ids), "cancelling left-over jobs",
                                give_up=30.0)
            except FileflowError:
                pass
        return ids

    def remove_scripts(self) -> None:
        """Delete this run's job scripts (when every job is done and none failed)."""
        if not self.jobs:
            import shutil
            shutil.rmtree(self.script_dir, ignore_errors=True)

    def _adopt_group(self, members: list[JobSpec]) -> str:
        """Members of this build that a group job a dead fileflow left runs: taken over as
        a whole (their outcomes come from its results), or, when it does not run them all
        with these commands, it is cancelled and their old outputs go. Its id, or ""."""
        external_id, notes = self.left.group_of(members)
        made = None
        if external_id:
            with contextlib.suppress(FileflowError):  # cannot share a request now: submitted anew
                made = adopted_group(-self.group_count - 1, members, notes, self.backend.name,
                                     self.workdir, self.group_cores, self.group_limits)
        if made is None:
            self._cancel_old(*self.left.drop(members))
            return ""
        spec, group = made
        self.group_count += 1
        self.left.take(members, external_id)
        job = self.jobs.get(external_id)
        if job is not None and job.group is not None:  # another part of it, taken over before
            job.group = replace(job.group, members=job.group.members + group.members)
            self.groups[job.spec.job_id] = job.group
            return external_id
        self.groups[spec.job_id] = group
        self.jobs[external_id] = ClusterJob(spec, external_id, time.time(), group=group)
        self.next_round = self.clock()  # learn its state now: it may be done already
        return external_id

    def _adopt(self, spec: JobSpec) -> str:
        external_id, cancel = self.left.single(spec)
        if external_id:
            self.jobs[external_id] = ClusterJob(spec, external_id, time.time())
            self.next_round = self.clock()  # learn its state now: it may be done already
        else:  # the job changed meanwhile: the old one must not write its outputs any more
            self._cancel_old([cancel], [spec])
        return external_id

    def _cancel_old(self, ids: list[str], specs: list[JobSpec]) -> None:
        """Cancel these old jobs and remove these jobs' old outputs."""
        if ids:
            retry_transient(lambda: self.backend.cancel(ids), "cancelling an old job",
                            give_up=30.0)
        for spec in specs:
            for path in spec.outputs:
                if os.path.isfile(path) or os.path.islink(path):
                    os.unlink(path)

    # ---------------------------------------------------------------- local jobs

    def _threads_of(self, job_id: int) -> int:
        return self.local_held.pop(job_id, 0)

    def _start_local(self) -> dict[int, str]:
        """Start waiting head-node jobs while --local-cores allows; graph job id -> pid."""
        started = {}
        while self.local_waiting:
            spec = self.local_waiting[0]
            threads = min(spec.threads, self.local_cores)
            if self.local_threads and self.local_threads + threads > self.local_cores:
                break
            self.local_waiting.pop(0)
            self.local_threads += threads
            self.local_held[spec.job_id] = threads
            (pid,) = self.local.submit([spec])
            started[spec.job_id] = pid
        return started

    # ---------------------------------------------------------------- submitting

    def _submit_remote(self, specs: list[JobSpec]) -> list[tuple[JobSpec, str]]:
        if not specs:
            return []
        os.makedirs(self.script_dir, exist_ok=True)
        os.makedirs(self.exit_dir, exist_ok=True)
        groups: dict[tuple, list[JobSpec]] = {}
        for spec in specs:
            groups.setdefault((spec.rule, self.backend.request(spec)), []).append(spec)
        done: list[tuple[JobSpec, str]] = []
        size = max(1, self.backend.max_array_size()) if self.use_arrays else 1
        for (_rule, request), members in groups.items():
            scripts = [self.scripts.job(spec) if spec.job_id >= 0 else
                       self.scripts.group(spec, self.groups[spec.job_id]) for spec in members]
            chunks: list[Sequence[int]]
            if len(members) < ARRAY_MIN or size == 1:
                chunks = [[i] for i in range(len(members))]
            else:
                chunks = list(chunked(range(len(members)), size))
            for chunk in chunks:
                chosen = [scripts[i] for i in chunk]
                array = self.scripts.array(chosen) if len(chunk) > 1 else None
                ids = self._submit_chunk(chosen, request, array, [members[i] for i in chunk])
                now = time.time()
                for i, external_id in zip(chunk, ids):
                    spec = members[i]
                    if external_id:
                        self.jobs[external_id] = ClusterJob(spec, external_id, now,
                                                            group=self.groups.get(spec.job_id))
                    done.append((spec, external_id))
        self.interval = POLL_MIN
        soon = self.clock() + POLL_MIN
        self.next_round = min(self.next_round, soon) if self.jobs else soon
        return done

    def _submit_chunk(self, scripts, request, array, members) -> list[str]:
        self.submissions += 1
        try:
            ids = retry_transient(lambda: self.backend.submit(scripts, request, self.tag, array),
                                  f"submitting to {self.backend.name}")
        except FileflowError as exc:
            # Refused (a bad partition, an impossible request): these jobs fail, clearly,
            # and the build goes on as with any failed job (--keep-going, retries).
            now = time.time()
            self.refused.extend(JobOutcome(member.job_id, 1, now, now, message=str(exc))
                                for spec in members
                                for member in (self.groups.pop(spec.job_id).members
                                               if spec.job_id < 0 else (spec,)))
            return [""] * len(scripts)
        if len(ids) != len(scripts):
            raise FileflowError(f"{self.backend.name} returned {len(ids)} job ids for "
                                f"{len(scripts)} jobs ({members[0].name} ...)")
        return ids

    # ---------------------------------------------------------------- status rounds

    def _round_due(self) -> float:
        return self.next_round if self.jobs else float("inf")

    def _round(self) -> list[JobOutcome]:
        self.rounds += 1
        ids = list(self.jobs)
        now = self.clock()
        try:
            statuses = self.backend.poll(ids, self.tags)
        except TransientError as exc:
            if self.failing_since is None:
                self.failing_since = now
            if now - self.failing_since > GIVE_UP_SECONDS:
                raise FileflowError(f"{self.backend.name} status queries kept failing for "
                                    f"{GIVE_UP_SECONDS:g} s: {exc}") from None
            self.interval = min(POLL_MAX, self.interval * 2)
            self.next_round = now + self.interval
            return []
        self.failing_since = None
        exits = self._exit_codes()
        out: list[JobOutcome] = []
        changed = False
        for external_id in ids:
            job = self.jobs[external_id]
            status = statuses.get(external_id)
            code = exits.get(external_id)
            if status is not None and status.state != job.state:
                job.state, changed = status.state, True
            if status is not None:
                job.unknown_since = None
            if status is not None and status.final:
                out.append(self._outcome(job, status, code))
                continue
            if code is not None:
                if job.exit_seen_at is None:
                    job.exit_seen_at, changed = now, True
                elif now - job.exit_seen_at >= EXIT_FILE_GRACE:
                    # The script has ended; the scheduler lags behind or forgot the job.
                    out.append(self._outcome(job, JobStatus("COMPLETED" if code == 0 else "FAILED",
                                                            code), code))
                continue
            if status is None:
                if job.unknown_since is None:
                    job.unknown_since = now
                elif now - job.unknown_since >= LOST_AFTER:
                    out.append(self._outcome(job, JobStatus("LOST"), None))
        ended = []
        for outcome in out:
            job = self.jobs.pop(outcome.external_id)
            remove_file(os.path.join(self.exit_dir, outcome.external_id))
            if job.group is None:
                ended.append(outcome)
            else:
                del self.groups[job.spec.job_id]
                ended += member_outcomes(job.group, outcome, self.backend.name)
                remove_file(job.group.results.replace("%j", outcome.external_id))  # read: done
        out = ended
        if out or changed:
            self.interval = POLL_MIN
        else:
            self.interval = min(POLL_MAX, self.interval * POLL_GROWTH)
        self.next_round = self.clock() + self.interval
        return out

    def _exit_codes(self) -> dict[str, int]:
        """Exit files of this executor's jobs: one directory listing per round."""
        codes: dict[str, int] = {}
        try:
            entries = list(os.scandir(self.exit_dir))
        except FileNotFoundError:
            return codes
        for entry in entries:
            if entry.name in self.jobs:
                try:
                    with open(entry.path, encoding="ascii") as fh:
                        codes[entry.name] = int(fh.read().strip())
                except (OSError, ValueError):
                    pass
        return codes

    def _log_of(self, job: ClusterJob) -> str:
        return job.spec.log_path.replace("%j", job.external_id)

    def _outcome(self, job: ClusterJob, status: JobStatus, code: int | None) -> JobOutcome:
        state = status.state
        if code is None:
            code = status.exit_code
        if state == "COMPLETED":
            code = 0 if code is None else code
        elif not code:
            code = 1  # the scheduler ended it; never let it look like success
        message = ""
        if state != "COMPLETED" or code != 0:
            meaning = STATE_MEANING.get(state, "")
            if state == "TIMEOUT" and job.spec.timeout and not job.spec.resources.get("runtime"):
                meaning = "it ran out of the time limit its timeout gave it (raise timeout:)"
            if state == "FAILED":
                if code > 0:
                    meaning = f"exit code {code}"
                elif code < 0:
                    meaning = f"killed by signal {-code}"
                if code in (-9, 137):  # how a memory limit without cgroups often shows
                    meaning += " (a memory limit? raise resources 'mem_mb')"
            said = status.reason and status.reason not in ("None", state)
            reason = f"; {self.backend.name} says: {status.reason}" if said else ""
            message = f"{self.backend.name} job {job.external_id} ended {state}: {meaning}{reason}"
            limit = time_limit(job.spec) if state == "TIMEOUT" else ""
            if limit:  # the words of a local job past its timeout, the scheduler's after them
                message = f"timed out after {limit} ({message})"
            if status.host:
                self.backend.job_failed_on(status.host, state)
        else:  # for the run log: Slurm's view of the job's life
            message = (f"{self.backend.name} job {job.external_id} {state}"
                       + (f" on {status.host}" if status.host else "")
                       + f"; submitted {_clock(job.submitted_at)}"
                       + (f", started {_clock(status.started_at)}" if status.started_at else "")
                       + (f", ended {_clock(status.ended_at)}" if status.ended_at else ""))
        ended = status.ended_at or time.time()
        return JobOutcome(job.spec.job_id, code, status.started_at or job.submitted_at, ended,
                          status.host, status.peak_rss_bytes, status.cpu_seconds, message,
                          job.external_id, log_path=self._log_of(job))


def _clock(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(when))

