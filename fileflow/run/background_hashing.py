"""Large files are hashed in worker threads, so the run loop goes on starting and reaping
other jobs meanwhile (a 50 GB file takes minutes to read). Layer 4.

The outputs of a finished job (it is not done, and its dependents wait, until they are
hashed) and the not yet hashed inputs of a job about to start (it starts once they are).
Small files are hashed by the caller at once: a thread hand-off costs more than reading a
few megabytes.
"""
from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from fileflow.engine.store import FileStore
from fileflow.state import FileState

__all__ = ["BackgroundHasher", "INLINE_BYTES"]

INLINE_BYTES = 16 * 1024 * 1024  # a job's outputs up to this size in all are hashed inline


class BackgroundHasher:
    def __init__(self, store: FileStore, workers: int = 2):
        self.store = store
        self.workers = workers
        self.pool: ThreadPoolExecutor | None = None
        self.pending: dict[Future, Any] = {}  # future -> the caller's record of the job

    def __len__(self) -> int:
        return len(self.pending)

    @staticmethod
    def wants(states: Mapping[str, FileState]) -> bool:
        """Worth a thread: the job's outputs are large in all (directories count as large:
        their size is that of their files)."""
        return sum(st.size for st in states.values() if st.exists) > INLINE_BYTES

    def submit(self, states: Mapping[str, FileState], entry: Any,
               recorded: Mapping[str, Any] | None = None) -> None:
        """Hash `states` (FileStore.with_digests: a path whose stat equals its record in
        `recorded` takes the recorded digest); `entry` comes back with them."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=self.workers,
                                           thread_name_prefix="fileflow-hash")
        self.pending[self.pool.submit(self.store.with_digests, states, recorded or {})] = entry

    def wait(self, timeout: float) -> None:
        """Block until a hash ends or `timeout` passes."""
        if self.pending:
            wait(list(self.pending), timeout=timeout, return_when=FIRST_COMPLETED)

    def finished(self) -> list[tuple[Any, dict[str, FileState]]]:
        """(entry, states with digests) of the hashes that ended; a hash's error (a file
        that cannot be read) is raised here, as an inline hash would raise it."""
        out = []
        for future in [f for f in self.pending if f.done()]:
            entry = self.pending.pop(future)
            out.append((entry, future.result()))
        return out

    def stop(self) -> list[Any]:
        """Stop every hash (at its next chunk; the store hashes nothing more after this) and
        return the entries left without digests. For the end of a stopped build."""
        left = list(self.pending.values())
        if self.pool is not None:
            self.store.stop_hashing()
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
        self.pending.clear()
        return left

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True)
            self.pool = None
