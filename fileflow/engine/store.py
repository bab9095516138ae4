"""Observe files: stat them cheaply, hash them only when the cheap check cannot vouch for them.

Layer 2: does I/O; imports only `fileflow.state` and `fileflow.errors`.

mtime is the fast filter, the content hash is the truth. `stat_many` is a plain loop of
`os.stat`; `with_digests` reuses a recorded digest while size, mtime_ns and ctime_ns are
unchanged and hashes the rest (in a thread pool: hashlib releases the GIL).

What the stat filter guarantees (docs/guarantees.md: Staleness: mtime filters, the content
hash decides):
- `touch` with no content change: the stat differs, the file is re-hashed, the digest is the
  same, so nothing downstream reruns (and the caller records the new stat, so the next run
  does not hash it again).
- Content changed and mtime restored with `os.utime`: a size change is caught by the size;
  a same-size change is caught by ctime, which every write and utime() itself set to "now"
  and which user space cannot set back. This needs the record to carry `ctime_ns`; a record
  without it (-1) is trusted on size and mtime alone, as Make, Ninja and rsync do.
- A rewrite with the same size inside the same timestamp tick as the recorded observation
  ("racily clean" in git's terms): every state is stamped with the file system's clock
  (`seen_ns`, fileflow.engine.fs_clock), and a record whose file changed less than one
  timestamp tick before it was taken vouches for nothing: the file is hashed next time
  (fileflow.state.vouches).
- A symlink pointed at another file: its target (`link`) is part of the stat.
- Not caught: a file system that does not keep ctime, an edit with the mtime restored.

Directories (`directory()` outputs): `stat` summarises the whole tree (size = total bytes of
the files, mtime_ns/ctime_ns = newest of any entry, the directory itself included), so the
same reuse rule applies and a change anywhere inside is seen. Their digest hashes a manifest
of every entry's relative path, kind, size and content digest.
"""
from __future__ import annotations

import errno
import os
import stat as stat_mod
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence

from fileflow.engine.fs_clock import FsClock, read_clock
from fileflow.errors import WorkflowError
from fileflow.state import HASH_ALGORITHM, FileState, RecordedTarget, vouches

__all__ = ["FileStore", "HashingStopped", "CHUNK_SIZE"]

CHUNK_SIZE = 1 << 20  # 1 MiB: files are streamed, never read whole

# Errors of os.stat that mean "there is nothing there" (a broken symlink gives ENOENT;
# a symlink loop gives ELOOP; a path through a regular file gives ENOTDIR).
_MISSING = (FileNotFoundError, NotADirectoryError)
_ELOOP = errno.ELOOP
# Listing a directory answers "missing" for its absent entries without one failed stat each;
# only where names compare byte for byte (Linux), so a case-insensitive disk never lies.
_LISTING_WORKS = sys.platform == "linux"
_LIST_AT = 32  # requested paths in one directory before a listing can pay
_BYTES_PER_ENTRY = 24  # about what ext4 and tmpfs count per short directory entry


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


class HashingStopped(Exception):
    """A hash was stopped halfway (FileStore.stop_hashing); the file has no digest."""


