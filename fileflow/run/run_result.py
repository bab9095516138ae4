"""What the run loop (fileflow.run.scheduler) reports as it goes, and what it returns: the
reporter it tells of each job's start, end, skip and wait, and the run's counts. Layer 4.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from fileflow.engine.graph import Job
from fileflow.engine.staleness import Reason
from fileflow.executors.base import JobOutcome, JobSpec

__all__ = ["Reporter", "RunResult"]


class Reporter(Protocol):
    def job_started(self, job: Job, spec: JobSpec, reasons: tuple[Reason, ...]) -> None: ...
    def job_finished(self, job: Job, outcome: JobOutcome) -> None: ...
    def job_failed(self, job: Job, spec: JobSpec, outcome: JobOutcome, message: str,
                   retrying: bool) -> None: ...
    def job_skipped(self, job: Job, why: str) -> None: ...
    def job_waiting(self, job: Job, seconds: float) -> None: ...
    def tick(self, done: int, failed: int, running: int, total: int) -> None: ...
    def line(self, text: str, error: bool = False) -> None: ...


@dataclass(slots=True)
class RunResult:
    done: int = 0            # jobs that ran, and target-only jobs (such as `all`) reached
    failed: int = 0
    skipped: int = 0
    not_run: int = 0
    interrupted: bool = False
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted and not self.not_run
