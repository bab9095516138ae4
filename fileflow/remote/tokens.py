"""A remote file's identity: its version token, read from what its store says of it (an
fsspec `info()` or listing entry). Layer 2; pure but for `remote_state`, which asks the file
system whether it is version aware.

The token is not a clock (docs/remote.md has the rules per backend): `version:` (S3
VersionId, GCS generation), else `etag:`/`md5:`/`crc32c:`, else `mtime:<ns>:<size>`. A
remote `FileState`'s `digest` is that token, so the staleness decision compares remote files
exactly as it compares hashed local ones.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from fileflow.state import FileState

__all__ = ["version_token", "remote_state"]


def _to_ns(value: Any) -> int | None:
    """A store's timestamp (datetime, HTTP date, ISO string, or seconds) in ns since the epoch."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(value, (int, float)):
        # Floats are seconds at microsecond precision (memory://, sftp); round there, so the
        # float of a listing and the datetime of info() give the same token.
        return round(value * 1_000_000) * 1000
    if isinstance(value, str):
        from email.utils import parsedate_to_datetime

        try:
            return _to_ns(parsedate_to_datetime(value))  # RFC 1123 (HTTP Last-Modified)
        except (TypeError, ValueError, IndexError):
            pass
        try:
            return _to_ns(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def _size_of(info: Mapping) -> int | None:
    for key in ("size", "Size", "ContentLength", "Content-Length"):
        value = info.get(key)
        if value is not None and value != "":
            try:
                return int(value)
            except (TypeError, ValueError):
                return None
    return None


def _mtime_of(info: Mapping) -> int | None:
    for key in ("LastModified", "Last-Modified", "last_modified", "mtime", "updated",
                "modified", "created", "time"):
        ns = _to_ns(info.get(key))
        if ns is not None:
            return ns
    return None


def version_token(info: Mapping) -> str | None:
    """The version token of an fsspec `info()` / `find(detail=True)` entry, or None when it
    carries nothing to tell versions apart. Pure.

    version:<id>  S3 VersionId, GCS generation, Azure version_id (a new id for every write)
    etag:<tag>    ETag (S3, HTTP, Azure; quotes dropped)  md5:<b64> / crc32c:<b64> (GCS)
    mtime:<ns>:<size>  modification time and size, when the store gives nothing better
    """
    for key in ("VersionId", "version_id", "generation"):
        value = info.get(key)
        if value not in (None, "", "null"):
            return f"version:{value}"
    for key, prefix in (("ETag", "etag"), ("etag", "etag"), ("md5Hash", "md5"),
                        ("Content-MD5", "md5"), ("crc32c", "crc32c")):
        value = info.get(key)
        if value not in (None, ""):
            text = str(value)
            weak = "W/" if text.startswith("W/") else ""
            return f"{prefix}:{weak}{text[len(weak):].strip(chr(34))}"
    mtime = _mtime_of(info)
    if mtime is None:
        return None
    size = _size_of(info)
    return f"mtime:{mtime}:{-1 if size is None else size}"


def remote_state(url: str, fs: Any, info: Mapping) -> FileState:
    """The state of `url` from its `info` entry in the fsspec file system `fs`."""
    if info.get("type") == "directory":
        return FileState(url, True, 0, -1, None, True)
    if getattr(fs, "version_aware", None) is False:
        # s3fs without version_aware: HEAD answers VersionId on a versioned bucket but a
        # listing never does; ignore it, so a listed and a HEADed object agree.
        info = {k: v for k, v in info.items() if k != "VersionId"}
    size = _size_of(info)
    mtime = _mtime_of(info)
    return FileState(url, True, -1 if size is None else size,
                     -1 if mtime is None else mtime, version_token(info))
