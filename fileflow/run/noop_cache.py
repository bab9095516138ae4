"""What the last build that found nothing to do saw, so that the next one can say so after
one `stat` per path: no Flowfile loaded, no graph resolved, no run log read. Layer 4.

A build that decides "nothing to do" (no forcing, no warning, nothing newly hashed) writes
`.fileflow/noop-cache`: a key (fileflow's version, the working directory, the Flowfile,
targets, config, default resources, --groups and run log named on the command line) and
the state of every path the decision depended on: each path of the plan (every output, the
inputs compared with the record, the sources looked up), every Flowfile, config file,
script, sample sheet and data file read while loading or evaluating a job's values, the run
log's files (`runlog.db` and its `-wal`) and fileflow's own modules. The next build
with the same key finds nothing to do when every one of those paths shows the same state:
missing, or the same size, mtime_ns, ctime_ns and symlink target (for a directory, the
summary of its tree that `FileStore` makes). Anything else, and any doubt, falls back to
the full build.

Why a stat suffices: the decision is a function of the Flowfile and what it reads, the
state of those paths and the run log's content, and a write to any of them changes its
ctime (which user space cannot set back). The one gap is a change within the same
timestamp tick as the recorded state, so nothing is cached whose mtime or ctime is less
than one tick of the file system's own clock before the build began, as measured on the
file system itself (fileflow.engine.fs_clock, fileflow.state.settled; git's "racily clean"
files): a later change then shows a newer ctime. A build that found nothing to do but
recorded files it had to hash again only because their records were taken within a tick of
their last change (their content and stat unchanged) still writes the cache, with the run
log's state after that write, when nobody else wrote the run log meanwhile.

A build that ran, in one round, all it planned (no failure, no forcing: when the plan state
is kept) writes the cache at its end (fileflow.cli.noop_saves.save_after_build), so the
first no-op after it answers from it: each path as the build last observed it (an output
as its job's record holds it, taken by the scheduler for that record), only when every
path still shows that state (`as_observed`: an output a later job changed in place, or a
file edited during the build, does not), a state recorded within a tick of its file's last
change hashes to the recorded digest, nobody else wrote the run log during the build, and
the run log's state is taken after the build's last write (`runlog_settled`). What the
build wrote is vouched for from the clock read then; what the graph was made from, from the
clock read before it was loaded (`made`). The folders
`glob_wildcards()` listed are watched too, each by its own stat: a file added, removed or
renamed in one changes its mtime and ctime. A folder the plan observed (a directory()
output, such as a checkpoint's) is watched by the summary of its tree, whose ctime any
write beneath it advances: the plain files directly inside it, and the folders listed in
it, are not watched again one by one. Never cached: a Flowfile that uses `env()` (its graph depends on the
environment), a graph with a path that is a URL (a remote file has no local stat), a run
log other than a SQLite file, and a working directory on a network file system (the
server's clock stamps the files). Deleting the cache file is always safe.
"""
from __future__ import annotations

import marshal
import os
import stat as stat_mod
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING

from fileflow.fs import replace_file
from fileflow.run.path_states import (
    PathState,
    old_enough,
    on_network_fs,
    own_modules,
    own_state,
    state,
    uses_environment,
)

if TYPE_CHECKING:
    from fileflow.engine.fs_clock import FsClock
    from fileflow.engine.store import FileStore
    from fileflow.state import FileState

__all__ = ["cache_key", "nothing_to_do", "save", "runlog_states", "runlog_after_write",
           "runlog_settled", "as_observed"]

CACHE_PATH = os.path.join(".fileflow", "noop-cache")
# An existing FileState as a PathState (size, mtime_ns, ctime_ns, is_dir, link), in C.
_PATH_STATE = itemgetter(2, 3, 6, 5, 7)
FORMAT = 3
# How long a build that wrote the run log itself waits, at most, for the file system's
# clock to pass the tick of that write (a fine-grained file system's tick is a few ms).
SETTLE_WAIT_NS = 20_000_000


