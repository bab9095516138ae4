"""Jobs waiting on their files, off the run loop. Layer 4.

Before a job starts: its large inputs not hashed yet are hashed (BackgroundHasher's
threads), its remote inputs are downloaded (fileflow.remote.staging.Staging's threads). After
its process ended well: its large outputs are hashed, its remote outputs uploaded; only then
is it done. Meanwhile the loop goes on starting and reaping other jobs. These records say
what each job waits for; the loop starts it, or records it done or failed, when its files
are ready.
"""
from __future__ import annotations

from collections.abc import Mapping

from fileflow.engine.graph import Job
from fileflow.engine.store import FileStore
from fileflow.executors.base import JobOutcome
from fileflow.run.background_hashing import BackgroundHasher
from fileflow.run.job_records import EndedJob, PreparedJob, RunningJob, StartedJob
from fileflow.state import FileState

__all__ = ["FileWaits"]


class FileWaits:
    def __init__(self, store: FileStore, staging, recorded: Mapping):
        self.hasher = BackgroundHasher(store)
        # fileflow.remote.staging.Staging when the graph has remote files, else None.
        self.staging = staging
        self.recorded = recorded  # the run log's records: a path whose stat matches is not read
        self.unhashed_inputs: dict[int, dict[str, FileState]] = {}  # job -> inputs to hash first
        self.parked: dict[int, StartedJob] = {}    # started, waiting for its downloads
        self.uploading: dict[int, EndedJob] = {}   # ended, waiting for its uploads

    def __bool__(self) -> bool:
        """Files being hashed, or ended jobs' outputs uploading. A job waiting for its
        downloads is not counted: it is active already."""
        return bool(self.uploading) or bool(self.hasher)

    @property
    def hashing(self) -> bool:
        return bool(self.hasher)

    @property
    def transferring(self) -> bool:
        return self.staging is not None and self.staging.busy

    # ---------------------------------------------------------------- before a job starts

    def hash_inputs_apart(self, job_id: int, states: dict[str, FileState]) -> bool:
        """The job's inputs not hashed yet are large (a first build hashes no source up
        front): hashed off the loop before it starts (hold_back). False when they are small
        enough to hash at once, or the run stages remote files."""
        if self.staging is not None or not self.hasher.wants(states):
            return False
        self.unhashed_inputs[job_id] = states
        return True

    def hold_back(self, batch: list[PreparedJob],
                  log_ids: list[int]) -> tuple[list[PreparedJob], list[int]]:
        """The jobs (and run-log ids), recorded as started, to launch now. A job with remote
        inputs not staged yet waits in `parked` while they download (each URL once per run,
        at the version whose token the job records); a job that stages in itself
        (--remote-staging job) goes at once. A job with large inputs to hash waits for
        them. Each comes back from transfers_ended or hashes_ended."""
        if self.staging is not None:
            now, now_ids = [], []
            for prepared, log_id in zip(batch, log_ids):
                job, spec, _, inputs = prepared
                if not spec.stage and self.staging.begin_inputs(
                        job.id, {p: inputs.get(p) for p in job.inputs}):
                    self.parked[job.id] = StartedJob(prepared, log_id)
                else:
                    now.append(prepared)
                    now_ids.append(log_id)
            batch, log_ids = now, now_ids
        if self.unhashed_inputs:
            now, now_ids = [], []
            for prepared, log_id in zip(batch, log_ids):
                unhashed = self.unhashed_inputs.pop(prepared.job.id, None)
                if unhashed is None:
                    now.append(prepared)
                    now_ids.append(log_id)
                else:
                    self.hasher.submit(unhashed, StartedJob(prepared, log_id), self.recorded)
            batch, log_ids = now, now_ids
        return batch, log_ids

    # ---------------------------------------------------------------- after a process ended

    def hash_outputs_apart(self, states: Mapping[str, FileState], job_id: int,
                           running: RunningJob, outcome: JobOutcome) -> bool:
        """The job's outputs are large: hashed off the loop, and it is done when they are
        (hashes_ended). False when they are small enough to hash at once."""
        if not self.hasher.wants(states):
            return False
        self.hasher.submit(states, EndedJob(job_id, running, outcome))
        return True

    def upload(self, job: Job, states: Mapping[str, FileState], running: RunningJob,
               outcome: JobOutcome) -> bool:
        """The job's remote outputs are uploaded from their staged copies; it is done only
        once they are (transfers_ended). False when it has none."""
        if not self.staging.begin_upload(job.id, job, states):
            return False
        self.uploading[job.id] = EndedJob(job.id, running, outcome)
        return True

    # ---------------------------------------------------------------- what ended

    def wait_for_hashes(self, timeout: float) -> None:
        self.hasher.wait(timeout)

    def hashes_ended(self) -> list[tuple[StartedJob | EndedJob, dict[str, FileState]]]:
        """(what waited, the states with digests) of the hashes that ended: a StartedJob
        waited for its inputs, an EndedJob for its outputs."""
        return self.hasher.finished()

    def transfers_ended(self, timeout: float) -> list[tuple[StartedJob | EndedJob, object]]:
        """(what waited, the staging's result) of the transfers that ended, waiting up to
        `timeout` for one: a StartedJob's downloads ended (the result: why one failed, or
        ""), an EndedJob's uploads ended (the result: its states and why one failed)."""
        ended = []
        for kind, job_id, result in self.staging.finished(timeout):
            waited = self.parked.pop(job_id) if kind == "inputs" else self.uploading.pop(job_id)
            ended.append((waited, result))
        return ended

    # ---------------------------------------------------------------- stopping

    def stop_hashes(self) -> list[StartedJob | EndedJob]:
        """No more hashing; what waited for the hashes left unfinished."""
        return self.hasher.stop()

    def stop_transfers(self) -> tuple[list[int], list[EndedJob]]:
        """No transfer starts any more: the ids of the jobs that waited for downloads, and
        the jobs that waited for uploads."""
        self.staging.stop()
        parked, self.parked = self.parked, {}
        uploading, self.uploading = self.uploading, {}
        return list(parked), list(uploading.values())

    def close(self) -> None:
        self.hasher.close()
