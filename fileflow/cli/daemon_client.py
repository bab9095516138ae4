"""The start of the `fileflow` program. When a build daemon of this installation is running
(`fileflow daemon start`, fileflow.cli.daemon), the command is handed to it: it forks a
process that already has fileflow imported, and that process runs the command in this
one's folder, environment and terminal. Otherwise, and whenever the daemon cannot take it,
the command runs here. Layer 5; it imports nothing heavy, as it runs before every command.

The exchange, over the daemon's Unix socket: this process sends an 8-byte length with its
standard input, output and error attached (SCM_RIGHTS), then the request as JSON. It sends
`signal N` lines for the signals it receives; it reads `exit N` or `signal N` when the
command's process has ended, or `stale` when the daemon's code is no longer this code.
"""
from __future__ import annotations

import os
import sys

__all__ = ["main", "socket_path", "request_of_this_process", "private_folder", "peer_uid", "LOCAL_COMMANDS",
           "FORWARDED_SIGNALS", "NO_DAEMON_VARIABLE", "DAEMON_DIR_VARIABLE"]

# Commands that always run here: the daemon's own, and those that serve for long over
# this process's own standard streams or sockets.
LOCAL_COMMANDS = frozenset({"daemon", "lsp", "serve"})
NO_DAEMON_VARIABLE = "FILEFLOW_NO_DAEMON"
DAEMON_DIR_VARIABLE = "FILEFLOW_DAEMON_DIR"
FORWARDED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT")


def main() -> int:
    argv = sys.argv[1:]
    code = None
    if not LOCAL_COMMANDS.intersection(argv) and not os.environ.get(NO_DAEMON_VARIABLE):
        code = _through_daemon(argv)
    if code is None:
        from fileflow.cli.main import main as run_here
        return run_here()
    return code


def socket_path() -> str:
    """The daemon's socket for this fileflow: this package, this interpreter and its
    module path (another virtual environment or PYTHONPATH has its own daemon)."""
    import zlib

    folder = os.environ.get(DAEMON_DIR_VARIABLE) or os.path.join(
        os.environ.get("XDG_RUNTIME_DIR") or "/tmp", f"fileflow-{os.getuid()}")
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    key = "\0".join([package, sys.executable, *sys.path[1:]])
    return os.path.join(folder, f"daemon-{zlib.crc32(key.encode('utf-8', 'surrogateescape')):08x}.sock")


def request_of_this_process(argv: list[str]) -> dict:
    """What the daemon's process takes over from this one to run `argv` as it would run here."""
    mask = os.umask(0)
    os.umask(mask)
    return {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": mask,
            "path": list(sys.path), "streams": [_stream_form(s) for s in (sys.stdin, sys.stdout, sys.stderr)]}


def _stream_form(stream) -> list:
    return [getattr(stream, "encoding", None) or "utf-8", getattr(stream, "errors", None) or "strict"]


def _through_daemon(argv: list[str]) -> int | None:
    """The command's exit status, run by the daemon; None when no daemon takes it."""
    path = socket_path()
    try:
        os.stat(path)
        if not private_folder(os.path.dirname(path)):
            return None  # a socket others could have put there: never handed our terminal
    except (OSError, ValueError):
        return None
    import json
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
        if peer_uid(sock) != os.getuid():
            raise OSError("the daemon's socket belongs to another user")
        body = json.dumps(request_of_this_process(argv)).encode("utf-8", "surrogatepass")
        streams = _open_streams()
        socket.send_fds(sock, [len(body).to_bytes(8, "big")], streams)
        sock.sendall(body)
    except (OSError, ValueError):  # no daemon there, or this folder is gone: run here
        sock.close()
        return None
    return _wait_for_end(sock)


def private_folder(folder: str) -> bool:
    """Whether `folder` is this user's and nobody else may write there (what the daemon's
    socket folder must be: nobody else can then put a socket in it)."""
    info = os.stat(folder)
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def peer_uid(sock) -> int | None:
    """The user id of the process at the other end of a Unix socket (SO_PEERCRED)."""
    import socket
    import struct

    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return struct.unpack("3i", creds)[2]


def _open_streams() -> list[int]:
    """Descriptors 0, 1 and 2, each replaced by /dev/null if this process has it closed."""
    fds = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def _wait_for_end(sock) -> int | None:
    """Forward this process's signals to the command's process until it has ended; its
    exit status, or this process ends by the signal that ended it."""
    import signal

    def forward(signum, frame) -> None:
        try:
            sock.send(b"signal %d\n" % signum)
        except OSError:
            pass

    previous = {name: signal.signal(getattr(signal, name), forward) for name in FORWARDED_SIGNALS}
    reply = b""
    try:
        while not reply.endswith(b"\n"):
            chunk = sock.recv(64)
            if not chunk:
                break
            reply += chunk
    except OSError:
        pass
    finally:
        sock.close()
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
    word, _, number = reply.decode("ascii", "replace").strip().partition(" ")
    if word == "stale":  # the daemon runs older code, and has stopped: run here
        return None
    if word == "exit" and number.lstrip("-").isdigit():
        return int(number)
    if word == "signal" and number.isdigit():
        try:  # (SIGKILL and SIGSTOP have no handler to reset)
            signal.signal(int(number), signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        try:
            os.kill(os.getpid(), int(number))
        except (OSError, ValueError):
            pass
        return 128 + int(number)
    print("fileflow: the build daemon's process ended without an exit status; "
          "see `fileflow daemon status`", file=sys.stderr)
    return 1
