"""Build locks: a readers-writer rule over files. A build that writes a file excludes every
other build that writes or reads it; builds that only read the same files, or touch disjoint
ones, run side by side. Layer 4.

Each running build writes `.fileflow/locks/<host>-<pid>-<start>.json` naming the outputs its
jobs will write ("outputs") and the inputs they will read ("reads"; a lock file of an older
fileflow has none, so it guards its outputs only); checking and writing happen under a short
filelock. A lock whose process is gone (same host: pid not alive or reused) or whose heartbeat
(the file's mtime, refreshed by a thread) is old is stale and taken over, so nobody has to
run `fileflow unlock` after a crash; `fileflow unlock` itself removes only the locks of builds
that are gone, unless forced.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from fileflow.errors import FileflowError, LockError
from fileflow.fs import FULL_DISK_HINT, no_space, remove_file
from fileflow.printable import printable
from fileflow.processes import live_process

__all__ = ["BuildLock", "Clash", "Holder", "LOCK_DIR", "clash", "remove_all_locks",
           "HEARTBEAT_SECONDS", "STALE_AFTER_SECONDS"]

LOCK_DIR = os.path.join(".fileflow", "locks")
HEARTBEAT_SECONDS = 20.0
STALE_AFTER_SECONDS = 120.0   # for locks of other hosts, judged by heartbeat alone
RECHECK_SECONDS = 0.2         # a build waiting for a lock looks again this often


@dataclass(frozen=True, slots=True)
class Holder:
    path: str
    pid: int
    host: str
    started: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on {self.host}, started {when}"


@dataclass(frozen=True, slots=True)
class Clash:
    """Why this build cannot run beside another one, with one of the files they share."""
    what: str      # completes "another build is ..."
    path: str


def _first_shared(mine: set[str], theirs: Iterable[str]) -> str | None:
    """The smallest path in both (one example for the message); O(len(theirs))."""
    shared = mine.intersection(theirs)
    return min(shared) if shared else None


def clash(writes: set[str], reads: set[str], their_writes: Iterable[str],
          their_reads: Iterable[str]) -> Clash | None:
    """The readers-writer rule: my writes may meet neither their writes nor their reads, and
    my reads may not meet their writes. Reads never clash with reads."""
    their_writes = list(their_writes)  # read twice below
    for what, mine, theirs in (
            ("writing some of the same files", writes, their_writes),
            ("writing files this build reads", reads, their_writes),
            ("reading files this build writes", writes, their_reads)):
        path = _first_shared(mine, theirs)
        if path is not None:
            return Clash(what, path)
    return None


def _is_stale(data: dict, mtime: float, host: str) -> bool:
    if data.get("host") == host:
        try:
            started = float(data.get("started", 0))
        except (TypeError, ValueError):
            return True
        return live_process(data.get("pid", -1), started_by=started) is None
    return time.time() - mtime > STALE_AFTER_SECONDS


class BuildLock:
    def __init__(self, workdir: str, outputs: Iterable[str], reads: Iterable[str] = ()):
        self.dir = os.path.join(workdir, LOCK_DIR)
        self.outputs = set(outputs)
        # A file this build writes is already held exclusively: listing it as read too would
        # change no clash, only make the lock file bigger.
        self.reads = set(reads) - self.outputs
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started = time.time()
        self.path = os.path.join(self.dir, f"{self.host}-{self.pid}-{int(self.started * 1000)}.json")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, timeout: float, quiet: bool = False) -> bool:
        """Take the lock, waiting up to `timeout` seconds for clashing builds (saying so
        once, unless `quiet`). Returns True when it had to wait (the caller should look at
        the files again)."""
        from filelock import FileLock

        try:
            os.makedirs(self.dir, exist_ok=True)
        except OSError as exc:
            raise _cannot_write(self.dir, exc) from None
        guard = FileLock(os.path.join(self.dir, ".guard"))
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                with guard:
                    found = self._conflict()
                    if found is None:
                        self._write()
                        break
            except OSError as exc:
                raise _cannot_write(guard.lock_file, exc) from None
            holder, why = found
            if time.monotonic() >= deadline:
                raise LockError(f"{_explain(holder, why)}; wait for it, raise --lock-timeout, "
                                "or run 'fileflow unlock' if you are sure it is gone")
            if not waited and not quiet:  # say once why the build stands still
                print(printable(f"fileflow: {_explain(holder, why)}; waiting up to {timeout:g} s "
                                "(--lock-timeout)"), file=sys.stderr)
            waited = True
            time.sleep(min(RECHECK_SECONDS, max(0.05, deadline - time.monotonic())))
        self._thread = threading.Thread(target=self._heartbeat, name="fileflow-lock", daemon=True)
        self._thread.start()
        return waited

    def covers(self, outputs: Iterable[str], reads: Iterable[str]) -> bool:
        """Whether this lock already guards a build writing `outputs` and reading `reads`
        (a file locked for writing may also be read)."""
        return self.outputs.issuperset(outputs) and \
            all(p in self.reads or p in self.outputs for p in reads)

    def _write(self) -> None:
        # Unsorted: at 100,000 jobs sorting would cost more than the write; the clash check
        # does not care about order.
        text = json.dumps({"pid": self.pid, "host": self.host, "started": self.started,
                           "outputs": list(self.outputs), "reads": list(self.reads)})
        try:
            with open(self.path + ".tmp", "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(self.path + ".tmp", self.path)
        except OSError as exc:
            remove_file(self.path + ".tmp")   # half written: no build would ever read it
            raise _cannot_write(self.path, exc) from None

    def _conflict(self) -> tuple[Holder, Clash] | None:
        for path, data in _live_locks(self.dir, self.host):
            why = clash(self.outputs, self.reads, data.get("outputs", ()), data.get("reads", ()))
            if why is not None:
                return _holder(path, data), why
        return None

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        remove_file(self.path)

    def __enter__(self) -> BuildLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _holder(path: str, data: dict) -> Holder:
    return Holder(path, int(data.get("pid", -1)), str(data.get("host", "?")),
                  float(data.get("started", 0)))


def _live_locks(folder: str, host: str) -> Iterator[tuple[str, dict]]:
    """(path, content) of each lock in `folder` whose build is alive; the locks of builds
    that are gone (and torn lock files) are removed on the way."""
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(folder, name)
        try:
            mtime = os.stat(path).st_mtime
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            continue
        except (OSError, ValueError):
            data, mtime = {}, 0.0   # unreadable: a torn write of a dead build
        if not isinstance(data, dict) or not data or _is_stale(data, mtime, host):
            remove_file(path)
            continue
        yield path, data


def _cannot_write(path: str, exc: OSError) -> FileflowError:
    where = os.path.relpath(path)
    if no_space(exc):
        return FileflowError(f"no space left on device while writing the build lock {where}: "
                             f"{FULL_DISK_HINT}")
    return FileflowError(f"cannot write the build lock {where}: {exc.strerror or exc}")


def _explain(holder: Holder, why: Clash) -> str:
    return (f"another build is {why.what}, e.g. {why.path!r} ({holder.describe()}; "
            f"lock {os.path.relpath(holder.path)})")



def remove_all_locks(workdir: str, force: bool = False) -> int:
    """`fileflow unlock`: remove the build locks of this directory whose builds are gone (the
    same judgement as a build taking over a stale lock), and lock files half written when the
    disk was full; returns how many. A lock of a build that is alive is refused (a
    FileflowError naming it) unless `force`."""
    folder = os.path.join(workdir, LOCK_DIR)
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):  # no folder of locks: .fileflow may be a file
        return 0
    except OSError as exc:
        raise FileflowError(f"cannot read the build locks in {os.path.relpath(folder)}: "
                            f"{exc.strerror or exc}") from None
    removed = 0
    for name in names:
        if name.endswith(".json.tmp"):
            remove_file(os.path.join(folder, name))
            removed += 1
    before = sum(n.endswith(".json") for n in names)
    live = list(_live_locks(folder, socket.gethostname()))
    removed += before - len(live)
    if live and not force:
        holders = "; ".join(f"{_holder(path, data).describe()} (lock {os.path.relpath(path)})"
                            for path, data in live)
        raise FileflowError(
            f"not removing the build lock of a running build: {holders}. Wait for it to "
            "finish or stop it; 'fileflow unlock --force' removes the lock anyway, and a "
            "build may then run the same jobs beside it")
    for path, _ in live:
        remove_file(path)
    return removed + len(live)
