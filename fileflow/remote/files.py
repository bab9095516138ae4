"""Remote files through fsspec for one run: observe them by their version tokens, stage
them, upload outputs. Layer 2: does I/O, like `fileflow.engine.store`.

fsspec and its backends (s3fs, gcsfs, aiohttp) are imported inside the functions that use
them, so `fileflow --help` never pays for them. One `RemoteFiles` lives for one run: it
lists each prefix once and caches the answer; `RemoteFiles.stat_many` returns `FileState`s
whose `digest` is the version token (fileflow.remote.tokens). Staged copies and their token
sidecars are laid out by fileflow.remote.staged_copies; failures are classified, retried
while transient and worded without secrets by fileflow.remote.failures.
"""
from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from fileflow.fs import remove_file
from fileflow.remote.failures import (
    RemoteError,
    SecretScrubber,
    classify_failure,
    failure_reason,
    remote_error,
)
from fileflow.remote.staged_copies import (
    STAGE_ROOT,
    drop_token,
    partial_path,
    record_token,
    recorded_token,
    remove_orphan_parts,
    staged_path,
)
from fileflow.remote.tokens import remote_state
from fileflow.state import FileState

__all__ = ["RemoteFiles", "is_remote"]

log = logging.getLogger("fileflow.remote.files")

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_LIST_AT = 2  # URLs under one prefix before listing the prefix beats asking each one
_MAX_SLEEP = 30.0


def is_remote(path: str) -> bool:
    """True for a path with a URL scheme other than `file` (`s3://`, `gs://`, `https://`,
    `memory://`, ...). Plain and `file://` paths are local."""
    m = _SCHEME.match(path)
    return m is not None and m.group(1).lower() != "file"


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
        self._scrub = SecretScrubber(storage_options)
        self._lock = threading.Lock()
        self._filesystems: dict[str, Any] = {}
        self._states: dict[str, FileState] = {}
        self._listed: set[tuple[str, str]] = set()  # (protocol, parent) listed this run
        self._dest_locks: dict[str, threading.Lock] = {}
        self.staged: dict[str, str] = {}  # url -> local path, staged (or reused) this run
        self.downloads = 0  # objects actually transferred this run; tests rely on it

    @property
    def storage_options(self) -> dict[str, dict]:
        """The keyword arguments of each protocol's file system (they may hold secrets)."""
        return {k: dict(v) for k, v in self._options.items()}

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
                        f"cannot open the '{protocol}://' file system: {failure_reason(exc)}"),
                        kind="failed") from None
                self._filesystems[protocol] = fs
        return fs, fs._strip_protocol(url).rstrip("/")

    def _call(self, url: str, what: str, fn: Callable[[], Any]) -> Any:
        """fn(), retried with exponential backoff while it fails transiently."""
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except Exception as exc:
                kind, status, cause = classify_failure(exc)
                if kind == "transient" and attempt < self.retries:
                    delay = min(_MAX_SLEEP, self.backoff * 2 ** attempt)
                    log.warning("%s", self._scrub(
                        f"{url}: {what}: {failure_reason(cause, status)}; retry {attempt + 1} of "
                        f"{self.retries} in {delay:g}s"))
                    time.sleep(delay)
                    continue
                raise remote_error(url, what, kind, status, cause, attempt + 1, self._scrub) from None
        raise AssertionError("unreachable")

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
            state = remote_state(url, fs, info)
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
            found[url] = FileState(url, False) if info is None else remote_state(url, fs, info)
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
            if token is not None and recorded_token(dest) == token and os.path.isfile(dest):
                with self._lock:
                    self.staged[url] = dest
                return dest
            fs, path = self._fs(url)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            remove_orphan_parts(dest)
            drop_token(dest)  # the old sidecar must never vouch for a new file
            tmp = partial_path(dest)
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
                record_token(dest, token)
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
            drop_token(dest)
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
            drop_token(dest)  # until the new token is known, the copy vouches for nothing
        self._call(url, "upload", lambda: fs.put_file(local_path, path))
        self.forget((url,))
        info = self._call(url, "stat", lambda: fs.info(path))
        state = remote_state(url, fs, info)
        with self._lock:
            self._states[url] = state
            if from_stage:
                self.staged[url] = dest
        if from_stage and state.digest is not None:
            # The staged copy is this version: a consumer (or a --keep-remote run) uses it.
            record_token(dest, state.digest)
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


def _protocol_of(fs: Any) -> str:
    protocol = fs.protocol
    return protocol if isinstance(protocol, str) else protocol[0]
