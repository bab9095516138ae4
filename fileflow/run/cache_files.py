"""Reading the caches a build keeps in `.fileflow` (fileflow.run.graph_cache, plan_cache,
noop_cache), each one file of marshal-encoded plain data, and the decoded copies of them
that the build daemon keeps between commands. Layer 4.

Decoding is most of what reading a cache costs (40 ms for the graph of 10,000 jobs, ten
times that at 100,000). The daemon decodes a project's caches after each command there,
while it waits for the next one, so that the next command it forks finds them decoded. A
copy stands in only for the very file it was decoded from: the same device, inode, size,
modification and change time, taken before and after reading it. A cache is always
rewritten as a new file (fileflow.fs.replace_file), so a rewritten cache is another file;
and a copy is only ever what the file held, which the cache's own checks (its key, its
token, the run log's generation) then judge as they judge the file.
"""
from __future__ import annotations

import marshal
import os
import stat
from collections.abc import Iterable
from typing import Any

__all__ = ["DecodedCaches", "read_cache", "MAX_FILE_BYTES", "MAX_KEPT_BYTES"]

# Larger cache files are left to the command to decode: the daemon decodes between
# commands, and a command that comes meanwhile waits for it.
MAX_FILE_BYTES = 64 << 20
# All projects' copies together, counted by the size of their files; the projects least
# recently built lose theirs first.
MAX_KEPT_BYTES = 256 << 20

Identity = tuple[int, int, int, int, int]


def _identity(found: os.stat_result) -> Identity:
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


class DecodedCaches:
    """Decoded copies of cache files by absolute path, each with the identity of the file it
    was decoded from, in the order their projects were last refreshed."""

    __slots__ = ("_copies",)

    def __init__(self) -> None:
        self._copies: dict[str, tuple[Identity, object]] = {}

    def __len__(self) -> int:
        return len(self._copies)

    def take(self, path: str, identity: Identity) -> object | None:
        """The copy of `path` (absolute) when it was decoded from the file of `identity`,
        else None. A copy is handed out once: whoever takes it may change it."""
        found = self._copies.pop(path, None)
        return found[1] if found is not None and found[0] == identity else None

    def refresh(self, folder: str, names: Iterable[str], max_file_bytes: int = MAX_FILE_BYTES,
                max_kept_bytes: int = MAX_KEPT_BYTES) -> list[str]:
        """Decode the caches `names` (relative paths) of the project in `folder` that
        changed since they were decoded; copies of files gone or unreadable are dropped, and
        other projects' copies beyond `max_kept_bytes`. Returns the paths decoded now."""
        decoded = []
        for name in names:
            path = os.path.join(folder, name)
            old = self._copies.pop(path, None)
            try:
                now = _identity(os.stat(path, follow_symlinks=False))
            except OSError:
                continue
            if old is not None and old[0] == now:
                self._copies[path] = old  # unchanged: kept, now as the newest
                continue
            found = _decode(path, max_file_bytes)
            if found is not None:
                self._copies[path] = found
                decoded.append(path)
        kept = sum(identity[2] for identity, _ in self._copies.values())
        for path in list(self._copies):
            if kept <= max_kept_bytes:
                break
            kept -= self._copies.pop(path)[0][2]
        return decoded


def _decode(path: str, max_file_bytes: int) -> tuple[Identity, object] | None:
    """The identity and decoded content of a regular file (never a symlink, a FIFO or a
    device, which could block the daemon), when it did not change while it was read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode) or before.st_size > max_file_bytes:
                return None
            data = fh.read()
            after = _identity(os.fstat(fd))
        except OSError:
            return None
    if after != _identity(before) or len(data) != after[2]:
        return None
    try:
        return after, marshal.loads(data)
    except (EOFError, ValueError, TypeError):
        return None


def read_cache(path: str, decoded: DecodedCaches | None = None) -> Any:
    """The decoded content of the cache file `path`: the daemon's copy when it has one of
    this very file, else read now. Raises what open() and marshal.loads raise for a missing
    or damaged file (OSError, EOFError, ValueError, TypeError)."""
    with open(path, "rb") as fh:
        if decoded is not None and len(decoded):
            copy = decoded.take(os.path.abspath(path), _identity(os.fstat(fh.fileno())))
            if copy is not None:
                return copy
        return marshal.loads(fh.read())
