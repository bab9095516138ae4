"""`fileflow daemon start|stop|status`: a process that keeps fileflow and the libraries it
uses imported, and forks a process for each command that fileflow.cli.daemon_client hands
it. The forked process takes over the command's folder, environment, umask, module path
and standard streams, and runs the command as `fileflow` would in the caller's process:
nothing of one command is kept for the next (each is a new fork of the same idle daemon).
What it saves is starting Python and importing fileflow and its libraries, for every
command. Layer 5.

The daemon answers only its own user (the peer's credentials are checked), stops when its
code changes on disk (the next command runs in its own process), and ends after an idle
time.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import os
import pkgutil
import selectors
import signal
import socket
import subprocess
import sys
import time

from fileflow.cli.daemon_client import DAEMON_DIR_VARIABLE, peer_uid, private_folder, socket_path
from fileflow.cli.daemon_command import log_line
from fileflow.errors import FileflowError

__all__ = ["configure_daemon", "daemon_command", "run_daemon"]

DEFAULT_IDLE_HOURS = 3.0
START_TIMEOUT_SECONDS = 30.0
# Linux's limit on a Unix socket's path (sun_path), with its closing NUL.
MAX_SOCKET_PATH = 107
# Libraries that fileflow imports inside functions, where a command needs them: imported
# once by the daemon instead of by every command.
LIBRARIES = ("sqlalchemy", "sqlalchemy.dialects.sqlite", "sqlalchemy.dialects.postgresql",
             "lark", "yaml", "rich.console", "rich.live", "rich.progress", "rich.table",
             "psutil", "filelock", "jsonschema", "fsspec")


def configure_daemon(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["start", "stop", "status"],
                        help="start the build daemon, stop it, or say whether it runs")
    parser.add_argument("--idle-hours", type=float, default=DEFAULT_IDLE_HOURS, metavar="H",
                        help="with start: end after H hours without a command "
                             f"(default {DEFAULT_IDLE_HOURS:g})")


def daemon_command(args) -> int:
    path = socket_path()
    if args.action == "start":
        return _start(path, args.idle_hours)
    if args.action == "stop":
        return _stop(path)
    return _status(path)


# ---------------------------------------------------------------- start, stop, status

def _pid_path(path: str) -> str:
    return path[:-len(".sock")] + ".pid"


def _log_path(path: str) -> str:
    return path[:-len(".sock")] + ".log"


def _running_pid(path: str) -> int | None:
    """The daemon's pid when one answers on `path`, else None."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        return None
    finally:
        probe.close()
    try:
        with open(_pid_path(path), encoding="ascii") as fh:
            return int(fh.read().strip())
    except (OSError, ValueError):
        return None


def _own_folder(folder: str) -> None:
    """The socket's folder, made private to this user; an error if another user owns it or
    others may write there."""
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise FileflowError(f"daemon: cannot make the folder {folder}: {exc.strerror}; "
                            f"set {DAEMON_DIR_VARIABLE} to a folder of yours") from None
    if not private_folder(folder):
        raise FileflowError(f"daemon: {folder} is not a private folder of this user; "
                            f"set {DAEMON_DIR_VARIABLE} to a folder of yours")


def _start(path: str, idle_hours: float) -> int:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH:
        raise FileflowError(f"daemon: the socket's path is too long for a Unix socket: {path}; "
                            f"set {DAEMON_DIR_VARIABLE} to a shorter folder")
    if idle_hours <= 0:
        raise FileflowError("daemon: --idle-hours must be more than 0")
    if not hasattr(os, "pidfd_open"):
        raise FileflowError("daemon: needs Linux 5.3 or later (pidfd_open)")
    _own_folder(os.path.dirname(path))
    pid = _running_pid(path)
    if pid is not None:
        print(f"the build daemon already runs (pid {pid}, socket {path})")
        return 0
    code = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
            "from fileflow.cli.daemon import run_daemon; "
            "sys.exit(run_daemon(sys.argv[2], float(sys.argv[3])))")
    with open(_log_path(path), "ab") as log:
        child = subprocess.Popen([sys.executable, "-c", code, json.dumps(sys.path), path,
                                  str(idle_hours * 3600)],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, cwd="/")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise FileflowError(f"daemon: it ended at start (exit {child.returncode}); "
                                f"see {_log_path(path)}")
        if _running_pid(path) == child.pid:
            print(f"the build daemon runs (pid {child.pid}, socket {path}); "
                  f"it ends after {idle_hours:g} hours without a command")
            return 0
        time.sleep(0.02)
    child.kill()
    raise FileflowError(f"daemon: it did not answer within {START_TIMEOUT_SECONDS:g} s; "
                        f"see {_log_path(path)}")


def _stop(path: str) -> int:
    pid = _running_pid(path)
    if pid is None:
        print("no build daemon runs")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and _running_pid(path) is not None:
        time.sleep(0.02)
    print(f"stopped the build daemon (pid {pid})")
    return 0


