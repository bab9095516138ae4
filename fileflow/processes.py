"""Is this pid still the process we recorded? Layer 0 (psutil, imported when asked).

A pid alone proves nothing: after its process ends the kernel hands the number to another.
What was recorded with the pid (when the process, or the run it belongs to, started) tells
the two apart: a reused pid belongs to a process created later than that.
"""
from __future__ import annotations

import os

__all__ = ["CLOCK_SLACK", "live_process", "pid_alive"]

# Start times are compared with this slack: a process's create time and a time a program
# recorded at its start differ by scheduling and clock rounding.
CLOCK_SLACK = 1.0


def live_process(pid: object, started_by: float | None = None,
                 started_after: float | None = None):
    """The psutil.Process with this pid when it runs (not a zombie) and is the one recorded:
    created no later than `started_by` and no earlier than `started_after` (each with
    CLOCK_SLACK, each unchecked when None). None otherwise, or when `pid` is not a number.
    A process we may not inspect counts as alive: never take over what may still be used."""
    import psutil

    try:
        proc = psutil.Process(int(pid))  # type: ignore[call-overload]
    except (psutil.Error, TypeError, ValueError):
        return None
    try:
        created = proc.create_time()
        if started_by is not None and created > started_by + CLOCK_SLACK:
            return None  # a reused pid: its process began after ours
        if started_after is not None and created < started_after - CLOCK_SLACK:
            return None
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc
    except psutil.AccessDenied:
        return proc  # it exists and cannot be told apart: count it alive, touch nothing
    except psutil.Error:
        return None


def pid_alive(pid: int) -> bool:
    """Whether some process of this host has this pid (ours, or one we may not signal).
    For marks that record no start time; cheaper than psutil."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