def cache_key(flowfile: str, targets: Sequence[str], config: Mapping[str, object],
              configfiles: Sequence[str], db_url: str | None,
              default_resources: Mapping[str, object] | None = None,
              groups: Mapping[str, str] | None = None) -> tuple | None:
    """What a cached answer is valid for; None when the run log is not a SQLite file.
    `default_resources` count: a command may show them (`{resources.runtime}`); `groups`
    (--groups) too: the rules they name are checked against the workflow, which the
    shortcut does not load."""
    from fileflow import __version__
    from fileflow.runlog.location import sqlite_file

    cwd = os.getcwd()
    db = sqlite_file(db_url, cwd)
    if db is None:
        return None
    return (FORMAT, __version__, sys.version, cwd, flowfile, os.path.abspath(flowfile),
            tuple(targets), repr(sorted(config.items(), key=repr)), tuple(configfiles),
            repr(sorted((default_resources or {}).items(), key=repr)),
            repr(sorted((groups or {}).items())), db)


def _runlog_paths(key: tuple) -> list[str]:
    db = key[-1]
    return [db, db + "-wal"]


def nothing_to_do(key: tuple | None) -> int | None:
    """The number of jobs when the cache vouches that all are up to date, else None."""
    if key is None:
        return None
    try:
        with open(CACHE_PATH, "rb") as fh:
            found = marshal.loads(fh.read())  # marshal.load(fh) reads it object by object
        saved_key, jobs, paths, states, listed, listed_states = found
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if saved_key != key or len(paths) != len(states) or len(listed) != len(listed_states):
        return None
    if any(_listing_state(d) != want for d, want in zip(listed, listed_states)):
        return None
    from fileflow.engine.store import FileStore

    os_lstat, isreg = os.lstat, stat_mod.S_ISREG
    store = FileStore(".")  # one for every folder summed up: its clock is read once
    for path, want in zip(paths, states):
        try:
            st = os_lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            if want is None:
                continue
            return None
        except OSError:
            return None
        if want is None:
            return None
        if isreg(st.st_mode):  # one lstat: the usual case
            if (st.st_ctime_ns != want[2] or st.st_mtime_ns != want[1]
                    or st.st_size != want[0] or want[3] or want[4]):
                return None
        elif state(path, store) != want:  # a directory or a symlink
            return None
    return jobs


