"""What the last build that found nothing to do saw, so that the next one can say so after
one `stat` per path: no Flowfile loaded, no graph resolved, no run log read. Layer 4.

A build that decides "nothing to do" (no forcing, no warning, nothing newly hashed) writes
`.fileflow/noop-cache`: a key (fileflow's version, the working directory, the Flowfile,
targets, config and run log named on the command line) and the state of every path the
decision depended on: each path of the plan (every output, the inputs compared with the
record, the sources looked up), every Flowfile, config file and script read while loading,
the run log's files (`runlog.db` and its `-wal`) and fileflow's own modules. The next build
with the same key finds nothing to do when every one of those paths shows the same state:
missing, or the same size, mtime_ns and ctime_ns (for a directory, the summary of its tree
that `FileStore` makes). Anything else, and any doubt, falls back to the full build.

Why a stat suffices: the decision is a function of the Flowfile and what it reads, the
state of those paths and the run log's content, and a write to any of them changes its
ctime (which user space cannot set back). The one gap is a change within the same
timestamp tick as the recorded state, so nothing is cached whose mtime or ctime is within
`RACY_NS` (0.1 s; 2 s where the file system keeps whole seconds) of the moment the build
began (git's "racily clean" files): a later change then shows a newer ctime. Never cached:
a Flowfile that uses `env()` or `glob_wildcards()` (its graph depends on more than these
paths), a graph with a path that is a URL (a remote file has no local stat), a run log
other than a SQLite file, and a working directory on a network file system (the server's
clock stamps the files). Deleting the cache file is always safe.
"""
from __future__ import annotations

import marshal
import os
import re
import stat as stat_mod
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from fileflow.state import FileState

__all__ = ["RACY_NS", "cache_key", "nothing_to_do", "save"]

CACHE_PATH = os.path.join(".fileflow", "noop-cache")
FORMAT = 1
# File timestamps come from a coarse clock (a tick of 1-10 ms on Linux): a path written
# less than RACY_NS before the build began is not vouched for; a path whose times are whole
# seconds (a file system that keeps no more) gets COARSE_RACY_NS instead.
RACY_NS = 100_000_000
COARSE_RACY_NS = 2_000_000_000
# Names whose use makes the graph depend on more than the files read (the environment, a
# directory's listing). Found in the text: a false alarm only costs the shortcut.
_VOLATILE = re.compile(r"\b(?:env|glob_wildcards)\b")
# A path's state: None when missing, False when it cannot be told, else
# (size, mtime_ns, ctime_ns, is_dir).
PathState = tuple[int, int, int, bool] | Literal[False] | None


def cache_key(flowfile: str, targets: Sequence[str], config: Mapping[str, object],
              configfiles: Sequence[str], db_url: str | None,
              default_resources: Mapping[str, object] | None = None) -> tuple | None:
    """What a cached answer is valid for; None when the run log is not a SQLite file.
    `default_resources` count: a command may show them (`{resources.runtime}`)."""
    from fileflow import __version__
    from fileflow.runlog.log import sqlite_file

    cwd = os.getcwd()
    db = sqlite_file(db_url, cwd)
    if db is None:
        return None
    return (FORMAT, __version__, sys.version, cwd, flowfile, os.path.abspath(flowfile),
            tuple(targets), repr(sorted(config.items(), key=repr)), tuple(configfiles),
            repr(sorted((default_resources or {}).items(), key=repr)), db)


def _runlog_paths(key: tuple) -> list[str]:
    db = key[-1]
    return [db, db + "-wal"]


def _own_modules() -> list[str]:
    """fileflow's own source: an edited or reinstalled fileflow decides afresh."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return sorted(os.path.join(folder, n) for folder, _, names in os.walk(package)
                  for n in names if n.endswith(".py"))


def _state(path: str) -> PathState:
    """None: missing; False: cannot tell; else (size, mtime_ns, ctime_ns, is_dir)."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return False
    if stat_mod.S_ISDIR(st.st_mode):
        return _dir_state(path)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, False)


