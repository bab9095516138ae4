"""Plain records of file and job state, shared by the store, the staleness decision and the run log.

Layer 0: data only, no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["FileState", "RecordedTarget", "HASH_ALGORITHM"]

# Recorded beside every digest, so a future change of algorithm is detected, not misread.
HASH_ALGORITHM = "sha256"


@dataclass(frozen=True, slots=True)
class FileState:
    """What is observed of a path now. `digest` is None until the content was hashed
    (or taken from the record because size and mtime are unchanged)."""

    path: str
    exists: bool
    size: int = -1
    mtime_ns: int = -1
    digest: str | None = None
    is_dir: bool = False
    # Status-change time: the kernel sets it on every write and on utime() itself, and user
    # space cannot set it back, so it catches a content change whose mtime was restored.
    ctime_ns: int = -1

    def same_stat(self, size: int, mtime_ns: int, ctime_ns: int = -1) -> bool:
        """True when size and mtime match; ctime too when both sides know it (-1: unknown)."""
        return (self.exists and self.size == size and self.mtime_ns == mtime_ns
                and (ctime_ns == -1 or self.ctime_ns == -1 or self.ctime_ns == ctime_ns))



@dataclass(frozen=True, slots=True)
class RecordedTarget:
    """What the run log knows of an output path: its state when last made, by which job,
    under which signature, and the digests of the inputs that job consumed."""

    path: str
    complete: bool                 # False: a job started making it and did not finish
    size: int = -1
    mtime_ns: int = -1
    digest: str | None = None
    algorithm: str = HASH_ALGORITHM
    signature: str = ""            # the producing job's signature (command, params, inputs)
    input_digests: Mapping[str, str] = field(default_factory=dict)
    job_id: int | None = None
    built_at: float = 0.0          # when last made (seconds since the epoch)
    changed_at: float = 0.0        # when its content last changed (early cutoff keeps this)
    ctime_ns: int = -1             # st_ctime_ns when observed; -1 for records that lack it
