"""Small file-system operations that every stage shares. Layer 0.

Removing something that is already gone is never an error in a build tool: an output may
have been removed by its job, by the user, or by a build that ran before. A full disk is
named as such wherever it stops something (`no_space`, `full_disk`).
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from collections.abc import Iterable

__all__ = ["remove_file", "remove_path", "make_read_only", "no_space", "full_disk",
           "replace_file", "FULL_DISK_HINT", "NO_SPACE_TEXTS"]

# What a program says when the disk (or the user's quota) is full, as strerror gives it.
NO_SPACE_TEXTS = (os.strerror(errno.ENOSPC), os.strerror(errno.EDQUOT))
FULL_DISK_HINT = "free some space (or raise the quota) and build again"


def no_space(exc: BaseException) -> bool:
    """Whether an error is the disk (or the quota) being full."""
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def full_disk(paths: Iterable[str]) -> str | None:
    """The first directory holding one of `paths` (the path itself, or its nearest existing
    parent) whose file system has no space left for this user, or None."""
    seen = set()
    for path in paths:
        folder = os.path.abspath(path or ".")
        while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)
        if folder in seen:
            continue
        seen.add(folder)
        try:
            st = os.statvfs(folder)
        except OSError:
            continue
        if st.f_blocks and st.f_bavail == 0:
            return folder
    return None


def remove_file(path: str) -> None:
    """Unlink a file or a symlink; nothing there is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_path(path: str) -> None:
    """Remove a file, a symlink or a directory tree; nothing there is fine. Looked at first:
    unlinking a name that is not there takes its folder's lock, which the jobs writing
    their outputs there hold in turn, and a full build's outputs are all missing."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def make_read_only(path: str) -> None:
    """Take every write permission off `path` (a protected() output, once made)."""
    mode = os.stat(path).st_mode
    os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def replace_file(path: str, data: bytes) -> bool:
    """Write `data` to `path` whole or not at all (a file beside it, then renamed over it):
    a reader never sees half of it. Returns whether it was written; never raises OSError."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return False
    return True
