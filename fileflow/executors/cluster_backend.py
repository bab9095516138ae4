"""What a cluster backend (Slurm, DRMAA) answers the cluster executor
(fileflow.executors.cluster): submit job scripts with one resource request, poll jobs by
id, cancel them, and describe itself; and the statuses it reports, in Slurm's words.
Layer 3.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from fileflow.executors.base import JobSpec

__all__ = ["FINAL_STATES", "STATE_MEANING", "JobStatus", "TransientError", "Backend"]

# States a backend reports, in Slurm's words (a DRMAA backend maps its states to these).
FINAL_STATES = frozenset({"COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL",
                          "CANCELLED", "PREEMPTED", "BOOT_FAIL", "DEADLINE", "LOST"})
STATE_MEANING = {
    "FAILED": "the command failed",
    "TIMEOUT": "it ran out of its time limit (raise resources 'runtime', in minutes)",
    "OUT_OF_MEMORY": "it ran out of memory (raise resources 'mem_mb')",
    "NODE_FAIL": "its node failed; the node is left out of later submissions",
    "CANCELLED": "it was cancelled outside fileflow (scancel, an administrator, a limit)",
    "PREEMPTED": "a higher-priority job preempted it",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "it missed its deadline",
    "LOST": "the scheduler no longer knows the job and it left no exit status",
}


@dataclass(frozen=True, slots=True)
class JobStatus:
    """One job as the scheduler sees it in one round."""
    state: str                       # PENDING, RUNNING, ... or one of FINAL_STATES
    exit_code: int | None = None     # negative: killed by that signal
    host: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    peak_rss_bytes: int = -1
    cpu_seconds: float = -1.0
    reason: str = ""                 # the scheduler's own words (Slurm's Reason)

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


class TransientError(Exception):
    """A scheduler command failed in a way worth retrying (controller down, timeout)."""


class Backend(Protocol):
    name: str                        # "slurm": log and exit-file folders, messages
    job_id_shell: str                # shell expression for the external id inside a job
    array_index_shell: str           # shell expression for a task's 0-based index ("" if none)

    def max_array_size(self) -> int:
        """Most tasks in one array (1: no arrays)."""

    def request(self, spec: JobSpec) -> tuple:
        """The job's resource request (e.g. sbatch flags), hashable: jobs of one rule with
        equal requests may share an array."""

    def submit(self, scripts: Sequence[str], request: tuple, tag: str,
               array_script: str | None) -> list[str]:
        """Submit these job scripts with this request under this run tag; one array running
        `array_script` when it is given (its tasks pick scripts by index). Returns one
        external id per script. Raises TransientError (worth retrying) or FileflowError."""

    def poll(self, ids: Sequence[str], tags: Sequence[str]) -> Mapping[str, JobStatus]:
        """Statuses of these jobs in one round (ids the scheduler does not know are left
        out). Raises TransientError when the scheduler cannot answer now."""

    def cancel(self, ids: Sequence[str]) -> None:
        """Cancel these jobs (one call where the scheduler allows)."""

    def job_failed_on(self, host: str, state: str) -> None:
        """A job ended in `state` on `host` (e.g. NODE_FAIL: avoid that node from now on)."""