def _status(path: str) -> int:
    pid = _running_pid(path)
    if pid is None:
        print("no build daemon runs")
        return 1
    print(f"the build daemon runs (pid {pid}, socket {path}, log {_log_path(path)})")
    return 0


# ---------------------------------------------------------------- the daemon

def run_daemon(path: str, idle_seconds: float) -> int:
    """The daemon's life: import what commands use, listen on `path`, fork a process for
    each command until stopped, idle for `idle_seconds` or out of date."""
    _preload()
    stamp = code_stamp()
    listener = _listen(path)
    with open(_pid_path(path), "w", encoding="ascii") as fh:
        fh.write(f"{os.getpid()}\n")
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    for name in ("SIGTERM", "SIGINT", "SIGHUP"):
        signal.signal(getattr(signal, name), lambda signum, frame: None)
    gc.collect()
    gc.freeze()  # the forks share the imported modules' pages: no collection touches them
    _log(f"listening on {path}")
    try:
        _serve(listener, wake_read, stamp, idle_seconds)
    finally:
        _remove_own(path, listener)
        _log("stopped")
    return 0


def _log(text: str) -> None:
    log_line(f"daemon {os.getpid()}: {text}")


def _preload() -> None:
    """Import every fileflow module and the libraries commands import on demand; a
    module whose optional library is missing is left out."""
    import fileflow

    for name in LIBRARIES:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    for info in pkgutil.walk_packages(fileflow.__path__, "fileflow."):
        if info.name.startswith(("fileflow.grammar", "fileflow.__main__")):
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(info.name)


def code_stamp() -> list[tuple[str, int, int]]:
    """Each source file of the fileflow package (its grammar included) with its change time
    and size: when these differ, the daemon's code is no longer the code on disk."""
    import fileflow

    found = []
    folders = list(fileflow.__path__)
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir() and entry.name != "__pycache__":
                    folders.append(entry.path)
                elif entry.name.endswith((".py", ".lark")):
                    info = entry.stat()
                    found.append((entry.path, info.st_mtime_ns, info.st_size))
    return sorted(found)


def _listen(path: str) -> socket.socket:
    """The listening socket at `path`, replacing a socket that no daemon answers on."""
    if _running_pid(path) is not None:
        raise FileflowError(f"daemon: another daemon answers on {path}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o077)
    try:
        listener.bind(path)
    finally:
        os.umask(old_mask)
    listener.listen(64)
    return listener


def _remove_own(path: str, listener: socket.socket) -> None:
    """Remove the socket and pid file, unless a newer daemon has put its own there."""
    listener.close()
    with contextlib.suppress(OSError, ValueError):
        with open(_pid_path(path), encoding="ascii") as fh:
            if int(fh.read().strip()) != os.getpid():
                return
        os.unlink(_pid_path(path))
        os.unlink(path)


def _serve(listener: socket.socket, wake_read: int, stamp, idle_seconds: float) -> None:
    """Accept commands and report each one's end, until a signal, idleness or new code."""
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "signal")
    running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)
    accepting = True
    idle_until = time.monotonic() + idle_seconds
    while accepting or running:
        timeout = None if running or not accepting else max(0.0, idle_until - time.monotonic())
        events = selector.select(timeout)
        if not events and not running:
            _log("idle: ending")
            break
        for key, _ in events:
            if key.data == "signal":
                os.read(wake_read, 512)
                accepting = _stop_accepting(selector, listener, accepting)
            elif key.data == "accept":
                if code_stamp() != stamp:  # code changed on disk: this command runs in its own process
                    _refuse_stale(listener)
                    accepting = _stop_accepting(selector, listener, accepting)
                    continue
                started = _fork_command(listener, selector, running)
                if started is not None:
                    running[started[0]] = started[1:]
            else:
                _report_end(key.fd, running.pop(key.fd), selector)
        idle_until = time.monotonic() + idle_seconds


def _stop_accepting(selector, listener, accepting: bool) -> bool:
    if accepting:
        selector.unregister(listener)
        _log("no longer accepting commands")
    return False


def _refuse_stale(listener: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"stale\n")
    _log("fileflow's code changed on disk: ending")


def _fork_command(listener: socket.socket, selector, running):
    """Accept one command and fork its process; (pidfd, pid, connection), or None."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return None
    uid = peer_uid(conn)
    if uid != os.getuid():
        _log(f"refused a command of user {uid}")
        conn.close()
        return None
    pid = os.fork()
    if pid == 0:
        from fileflow.cli.daemon_command import run_command

        selector.close()
        listener.close()
        for _, other in running.values():
            other.close()
        os._exit(run_command(conn))
    pidfd = os.pidfd_open(pid)
    selector.register(pidfd, selectors.EVENT_READ)
    return pidfd, pid, conn


def _report_end(pidfd: int, entry: tuple[int, socket.socket], selector) -> None:
    """Tell the client how the command's process ended, as its own exit would have."""
    pid, conn = entry
    selector.unregister(pidfd)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    message = b"signal %d\n" % -code if code < 0 else b"exit %d\n" % code
    with contextlib.suppress(OSError):
        conn.sendall(message)
    conn.close()
