"""Plain records of file and job state, shared by the store, the staleness decision and the run log.

Layer 0: data only, no I/O. Named tuples, not frozen dataclasses: a build makes one of each
per path (100,000s of them), and a tuple is several times cheaper to create.
Use `state._replace(digest=...)` to derive a changed copy.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["FileState", "RecordedTarget", "HASH_ALGORITHM", "REMOTE_TOKEN"]

# Recorded beside every digest, so a future change of algorithm is detected, not misread.
HASH_ALGORITHM = "sha256"
# The "digest" of a remote file (a URL) is its store's version token (fileflow.remote.files), never
# a content hash: recorded under this name, so the two are never taken for one another.
REMOTE_TOKEN = "remote-token"


class FileState(NamedTuple):
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



class RecordedTarget(NamedTuple):
    """What the run log knows of an output path: its state when last made, by which job,
    under which signature, and the digests of the inputs that job consumed."""

    path: str
    complete: bool                 # False: a job started making it and did not finish
    size: int = -1
    mtime_ns: int = -1
    digest: str | None = None
    algorithm: str = HASH_ALGORITHM
    signature: str = ""            # the producing job's signature (command, params, inputs)
    input_digests: Mapping[str, str] = MappingProxyType({})
    job_id: int | None = None
    built_at: float = 0.0          # when last made (seconds since the epoch)
    changed_at: float = 0.0        # when its content last changed (early cutoff keeps this)
    ctime_ns: int = -1             # st_ctime_ns when observed; -1 for records that lack it
