"""Remote files through fsspec: observe them by a version token, stage them, upload outputs.

Layer 2: does I/O, like `fileflow.engine.store`; imports only `fileflow.state` and `fileflow.errors`.
fsspec and its backends (s3fs, gcsfs, aiohttp) are imported inside the functions that use
them, so `fileflow --help` never pays for them.

A remote file's identity is its *version token*, not a clock (docs/remote.md has the rules
per backend): `version:` (S3 VersionId, GCS generation), else `etag:`/`md5:`/`crc32c:`, else
`mtime:<ns>:<size>`. `RemoteFiles.stat_many` returns `FileState`s whose `digest` is that
token, so the staleness decision compares remote files exactly as it compares hashed local
ones. One `RemoteFiles` lives for one run: it lists each prefix once and caches the answer.

Secrets never leave this module in text: every message goes through `_Scrubber`, which
drops URL userinfo, signed query parameters, and the literal secret values it was given
(storage options) or can see (the usual credential environment variables).
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from fileflow.errors import FileflowError
from fileflow.fs import remove_file
from fileflow.processes import pid_alive
from fileflow.state import FileState

__all__ = ["RemoteError", "RemoteFiles", "is_remote", "scrub_url", "staged_path",
           "version_token", "remove_staged_copy", "STAGE_ROOT"]

STAGE_ROOT = ".fileflow/remote"
log = logging.getLogger("fileflow.remote.files")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
# Query parameters that carry a credential (presigned S3/GCS URLs, Azure SAS, API keys).
_SECRET_QUERY = re.compile(
    r"(?i)([?&](?:x-amz-(?:signature|credential|security-token)|x-goog-(?:signature|credential)"
    r"|signature|sig|token|access_token|api[_-]?key|key|password|sas)=)[^&#\s]*")
# Environment variables whose values are secrets (scrubbed from any text we produce).
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
               "GOOGLE_OAUTH_ACCESS_TOKEN", "AZURE_STORAGE_KEY", "AZURE_STORAGE_SAS_TOKEN",
               "AZURE_STORAGE_CONNECTION_STRING", "AZURE_CLIENT_SECRET")
_SECRET_KEY = re.compile(r"(?i)secret|token|password|passwd|key|credential|sas|auth")
_MIN_SECRET = 6  # shorter values would scrub ordinary words

_LIST_AT = 2  # URLs under one prefix before listing the prefix beats asking each one
_MAX_SLEEP = 30.0
_TOKEN_SUFFIX = ".fileflow-token"
_PART = ".part-"

# errno values of OSError that mean "try again" (s3fs maps 503 SlowDown to EBUSY and 500
# InternalError to EREMOTEIO).
_TRANSIENT_ERRNO = {errno.EBUSY, errno.EAGAIN, errno.ETIMEDOUT, errno.ECONNRESET,
                    errno.ECONNABORTED, errno.EPIPE, getattr(errno, "EREMOTEIO", 121)}
# Exception class names (any backend) that are transient network failures; matched by name
# so that neither aiohttp nor botocore needs importing here.
_TRANSIENT_NAMES = ("Timeout", "ServerDisconnected", "ConnectionReset", "ConnectionClosed",
                    "ClientPayloadError", "ClientConnectorError", "ClientOSError",
                    "EndpointConnectionError", "IncompleteRead", "ResponseStreamingError")


class RemoteError(FileflowError):
    """A remote operation failed. Names the URL (scrubbed); the caller adds the job.
    `kind` is "missing", "denied", "transient" (retries ran out) or "failed"."""

    def __init__(self, url: str, message: str, *, kind: str = "failed",
                 status: int | None = None):
        super().__init__(f"{url}: {message}")
        self.url = url
        self.kind = kind
        self.status = status


# ---- pure helpers ----------------------------------------------------------------------------

def is_remote(path: str) -> bool:
    """True for a path with a URL scheme other than `file` (`s3://`, `gs://`, `https://`,
    `memory://`, ...). Plain and `file://` paths are local."""
    m = _SCHEME.match(path)
    return m is not None and m.group(1).lower() != "file"


def scrub_url(text: str) -> str:
    """`text` with URL userinfo (`user:pw@`) and credential query parameters removed."""
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub("***@", text))


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


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    while exc is not None and len(chain) < 8 and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)  # aiohttp.ClientResponseError
    if isinstance(status, int):
        return status
    response = getattr(exc, "response", None)  # botocore ClientError
    if isinstance(response, Mapping):
        meta = response.get("ResponseMetadata") or {}
        code = meta.get("HTTPStatusCode")
        if isinstance(code, int):
            return code
        try:
            return int(response.get("Error", {}).get("Code", ""))
        except ValueError:
            return None
    return None


def _classify(exc: BaseException) -> tuple[str, int | None, BaseException]:
    """("missing" | "denied" | "transient" | "failed", the HTTP status if known, the error
    in the chain that tells). A status anywhere in the chain wins: fsspec's HTTP info() turns
    every failure, a 503 included, into a FileNotFoundError raised from the real error."""
    chain = _exception_chain(exc)
    for e in chain:
        status = _status_of(e)
        if status is not None:
            if status in (404, 410):
                return "missing", status, e
            if status in (401, 403):
                return "denied", status, e
            if status >= 500 or status in (408, 429):
                return "transient", status, e
            return "failed", status, e
    for e in reversed(chain):  # the deepest cause says what really happened
        names = [cls.__name__ for cls in type(e).__mro__]
        if isinstance(e, (TimeoutError, ConnectionResetError, ConnectionAbortedError,
                          BrokenPipeError)) or any(
                marker in name for name in names for marker in _TRANSIENT_NAMES):
            return "transient", None, e
        if isinstance(e, OSError) and e.errno in _TRANSIENT_ERRNO:
            return "transient", None, e
    if isinstance(exc, FileNotFoundError):
        return "missing", 404, exc
    if isinstance(exc, PermissionError):
        return "denied", 403, exc
    return "failed", None, exc


class _Scrubber:
    """Removes secrets from text: URL userinfo, signed query parameters, and the literal
    values of secrets found in the storage options and the credential environment."""

    def __init__(self, storage_options: Mapping | None):
        secrets: set[str] = set()
        self._collect(storage_options or {}, secrets, under_secret_key=False)
        for name in _SECRET_ENV:
            value = os.environ.get(name, "")
            if len(value) >= _MIN_SECRET:
                secrets.add(value)
        self._secrets = sorted(secrets, key=len, reverse=True)

    def _collect(self, value: Any, out: set[str], under_secret_key: bool) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                self._collect(item, out, under_secret_key or bool(_SECRET_KEY.search(str(key))))
        elif isinstance(value, (list, tuple)):
            for item in value:
                self._collect(item, out, under_secret_key)
        elif isinstance(value, str) and under_secret_key and len(value) >= _MIN_SECRET:
            out.add(value)

    def __call__(self, text: str) -> str:
        text = scrub_url(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


# ---- the run's remote files ----------------------------------------------------------------

class RemoteFiles:
    """Remote files for one run: observe (`stat_many`), stage (`download`, `download_many`)
    and publish (`upload`). Listings are cached for the life of the object.

    `storage_options` maps a protocol to the keyword arguments of its fsspec file system,
    e.g. `{"s3": {"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}}`; with none,
    each backend finds its credentials where it usually does (environment, config files)."""

    def __init__(self, storage_options: Mapping | None = None, *, retries: int = 5,
                 backoff: float = 0.5, parallel: int = 8, stage_root: str = STAGE_ROOT):
        self._options = {k: dict(v) for k, v in (storage_options or {}).items()}
        self.retries = max(0, retries)
        self.backoff = max(0.0, backoff)
        self.parallel = max(1, parallel)
        self.stage_root = stage_root
        self._scrub = _Scrubber(storage_options)
        self._lock = threading.Lock()
        self._filesystems: dict[str, Any] = {}
        self._states: dict[str, FileState] = {}
        self._listed: set[tuple[str, str]] = set()  # (protocol, parent) listed this run
        self._dest_locks: dict[str, threading.Lock] = {}
        self.staged: dict[str, str] = {}  # url -> local path, staged (or reused) this run
        self.downloads = 0  # objects actually transferred this run; tests rely on it

    def __repr__(self) -> str:  # never the options: they may hold credentials
        return (f"RemoteFiles(protocols={sorted(self._options)}, retries={self.retries}, "
                f"parallel={self.parallel}, stage_root={self.stage_root!r})")

    # ---- file systems and errors ----

    def _fs(self, url: str) -> tuple[Any, str]:
        """The fsspec file system of `url` (one per protocol per run) and the URL's path in it."""
        import fsspec
        from fsspec.core import split_protocol

        protocol, _ = split_protocol(url)
        protocol = protocol or "file"
        with self._lock:
            fs = self._filesystems.get(protocol)
            if fs is None:
                try:
                    cls = fsspec.get_filesystem_class(protocol)
                except (ImportError, ValueError) as exc:
                    raise RemoteError(self._scrub(url), self._scrub(
                        f"no file system for '{protocol}://': {exc}"), kind="failed") from None
                try:
                    # Our own instance: fsspec's shared instance cache would keep listings
                    # across runs in one process.
                    fs = cls(skip_instance_cache=True, **self._options.get(protocol, {}))
                except Exception as exc:  # bad storage options, a backend that cannot start
                    raise RemoteError(self._scrub(url), self._scrub(
                        f"cannot open the '{protocol}://' file system: {_reason(exc)}"),
                        kind="failed") from None
                self._filesystems[protocol] = fs
        return fs, fs._strip_protocol(url).rstrip("/")

    def _call(self, url: str, what: str, fn: Callable[[], Any]) -> Any:
        """fn(), retried with exponential backoff while it fails transiently."""
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except Exception as exc:
                kind, status, cause = _classify(exc)
                if kind == "transient" and attempt < self.retries:
                    delay = min(_MAX_SLEEP, self.backoff * 2 ** attempt)
                    log.warning("%s", self._scrub(
                        f"{url}: {what}: {_reason(cause, status)}; retry {attempt + 1} of "
                        f"{self.retries} in {delay:g}s"))
                    time.sleep(delay)
                    continue
                raise self._error(url, what, kind, status, cause, attempt + 1) from None
        raise AssertionError("unreachable")

    def _error(self, url: str, what: str, kind: str, status: int | None, exc: BaseException,
               attempts: int) -> RemoteError:
        shown = self._scrub(url)
        if kind == "missing":
            message = f"not found (HTTP {status or 404})"
        elif kind == "denied":
            message = (f"access denied ({status or 403}): check credentials for this "
                       f"{'bucket' if urlsplit(url).scheme in ('s3', 'gs', 'gcs') else 'server'}")
        elif kind == "transient":
            message = f"{what} failed after {attempts} attempts: {_reason(exc, status)}"
        else:
            message = f"{what} failed: {_reason(exc, status)}"
        return RemoteError(shown, self._scrub(message), kind=kind, status=status)

    def _state(self, url: str, fs: Any, info: Mapping) -> FileState:
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

    # ---- observe ----

    def stat_many(self, urls: Iterable[str]) -> dict[str, FileState]:
        """The state of each URL now; `digest` is its version token. Where several URLs share
        a parent prefix, the prefix is listed once (`ls` with details) instead of asking each
        URL; HTTP(S) URLs are asked one HEAD each. Answers are cached for the run."""
        out: dict[str, FileState] = {}
        groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for url in dict.fromkeys(urls):
            cached = self._states.get(url)
            if cached is not None:
                out[url] = cached
                continue
            fs, path = self._fs(url)
            parent = fs._parent(path)
            if (fs.protocol, parent) in self._listed:  # listed already: absent from it
                out[url] = self._states.setdefault(url, FileState(url, False))
                continue
            groups.setdefault((_protocol_of(fs), parent), []).append((url, path))
        work = []
        for (protocol, parent), members in groups.items():
            if len(members) >= _LIST_AT and protocol not in ("http", "https"):
                work.append((self._list_group, protocol, parent, members))
            else:
                work.extend((self._info_one, protocol, parent, [m]) for m in members)
        for found in self._map(lambda w: w[0](*w[1:]), work):
            out.update(found)
        return out

    def stat(self, url: str) -> FileState:
        return self.stat_many((url,))[url]

    def _info_one(self, protocol: str, parent: str, members: list[tuple[str, str]]
                  ) -> dict[str, FileState]:
        (url, path), = members
        fs, _ = self._fs(url)
        try:
            info = self._call(url, "stat", lambda: fs.info(path))
            state = self._state(url, fs, info)
        except RemoteError as exc:
            if exc.kind != "missing":
                raise
            state = FileState(url, False)
        with self._lock:
            self._states[url] = state
        return {url: state}

    def _list_group(self, protocol: str, parent: str, members: list[tuple[str, str]]
                    ) -> dict[str, FileState]:
        url0 = members[0][0]
        fs, _ = self._fs(url0)
        shown_parent = url0[: len(url0) - len(url0.rstrip("/").rsplit("/", 1)[-1])]
        try:
            entries = self._call(shown_parent, "list",
                                 lambda: fs.ls(parent, detail=True))
        except RemoteError as exc:
            if exc.kind == "missing":
                entries = []
            elif exc.kind == "denied":  # may read objects but not list: ask each one
                found: dict[str, FileState] = {}
                for member in members:
                    found.update(self._info_one(protocol, parent, [member]))
                return found
            else:
                raise
        by_name = {fs._strip_protocol(e["name"]).rstrip("/"): e for e in entries}
        found = {}
        for url, path in members:
            info = by_name.get(path)
            found[url] = FileState(url, False) if info is None else self._state(url, fs, info)
        with self._lock:
            self._states.update(found)
            self._listed.add((fs.protocol, parent))
        return found

    def forget(self, urls: Iterable[str] | None = None) -> None:
        """Drop cached answers (all of them when `urls` is None), e.g. after another process
        changed the store."""
        with self._lock:
            if urls is None:
                self._states.clear()
                self._listed.clear()
                for fs in self._filesystems.values():
                    fs.invalidate_cache()
                return
            for url in urls:
                self._states.pop(url, None)
                fs = self._filesystems.get(urlsplit(url).scheme)
                if fs is not None:
                    path = fs._strip_protocol(url)
                    self._listed.discard((fs.protocol, fs._parent(path)))
                    fs.invalidate_cache(path)

    # ---- stage ----

    def download(self, url: str, token: str | None = None) -> str:
        """Stage `url` and return its local path. No transfer when the staged copy's sidecar
        records `token` (the current token, looked up when not given). The object is written
        to a temporary name beside the destination and renamed only when complete, and the
        sidecar is written only after that, so a killed download is never reused."""
        if token is None:
            state = self.stat(url)
            if not state.exists:
                raise RemoteError(self._scrub(url), "not found (HTTP 404)", kind="missing",
                                  status=404)
            token = state.digest
        dest = staged_path(url, self.stage_root)
        with self._lock:
            dest_lock = self._dest_locks.setdefault(dest, threading.Lock())
        with dest_lock:
            if token is not None and _read_sidecar(dest) == token and os.path.isfile(dest):
                with self._lock:
                    self.staged[url] = dest
                return dest
            fs, path = self._fs(url)
            folder, base = os.path.split(dest)
            os.makedirs(folder, exist_ok=True)
            _remove_orphan_parts(folder, base)
            remove_file(_sidecar(dest))  # the old sidecar must never vouch for a new file
            tmp = os.path.join(folder, f".{base}{_PART}{_part_tag()}")
            try:
                def fetch() -> None:
                    remove_file(tmp)
                    fs.get_file(path, tmp)
                self._call(url, "download", fetch)
                os.replace(tmp, dest)
            except BaseException:
                remove_file(tmp)
                raise
            if token is not None:
                _write_atomic(_sidecar(dest), token)
            with self._lock:
                self.downloads += 1
                self.staged[url] = dest
        return dest

    def download_many(self, urls: Iterable[str]) -> dict[str, str]:
        """`download` for many URLs, `parallel` at a time, after one bulk `stat_many`. Raises
        the first failure once the transfers under way have finished (none is left half
        done)."""
        urls = list(dict.fromkeys(urls))
        states = self.stat_many(urls)
        for url in urls:
            if not states[url].exists:
                raise RemoteError(self._scrub(url), "not found (HTTP 404)", kind="missing",
                                  status=404)
        return dict(zip(urls, self._map(lambda u: self.download(u, states[u].digest), urls)))

    def remove_staged(self) -> None:
        """Delete what this run staged, with its sidecars (a run without --keep-remote)."""
        with self._lock:
            staged, self.staged = self.staged, {}
        for dest in staged.values():
            remove_file(_sidecar(dest))
            remove_file(dest)

    # ---- publish ----

    def upload(self, local_path: str, url: str) -> FileState:
        """Upload a local file to `url` and return the object's new state (with its token).
        Raises RemoteError when the upload fails; the caller must not record it as made.
        When `local_path` is the URL's staged path, its sidecar records the new token, so the
        copy serves later downloads of this version (in this run, or with --keep-remote)."""
        if not os.path.isfile(local_path):
            raise RemoteError(self._scrub(url), f"cannot upload {local_path!r}: not a file")
        fs, path = self._fs(url)
        if _protocol_of(fs) in ("http", "https"):
            raise RemoteError(self._scrub(url), "HTTP(S) URLs are read-only: an output "
                              "must be on a writable store (s3://, gs://, ...)")
        dest = staged_path(url, self.stage_root)
        from_stage = os.path.abspath(local_path) == os.path.abspath(dest)
        if from_stage:
            remove_file(_sidecar(dest))  # until the new token is known, the copy vouches for nothing
        self._call(url, "upload", lambda: fs.put_file(local_path, path))
        self.forget((url,))
        info = self._call(url, "stat", lambda: fs.info(path))
        state = self._state(url, fs, info)
        with self._lock:
            self._states[url] = state
            if from_stage:
                self.staged[url] = dest
        if from_stage and state.digest is not None:
            # The staged copy is this version: a consumer (or a --keep-remote run) uses it.
            _write_atomic(_sidecar(dest), state.digest)
        return state

    # ---- helpers ----

    def _map(self, fn: Callable[[Any], Any], items: list) -> list:
        """fn over items, `parallel` at a time, results in order; the first error is raised
        after the calls already started have finished, and the rest are not started."""
        if len(items) <= 1:
            return [fn(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(self.parallel, len(items))) as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                return [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise


def remove_staged_copy(dest: str) -> None:
    """Delete a staged copy and its token sidecar (its sidecar first: never a token vouching
    for a file that is not there)."""
    try:
        remove_file(_sidecar(dest))
        remove_file(dest)
    except OSError:
        pass


def _protocol_of(fs: Any) -> str:
    protocol = fs.protocol
    return protocol if isinstance(protocol, str) else protocol[0]


def _reason(exc: BaseException, status: int | None = None) -> str:
    if status is not None:
        return f"HTTP {status}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _sidecar(dest: str) -> str:
    folder, base = os.path.split(dest)
    return os.path.join(folder, f".{base}{_TOKEN_SUFFIX}")


def _read_sidecar(dest: str) -> str | None:
    try:
        with open(_sidecar(dest), encoding="utf-8") as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}{_PART}{_part_tag()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    os.replace(tmp, path)




def _remove_orphan_parts(folder: str, base: str) -> None:
    """Delete temporary files a killed fileflow left for `base` (their process is gone):
    partial downloads and unfinished sidecars."""
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


def _host() -> str:
    return os.uname().nodename


def _part_tag() -> str:
    """pid-random-host: a temporary file is its writer's, whose liveness only its own host
    can tell."""
    return f"{os.getpid()}-{uuid.uuid4().hex[:8]}-{_host()}"


