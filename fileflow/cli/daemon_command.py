"""One command in a process the build daemon forked (fileflow.cli.daemon): it takes over
the caller's standard streams, folder, environment, umask and module path, runs the
command as fileflow.cli.main would in the caller's process, and turns the caller's
forwarded signals into its own. Layer 5.
"""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import sys
import threading
import time

from fileflow.errors import EXIT_INTERRUPTED

__all__ = ["run_command", "log_line"]

REQUEST_TIMEOUT_SECONDS = 10.0


def run_command(conn: socket.socket) -> int:
    """The exit status of the command the caller sent on `conn` (in the forked process)."""
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGCHLD"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.set_wakeup_fd(-1)
    try:
        received = _receive(conn)
        if received is None:  # a probe of whether the daemon answers
            return 0
        request, fds = received
        # Standard output is still the daemon's log here.
        log_line(f"command {os.getpid()} in {request['cwd']}: fileflow {' '.join(request['argv'])}")
        for target, fd in zip((0, 1, 2), fds):
            os.dup2(fd, target)
            os.close(fd)
        _take_over(request)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"fileflow daemon: a command could not be taken over: {exc}", file=sys.stderr, flush=True)
        return 1
    threading.Thread(target=_forward_signals, args=(conn,), daemon=True).start()
    from fileflow.cli.main import main

    try:
        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def log_line(text: str) -> None:
    """A line of the daemon's log (its standard output, a file), stamped with the time."""
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}", flush=True)


def _receive(conn: socket.socket) -> tuple[dict, list[int]] | None:
    """The request and the caller's three streams: its length with the streams attached,
    then the JSON; None for a caller that closed the connection without a word (a probe)."""
    conn.settimeout(REQUEST_TIMEOUT_SECONDS)
    header, fds, _, _ = socket.recv_fds(conn, 8, 3)
    if not header:
        return None
    while len(header) < 8:
        more = conn.recv(8 - len(header))
        if not more:
            raise ValueError("the caller closed the connection")
        header += more
    if len(fds) != 3:
        raise ValueError("the caller's standard streams were not sent")
    size = int.from_bytes(header, "big")
    body = bytearray()
    while len(body) < size:
        chunk = conn.recv(min(1 << 20, size - len(body)))
        if not chunk:
            raise ValueError("the caller closed the connection")
        body += chunk
    conn.settimeout(None)
    return json.loads(body.decode("ascii")), fds


def _take_over(request: dict) -> None:
    """Become the caller's process: folder, environment, umask, module path, streams."""
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(int(request["umask"]))
    time.tzset()
    sys.path[:] = request["path"]
    sys.argv = ["fileflow", *request["argv"]]
    forms = request["streams"]
    sys.stdin = _text_stream(0, "r", *forms[0])
    sys.stdout = _text_stream(1, "w", *forms[1])
    sys.stderr = _text_stream(2, "w", *forms[2])


def _text_stream(fd: int, mode: str, encoding: str, errors: str) -> io.TextIOWrapper:
    """A text stream over descriptor `fd`, buffered as Python buffers it at start: by line
    for a terminal, and always for standard error."""
    raw = io.FileIO(fd, mode, closefd=False)
    buffered = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
    terminal = os.isatty(fd)
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors,
                            line_buffering=mode == "w" and (terminal or fd == 2),
                            write_through=fd == 2)


def _forward_signals(conn: socket.socket) -> None:
    """The caller's forwarded signals, raised here; the caller gone (its connection closed)
    is a hangup, which a build handles as Ctrl-C."""
    pending = b""
    while True:
        try:
            chunk = conn.recv(64)
        except OSError:
            chunk = b""
        if not chunk:
            os.kill(os.getpid(), signal.SIGHUP)
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            word, _, number = line.decode("ascii", "replace").partition(" ")
            if word == "signal" and number.isdigit():
                os.kill(os.getpid(), int(number))
