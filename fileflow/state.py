"""Plain records of file and job state, shared by the store, the staleness decision and the run log.

Layer 0: data only, no I/O. Named tuples, not frozen dataclasses: a build makes one of each
per path (100,000s of them), and a tuple is several times cheaper to create.
Use `state._replace(digest=...)` to derive a changed copy.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

__all__ = ["FileState", "RecordedTarget", "HASH_ALGORITHM", "REMOTE_TOKEN", "COARSE_NS",
           "settled", "vouches"]

# Recorded beside every digest, so a future change of algorithm is detected, not misread.
HASH_ALGORITHM = "sha256"
# The "digest" of a remote file (a URL) is its store's version token (fileflow.remote.files), never
# a content hash: recorded under this name, so the two are never taken for one another.
REMOTE_TOKEN = "remote-token"
# The coarsest file timestamps there are (FAT keeps mtimes in steps of 2 s). A state whose
# times are all whole seconds is taken to come from such a file system, whatever the
# granularity measured where the run log lives.
COARSE_NS = 2_000_000_000


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
    # The target of a symlink (os.readlink), "" for anything else: a link pointed elsewhere
    # is a change even when the new target has the same size and times.
    link: str = ""
    # The file system's own clock (its timestamp for a file written then) at or before the
    # moment of this observation; -1 when not known. Recorded with the state, it tells
    # whether a later write in the same timestamp tick could leave the stat as it is.
    seen_ns: int = -1

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
    seen_ns: int = -1              # FileState.seen_ns of that observation; -1: not known
    link: str = ""                 # FileState.link of that observation
    # The parts of the signature, apart (fileflow.engine.command.signature_parts): what
    # `--rerun-triggers` and `--list-changes` compare; "" for records that lack them.
    code_digest: str = ""
    params_digest: str = ""


def settled(mtime_ns: int, ctime_ns: int, seen_ns: int, granularity_ns: int) -> bool:
    """Git's "racily clean" rule, the other way round: True when a state seen at `seen_ns`
    (the file system's clock) was last changed at least one timestamp tick before, so that
    any later write gives it a newer mtime or ctime. `granularity_ns` is the file system's
    timestamp granularity; a state whose times are whole seconds counts as COARSE_NS.
    A state seen at an unknown time (-1, records of older fileflow versions) is settled."""
    if seen_ns < 0:
        return True
    newest = max(mtime_ns, ctime_ns)
    if mtime_ns % 1_000_000_000 == 0 and ctime_ns % 1_000_000_000 == 0:
        granularity_ns = max(granularity_ns, COARSE_NS)
    return newest + granularity_ns <= seen_ns


def vouches(rec: RecordedTarget, state: FileState, granularity_ns: int) -> bool:
    """The record of a path vouches for its content as observed now: the same size, mtime,
    ctime (when both sides know it) and symlink target, and the recorded state was settled
    (`settled`) when it was recorded. Pure: the caller measures the granularity."""
    # One frame, fields by index: this runs for every input and output a plan compares.
    _, exists, size, mtime, _, _, ctime, link, _ = state
    r_mtime, r_ctime, r_seen = rec[3], rec[11], rec[12]
    if not exists or size != rec[2] or mtime != r_mtime or link != rec[13]:
        return False
    if ctime != r_ctime and ctime != -1 and r_ctime != -1:
        return False
    if r_seen < 0:
        return True
    if r_mtime % 1_000_000_000 == 0 and r_ctime % 1_000_000_000 == 0:
        granularity_ns = max(granularity_ns, COARSE_NS)
    return (r_mtime if r_mtime > r_ctime else r_ctime) + granularity_ns <= r_seen
