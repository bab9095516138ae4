"""Build locks: builds whose outputs overlap exclude each other; disjoint builds run side by
side. Layer 3.

Each running build writes `.fileflow/locks/<host>-<pid>-<start>.json` naming the outputs it
will write; checking and writing happen under a short filelock. A lock whose process is
gone (same host: pid not alive or reused) or whose heartbeat (the file's mtime, refreshed by a
thread) is old is stale and taken over, so nobody has to run `fileflow unlock` after a crash.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Iterable

from .errors import LockError

__all__ = ["BuildLock", "Holder", "LOCK_DIR", "remove_all_locks", "HEARTBEAT_SECONDS",
           "STALE_AFTER_SECONDS"]

LOCK_DIR = os.path.join(".fileflow", "locks")
HEARTBEAT_SECONDS = 20.0
STALE_AFTER_SECONDS = 120.0   # for locks of other hosts, judged by heartbeat alone


@dataclass(frozen=True, slots=True)
class Holder:
    path: str
    pid: int
    host: str
    started: float

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return f"pid {self.pid} on {self.host}, started {when}"


def _is_stale(data: dict, mtime: float, host: str) -> bool:
    if data.get("host") == host:
        import psutil

        pid = int(data.get("pid", -1))
        try:
            proc = psutil.Process(pid)
            # A reused pid belongs to a process created after the lock was written.
            return proc.create_time() > float(data.get("started", 0)) + 1 or \
                proc.status() == psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, ValueError):
            return True
        except psutil.Error:
            return False
    return time.time() - mtime > STALE_AFTER_SECONDS


class BuildLock:
    def __init__(self, workdir: str, outputs: Iterable[str]):
        self.dir = os.path.join(workdir, LOCK_DIR)
        self.outputs = set(outputs)
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.started = time.time()
        self.path = os.path.join(self.dir, f"{self.host}-{self.pid}-{int(self.started * 1000)}.json")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting up to `timeout` seconds for overlapping builds. Returns
        True when it had to wait (the caller should look at the files again)."""
        from filelock import FileLock

        os.makedirs(self.dir, exist_ok=True)
        guard = FileLock(os.path.join(self.dir, ".guard"))
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            with guard:
                holder = self._conflict()
                if holder is None:
                    with open(self.path + ".tmp", "w", encoding="utf-8") as fh:
                        json.dump({"pid": self.pid, "host": self.host, "started": self.started,
                                   "outputs": sorted(self.outputs)}, fh)
                    os.replace(self.path + ".tmp", self.path)
                    break
            if time.monotonic() >= deadline:
                raise LockError(
                    f"another build is writing some of the same files ({holder.describe()}; "
                    f"lock {os.path.relpath(holder.path)}); wait for it, raise --lock-timeout, "
                    "or run 'fileflow unlock' if you are sure it is gone")
            waited = True
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
        self._thread = threading.Thread(target=self._heartbeat, name="fileflow-lock", daemon=True)
        self._thread.start()
        return waited

    def _conflict(self) -> Holder | None:
        for name in sorted(os.listdir(self.dir)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(self.dir, name)
            try:
                mtime = os.stat(path).st_mtime
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                data, mtime = {}, 0.0   # unreadable: a torn write of a dead build
            if not data or _is_stale(data, mtime, self.host):
                _unlink(path)
                continue
            if self.outputs.intersection(data.get("outputs", ())):
                return Holder(path, int(data.get("pid", -1)), str(data.get("host", "?")),
                              float(data.get("started", 0)))
        return None

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                os.utime(self.path)
            except OSError:
                return

    def release(self) -> None:
        self._stop.set()
        _unlink(self.path)

    def __enter__(self) -> "BuildLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_all_locks(workdir: str) -> int:
    """`fileflow unlock`: remove every build lock of this directory; returns how many."""
    folder = os.path.join(workdir, LOCK_DIR)
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json")]
    except FileNotFoundError:
        return 0
    for name in names:
        _unlink(os.path.join(folder, name))
    return len(names)