def save(key: tuple | None, jobs: int, observed: Mapping[str, FileState],
         fresh: Iterable[str], flowfiles: Sequence[str], read_files: Sequence[str],
         configfiles: Sequence[str], runlog_states: Sequence[PathState],
         clock: FsClock, runlog_clock: FsClock | None = None,
         listed_dirs: Iterable[str] = (), made: Collection[str] = ()) -> bool:
    """Record a decision of "nothing to do". `observed` holds the FileStates the decision
    read (the plan's; sources first), `fresh` the paths to stat now (taken from the record, or
    only looked up), `runlog_states` the state of the run log's files before it was read (or
    after the build's own write: `runlog_after_write`, with `runlog_clock`), `clock` the file
    system's clock read before any of these states was taken. `made`: paths of `observed`
    the build wrote after `clock` (its jobs' outputs), whose states, and those of the
    files directly inside such a folder, count as taken when `runlog_clock` was read.
    Returns whether the cache was written; never raises OSError."""
    if key is None or not os.path.isdir(".fileflow"):
        return False
    if uses_environment(flowfiles):
        _discard()
        return False
    if on_network_fs():
        return False
    # In the order a later build checks them: what changes most often first, so that a
    # changed build stops looking early. Any build that ran leaves the run log changed;
    # users edit Flowfiles and sources (`observed` lists those first); outputs come last.
    if "://" in "\x00".join(observed) or "://" in "\x00".join(fresh):  # one scan in C
        return False  # a remote file: only its own store can tell whether it changed
    paths: list[str] = _runlog_paths(key)
    states: list[PathState] = list(runlog_states)
    summed = {p for p, st in observed.items() if st.exists and st.is_dir}
    for path in [*flowfiles, *read_files, *configfiles, *fresh, *own_modules()]:
        paths.append(path)
        states.append(state(path))
    paths.extend(observed)
    states.extend([_PATH_STATE(st) if st.exists else None for st in observed.values()])
    kept = _not_summed(paths[2:], states[2:], summed)  # the run log's files come first
    paths, states = paths[:2] + kept[0], states[:2] + kept[1]
    globbed = list(dict.fromkeys(map(_relative, listed_dirs)))
    young = set(made)
    if young and any(_inside(_relative(p), young)
                     for p in [*flowfiles, *read_files, *configfiles, *globbed]):
        return False  # the graph was made from what the build then wrote
    listed = [d for d in globbed if not _inside(d, summed)]
    listed_states = [_listing_state(d) for d in listed]
    n_globbed = len(listed)
    flat = {d: files for d in summed if (files := _flat_files(d, observed[d])) is not None}
    if flat:  # each such folder watched by its own stat and each file's: no listing needed
        at = [i for i, p in enumerate(paths) if p not in flat]
        paths, states = [paths[i] for i in at], [states[i] for i in at]
        for folder, files in flat.items():
            listed.append(folder)
            listed_states.append(_listing_state(folder))
            paths.extend(files)
            states.extend(files.values())
    # What the build wrote counts from `runlog_clock`; all else, from before it was loaded.
    if young:  # (_made, inline: this runs for every path)
        late_at = [i for i in range(2, len(paths))
                   if paths[i] in young or paths[i].rpartition("/")[0] in young]
        late = set(late_at)
        early_at = [i for i in range(2, len(paths)) if i not in late]
    else:
        early_at, late_at = list(range(2, len(paths))), []
    flat_at = range(n_globbed, len(listed))
    listed_late = {i for i in flat_at if _made(listed[i], young)}
    listed_early = [i for i in range(len(listed)) if i not in listed_late]
    if not (old_enough([states[i] for i in early_at], clock)
            and old_enough([listed_states[i] for i in listed_early], clock)
            and old_enough([*states[:2], *(states[i] for i in late_at),
                            *(listed_states[i] for i in listed_late)], runlog_clock or clock)):
        return False
    return replace_file(CACHE_PATH, marshal.dumps((key, jobs, paths, states, listed, listed_states)))


def _made(path: str, made: set[str]) -> bool:
    """Whether a build wrote `path`: it is in `made`, or a file directly inside a folder
    there (a directory() output's files)."""
    return bool(made) and (path in made or path.rpartition("/")[0] in made)


def _listing_state(path: str) -> PathState:
    """A folder glob_wildcards() listed, as its own stat shows it: an entry added, removed
    or renamed changes its mtime and ctime (what is inside the entries does not matter)."""
    found = own_state(path)
    return found if not found else (*found[:3], True, found[4])


def _flat_files(folder: str, summary: FileState) -> dict[str, PathState] | None:
    """The states of the files in a folder that holds plain files only (a checkpoint's
    chunks), when they add up to the `summary` the plan saw (FileStore sums a folder up:
    the files' sizes, the newest mtime and ctime of it and them); else None."""
    try:
        own = os.stat(folder)
        found: dict[str, PathState] = {}
        size, mtime, ctime = 0, own.st_mtime_ns, own.st_ctime_ns
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    return None
                st = entry.stat(follow_symlinks=False)
                found[f"{folder}/{entry.name}"] = (st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                                   False, "")
                size += st.st_size
                mtime, ctime = max(mtime, st.st_mtime_ns), max(ctime, st.st_ctime_ns)
    except OSError:
        return None
    if (size, mtime, ctime) != (summary.size, summary.mtime_ns, summary.ctime_ns):
        return None  # changed since the plan looked: not vouched for
    return found


def _relative(path: str) -> str:
    """A path inside the working directory as the plan spells it: relative."""
    cwd = os.getcwd()
    return os.path.relpath(path, cwd) if path.startswith(cwd + os.sep) else path


