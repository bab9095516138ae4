"""What fileflow does to a job's outputs once its command exits 0: touch() outputs made or
their times set to now, and ensure() checks (not empty, a given SHA-256). Layer 4."""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

from fileflow.engine.graph import Job
from fileflow.lang.values import ENSURE_NON_EMPTY, ENSURE_SHA256
from fileflow.state import FileState

__all__ = ["touch_outputs", "failed_check", "clock_skew"]


def touch_outputs(job: Job) -> None:
    """Each touch() output made (empty) if the command did not make it, else dated now."""
    if not job.values.flags:
        return
    for path in job.flagged("touch"):
        with open(path, "ab"):
            pass
        os.utime(path)


def failed_check(job: Job) -> str:
    """Why an ensure() check of the job's outputs fails, in words, or "" when all pass."""
    if not job.values.flags:
        return ""
    for path, flags in job.values.flags.items():
        for flag in sorted(flags):
            if flag == ENSURE_NON_EMPTY and _size(path) == 0:
                return f"ensure(non_empty=true) failed: output {path!r} is empty"
            if flag.startswith(ENSURE_SHA256):
                want = flag[len(ENSURE_SHA256):]
                got = _sha256(path)
                if got != want:
                    return (f"ensure(sha256=...) failed: output {path!r} has SHA-256 {got}, "
                            f"not {want}")
    return ""


def clock_skew(job: Job, states: Mapping[str, FileState],
               observed: Mapping[str, FileState]) -> str:
    """An output dated before its inputs right after its job ran means the file system's
    clock and this machine's disagree. Contents decide, so it causes no rebuild loop, but
    it is worth a warning: its words, or ""."""
    if not states:
        return ""
    newest_input = max((observed[p].mtime_ns for p in job.inputs
                        if p in observed and observed[p].exists), default=-1)
    oldest_output = min(st.mtime_ns for st in states.values())
    if oldest_output < newest_input - 1_000_000_000:
        return (f"warning: job {job.name} made outputs dated before its inputs "
                "(clock skew between this machine and the file system?); "
                "fileflow decides by content, so nothing reruns because of it")
    return ""


def _size(path: str) -> int:
    if os.path.isdir(path):
        return len(os.listdir(path))
    return os.path.getsize(path) if os.path.lexists(path) else 0


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
