"""The files and folders a user's Python code reads while fileflow runs it: the module of
`from "FILE.py" import NAME` as it is imported, and its functions as expressions call
them. They are watched as config files are (by the no-op shortcut and the kept graph), so
that editing the sample sheet a `common.py` reads with `csv` or pandas, or adding a file to
a folder it lists, reaches the next build. Layer 1.

Python reports each file it opens and each folder it lists to audit hooks (PEP 578). One
hook, added to the process the first time a helper module is imported (an audit hook
cannot be removed), hands each event to the recording under way in the running thread, if
any, and returns at once otherwise. Recorded: a file opened for reading only; a folder
listed by the code (`os.listdir`, `os.scandir`, `glob`, `pathlib`); a module of the user's
that the code imports (its `.py` source). Left out: Python's own library and installed
packages (the modules an import reads), the folders the import system lists, cached
bytecode, and /proc, /sys and /dev, whose contents change by themselves. Not seen: a file
only stat()ed (`os.path.exists`), and files that compiled code opens itself (C's fopen).
"""
from __future__ import annotations

import functools
import importlib.util
import os
import site
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import TypeVar

__all__ = ["Reads", "call_recording", "library_folders"]

T = TypeVar("T")

_EVENTS = frozenset({"open", "os.listdir", "os.scandir", "os.chdir"})
_WRITES = os.O_WRONLY | os.O_RDWR
_SYSTEM = ("/proc/", "/sys/", "/dev/")
_IMPORTS = "<frozen importlib."


class Reads:
    """Where a recording goes: the loader's watched files (a list, in reading order) and
    listed folders (an ordered set), each path once; and the working directory the code
    left by os.chdir during the call under way (None: it did not)."""

    __slots__ = ("files", "folders", "seen", "left")

    def __init__(self, files: list[str], folders: dict[str, None]):
        self.files, self.folders = files, folders
        self.seen = set(files)
        self.left: str | None = None

    def file(self, path: str) -> None:
        if path not in self.seen:
            self.seen.add(path)
            self.files.append(path)


_RECORDING: ContextVar[Reads | None] = ContextVar("fileflow_file_reads", default=None)


def call_recording(reads: Reads, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
    """`fn(*args, **kwargs)`, with what it reads recorded into `reads`. A working directory
    the user's code changes (os.chdir) is changed back: every path of the workflow, and every
    job, stays relative to the workflow's folder."""
    _watch_reads()
    token = _RECORDING.set(reads)
    try:
        return fn(*args, **kwargs)
    finally:
        _RECORDING.reset(token)
        if reads.left is not None:  # the hook saw an os.chdir: no getcwd() on every call
            os.chdir(reads.left)
            reads.left = None


@functools.cache
def _watch_reads() -> None:
    """Add the audit hook to this process, once."""
    sys.addaudithook(_hook)


@functools.cache
def library_folders() -> tuple[str, ...]:
    """Python's library and the folders of installed packages: what an import reads there is
    not the user's workflow. (Not the whole installation prefix: a project may live below
    it, as /usr/local/app does below a Python in /usr/local.)"""
    import sysconfig

    paths = sysconfig.get_paths()
    found = {paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    try:
        found.update(site.getsitepackages())
        found.add(site.getusersitepackages())
    except AttributeError:  # a virtualenv's old site module
        pass
    return tuple(os.path.join(os.path.realpath(p), "") for p in found if p)


def _hook(event: str, args: tuple) -> None:
    if event not in _EVENTS:
        return
    reads = _RECORDING.get()
    if reads is None:
        return
    try:  # an exception raised here would fail the user's own open()
        _record(reads, event, args)
    except Exception:  # noqa: BLE001 - a path that cannot be recorded is left out
        pass


def _record(reads: Reads, event: str, args: tuple) -> None:
    if event == "os.chdir":  # raised before the change: this is where to come back to
        if reads.left is None:
            reads.left = os.getcwd()
        return
    path = args[0] if args else None
    if event != "open":  # a folder listed
        full = os.path.abspath(os.fsdecode(path if path is not None else "."))
        if not _importing() and not _left_out(full):
            reads.folders[full] = None
        return
    if not isinstance(path, (str, bytes, os.PathLike)) or (args[2] & _WRITES):
        return  # a file descriptor, or a file written
    full = os.path.abspath(os.fsdecode(path))
    if _left_out(full):
        return
    if full.endswith(".pyc"):  # a module of the user's, imported: its source is watched
        if not _importing():
            return
        try:
            full = importlib.util.source_from_cache(full)
        except ValueError:
            return
    reads.file(full)


def _importing() -> bool:
    """Whether the event comes from the import system (the frame that opened or listed)."""
    return sys._getframe(3).f_code.co_filename.startswith(_IMPORTS)


def _left_out(full: str) -> bool:
    return full.startswith(_SYSTEM) or os.path.realpath(full).startswith(library_folders())