def _dir_state(path: str) -> PathState:
    from fileflow.engine.store import FileStore
    from fileflow.errors import WorkflowError

    try:
        st = FileStore(".").stat_many([path])[path]
    except WorkflowError:
        return False
    return (st.size, st.mtime_ns, st.ctime_ns, True) if st.exists else None


def nothing_to_do(key: tuple | None) -> int | None:
    """The number of jobs when the cache vouches that all are up to date, else None."""
    if key is None:
        return None
    try:
        with open(CACHE_PATH, "rb") as fh:
            found = marshal.loads(fh.read())  # marshal.load(fh) reads it object by object
        saved_key, jobs, paths, states = found
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if saved_key != key or len(paths) != len(states):
        return None
    os_stat, isdir = os.stat, stat_mod.S_ISDIR
    for path, want in zip(paths, states):
        try:
            st = os_stat(path)
        except (FileNotFoundError, NotADirectoryError):
            if want is None:
                continue
            return None
        except OSError:
            return None
        if want is None:
            return None
        if isdir(st.st_mode):
            if _dir_state(path) != want:
                return None
        elif (st.st_ctime_ns != want[2] or st.st_mtime_ns != want[1] or st.st_size != want[0]
              or want[3]):
            return None
    return jobs


def save(key: tuple | None, jobs: int, observed: Mapping[str, FileState],
         fresh: Iterable[str], flowfiles: Sequence[str], read_files: Sequence[str],
         configfiles: Sequence[str], runlog_states: Sequence[PathState],
         began_ns: int) -> bool:
    """Record a decision of "nothing to do". `observed` holds the FileStates the decision
    read (the plan's; sources first), `fresh` the paths to stat now (taken from the record, or only looked
    up), `runlog_states` the state of the run log's files before it was read, `began_ns`
    the time the build began. Returns whether the cache was written; never raises OSError."""
    if key is None or not os.path.isdir(".fileflow"):
        return False
    for name in flowfiles:
        try:
            with open(name, encoding="utf-8-sig", errors="replace") as fh:
                if _VOLATILE.search(fh.read()):
                    _discard()
                    return False
        except OSError:
            return False
    try:
        from fileflow.runlog.records import is_network_fs
        if is_network_fs("."):
            return False
    except Exception:
        return False
    # In the order a later build checks them: what changes most often first, so that a
    # changed build stops looking early. Any build that ran leaves the run log changed;
    # users edit Flowfiles and sources (`observed` lists those first); outputs come last.
    if any("://" in p for p in observed) or any("://" in p for p in fresh):
        return False  # a remote file: only its own store can tell whether it changed
    paths: list[str] = _runlog_paths(key)
    states: list[PathState] = list(runlog_states)
    for path in [*flowfiles, *read_files, *configfiles, *fresh, *_own_modules()]:
        paths.append(path)
        states.append(_state(path))
    for path, st in observed.items():
        paths.append(path)
        states.append((st.size, st.mtime_ns, st.ctime_ns, st.is_dir) if st.exists else None)
    if not _old_enough(states, began_ns):
        return False
    tmp = f"{CACHE_PATH}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps((key, jobs, paths, states)))
        os.replace(tmp, CACHE_PATH)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    return True


def _old_enough(states: Sequence[PathState], began_ns: int) -> bool:
    """Every state readable, and written long enough before `began_ns` that any later write
    shows a newer ctime (git's "racily clean" files, the other way round)."""
    fine, coarse = began_ns - RACY_NS, began_ns - COARSE_RACY_NS
    for state in states:
        if state is None:
            continue
        if state is False:
            return False
        _, mtime, ctime, _ = state
        whole = mtime % 1_000_000_000 == 0 and ctime % 1_000_000_000 == 0
        limit = coarse if whole else fine
        if mtime >= limit or ctime >= limit:
            return False
    return True


def runlog_states(key: tuple | None) -> list[PathState]:
    """The state of the run log's files, taken before the run log is read."""
    return [_state(p) for p in _runlog_paths(key)] if key is not None else []


def _discard() -> None:
    try:
        os.unlink(CACHE_PATH)
    except OSError:
        pass
