"""Remote files in a build: the store that observes them, and the staging of one run. Layer 3.

A path with a URL scheme (`s3://bucket/key`, `https://host/ref.fa`, `memory://x`) is remote;
fileflow.remote.files reads and writes it through fsspec. Everything upstream of the run keeps the
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
from collections.abc import Callable, Iterable, Mapping

from fileflow.engine.store import FileStore
from fileflow.errors import FlowfileError, WorkflowError
from fileflow.fs import remove_file
from fileflow.remote.staged_copies import STAGE_ROOT
from fileflow.state import FileState
from fileflow.storage_options import backend_options

__all__ = ["RemoteAwareStore", "LocalPaths", "Staging", "check_no_credentials", "check_local_logs"]




def _is_remote(path: str) -> bool:
    """fileflow.remote.files.is_remote, loaded only for a path that can be a URL."""
    if "://" not in path:
        return False
    from fileflow.remote.files import is_remote
    return is_remote(path)


def _split(paths: Iterable[str]) -> tuple[list[str], Iterable[str]]:
    """(URLs, local paths); the local part is `paths` itself when no path can be a URL (one
    scan in C: this runs on every path of the graph)."""
    if not isinstance(paths, (list, tuple, dict, set, frozenset)):
        paths = list(paths)
    if "://" not in "\x00".join(paths):
        return [], paths
    from fileflow.remote.files import is_remote

    urls: list[str] = []
    local: list[str] = []
    for path in paths:
        (urls if is_remote(path) else local).append(path)
    return urls, local


def check_no_credentials(urls: Iterable[str]) -> None:
    """Refuse a URL that carries a credential (user info, or a signed query such as a
    presigned URL's): fileflow shows and records paths (dry runs, the run log, messages),
    and a credential must never appear in any of them."""
    from fileflow.remote.failures import scrub_url

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
        self.storage: dict[str, dict] = {}  # protocol -> its fsspec keyword arguments

    def use_storage(self, options: Mapping[str, Mapping[str, object]]) -> None:
        """The options of the remote stores, by protocol, in fileflow's words
        (fileflow.storage_options): a Flowfile's `storage:`, a profile's, `--storage`."""
        storage = {protocol: backend_options(protocol, given)
                   for protocol, given in options.items()}
        for one, other in (("gs", "gcs"), ("gcs", "gs")):  # two names of one store
            if one in storage and other not in storage:
                storage[other] = storage[one]
        self.storage = storage
        self._remote = None

    @property
    def remote(self):
        """The run's fileflow.remote.files.RemoteFiles (its listing cache lives as long as it)."""
        if self._remote is None:
            from fileflow.remote.files import RemoteFiles
            self._remote = RemoteFiles(self.storage, stage_root=self.stage_root)
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
            from fileflow.remote.staged_copies import staged_path
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


class _Transfers:
    """A bounded pool of daemon threads for downloads and uploads, so that the run loop goes
    on noticing finished jobs while files move. Daemon threads: after Ctrl-C, fileflow exits
    without waiting for a transfer under way (its temporary file is never reused: a download
    is renamed into place only when complete, and its token written after that)."""

    def __init__(self, workers: int):
        import queue

        self.workers = max(1, workers)
        self._threads: list = []
        # (key, function, arguments); a None function stops the thread that takes it
        self._todo: queue.SimpleQueue[tuple[tuple, Callable[..., object] | None, tuple]] = (
            queue.SimpleQueue())
        self.results: queue.SimpleQueue[tuple[tuple, object, BaseException | None]] = (
            queue.SimpleQueue())  # (key, value, error)
        self.pending = 0                     # submitted, result not taken yet

    def submit(self, key, fn, *args) -> None:
        if len(self._threads) < min(self.workers, self.pending + 1):
            import threading

            thread = threading.Thread(target=self._work, daemon=True,
                                      name=f"fileflow-transfer-{len(self._threads)}")
            thread.start()
            self._threads.append(thread)
        self.pending += 1
        self._todo.put((key, fn, args))

    def _work(self) -> None:
        while True:
            key, fn, args = self._todo.get()
            if fn is None:
                return
            try:
                self.results.put((key, fn(*args), None))
            except BaseException as exc:  # handed to the run loop, which names the job
                self.results.put((key, None, exc))

    def take(self, timeout: float) -> list:
        """Finished transfers, waiting up to `timeout` seconds for the first one."""
        import queue

        out = []
        try:
            out.append(self.results.get(timeout=timeout) if timeout > 0
                       else self.results.get_nowait())
            while True:
                out.append(self.results.get_nowait())
        except queue.Empty:
            pass
        self.pending -= len(out)
        return out

    def stop(self) -> None:
        """Start nothing more; transfers under way finish (or die with the process)."""
        import queue

        try:
            while True:
                self._todo.get_nowait()
        except queue.Empty:
            pass
        for _ in self._threads:
            self._todo.put(((), None, ()))
        self.pending = 0


class Staging:
    """The remote files of one run: downloads before jobs, uploads after them, clean-up.

    Transfers run in a bounded pool of threads, off the run loop: `begin_inputs` and
    `begin_upload` start them, `finished` hands back what ended. With `in_job` (the build
    option `--remote-staging job`), cluster jobs move their own files on their node
    (fileflow.remote.job_stager): `job_manifest` tells a job what, `job_result` reads what it did."""

    def __init__(self, remote, keep: bool = False, stage_root: str = STAGE_ROOT,
                 in_job: bool = False):
        self.remote = remote
        self.keep = keep
        self.stage_root = stage_root
        self.in_job = in_job
        self.paths = LocalPaths(stage_root)
        self.local_path = self.paths.path
        self.local_job = self.paths.job
        self.tokens: dict[str, str | None] = {}   # URL -> token of its staged copy, this run
        self.outputs: set[str] = set()            # staged copies of remote outputs, this run
        self.job_staged: set[str] = set()         # staged copies the jobs made themselves
        self.uploaded = 0
        self._pool = _Transfers(remote.parallel)
        self._fetching: dict[str, str | None] = {}    # URL -> token being downloaded
        self._waiting: dict[int, set[str]] = {}      # job id -> URLs it still waits for
        self._why: dict[int, str] = {}               # job id -> its first failed input
        self._uploads: dict[int, tuple] = {}         # job id -> (job, states, URL -> result)

    @property
    def busy(self) -> bool:
        """Transfers under way (or results not taken yet)."""
        return self._pool.pending > 0

    def begin_inputs(self, job_id: int, wanted: Mapping[str, str | None]) -> bool:
        """Start downloading the URLs among `wanted` (path -> the token the job records; local
        paths are ignored) that this run has not staged at that token yet; each URL is
        downloaded once, whichever jobs want it. False when the job need not wait."""
        todo = {url for url, token in wanted.items()
                if _is_remote(url) and (url not in self.tokens or self.tokens[url] != token)}
        if not todo:
            return False
        self._waiting[job_id] = todo
        for url in todo:
            if url in self._fetching and self._fetching[url] == wanted[url]:
                continue  # another job's download of it is under way
            self._fetching[url] = wanted[url]
            self._pool.submit(("get", url, wanted[url]), self.remote.download, url, wanted[url])
        return True

    def begin_upload(self, job_id: int, job, states: Mapping[str, FileState]) -> bool:
        """Start uploading the job's remote outputs from their staged copies (each one a
        transfer of its own); `states` holds what was observed of its local paths.
        `finished` reports the job once all of them ended. False when it has none."""
        remote = [(path, self.local_path(path)) for path in job.outputs
                  if self.local_path(path) != path]
        if not remote:
            return False
        self.outputs.update(local for _, local in remote)
        self._uploads[job_id] = (job, dict(states), {url: None for url, _ in remote})
        for url, local in remote:
            self._pool.submit(("put", job_id, url), self._upload_one, url, local)
        return True

    def finished(self, timeout: float = 0.0) -> list[tuple[str, int, object]]:
        """Transfers that ended, waiting up to `timeout` for one: ("inputs", job id, why or
        "") once all of a job's inputs are staged (or one failed), and ("outputs", job id,
        (states, why)) as `upload` describes."""
        from fileflow.remote.failures import RemoteError

        out: list[tuple[str, int, object]] = []
        for key, value, error in self._pool.take(timeout):
            if key[0] == "put":
                _, job_id, url = key
                if error is not None:  # not a RemoteError: fileflow's own fault
                    raise error
                job, states, results = self._uploads[job_id]
                results[url] = value
                if all(r is not None for r in results.values()):
                    del self._uploads[job_id]
                    out.append(("outputs", job_id,
                                self._uploaded(job, states, list(results.values()))))
                continue
            _, url, token = key
            if self._fetching.get(url) == token:
                del self._fetching[url]
            why = ""
            if isinstance(error, RemoteError):  # names the URL (without credentials)
                why = f"cannot download input {error}"
            elif isinstance(error, OSError):  # the local side: disk full, permissions
                why = f"cannot stage input {self.local_path(url)}: {error.strerror or error}"
            elif error is not None:
                raise error
            else:
                self.tokens[url] = token
            for job_id, urls in list(self._waiting.items()):
                if url not in urls:
                    continue
                urls.discard(url)
                if why:
                    self._why.setdefault(job_id, why)
                if not urls:
                    del self._waiting[job_id]
                    out.append(("inputs", job_id, self._why.pop(job_id, "")))
        return out

    def stop(self) -> None:
        """The build stops: no transfer starts any more."""
        self._pool.stop()
        self._fetching.clear()
        self._waiting.clear()
        self._uploads.clear()

    def _uploaded(self, job, states, results) -> tuple[dict[str, FileState], str]:
        """The outputs' states keyed by the job's own paths (a URL's state is its new version,
        with its token as digest) and "", or, when an upload failed, ({}, why): the job is
        then failed and none of its outputs counts as done."""
        from fileflow.remote.failures import RemoteError

        remote = [path for path in job.outputs if self.local_path(path) != path]
        uploaded: dict[str, FileState] = {}
        failure = ""
        for path, result in zip(remote, results):
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
        from fileflow.remote.failures import RemoteError

        try:
            return self.remote.upload(local, url)
        except RemoteError as exc:
            return exc

    # ---- --remote-staging job: the job moves its own files (fileflow.remote.job_stager)

    def job_manifest(self, job, inputs: Mapping[str, str], attempt: int,
                     adopted: bool = False) -> str:
        """Write what the job itself downloads (its remote inputs, at the tokens it
        records) and uploads (its remote outputs); the manifest's path. The path depends on
        the job's name and attempt only, so a build that adopts a job a dead fileflow left
        on the cluster reads the result where that job writes it."""
        import hashlib
        import json

        urls = [p for p in job.inputs if _is_remote(p)]
        outputs = [p for p in job.outputs if _is_remote(p)]
        self.job_staged.update(self.local_path(p) for p in (*urls, *outputs))
        folder = os.path.join(".fileflow", "jobs", "stage")
        os.makedirs(folder, exist_ok=True)
        name = hashlib.sha1(job.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
        path = os.path.join(folder, f"{name}-{attempt}.stage.json")
        result = os.path.join(folder, f"{name}-{attempt}.stage-result.json")
        if adopted:  # the job is under way with its manifest; its result may be there
            return path
        remove_file(result)  # a result left by an earlier run must not vouch for this one
        from fileflow.remote.failures import without_secrets

        # The stores' options, but never a secret: the job finds those in its environment.
        manifest = {"job": job.name, "stage_root": self.stage_root,
                    "inputs": {url: inputs.get(url) for url in urls},
                    "outputs": outputs, "result": result,
                    "storage": without_secrets(self.remote.storage_options)}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(manifest, fh)
        return path

    def job_result(self, job, manifest: str, states: Mapping[str, FileState]
                   ) -> tuple[dict[str, FileState], str]:
        """The job's outputs' states, its remote ones as its own upload reported them, and
        "", or ({}, why) when it reported no complete upload (it is then failed)."""
        from fileflow.remote.job_stager import read_result

        result_path = manifest.replace(".stage.json", ".stage-result.json")
        result = read_result(result_path)
        reported = result.get("outputs")
        if not isinstance(reported, dict):
            return {}, result.get("error") or (
                "the job ended without reporting the upload of its remote outputs "
                f"({result_path} missing); see its log")
        out: dict[str, FileState] = {}
        for path in job.outputs:
            if not _is_remote(path):
                out[path] = states[path]
                continue
            got = reported.get(path)
            if not isinstance(got, dict) or not got.get("digest"):
                return {}, f"the job did not report an upload of output {path}; see its log"
            out[path] = FileState(path, True, int(got.get("size", -1)),
                                  int(got.get("mtime_ns", -1)), str(got["digest"]))
            self.tokens[path] = out[path].digest
            self.uploaded += 1
        for name in (manifest, result_path):
            remove_file(name)
        return out, ""

    @staticmethod
    def job_error(manifest: str) -> str:
        """What the job's own staging said went wrong ("" when nothing)."""
        from fileflow.remote.job_stager import read_result

        return str(read_result(manifest.replace(".stage.json", ".stage-result.json"))
                   .get("error") or "")

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
        from fileflow.remote.staged_copies import remove_staged_copy
        for path in sorted(self.job_staged):
            remove_staged_copy(path)
        self.job_staged.clear()
        for folder, _dirs, _files in os.walk(self.stage_root, topdown=False):
            try:
                os.rmdir(folder)  # only the empty ones: another build may be using the rest
            except OSError:
                pass
