"""Starting local jobs' processes, from threads of their own where the C library allows it.
Layer 3.

posix_spawn holds its caller until the child has started its program (the child shares the
caller's memory until then): from 0.2 ms on an idle machine to 2 ms when the cores are busy,
longer than a trivial job's whole bookkeeping, and Python's os.posix_spawn holds the GIL all
that time. The C library's posix_spawn called through ctypes releases it, so threads that
do nothing but spawn let the run loop reap, record and prepare meanwhile; with one thread
per job that may start at once (-j), jobs that become ready together start side by side.
Where the C library's posix_spawn cannot serve (not Linux, no POSIX_SPAWN_SETSID),
processes start in the caller's thread with os.posix_spawn.

A process is started only from a Launch: the job's spec, what to run (a direct program call
first, bash second when that cannot start), and the open log it writes to. The threads hand
back each Launch with its pid (or the error); once stop() returns, no process starts any more
and the launches never reached are handed back unstarted, so a stopped build leaves no
process behind that nobody knows of.
"""
from __future__ import annotations

import ctypes
import os
import queue
import resource
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fileflow.executors.base import JobSpec

__all__ = ["Attempt", "Launch", "Spawner", "libc_spawn"]

# <spawn.h> flags, the same in glibc and musl.
_SETSIGDEF = 0x04
_SETSID = 0x80
# posix_spawn_file_actions_t and posix_spawnattr_t are opaque: 80 and 336 bytes in glibc on
# 64-bit machines; room for any of them.
_OPAQUE_BYTES = 1024
_SIGSET_BYTES = 128

# (program, argv, file actions as os.posix_spawn takes them: POSIX_SPAWN_OPEN / _DUP2 tuples)
Attempt = tuple[str, list[str], list[tuple]]


@dataclass(eq=False, slots=True)
class Launch:
    """A job's process to start: tried in order, the next when one cannot start (OSError)."""
    spec: JobSpec
    attempts: list[Attempt]
    env: Mapping[str, str]
    fd: int                       # the log's descriptor (stdout, stderr), the launch's own
    spool: tuple[int, str] | None  # the spool file the log is in, or None (fd is the log)
    pid: int = 0
    own_peak: int = 0             # this process's peak RSS (KiB) just after the start
    started: float = 0.0
    pidfd: int = -1
    error: BaseException | None = None


