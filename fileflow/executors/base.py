"""The executor contract: what to run (JobSpec), what happened (JobOutcome), and the three
calls every executor answers: submit, wait (poll all active jobs at once), cancel. Layer 3."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["JobSpec", "JobOutcome", "Executor"]


@dataclass(frozen=True, slots=True)
class JobSpec:
    job_id: int                       # the scheduler's id for the job (graph id)
    name: str                         # e.g. "count[sample=a]"
    rule: str
    command: str                      # a bash script body, run with -euo pipefail
    log_path: str                     # stdout and stderr go here
    outputs: tuple[str, ...] = ()
    threads: int = 1
    resources: Mapping[str, object] = field(default_factory=dict)
    attempt: int = 1
    env: Mapping[str, str] = field(default_factory=dict)
    wildcards: Mapping[str, str] = field(default_factory=dict)
    # `--remote-staging job`: the manifest (fileflow.remote.job_stager) of the remote files a
    # cluster job downloads before its command and uploads after it, on its own node.
    stage: str = ""
    # fileflow's own default log (the rule declares none): made only if the job writes to it.
    log_on_demand: bool = False
    # Seconds the job may run (`timeout:`, --default-timeout); 0: no limit.
    timeout: float = 0.0
    # A member of a group job (on a cluster): the group's key, how many members it starts
    # with, and the members (job ids) this one waits for inside the group.
    group: str = ""
    group_size: int = 0
    after: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class JobOutcome:
    job_id: int
    exit_code: int                    # negative: killed by that signal
    started_at: float
    ended_at: float
    host: str = ""
    peak_rss_bytes: int = -1
    cpu_seconds: float = -1.0
    message: str = ""                 # the executor's own words (e.g. "cancelled", "TIMEOUT")
    external_id: str = ""
    log_path: str = ""                # where the log really is, when not spec.log_path (%j filled)
    not_run: str = ""                 # a group member that never started: the member whose failure kept it
    # From cancel(): the job had ended on its own before it was cancelled (a group member
    # whose node wrote its result), so it is judged as any job that ended, not cancelled.
    ended_before_cancel: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Executor(Protocol):
    def submit(self, specs: list[JobSpec]) -> list[str]:
        """Start (or queue) these jobs; return their ids in the executor (pid, cluster id)."""

    def wait(self, timeout: float) -> list[JobOutcome]:
        """The jobs that finished, waiting up to `timeout` seconds for at least one."""

    def cancel(self) -> list[JobOutcome]:
        """Stop every active job (process trees included); return their outcomes (those of
        jobs that had ended on their own marked `ended_before_cancel`)."""

    def active(self) -> int:
        """How many jobs are submitted and not yet reported."""
