"""Local copies of remote files in `.fileflow/remote/`: where a URL's copy lives, the token
sidecar that says which version the copy is, and the temporary names that make a download
atomic. Layer 2.

A copy is written under a temporary name beside it and renamed when complete; its sidecar
(`.<name>.fileflow-token`) is written after that, and removed before the copy changes, so a
sidecar never vouches for a partial or older file. A temporary name carries its writer's
pid and host, so a later run can remove what a killed fileflow left behind.
"""
from __future__ import annotations

import hashlib
import os
import uuid
from urllib.parse import urlsplit

from fileflow.fs import remove_file
from fileflow.processes import pid_alive

__all__ = ["STAGE_ROOT", "staged_path", "recorded_token", "record_token", "drop_token",
           "partial_path", "remove_orphan_parts", "remove_staged_copy"]

STAGE_ROOT = ".fileflow/remote"

_TOKEN_SUFFIX = ".fileflow-token"
_PART = ".part-"


def staged_path(url: str, root: str = STAGE_ROOT) -> str:
    """Where `url` is staged locally: root/scheme/host/path. Userinfo is dropped (it must not
    reach the disk); a port becomes `host_port`; a query string becomes a hashed directory
    before the file name, so the name and its extension stay as they are; `.` and `..`
    segments are escaped, so the result is always inside `root`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is not None:
        host = f"{host}_{port}"
    segments = [s for s in parts.path.split("/") if s]
    if not segments or parts.path.endswith("/"):
        segments.append("index")
    if parts.query:
        query = "q-" + hashlib.sha256(parts.query.encode()).hexdigest()[:12]
        segments.insert(len(segments) - 1, query)
    safe = [s.replace(".", "%2E") if s in (".", "..") else s.replace("\\", "%5C")
            for s in [parts.scheme.lower(), host or "_", *segments]]
    return os.path.join(root, *safe)


def _sidecar(dest: str) -> str:
    folder, base = os.path.split(dest)
    return os.path.join(folder, f".{base}{_TOKEN_SUFFIX}")


def recorded_token(dest: str) -> str | None:
    """The version token the copy at `dest` was recorded as, or None."""
    try:
        with open(_sidecar(dest), encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def record_token(dest: str, token: str) -> None:
    """Record that the (complete) copy at `dest` is version `token`, atomically."""
    tmp = f"{_sidecar(dest)}{_PART}{_part_tag()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    os.replace(tmp, _sidecar(dest))


def drop_token(dest: str) -> None:
    """Forget which version the copy at `dest` is (before it changes)."""
    remove_file(_sidecar(dest))


def partial_path(dest: str) -> str:
    """A temporary name beside `dest` for a download in progress, this process's own."""
    folder, base = os.path.split(dest)
    return os.path.join(folder, f".{base}{_PART}{_part_tag()}")


def remove_orphan_parts(dest: str) -> None:
    """Delete temporary files a killed fileflow left for `dest` (their process is gone):
    partial downloads and unfinished sidecars."""
    folder, base = os.path.split(dest)
    prefixes = (f".{base}{_PART}", f".{base}{_TOKEN_SUFFIX}{_PART}")
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefixes)]
    except OSError:
        return
    for name in names:
        pid_text, _, rest = name.rsplit(_PART, 1)[1].partition("-")
        host = rest.partition("-")[2]
        if host and host != _host():
            continue  # another node's (a cluster job staging on a shared file system)
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            remove_file(os.path.join(folder, name))


def remove_staged_copy(dest: str) -> None:
    """Delete a staged copy and its token sidecar (its sidecar first: never a token vouching
    for a file that is not there)."""
    try:
        remove_file(_sidecar(dest))
        remove_file(dest)
    except OSError:
        pass


def _host() -> str:
    return os.uname().nodename


def _part_tag() -> str:
    """pid-random-host: a temporary file is its writer's, whose liveness only its own host
    can tell."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}-{_host()}"