def _inside(path: str, summed: set[str]) -> bool:
    """Whether `path` is one of the folders in `summed`, or a folder below one: a folder's
    summary (FileStore) takes in the stat of every folder beneath it."""
    head = path
    while True:
        if head in summed:
            return True
        if "/" not in head:
            return False
        head = head.rsplit("/", 1)[0]


def _not_summed(paths: list[str], states: list[PathState], summed: set[str]
                ) -> tuple[list[str], list[PathState]]:
    """Without the plain files (and missing paths) directly inside a folder whose summary
    is watched: any write to one of them, or an entry added or removed there, changes the
    summary's ctime (a checkpoint's directory() output and the chunks read from it)."""
    if not summed:
        return paths, states
    kept_paths: list[str] = []
    kept_states: list[PathState] = []
    for path, found in zip(paths, states):
        cut = path.rfind("/")
        if (cut > 0 and path[:cut] in summed and path not in summed
                and (found is None or (found and not found[3] and not found[4]))):
            continue
        kept_paths.append(path)
        kept_states.append(found)
    return kept_paths, kept_states


def runlog_states(key: tuple | None) -> list[PathState]:
    """The state of the run log's files, taken before the run log is read."""
    return [state(p) for p in _runlog_paths(key)] if key is not None else []


def runlog_after_write(key: tuple | None, before: Sequence[PathState],
                       before_write: Sequence[PathState],
                       store: FileStore) -> tuple[list[PathState], FsClock] | None:
    """For a build that found nothing to do and then wrote the run log itself (files
    recorded again, unchanged): `runlog_settled`. None when someone else wrote the run log
    since it was read (`before_write`, taken just before the write, differs from `before`)."""
    if key is None or list(before_write) != list(before):
        return None
    return runlog_settled(key, store)


def runlog_settled(key: tuple | None, store: FileStore
                   ) -> tuple[list[PathState], FsClock] | None:
    """The run log's state after the build's last write and the clock read before it was
    taken, once the file system's clock has passed the write's tick (waiting up to
    SETTLE_WAIT_NS); None when it does not pass soon enough (a file system of whole
    seconds)."""
    if key is None:
        return None
    import time

    deadline = time.monotonic_ns() + SETTLE_WAIT_NS
    while True:
        clock = store.tick()
        after = runlog_states(key)
        if old_enough(after, clock):
            return after, clock
        if time.monotonic_ns() >= deadline:
            return None
        time.sleep(max(1_000_000, min(clock.granularity_ns, SETTLE_WAIT_NS)) / 1e9)


def as_observed(observed: Mapping[str, FileState], store: FileStore
                ) -> dict[str, FileState] | None:
    """The states of these paths now, when every one shows the state `observed` holds of it
    (for an output a build wrote, the state its job's record holds): the same size, mtime,
    ctime, kind and symlink target, or missing alike; else None. A state taken within a
    timestamp tick of the path's last change (fileflow.state.settled) cannot vouch for the
    content: such a file is hashed again and must have the digest observed. The states
    returned carry the digests observed. The caller reads the file system's clock
    (`store.tick`) before, once the paths' last writes are a tick old: the states taken now
    are then settled."""
    from fileflow.state import settled

    now = store.stat_many(observed)
    granularity = store.granularity_ns
    again: dict[str, FileState] = {}
    for path, was in observed.items():
        found = now[path]
        if not was.exists:
            if found.exists:
                return None
            continue
        if (not found.exists or found.size != was.size or found.mtime_ns != was.mtime_ns
                or found.ctime_ns != was.ctime_ns or found.is_dir != was.is_dir
                or found.link != was.link):
            return None
        if was.seen_ns < 0 or not settled(was.mtime_ns, was.ctime_ns, was.seen_ns, granularity):
            if was.digest is None:
                return None
            again[path] = found
        now[path] = found._replace(digest=was.digest)
    if again:
        hashed = store.with_digests(again, {})
        if any(hashed[p].digest != observed[p].digest for p in again):
            return None
    return now


def _discard() -> None:
    try:
        os.unlink(CACHE_PATH)
    except OSError:
        pass
