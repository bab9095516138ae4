"""The light half of the run log: its records, constants and the checks that need no SQL
engine. Layer 3. Importing this costs nothing, so dry runs and no-op builds start fast;
the SQL half (fileflow.runlog.sql, SQLAlchemy) is imported only when something is written.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from fileflow.errors import EXIT_LOCKED, FileflowError
from fileflow.state import HASH_ALGORITHM, FileState, RecordedTarget

__all__ = [
    "hide_passwords", "shown_command", "utf8_text",
    "SCHEMA_VERSION", "RUN_STATUSES", "JOB_STATES", "NETWORK_FS_TYPES", "BUSY_TIMEOUT",
    "IN_CLAUSE_SIZE",
    "JobStart", "JobResult", "RunLogError", "RunLogBusyError", "is_network_fs", "check_sqlite_file",
    "target_rows_to_records", "TARGET_COLUMN_NAMES", "sqlite_journal_mode", "configure_sqlite",
]

SCHEMA_VERSION = 4
RUN_STATUSES = frozenset({"running", "success", "failed", "interrupted"})
JOB_STATES = frozenset({"running", "done", "failed", "cancelled", "skipped"})
BUSY_TIMEOUT = 30.0          # seconds SQLite waits for a lock before reporting "locked"
IN_CLAUSE_SIZE = 500         # values per IN (...) clause: within every engine's parameter limit
SQLITE_MAGIC = b"SQLite format 3\x00"

# File systems on which SQLite's WAL mode is unsafe (its shared-memory index cannot be
# shared between hosts) or its locking unreliable: use journal_mode=DELETE there.
NETWORK_FS_TYPES = frozenset({
    "nfs", "nfs4", "cifs", "smbfs", "smb3", "ncpfs", "afs", "9p", "lustre", "gpfs",
    "beegfs", "glusterfs", "ceph", "panfs", "ocfs2", "gfs2", "orangefs", "wekafs",
    "quobyte", "davfs", "fuse.sshfs", "fuse.glusterfs", "fuse.ceph", "fuse.ceph-fuse",
    "fuse.cephfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "fuse.juicefs",
    "fuse.beegfs", "fuse.quobyte", "fuse.davfs2",
})


# The columns of `files` that make a RecordedTarget: its fields, in their order.
TARGET_COLUMN_NAMES: tuple[str, ...] = RecordedTarget._fields
_EMPTY: Mapping[str, str] = MappingProxyType({})
_decode = json.JSONDecoder().raw_decode   # our JSON has no surrounding white space


_URL_PASSWORD = re.compile(r"(://[^/:@\s]*:)[^@/\s]*@")


def hide_passwords(argv: Sequence[str]) -> list[str]:
    """argv with the password of any URL in it (--db postgresql://user:secret@host/db)
    replaced by ***: the command line is recorded in the run log and shown by
    `fileflow runs`, and neither may carry a credential."""
    return [_URL_PASSWORD.sub(r"\1***@", a) for a in argv]


def utf8_text(text: str) -> str:
    """`text` as the run log can keep it: a byte that is not UTF-8 (a command-line argument
    or a folder name holding one, which Python gives as a lone surrogate) written `\\xNN`."""
    if text.isascii():
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no byte stands for
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown_command(command: str) -> str:
    """A job's command as recorded and shown: the password of any URL written in it
    replaced by *** (the command itself runs as written)."""
    return _URL_PASSWORD.sub(r"\1***@", command) if "@" in command else command


class RunLogError(FileflowError):
    """The run log cannot be opened or used: corrupt file, newer schema, unreachable server."""


class RunLogBusyError(RunLogError):
    """Another process kept the run log locked through every retry (exit code 3, as a
    build lock held by another build)."""

    exit_code = EXIT_LOCKED


# --------------------------------------------------------------------------- records
@dataclass(frozen=True, slots=True)
class JobStart:
    rule: str
    name: str
    wildcards: Mapping[str, str]
    command: str
    reasons: Sequence[str]
    attempt: int
    executor: str
    signature: str
    outputs: Sequence[str]
    log_path: str | None
    external_id: str | None = None
    message: str = ""                # while it runs (a group member: its member note)


@dataclass(frozen=True, slots=True)
class JobResult:
    job_id: int
    state: str                       # done | failed | cancelled | skipped
    exit_code: int | None
    started_at: float | None
    ended_at: float | None
    host: str | None
    peak_rss_bytes: int | None
    cpu_seconds: float | None
    outputs: Sequence[FileState]     # observed outputs, with digests (successful jobs)
    input_digests: Mapping[str, str]
    signature: str
    message: str = ""
    external_id: str | None = None
    output_paths: Sequence[str] = ()  # the declared outputs (marked incomplete on failure)
    code_digest: str = ""            # the signature's parts (fileflow.engine.command)
    params_digest: str = ""



def target_rows_to_records(rows: Iterable[Any], out: dict[str, RecordedTarget]) -> None:
    """Rows of TARGET_COLUMN_NAMES -> RecordedTargets. Identical input lists (the outputs of
    one job share theirs) are decoded once."""
    cache: dict[str | None, Mapping[str, str]] = {None: _EMPTY, "{}": _EMPTY}
    new = tuple.__new__
    for (path, complete, size, mtime, digest, alg, sig, inputs, job, built, changed,
         ctime, seen, link, code, params) in rows:
        mapping = cache.get(inputs)
        if mapping is None:
            mapping = cache[inputs] = MappingProxyType(_decode(inputs)[0])
        out[path] = new(RecordedTarget, (  # tuple.__new__: no Python frame per row
            path, bool(complete), -1 if size is None else size,
            -1 if mtime is None else mtime, digest, alg or HASH_ALGORITHM, sig or "",
            mapping, job, built or 0.0, changed or 0.0, -1 if ctime is None else ctime,
            -1 if seen is None else seen, link or "", code or "", params or ""))


def is_network_fs(path: str, partitions: Iterable[Any] | None = None) -> bool:
    """True when `path` is on a network file system (the mount with the longest matching
    mount point decides). `partitions` as from psutil.disk_partitions(all=True); when the
    mounts cannot be read the answer is True (the safe choice: no WAL)."""
    if partitions is None:
        try:
            import psutil
            partitions = psutil.disk_partitions(all=True)
        except Exception:
            return True
    real = os.path.realpath(path)
    best, best_type = -1, ""
    for part in partitions:
        mount = part.mountpoint.rstrip("/") or "/"
        if real == mount or real.startswith(mount if mount == "/" else mount + "/"):
            if len(mount) > best:
                best, best_type = len(mount), part.fstype.lower()
    return best_type in NETWORK_FS_TYPES


def sqlite_journal_mode(path: str) -> str:
    """The journal mode for a SQLite log at `path`: WAL, but not on a network file system."""
    return "delete" if is_network_fs(os.path.dirname(path)) else "wal"


def configure_sqlite(dbapi_conn: Any, busy_timeout: float, journal_mode: str) -> None:
    """Settings of every connection that writes a SQLite log (sqlite3's, or SQLAlchemy's)."""
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != journal_mode:
            cur.execute(f"PRAGMA journal_mode = {journal_mode}")
        cur.execute("PRAGMA synchronous = " + ("NORMAL" if journal_mode == "wal" else "FULL"))
    finally:
        cur.close()


def check_sqlite_file(path: str) -> None:
    """Refuse a file that is plainly not a SQLite database, before SQLite touches it."""
    try:
        size = os.path.getsize(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise RunLogError(f"cannot read the run log {path}: {e.strerror}") from e
    if size == 0:
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as e:
        raise RunLogError(f"cannot read the run log {path}: {e.strerror}") from e
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        what = "truncated" if len(head) < 100 else "not a SQLite database"
        raise RunLogError(
            f"the run log {path} is corrupt ({what}); move it aside to start a new log (what "
            "is recorded as up to date is then lost and everything rebuilds), or restore it "
            "from a backup")


