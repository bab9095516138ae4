"""The state of a path as the caches of `.fileflow` record it, and the checks they share:
the no-op shortcut (fileflow.run.noop_cache) and the persistent job graph
(fileflow.run.graph_cache). Layer 4.

A path's state is None when it is missing, False when it cannot be told, else (size,
mtime_ns, ctime_ns, is_dir, symlink target or ""); a directory's is the summary of its
tree that `FileStore` makes. A recorded state vouches for a path only when it was taken at
least one timestamp tick of the file system's own clock after the path last changed
(fileflow.state.settled, fileflow.engine.fs_clock): a later write then shows a newer ctime.
"""
from __future__ import annotations

import os
import re
import stat as stat_mod
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from fileflow.engine.fs_clock import FsClock
    from fileflow.engine.store import FileStore

_MTIME, _CTIME = itemgetter(1), itemgetter(2)  # of a state tuple

__all__ = ["PathState", "state", "own_state", "own_modules", "old_enough", "uses_environment",
           "on_network_fs"]

PathState = tuple[int, int, int, bool, str] | Literal[False] | None
# A name whose use makes the graph depend on more than the files read: the environment.
# Found in the text: a false alarm only costs the shortcut.
_VOLATILE = re.compile(r"\benv\b")


def state(path: str, store: FileStore | None = None) -> PathState:
    """None: missing; False: cannot tell; else (size, mtime_ns, ctime_ns, is_dir, link).
    A folder is summed up by `store` (one is made if not given)."""
    found = own_state(path)
    if found and found[3]:
        return _dir_state(path, store)
    return found


def own_state(path: str) -> PathState:
    """`state`, but a folder's is its own stat (an entry added, removed or renamed changes
    its mtime and ctime), not the summary of its tree."""
    try:
        st = os.lstat(path)
        link = ""
        if stat_mod.S_ISLNK(st.st_mode):
            link = os.readlink(path)
            st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, stat_mod.S_ISDIR(st.st_mode), link)


def _dir_state(path: str, store: FileStore | None) -> PathState:
    from fileflow.engine.store import FileStore
    from fileflow.errors import WorkflowError

    try:
        st = (store or FileStore(".")).stat_many([path])[path]
    except WorkflowError:
        return False
    return (st.size, st.mtime_ns, st.ctime_ns, True, st.link) if st.exists else None


def own_modules() -> list[str]:
    """fileflow's own source: an edited or reinstalled fileflow decides afresh."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return sorted(os.path.join(folder, n) for folder, _, names in os.walk(package)
                  for n in names if n.endswith(".py"))


def old_enough(states: Sequence[PathState], clock: FsClock) -> bool:
    """Every state readable, and written at least one timestamp tick before `clock` was
    read, so that any later write shows a newer mtime or ctime (fileflow.state.settled)."""
    from fileflow.state import COARSE_NS, settled

    if False in states:  # (no state tuple equals False, and None does not)
        return False
    live = [found for found in states if found]  # None: missing
    if not live:
        return True
    now, granularity = clock.now_ns, clock.granularity_ns
    # Most paths are far older than the clock: only the others are looked at one by one.
    limit = now - max(granularity, COARSE_NS)
    if max(max(map(_MTIME, live)), max(map(_CTIME, live))) > limit:  # in C
        live = [found for found in live if found[1] > limit or found[2] > limit]
        return all(settled(found[1], found[2], now, granularity) for found in live)
    return True


def uses_environment(flowfiles: Sequence[str]) -> bool:
    """Whether a Flowfile may read the environment (`env()`), or cannot be read: what it
    makes then depends on more than the files it reads."""
    for name in flowfiles:
        try:
            with open(name, encoding="utf-8-sig", errors="replace") as fh:
                if _VOLATILE.search(fh.read()):
                    return True
        except OSError:
            return True
    return False


def on_network_fs() -> bool:
    """Whether the working directory is on a network file system (the server's clock
    stamps its files), or that cannot be told."""
    try:
        from fileflow.runlog.records import is_network_fs
        return bool(is_network_fs("."))
    except Exception:
        return True