class _LibcSpawn:
    """The C library's posix_spawn through ctypes: the GIL is released while it waits for the
    child to start its program (and only then: the calls that make its file actions keep it,
    since each release lets the run loop's thread take it, and this one wait for it back).
    Each process gets its own session and the default action of `default_signals`, as
    os.posix_spawn(setsid=True, setsigdef=...) gives."""

    def __init__(self, libc, default_signals: tuple[int, ...]):
        self.libc = libc  # ctypes.PyDLL: its calls keep the GIL
        self.spawn = ctypes.CDLL(None, use_errno=True).posix_spawn  # this one releases it
        self.spawn.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.c_char_p, ctypes.c_void_p,
                               ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        self.spawn.restype = ctypes.c_int
        libc.posix_spawn_file_actions_addopen.argtypes = [
            ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
        libc.posix_spawn_file_actions_adddup2.argtypes = [
            ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self.attr = ctypes.create_string_buffer(_OPAQUE_BYTES)
        signals = ctypes.create_string_buffer(_SIGSET_BYTES)
        ok = (libc.posix_spawnattr_init(self.attr) == 0 and libc.sigemptyset(signals) == 0
              and all(libc.sigaddset(signals, sig) == 0 for sig in default_signals)
              and libc.posix_spawnattr_setsigdefault(self.attr, signals) == 0
              and libc.posix_spawnattr_setflags(self.attr, ctypes.c_short(_SETSIGDEF | _SETSID))
              == 0)
        if not ok:  # an old C library: no POSIX_SPAWN_SETSID
            raise OSError("posix_spawn cannot start a process in a session of its own")
        # The last environment and its array, swapped as one (several threads spawn).
        self.env_array: tuple[Mapping[str, str] | None, ctypes.Array | None] = (None, None)

    @staticmethod
    def _array(strings: list[bytes]) -> ctypes.Array:
        for item in strings:
            if b"\0" in item:
                raise ValueError("embedded null byte")
        array = (ctypes.c_char_p * (len(strings) + 1))(*strings)
        return array

    def _env(self, env: Mapping[str, str]) -> ctypes.Array:
        known, array = self.env_array
        if env is not known or array is None:  # most jobs share one environment: made once
            array = self._array([os.fsencode(k) + b"=" + os.fsencode(v)
                                 for k, v in env.items()])
            self.env_array = (env, array)
        return array

    def __call__(self, program: str, argv: list[str], env: Mapping[str, str],
                 actions: list[tuple]) -> int:
        libc = self.libc
        args = self._array([os.fsencode(a) for a in argv])
        envp = self._env(env)
        path = os.fsencode(program)
        file_actions = ctypes.create_string_buffer(_OPAQUE_BYTES)
        libc.posix_spawn_file_actions_init(file_actions)
        try:
            for action in actions:
                if action[0] == os.POSIX_SPAWN_OPEN:
                    _, fd, name, flags, mode = action
                    err = libc.posix_spawn_file_actions_addopen(file_actions, fd,
                                                                os.fsencode(name), flags, mode)
                else:
                    err = libc.posix_spawn_file_actions_adddup2(file_actions, action[1],
                                                                action[2])
                if err:
                    raise OSError(err, os.strerror(err))
            pid = ctypes.c_int(0)
            err = self.spawn(ctypes.byref(pid), path, file_actions, self.attr, args, envp)
        finally:
            libc.posix_spawn_file_actions_destroy(file_actions)
        if err:
            raise OSError(err, os.strerror(err), program)
        return pid.value


def libc_spawn(default_signals: tuple[int, ...]) -> Callable[..., int] | None:
    """The C library's posix_spawn, callable as (program, argv, env, file actions) -> pid,
    or None where it cannot serve (not Linux, no setsid flag)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return _LibcSpawn(ctypes.PyDLL(None), default_signals)
    except (OSError, AttributeError):
        return None


class Spawner:
    """Starts launches: in a thread of its own with `spawn` (one that releases the GIL), or
    at once in the caller's thread with os.posix_spawn when `spawn` is None. A started
    process gets its pidfd (with `pidfds`) before it is handed back; `watch` is called with
    each launch handed back (started or failed), in the starting thread."""

    def __init__(self, spawn: Callable[..., int] | None, default_signals: tuple[int, ...],
                 pidfds: bool, watch: Callable[[Launch], None], threads: int = 1):
        self.threads = max(1, threads)
        self.default_signals = default_signals
        self.spawn = spawn
        self.pidfds = pidfds
        self.watch = watch
        self.done: deque[Launch] = deque()       # started (or failed), not yet taken
        self.unstarted: deque[Launch] = deque()  # reached after stop(): never started
        self.inbox: queue.SimpleQueue[Launch | None] = queue.SimpleQueue()
        self.running: list[threading.Thread] = []
        self.stopped = False

    def put(self, launch: Launch) -> None:
        if self.spawn is None:
            self._start(launch)
            return
        if not self.running:
            self.stopped = False
            self.running = [threading.Thread(target=self._run, daemon=True,
                                             name=f"fileflow-spawner-{i}")
                            for i in range(self.threads)]
            for thread in self.running:
                thread.start()
        self.inbox.put(launch)

    def take(self) -> list[Launch]:
        """The launches started (or failed to start) since the last call, in order."""
        done = self.done
        taken = []
        while done:
            taken.append(done.popleft())
        return taken

    def stop(self) -> list[Launch]:
        """No process starts after this returns: waits for the one starting, if any; returns
        the launches never started (take() still has those that did)."""
        if self.running:
            self.stopped = True
            for _ in self.running:
                self.inbox.put(None)
            for thread in self.running:
                thread.join()
            self.running = []
        unstarted = list(self.unstarted)
        self.unstarted.clear()
        return unstarted

    def _run(self) -> None:
        while (launch := self.inbox.get()) is not None:
            if self.stopped:
                self.unstarted.append(launch)
            else:
                self._start(launch)

    def _start(self, launch: Launch) -> None:
        for program, argv, actions in launch.attempts:
            try:
                if self.spawn is None:
                    pid = os.posix_spawn(program, argv, launch.env, file_actions=actions,
                                         setsid=True, setsigdef=self.default_signals)
                else:
                    pid = self.spawn(program, argv, launch.env, actions)
            except OSError as exc:
                launch.error = exc
                continue
            except BaseException as exc:  # e.g. a null byte in the command: raised by the caller
                launch.error = exc
                break
            launch.pid, launch.started, launch.error = pid, time.time(), None
            # the child's ru_maxrss starts at this process's peak as it exec'd: at most this
            launch.own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if self.pidfds:
                try:
                    launch.pidfd = os.pidfd_open(pid)
                except OSError:
                    pass  # the caller waits for it without one
            break
        self.done.append(launch)
        self.watch(launch)
