"""Remote files in a build: the store that observes them, and the staging of one run. Layer 3.

A path with a URL scheme (`s3://bucket/key`, `https://host/ref.fa`, `memory://x`) is remote;
fileflow.remote reads and writes it through fsspec. Everything upstream of the run keeps the
URL (the graph, the plan, the run log), and only a job's command sees a local path:

- `RemoteAwareStore` is a FileStore that observes URLs from the remote layer's bulk listing.
  A remote file's digest is its version token (VersionId, generation, ETag ... see
  docs/remote.md), so it is never hashed, and the decision compares tokens as it compares
  content digests. The run log records them under the algorithm "remote-token".
- `Staging` serves one run: it downloads a job's remote inputs before the job starts (each
  URL once per run, several at once), gives the job local paths in place of URLs
  (`local_job`), uploads a job's remote outputs after it succeeded, and at the end of the run
  removes the staged copies it made unless `--keep-remote` keeps them.
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping

from .errors import FlowfileError, WorkflowError
from .state import FileState
from .store import FileStore

__all__ = ["RemoteAwareStore", "LocalPaths", "Staging", "check_no_credentials", "check_local_logs",
           "STAGE_ROOT"]

STAGE_ROOT = os.path.join(".fileflow", "remote")

def _is_remote(path: str) -> bool:
    """fileflow.remote.is_remote, loaded only for a path that can be a URL."""
    if "://" not in path:
        return False
    from .remote import is_remote
    return is_remote(path)


def _split(paths: Iterable[str]) -> tuple[list[str], Iterable[str]]:
    """(URLs, local paths); the local part is `paths` itself when no path can be a URL (one
    scan in C: this runs on every path of the graph)."""
    if not isinstance(paths, (list, tuple, dict, set, frozenset)):
        paths = list(paths)
    if "://" not in "\x00".join(paths):
        return [], paths
    from .remote import is_remote

    urls, local = [], []
    for path in paths:
        (urls if is_remote(path) else local).append(path)
    return urls, local


def check_no_credentials(urls: Iterable[str]) -> None:
    """Refuse a URL that carries a credential (user info, or a signed query such as a
    presigned URL's): fileflow shows and records paths (dry runs, the run log, messages),
    and a credential must never appear in any of them."""
    from .remote import scrub_url

    for url in urls:
        shown = scrub_url(url)
        if shown != url:
            raise WorkflowError(
                f"{shown}: a URL with credentials in it (user info or a signed query); "
                "fileflow shows and records paths, so give credentials the backend's usual "
                "way instead (environment variables, its config file; see docs/remote.md)")


def check_local_logs(workflow) -> None:
    """A job's log is written while it runs, by the job itself: it must be a local file."""
    for rule in workflow.rules:
        for item in rule.log if isinstance(rule.log, tuple) else ():
            if _is_remote(item.pattern.text):
                raise FlowfileError(
                    f"rule '{rule.name}': log {item.pattern.text!r} is remote; a log is written "
                    "while the job runs, so it must be a local file (upload it as an output "
                    "of a later rule if it must be kept remotely)",
                    rule.directive_pos.get("log"))


class RemoteAwareStore(FileStore):
    """A FileStore that observes URLs too. The remote layer (and fsspec) is loaded on the first
    URL, so a workflow without remote files pays nothing."""

    def __init__(self, root: str | os.PathLike[str] = ".", hash_workers: int = 4,
                 stage_root: str = STAGE_ROOT):
        super().__init__(root, hash_workers)
        self.stage_root = stage_root
        self._remote = None

    @property
    def remote(self):
        """The run's fileflow.remote.RemoteFiles (its listing cache lives as long as it)."""
        if self._remote is None:
            from .remote import RemoteFiles
            self._remote = RemoteFiles(stage_root=self.stage_root)
        return self._remote

    @property
    def has_remote(self) -> bool:
        return self._remote is not None

    def forget_remote(self) -> None:
        """Drop what is known of remote files (another build may have changed them)."""
        if self._remote is not None:
            self._remote.forget()

    def stat(self, path: str) -> FileState:
        if _is_remote(path):
            return self._remote_states([path])[path]
        return super().stat(path)

    def stat_many(self, paths: Iterable[str]) -> dict[str, FileState]:
        urls, local = _split(paths)
        out = super().stat_many(local)
        if urls:
            out.update(self._remote_states(urls))
        return out

    def missing(self, paths: Iterable[str]) -> set[str]:
        urls, local = _split(paths)
        gone = super().missing(local)
        for url, state in self._remote_states(urls).items() if urls else ():
            if not state.exists:
                gone.add(url)
            elif state.digest is None:  # asked of sources: say it before anything runs
                self.hash_path(url)
        return gone

    def _remote_states(self, urls: list[str]) -> dict[str, FileState]:
        check_no_credentials(urls)  # before any of them is asked for, or shown
        return self.remote.stat_many(urls)

    def hash_path(self, path: str) -> str:
        if _is_remote(path):  # a remote file's digest is its token, from the listing
            raise WorkflowError(
                f"cannot follow {path!r}: it is a folder in its store, or its store tells no "
                "version of it (no version id, checksum, ETag or time); fileflow follows "
                "remote files by version, so name the files of a folder one by one")
        return super().hash_path(path)


class LocalPaths:
    """Where a job reads and writes each path: a URL's staged copy, a local path itself."""

    def __init__(self, stage_root: str = STAGE_ROOT):
        self.stage_root = stage_root
        self._staged: dict[str, str] = {}

    def path(self, path: str) -> str:
        if not _is_remote(path):
            return path
        found = self._staged.get(path)
        if found is None:
            from .remote import staged_path
            found = self._staged[path] = staged_path(path, root=self.stage_root)
        return found

    def job(self, job):
        """The job with every URL among its inputs, outputs and flagged paths replaced by its
        staged path (the job itself when it has none)."""
        values = job.values
        if ("://" not in "\x00".join((*values.inputs.values, *values.outputs.values))
                and not any(_is_remote(p) for p in values.flags)):
            return job
        local = self.path
        values = values._replace(
            inputs=values.inputs._replace(values=tuple(map(local, values.inputs.values))),
            outputs=values.outputs._replace(values=tuple(map(local, values.outputs.values))),
            flags={local(p): f for p, f in values.flags.items()})
        return job.with_values(values)


class Staging:
    """The remote files of one run: downloads before jobs, uploads after them, clean-up."""

    def __init__(self, remote, keep: bool = False, stage_root: str = STAGE_ROOT):
        self.remote = remote
        self.keep = keep
        self.stage_root = stage_root
        self.paths = LocalPaths(stage_root)
        self.local_path = self.paths.path
        self.local_job = self.paths.job
        self.tokens: dict[str, str | None] = {}   # URL -> token of its staged copy, this run
        self.outputs: set[str] = set()            # staged copies of remote outputs, this run
        self.uploaded = 0

    def stage(self, wanted: Mapping[str, str | None]) -> dict[str, str]:
        """Make a local copy of each URL among `wanted` (path -> the token the job records;
        local paths are ignored) that this run has not staged at that token yet, at most
        the remote layer's `parallel` at once. Returns URL -> why, for those that failed
        (the others are all done when this returns)."""
        todo = {url: token for url, token in wanted.items()
                if _is_remote(url) and (url not in self.tokens or self.tokens[url] != token)}
        if not todo:
            return {}
        from concurrent.futures import ThreadPoolExecutor

        from .remote import RemoteError

        failed: dict[str, str] = {}
        workers = max(1, min(self.remote.parallel, len(todo)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fileflow-get") as pool:
            futures = {url: pool.submit(self.remote.download, url, token)
                       for url, token in todo.items()}
            for url, future in futures.items():
                try:
                    future.result()
                except RemoteError as exc:  # names the URL (without credentials)
                    failed[url] = f"cannot download input {exc}"
                except OSError as exc:  # the local side: disk full, permissions
                    failed[url] = (f"cannot stage input {self.local_path(url)}: "
                                   f"{exc.strerror or exc}")
                else:
                    self.tokens[url] = todo[url]
        return failed

    def upload(self, job, states: Mapping[str, FileState]) -> tuple[dict[str, FileState], str]:
        """Upload the job's remote outputs from their staged copies (several at once);
        `states` holds what was observed of its local paths. Returns the outputs' states
        keyed by the job's own paths (a URL's state is its new version, with its token as
        digest) and "", or, when an upload failed, ({}, why): the job is then failed and
        none of its outputs counts as done."""
        from .remote import RemoteError

        remote = [(path, self.local_path(path)) for path in job.outputs
                  if self.local_path(path) != path]
        self.outputs.update(local for _, local in remote)
        uploaded: dict[str, FileState] = {}
        failure = ""
        if len(remote) <= 1:
            results = [self._upload_one(*item) for item in remote]
        else:
            from concurrent.futures import ThreadPoolExecutor
            workers = min(self.remote.parallel, len(remote))
            with ThreadPoolExecutor(workers, thread_name_prefix="fileflow-put") as pool:
                results = list(pool.map(lambda item: self._upload_one(*item), remote))
        for (path, _), result in zip(remote, results):
            if isinstance(result, RemoteError):
                failure = failure or f"cannot upload output {result}"
            else:
                uploaded[path] = result
                self.tokens[path] = result.digest
                self.uploaded += 1
        if failure:
            return {}, failure
        return {path: uploaded.get(path) or states[path] for path in job.outputs}, ""

    def _upload_one(self, url: str, local: str):
        """The new state of `url`, or the RemoteError that stopped its upload."""
        from .remote import RemoteError

        try:
            return self.remote.upload(local, url)
        except RemoteError as exc:
            return exc

    @property
    def downloaded(self) -> int:
        return self.remote.downloads

    def summary(self) -> str:
        if not (self.downloaded or self.uploaded):
            return ""
        return (f"fileflow: remote files: {self.downloaded} downloaded, "
                f"{self.uploaded} uploaded")

    def cleanup(self) -> None:
        """Remove the staged copies this run made or used (and the folders left empty),
        unless --keep-remote keeps them for the next run. Never raises: a copy left behind
        costs disk space only (without its sidecar it is never reused)."""
        if self.keep:
            return
        try:
            self.remote.remove_staged()
        except OSError:
            pass
        for path in sorted(self.outputs):
            try:
                os.unlink(path)
            except OSError:
                pass
        self.outputs.clear()
        for folder, _dirs, _files in os.walk(self.stage_root, topdown=False):
            try:
                os.rmdir(folder)  # only the empty ones: another build may be using the rest
            except OSError:
                pass
