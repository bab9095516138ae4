"""The small records a job is carried in on its way through the run loop: the ready heap's
entries, a job prepared for its executor, a job handed on and what it waits for. Layer 4.

Named tuples where thousands are made per build (as cheap as the bare tuples they name);
a slotted dataclass for the one record that is filled in after it is made.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from fileflow.engine.graph import Job
from fileflow.engine.staleness import Reason
from fileflow.executors.base import JobOutcome, JobSpec

__all__ = ["ReadyJob", "PreparedJob", "RunningJob", "StartedJob", "EndedJob", "AheadJob"]


class ReadyJob(NamedTuple):
    """An entry of the ready heap, which pops the smallest: the highest priority first, then
    the plan's order."""
    minus_priority: int
    position: int
    job_id: int


class PreparedJob(NamedTuple):
    """A job ready to hand to its executor: old outputs removed, the command rendered, the
    digests of its inputs as they are before it starts."""
    job: Job
    spec: JobSpec
    reasons: tuple[Reason, ...]
    inputs: dict[str, str]


class RunningJob(NamedTuple):
    """A job recorded as started, until its result is recorded: what its result needs."""
    spec: JobSpec
    log_id: int
    inputs: dict[str, str]


class StartedJob(NamedTuple):
    """A job recorded as started whose process waits for its inputs (downloaded, hashed)."""
    prepared: PreparedJob
    log_id: int


class EndedJob(NamedTuple):
    """A job whose process ended well, not done until its outputs are hashed or uploaded."""
    job_id: int
    running: RunningJob
    outcome: JobOutcome


@dataclass(slots=True)
class AheadJob:
    """A job recorded as started in an earlier tick whose process has not started yet."""
    job: Job
    reasons: tuple[Reason, ...]
    log_id: int = 0                      # set once the tick that records it has run
    prepared: PreparedJob | None = None  # set when prepared while the cores are busy