class FileStore:
    """Observes paths under `root` (absolute paths are taken as they are)."""

    def __init__(self, root: str | os.PathLike[str] = ".", hash_workers: int = 4):
        self.root = os.fspath(root)
        self.hash_workers = max(1, hash_workers)
        self.hashed_count = 0  # regular files actually read and hashed; tests rely on it
        self._count_lock = threading.Lock()
        self._buffers = threading.local()
        self._stop_hashing = threading.Event()
        self._clock: FsClock | None = None

    def tick(self) -> FsClock:
        """Read the file system's clock (fileflow.engine.fs_clock) now: the states observed
        from here on are stamped with it (`FileState.seen_ns`). Called before observing what
        will be recorded: the outputs of jobs that just ended."""
        self._clock = read_clock(os.path.join(self.root, ".fileflow"), previous=self._clock)
        return self._clock

    @property
    def clock(self) -> FsClock:
        """The last reading of the file system's clock. Before the first `tick`, the time
        of the last one, by any build (nothing written: a dry run records nothing)."""
        if self._clock is None:
            self._clock = read_clock(os.path.join(self.root, ".fileflow"), touch=False)
        return self._clock

    @property
    def granularity_ns(self) -> int:
        return self.clock.granularity_ns

    def stop_hashing(self) -> None:
        """Make every hash in progress, and every later one, raise HashingStopped at its
        next chunk (Ctrl-C must not wait for a large file to be read to its end)."""
        self._stop_hashing.set()

    def _abs(self, path: str) -> str:
        return os.path.join(self.root, path)

    # ---- stat --------------------------------------------------------------------------

    def stat(self, path: str) -> FileState:
        """The state of `path` now, without a digest. Symlinks are followed (their target
        is kept in `link`); a broken one is missing. Raises WorkflowError when the path
        exists but cannot be examined."""
        if self.root in ("", "."):  # one os.lstat, no set-up: called once per source file
            try:
                st = os.lstat(path)
            except OSError as exc:
                return self._stat_failed(path, exc)
            if stat_mod.S_ISREG(st.st_mode):
                return FileState(path, True, st.st_size, st.st_mtime_ns, None, False,
                                 st.st_ctime_ns, "", self.clock.now_ns)
        return self.stat_many((path,))[path]

    def stat_many(self, paths: Iterable[str]) -> dict[str, FileState]:
        """`stat` for many paths. Kept lean: it runs on every path of the graph each build
        (100,000 paths in well under a second), so it stats relative to an open descriptor
        of the root instead of joining strings, where the platform allows it."""
        out: dict[str, FileState] = {}
        os_lstat, isreg, new_state = os.lstat, stat_mod.S_ISREG, FileState
        # FileState(...) without the named tuple's own __new__, a Python frame per path
        new_tuple = tuple.__new__
        root, join = self.root, os.path.join
        seen = self.clock.now_ns  # read before any of these stats: a lower bound for each
        here = root in ("", ".")  # the usual case: paths are relative to the cwd already
        if here:
            paths = self._drop_unlisted(paths, out)
        root_fd = None if here else self._open_root()
        try:
            for path in paths:
                # dir_fd is ignored for an absolute path, as os.path.join would do.
                where = path if here or root_fd is not None else join(root, path)
                try:
                    st = os_lstat(where, dir_fd=root_fd)
                    if isreg(st.st_mode):  # the usual case: one lstat
                        out[path] = new_tuple(new_state, (path, True, st.st_size,
                                                          st.st_mtime_ns, None, False,
                                                          st.st_ctime_ns, "", seen))
                        continue
                    link = ""
                    if stat_mod.S_ISLNK(st.st_mode):
                        link = os.readlink(where, dir_fd=root_fd)
                        st = os.stat(where, dir_fd=root_fd)
                except OSError as exc:
                    out[path] = self._stat_failed(path, exc)
                    continue
                if stat_mod.S_ISDIR(st.st_mode):
                    out[path] = self._stat_dir(path, self._abs(path), st)._replace(
                        link=link, seen_ns=seen)
                else:
                    out[path] = new_state(path, True, st.st_size, st.st_mtime_ns, None, False,
                                          st.st_ctime_ns, link, seen)
        finally:
            if root_fd is not None:
                os.close(root_fd)
        return out

    def missing(self, paths: Iterable[str]) -> set[str]:
        """The paths that do not exist (symlinks followed, as `stat`), answered from one
        directory listing where many paths of one directory are asked, else by `stat`. The
        resolver asks this of every source file: listing a directory of 50,000 inputs costs
        a small part of stat'ing each."""
        gone: set[str] = set()
        for group, listing in self._listed(paths):
            if listing is None:
                gone.update([path for path in group if not self._exists(path)])
                continue
            cut = group[0].rfind("/") + 1  # one folder: every name starts there
            gone.update([path for path in group if path[cut:] not in listing])
            if any(listing.values()):  # symbolic links: checked, to follow them
                gone.update([path for path in group
                             if listing.get(path[cut:]) and not self._exists(path)])
        return gone

    def _exists(self, path: str) -> bool:
        """Whether `path` exists, symlinks followed: one `stat`, a folder not summed up
        (a checkpoint's directory() output is asked whether it is there, not what it holds)."""
        try:
            os.stat(path if self.root in ("", ".") else self._abs(path))
        except OSError as exc:
            return self._stat_failed(path, exc).exists
        return True

    def _drop_unlisted(self, paths: Iterable[str], out: dict[str, FileState]) -> list[str]:
        """Paths a directory listing shows absent go into `out` as missing; the rest are
        returned to be stat'ed. A failed stat raises an exception in Python, which costs
        many times a listing entry, and a planned build's outputs are mostly missing."""
        rest: list[str] = []
        new = tuple.__new__
        for group, listing in self._listed(paths, _mostly_missing):
            if listing is None:
                rest.extend(group)
                continue
            cut = group[0].rfind("/") + 1  # one folder: every name starts there
            # an empty folder (a first build's outputs): every path missing, none cut
            listed = [path for path in group if path[cut:] in listing] if listing else []
            if len(listed) < len(group):  # FileState(path, False), without a frame per path
                out.update({path: new(FileState, (path, False, -1, -1, None, False, -1, "", -1))
                            for path in group if not listing or path[cut:] not in listing})
            rest.extend(listed)
        return rest

    def _listed(self, paths: Iterable[str], worth_it=lambda group: True,
                ) -> Iterator[tuple[list[str], dict[str, bool] | None]]:
        """The paths grouped by directory, each group with its directory's listing (entry
        name -> whether it is a symlink, to be stat'ed), or None where listing does not pay
        or is not trusted: few paths, a directory far larger than what is asked of it (its
        size in bytes estimates its entries), a platform whose names may compare
        case-insensitively, or a root other than the working directory."""
        asked = paths if isinstance(paths, (list, tuple)) else list(paths)
        by_dir: dict[str, list[str]] = {}
        if _one_folder(asked):  # a fan-out's inputs: no folder cut out of each path
            by_dir[asked[0][:asked[0].rfind("/") + 1]] = list(asked)
        else:
            # "" for a name in the working directory
            folders = [path[:path.rfind("/") + 1] for path in asked]
            for folder, path in zip(folders, asked):
                group = by_dir.get(folder)
                if group is None:
                    by_dir[folder] = [path]
                else:
                    group.append(path)
        usable = _LISTING_WORKS and self.root in ("", ".")
        for folder, group in by_dir.items():
            yield group, (_listing(folder[:-1] or ("/" if folder else "."), len(group))
                          if usable and len(group) >= _LIST_AT and worth_it(group) else None)

    def _open_root(self) -> int | None:
        if os.stat not in os.supports_dir_fd:
            return None  # Windows: callers fall back to joined paths below
        try:
            return os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError as exc:
            raise WorkflowError(f"cannot open the working directory {self.root!r}: "
                                f"{_reason(exc)}") from exc

    @staticmethod
    def _stat_failed(path: str, exc: OSError) -> FileState:
        if isinstance(exc, _MISSING) or exc.errno == _ELOOP:
            return FileState(path, False)
        raise WorkflowError(f"cannot examine {path!r}: {_reason(exc)}") from exc

    def _stat_dir(self, path: str, full: str, st: os.stat_result) -> FileState:
        size, mtime, ctime = 0, st.st_mtime_ns, st.st_ctime_ns
        try:
            for _rel, kind, est in _walk(full, ""):
                if kind == "f":
                    size += est.st_size
                mtime = max(mtime, est.st_mtime_ns)
                ctime = max(ctime, est.st_ctime_ns)
        except OSError as exc:
            raise WorkflowError(
                f"cannot examine directory {path!r}: {exc.filename or full}: {_reason(exc)}"
            ) from exc
        return FileState(path, True, size, mtime, None, True, ctime, "", self.clock.now_ns)

    # ---- digests -----------------------------------------------------------------------

    def with_digests(self, states: Mapping[str, FileState],
                     recorded: Mapping[str, RecordedTarget]) -> dict[str, FileState]:
        """`states` with `digest` filled for every existing path. A digest is taken from
        `recorded[path]` (the path's own record) when that record is complete, made with
        HASH_ALGORITHM and vouches for the observed state (fileflow.state.vouches: the same
        stat and link target, recorded a timestamp tick after the file last changed); every
        other path is hashed."""
        result = dict(states)
        todo: list[str] = []
        granularity = self.granularity_ns
        for path, st in states.items():
            if not st.exists or st.digest is not None:
                continue
            rec = recorded.get(path)
            # An incomplete record is never trusted: its job may have been killed mid-write.
            if (rec is not None and rec.complete and rec.digest
                    and rec.algorithm == HASH_ALGORITHM
                    and vouches(rec, st, granularity)):
                result[path] = _new(FileState, (path, True, st.size, st.mtime_ns, rec.digest,
                                                st.is_dir, st.ctime_ns, st.link, st.seen_ns))
            else:
                todo.append(path)
        for path, digest in zip(todo, self._hash_all(todo)):
            result[path] = states[path]._replace(digest=digest)
        return result

    def observe(self, paths: Iterable[str], hash_up_to: int | None = None) -> dict[str, FileState]:
        """`with_digests(stat_many(paths), {})`, for files just written (a job's outputs):
        a regular file is opened once and its state taken from the open file, instead of a
        stat, another stat and an open. Anything else (a directory, a missing path, an
        error) goes the general way. With `hash_up_to`, files larger than that many bytes,
        and directories, are left unhashed (digest None), for the caller to hash elsewhere."""
        out: dict[str, FileState | None] = {}
        rest: list[str] = []
        for path in paths:
            state = self._read_file_state(path, hash_up_to)
            out[path] = state
            if state is None:
                rest.append(path)
        if rest:
            stats = self.stat_many(rest)
            out.update(stats if hash_up_to is not None else self.with_digests(stats, {}))
        return out  # type: ignore[return-value]  # every None was replaced

    def _read_file_state(self, path: str, hash_up_to: int | None = None) -> FileState | None:
        seen = self.clock.now_ns
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below);
        # O_NOFOLLOW: a symlink goes the general way, which reads its target.
        try:
            fd = os.open(self._abs(path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
                         | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                return None
            if hash_up_to is not None and st.st_size > hash_up_to:
                digest = None
            else:
                with open(fd, "rb", buffering=0, closefd=False) as fh:
                    digest = self._hash_open_file(fh)
        except OSError:
            return None
        finally:
            os.close(fd)
        return _new(FileState, (path, True, st.st_size, st.st_mtime_ns, digest, False,
                                st.st_ctime_ns, "", seen))

    def _hash_all(self, paths: list[str]) -> list[str]:
        if len(paths) <= 1 or self.hash_workers == 1:
            return [self.hash_path(p) for p in paths]
        from concurrent.futures import ThreadPoolExecutor  # only when hashing: a slow import

        pool = ThreadPoolExecutor(max_workers=min(self.hash_workers, len(paths)),
                                  thread_name_prefix="fileflow-hash")
        try:
            return list(pool.map(self.hash_path, paths))
        finally:
            # On the first error, do not keep hashing files nobody will look at.
            pool.shutdown(wait=True, cancel_futures=True)

    def hash_path(self, path: str) -> str:
        """The digest of a file's content, or of a directory's manifest (see module doc).
        Raises WorkflowError naming the path when it cannot be read."""
        full = self._abs(path)
        try:
            st = os.stat(full)
            if stat_mod.S_ISDIR(st.st_mode):
                return self._hash_dir(full)
            if not stat_mod.S_ISREG(st.st_mode):
                # Reading a FIFO or a device could block forever or never end.
                raise WorkflowError(f"cannot hash {path!r}: not a regular file or directory")
            return self._hash_file(full)
        except OSError as exc:
            inner = f" ({exc.filename})" if exc.filename and exc.filename != full else ""
            raise WorkflowError(f"cannot hash {path!r}{inner}: {_reason(exc)}") from exc

    def _hash_file(self, full: str) -> str:
        with open(full, "rb", buffering=0) as fh:
            return self._hash_open_file(fh)

    def _hash_open_file(self, fh) -> str:
        buf = getattr(self._buffers, "buf", None)
        if buf is None:  # one reusable buffer per hashing thread
            buf = self._buffers.buf = bytearray(CHUNK_SIZE)
        view = memoryview(buf)
        h = _sha256()
        stop = self._stop_hashing
        while n := fh.readinto(buf):
            if stop.is_set():
                raise HashingStopped(getattr(fh, "name", ""))
            h.update(view[:n])
        with self._count_lock:
            self.hashed_count += 1
        return f"{HASH_ALGORITHM}:{h.hexdigest()}"

    def _hash_dir(self, full: str) -> str:
        # One NUL-separated record per entry (file names cannot hold NUL), so no two
        # different trees give the same manifest; the "dir" prefix keeps a file whose
        # bytes happen to equal a manifest from colliding with the directory.
        h = _sha256(b"fileflow-dir\0")
        for rel, kind, st in _walk(full, ""):
            name = rel.encode("utf-8", "surrogateescape")
            if kind == "f":
                extra = f"{st.st_size}\0{self._hash_file(os.path.join(full, rel))}"
            elif kind in ("l", "x"):  # symlink to a directory, or broken: its target
                extra = os.readlink(os.path.join(full, rel))
            else:
                extra = ""
            h.update(b"%s\0%s\0%s\0\n" % (kind.encode(), name,
                                           extra.encode("utf-8", "surrogateescape")))
        return f"{HASH_ALGORITHM}:{h.hexdigest()}"


_new = tuple.__new__  # a named tuple without its Python-level __new__: made per path


def _one_folder(paths: Sequence[str]) -> bool:
    """Whether every path is in the folder of the first (none in a folder below it), asked
    in C of the paths joined by NUL (which no path holds): each but the first follows a
    NUL with that folder, and the paths hold no "/" beyond those of the folder. One pass
    over the paths themselves (a million of them lie all over memory), then scans."""
    if not paths:
        return False
    first = paths[0]
    folder = first[:first.rfind("/") + 1]
    joined, n = "\x00".join(paths), len(paths)
    return (joined.count("\x00") == n - 1 and joined.count("\x00" + folder) == n - 1
            and joined.count("/") == n * folder.count("/"))


def _mostly_missing(group: list[str]) -> bool:
    """A probe of a few paths: listing a folder saves failed stats only when most of what is
    asked of it is missing (a first build); when its files exist, each needs a stat anyway."""
    return sum(not os.path.lexists(p) for p in group[:3]) >= 2


def _listing(directory: str, wanted: int) -> dict[str, bool] | None:
    try:
        if os.stat(directory).st_size > wanted * _BYTES_PER_ENTRY * 8:
            return None  # a huge directory for a few names: stat them instead
        with os.scandir(directory) as it:
            return {entry.name: entry.is_symlink() for entry in it}
    except (FileNotFoundError, NotADirectoryError):
        return {}  # no directory: nothing in it exists
    except OSError:
        return None  # unreadable: let stat name the problem, path by path


def _sha256(data: bytes = b""):
    import hashlib  # not at import time: a dry run of new jobs hashes nothing

    return hashlib.sha256(data)


def _walk(top: str, rel: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """Every entry under `top` in a fixed (sorted) order, as (relative path, kind, stat).
    Kinds: f regular file (symlinks followed), d directory, l symlink to a directory (not
    descended, so a link cannot loop), x broken symlink, o anything else (fifo, socket)."""
    with os.scandir(top) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        path = rel + entry.name
        if entry.is_dir(follow_symlinks=False):
            yield path, "d", entry.stat(follow_symlinks=False)
            yield from _walk(entry.path, path + "/")
            continue
        try:
            st = entry.stat()
        except OSError as exc:
            if not (entry.is_symlink() and (isinstance(exc, FileNotFoundError)
                                            or exc.errno == _ELOOP)):
                raise  # vanished while we looked, or unreadable: let the caller name it
            yield path, "x", entry.stat(follow_symlinks=False)
            continue
        if stat_mod.S_ISREG(st.st_mode):
            yield path, "f", st
        elif stat_mod.S_ISDIR(st.st_mode):
            yield path, "l", entry.stat(follow_symlinks=False)
        else:
            yield path, "o", st
