"""Tests of fileflow.remote's files, tokens, staged copies and failures: version tokens, bulk
observation, staging and uploads, against memory://, a real S3 API on loopback (moto's
server, tests/s3server.py) and a loopback HTTP server written here."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from buildkit import Project
from conftest import need_service
from s3server import s3_bucket, s3_server  # noqa: F401  (pytest fixtures)

from fileflow.errors import FileflowError
from fileflow.remote.failures import RemoteError, scrub_url
from fileflow.remote.files import RemoteFiles, is_remote
from fileflow.remote.staged_copies import staged_path
from fileflow.remote.tokens import version_token

SECRET = "Zq9-fileflow-SECRET-do-not-print-7Kx"


# ---- pure functions -------------------------------------------------------------------------

@pytest.mark.parametrize("path, remote", [
    ("s3://bucket/key", True), ("gs://b/k", True), ("https://host/x", True),
    ("http://host/x", True), ("memory://x/y", True), ("S3://B/K", True),
    ("file:///tmp/x", False), ("FILE:///tmp/x", False), ("data/x.txt", False),
    ("/abs/x", False), ("weird:name/x", False), ("{sample}.s3://x", False)])
def test_is_remote(path, remote):
    assert is_remote(path) is remote


def test_version_token_prefers_a_version_then_a_checksum_then_time_and_size():
    s3_versioned = {"ETag": '"abc"', "VersionId": "v7", "size": 5,
                    "LastModified": datetime(2026, 1, 1, tzinfo=timezone.utc)}
    assert version_token(s3_versioned) == "version:v7"
    assert version_token({**s3_versioned, "VersionId": None}) == "etag:abc"
    assert version_token({**s3_versioned, "VersionId": "null"}) == "etag:abc"  # unversioned
    gcs = {"generation": "1700000000000001", "md5Hash": "XrY7u+Ae7tCTyyK7j1rNww==",
           "crc32c": "mnG7TA==", "etag": "CIHk", "size": "5"}
    assert version_token(gcs) == "version:1700000000000001"
    assert version_token({k: v for k, v in gcs.items() if k not in ("generation", "etag")}) \
        == "md5:XrY7u+Ae7tCTyyK7j1rNww=="
    assert version_token({"crc32c": "mnG7TA==", "size": 5}) == "crc32c:mnG7TA=="
    http = {"name": "https://h/x", "size": 5, "ETag": 'W/"55-1"',
            "Last-Modified": "Sun, 22 Nov 2026 05:00:00 GMT"}
    assert version_token(http) == "etag:W/55-1"  # a weak ETag stays marked weak
    no_etag = {k: v for k, v in http.items() if k != "ETag"}
    expected_ns = int(datetime(2026, 11, 22, 5, tzinfo=timezone.utc).timestamp()) * 10**9
    assert version_token(no_etag) == f"mtime:{expected_ns}:5"
    assert version_token({"name": "x", "size": 3}) is None  # nothing to tell versions apart


def test_version_token_of_a_listing_and_of_info_agree_for_memory_times():
    when = datetime(2026, 11, 22, 5, 9, 7, 126881, tzinfo=timezone.utc)
    listed = {"name": "/x/a", "size": 2, "created": when.timestamp()}  # ls gives a float
    asked = {"name": "/x/a", "size": 2, "created": when}                # info a datetime
    assert version_token(listed) == version_token(asked) == \
        f"mtime:{int(when.timestamp()) * 10**9 + 126881000}:2"


def test_staged_path_layout_and_safety(tmp_path):
    root = str(tmp_path / "stage")
    assert staged_path("s3://bucket/raw/a.fq", root) == os.path.join(root, "s3/bucket/raw/a.fq")
    assert staged_path("https://user:pw@host:8443/d/ref.fa", root) == \
        os.path.join(root, "https/host_8443/d/ref.fa")
    with_query = staged_path("https://host/get/file.csv?id=3", root)
    assert with_query.endswith(".csv") and os.path.basename(with_query) == "file.csv"
    assert with_query != staged_path("https://host/get/file.csv?id=4", root)
    assert staged_path("https://host/", root).endswith("https/host/index")
    for hostile in ("s3://b/../../../etc/passwd", "https://h/a/./../../x", "s3://../../x"):
        path = os.path.realpath(staged_path(hostile, root))
        assert path.startswith(os.path.realpath(root) + os.sep), hostile
    assert "pw" not in staged_path("https://user:pw@host/x", root)


def test_scrub_url_drops_userinfo_and_signatures():
    text = ("GET https://alice:hunter2@host/x and "
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA/x&X-Amz-Signature=abcdef&v=1")
    clean = scrub_url(text)
    assert "hunter2" not in clean and "alice" not in clean and "abcdef" not in clean
    assert "AKIA" not in clean and "v=1" in clean and "https://***@host/x" in clean


def test_remote_error_is_a_fileflow_error():
    err = RemoteError("s3://b/k", "not found (HTTP 404)", kind="missing", status=404)
    assert isinstance(err, FileflowError) and str(err) == "s3://b/k: not found (HTTP 404)"


# ---- memory:// --------------------------------------------------------------------------------

@pytest.fixture
def mem():
    """A fresh prefix in fsspec's in-process memory file system."""
    import fsspec

    fs = fsspec.filesystem("memory")
    prefix = f"/ff-{uuid.uuid4().hex[:10]}"
    yield fs, f"memory:/{prefix}"
    if fs.exists(prefix):
        fs.rm(prefix, recursive=True)


def test_memory_tokens_for_new_changed_and_unchanged_objects(mem, tmp_path):
    fs, base = mem
    fs.pipe(f"{base[len('memory:/'):]}/a.txt", b"one")
    first = RemoteFiles(stage_root=str(tmp_path)).stat(f"{base}/a.txt")
    assert first.exists and first.size == 3 and first.digest.startswith("mtime:")
    again = RemoteFiles(stage_root=str(tmp_path)).stat(f"{base}/a.txt")
    assert again.digest == first.digest  # unchanged: same token in a new run
    time.sleep(0.002)  # memory:// has only its creation time to go by
    fs.pipe(f"{base[len('memory:/'):]}/a.txt", b"two")
    changed = RemoteFiles(stage_root=str(tmp_path)).stat(f"{base}/a.txt")
    assert changed.digest != first.digest
    missing = RemoteFiles(stage_root=str(tmp_path)).stat(f"{base}/nope.txt")
    assert not missing.exists and missing.digest is None


def test_memory_upload_then_a_listing_gives_the_same_token(mem, tmp_path):
    fs, base = mem
    local = tmp_path / "out.txt"
    local.write_text("result\n")
    remote = RemoteFiles(stage_root=str(tmp_path / "stage"))
    state = remote.upload(str(local), f"{base}/results/out.txt")
    assert state.exists and state.size == 7 and state.digest
    fs.pipe(f"{base[len('memory:/'):]}/results/other.txt", b"x")
    listed = RemoteFiles().stat_many([f"{base}/results/out.txt", f"{base}/results/other.txt"])
    assert listed[f"{base}/results/out.txt"].digest == state.digest
    assert fs.cat(f"{base[len('memory:/'):]}/results/out.txt") == b"result\n"


def test_an_output_uploaded_from_its_staged_path_serves_later_downloads(mem, tmp_path):
    fs, base = mem
    url = f"{base}/results/r.txt"
    stage = str(tmp_path / "stage")
    local = staged_path(url, stage)
    os.makedirs(os.path.dirname(local))
    with open(local, "w") as fh:
        fh.write("made by a job\n")
    run1 = RemoteFiles(stage_root=stage)
    made = run1.upload(local, url)
    assert run1.download(url) == local and run1.downloads == 0
    run2 = RemoteFiles(stage_root=stage)  # the next run, with --keep-remote
    assert run2.download(url, made.digest) == local and run2.downloads == 0
    run2.remove_staged()
    assert not os.path.exists(local)
    assert fs.cat(f"{base[len('memory:/'):]}/results/r.txt") == b"made by a job\n"


def test_download_reuses_a_staged_copy_only_when_its_token_matches(mem, tmp_path):
    fs, base = mem
    key = f"{base[len('memory:/'):]}/ref.fa"
    fs.pipe(key, b">one\nACGT\n")
    stage = str(tmp_path / "stage")
    url = f"{base}/ref.fa"

    run1 = RemoteFiles(stage_root=stage)
    path = run1.download(url)
    assert path == staged_path(url, stage) and open(path, "rb").read() == b">one\nACGT\n"
    assert run1.download(url) == path and run1.downloads == 1  # once per run

    run2 = RemoteFiles(stage_root=stage)  # --keep-remote: the next run finds the copy
    assert run2.download(url) == path and run2.downloads == 0

    time.sleep(0.002)
    fs.pipe(key, b">two\nTTTT\n")  # a new version: the copy's token no longer matches
    run3 = RemoteFiles(stage_root=stage)
    assert run3.download(url) == path and run3.downloads == 1
    assert open(path, "rb").read() == b">two\nTTTT\n"

    # A copy whose sidecar is gone (or names another token) is fetched again, not trusted.
    os.unlink(os.path.join(os.path.dirname(path), ".ref.fa.fileflow-token"))
    run4 = RemoteFiles(stage_root=stage)
    assert run4.download(url) == path and run4.downloads == 1

    run4.remove_staged()
    assert not os.path.exists(path)
    assert os.listdir(os.path.dirname(path)) == []


def test_a_download_that_fails_midway_leaves_nothing_and_the_next_one_succeeds(mem, tmp_path):
    fs, base = mem
    key = f"{base[len('memory:/'):]}/big.bin"
    fs.pipe(key, b"x" * 100_000)
    url = f"{base}/big.bin"
    stage = str(tmp_path / "stage")
    remote = RemoteFiles(stage_root=stage, retries=0)
    backend, _ = remote._fs(url)

    def broken_get_file(rpath, lpath, **kw):
        with open(lpath, "wb") as out:
            out.write(b"x" * 40_000)  # half the object, then the line drops
        raise PermissionError("connection dropped by a test")

    backend.get_file = broken_get_file
    with pytest.raises(RemoteError, match="access denied"):
        remote.download(url)
    folder = os.path.dirname(staged_path(url, stage))
    assert os.listdir(folder) == []  # neither the file, nor a temporary, nor a sidecar

    again = RemoteFiles(stage_root=stage)
    path = again.download(url)
    assert os.path.getsize(path) == 100_000 and again.downloads == 1


def test_download_many_stages_each_url_once_in_parallel(mem, tmp_path):
    fs, base = mem
    prefix = base[len("memory:/"):]
    urls = []
    for i in range(12):
        fs.pipe(f"{prefix}/in/{i}.txt", f"{i}\n".encode())
        urls.append(f"{base}/in/{i}.txt")
    remote = RemoteFiles(stage_root=str(tmp_path), parallel=3)
    paths = remote.download_many(urls + urls[:4])
    assert list(paths) == urls and remote.downloads == 12
    assert [open(paths[u]).read() for u in urls] == [f"{i}\n" for i in range(12)]
    with pytest.raises(RemoteError, match=r"/in/missing\.txt: not found \(HTTP 404\)"):
        remote.download_many([urls[0], f"{base}/in/missing.txt"])


def test_an_unknown_scheme_is_a_clear_error():
    with pytest.raises(RemoteError, match=r"^nosuchstore://b/k: no file system for "
                                          r"'nosuchstore://'"):
        RemoteFiles().stat("nosuchstore://b/k")


def test_upload_of_a_missing_local_file_fails_naming_the_url(mem, tmp_path):
    _, base = mem
    with pytest.raises(RemoteError, match="not a file") as info:
        RemoteFiles().upload(str(tmp_path / "absent"), f"{base}/o.txt")
    assert info.value.url == f"{base}/o.txt"


# ---- S3 (moto's server on loopback) -------------------------------------------------------

def test_s3_tokens_new_changed_unchanged_and_rewritten_with_the_same_content(s3_bucket, tmp_path):  # noqa: F811  (pytest fixture)
    b = s3_bucket
    b.put("raw/a.txt", b"alpha")
    first = RemoteFiles().stat(b.url("raw/a.txt"))
    assert first.exists and first.size == 5 and first.digest.startswith("etag:")
    assert RemoteFiles().stat(b.url("raw/a.txt")).digest == first.digest  # unchanged

    # Same bytes written again, a second later: Last-Modified moves, the ETag does not.
    time.sleep(1.05 - time.time() % 1)
    b.put("raw/a.txt", b"alpha")
    rewritten = RemoteFiles().stat(b.url("raw/a.txt"))
    assert rewritten.mtime_ns > first.mtime_ns
    assert rewritten.digest == first.digest

    b.put("raw/a.txt", b"alpha, changed")
    assert RemoteFiles().stat(b.url("raw/a.txt")).digest != first.digest
    assert not RemoteFiles().stat(b.url("raw/new.txt")).exists
    assert not RemoteFiles().stat(f"s3://ff-no-such-bucket-{uuid.uuid4().hex[:8]}/x").exists


def test_s3_versioned_bucket_tokens(s3_bucket, tmp_path):  # noqa: F811  (pytest fixture)
    b = s3_bucket
    b.client.put_bucket_versioning(Bucket=b.name,
                                   VersioningConfiguration={"Status": "Enabled"})
    local = tmp_path / "x.txt"
    local.write_text("v1")
    # version_aware: the token is the VersionId, from a listing and from a HEAD alike.
    aware = {"s3": {**b.storage_options["s3"], "version_aware": True}}
    uploaded = RemoteFiles(aware).upload(str(local), b.url("out/x.txt"))
    assert uploaded.digest.startswith("version:")
    b.put("out/y.txt", b"other")
    listed = RemoteFiles(aware).stat_many([b.url("out/x.txt"), b.url("out/y.txt")])
    assert listed[b.url("out/x.txt")].digest == uploaded.digest
    # The same bytes again make a new version, hence a new token.
    again = RemoteFiles(aware).upload(str(local), b.url("out/x.txt"))
    assert again.digest.startswith("version:") and again.digest != uploaded.digest
    # Not version_aware: a listing carries no VersionId, so HEAD's is ignored too (ETag).
    plain = RemoteFiles().upload(str(local), b.url("out/x.txt"))
    assert plain.digest.startswith("etag:")
    assert RemoteFiles().stat_many([b.url("out/x.txt"), b.url("out/y.txt")])[
        b.url("out/x.txt")].digest == plain.digest


def test_s3_bulk_observation_lists_each_prefix_once(s3_bucket):  # noqa: F811  (pytest fixture)
    b = s3_bucket
    for i in range(20):
        b.put(f"raw/{i:02}.fq", b"@r\nACGT\n+\nIIII\n")
    for i in range(3):
        b.put(f"ref/{i}.fa", b">x\nA\n")
    urls = ([b.url(f"raw/{i:02}.fq") for i in range(22)]  # two of them absent
            + [b.url(f"ref/{i}.fa") for i in range(3)])
    b.server.clear()
    remote = RemoteFiles()
    states = remote.stat_many(urls)
    assert sum(s.exists for s in states.values()) == 23
    assert not states[b.url("raw/21.fq")].exists
    listings = [r for r in b.server.requests if r.method == "GET" and "list-type=2" in r.query]
    assert len(listings) == 2 and len(b.server.requests) == 2, b.server.requests
    assert {r.query.split("prefix=")[1].split("&")[0] for r in listings} == {"raw%2F", "ref%2F"}
    # Within the run, asking again (or for another key of a listed prefix) asks nobody.
    remote.stat_many(urls + [b.url("raw/zz.fq")])
    assert len(b.server.requests) == 2


def test_s3_download_upload_and_a_second_run_transfers_nothing(s3_bucket, tmp_path):  # noqa: F811  (pytest fixture)
    b = s3_bucket
    b.put("raw/s1.txt", b"sample one\n")
    stage = str(tmp_path / "stage")
    run1 = RemoteFiles(stage_root=stage)
    paths = run1.download_many([b.url("raw/s1.txt")])
    assert open(paths[b.url("raw/s1.txt")], "rb").read() == b"sample one\n"
    out = tmp_path / "s1.out"
    out.write_bytes(b"made\n")
    made = run1.upload(str(out), b.url("results/s1.out"))
    assert b.fs.cat(f"{b.name}/results/s1.out") == b"made\n"

    b.server.clear()
    run2 = RemoteFiles(stage_root=stage)
    states = run2.stat_many([b.url("raw/s1.txt"), b.url("results/s1.out")])
    assert states[b.url("results/s1.out")].digest == made.digest
    run2.download_many([b.url("raw/s1.txt")])
    assert run2.downloads == 0
    assert not [r for r in b.server.requests if r.method == "GET" and not r.query]


def only_our_retries(bucket) -> dict:
    """Storage options with botocore's own retries off, so the counts are fileflow's."""
    return {"s3": {**bucket.storage_options["s3"],
                   "config_kwargs": {"retries": {"total_max_attempts": 1, "mode": "standard"}}}}


def test_s3_injected_503s_are_retried(s3_bucket, tmp_path, caplog):  # noqa: F811  (pytest fixture)
    b = s3_bucket
    b.put("raw/flaky.txt", b"worth the wait\n")
    b.server.fail_next(3, status=503, method="GET")
    caplog.set_level(logging.WARNING, logger="fileflow")
    remote = RemoteFiles(only_our_retries(b), stage_root=str(tmp_path), backoff=0.01)
    path = remote.download(b.url("raw/flaky.txt"))
    assert open(path, "rb").read() == b"worth the wait\n"
    assert b.server.pending_faults() == 0  # all three were served, and got past
    assert [r.method for r in b.server.requests].count("GET") == 4
    assert caplog.text.count("retry ") == 3 and "download: HTTP 503; retry 3 of 5" in caplog.text


def test_s3_upload_that_keeps_failing_raises_and_leaves_no_object(s3_bucket, tmp_path):  # noqa: F811  (pytest fixture)
    b = s3_bucket
    local = tmp_path / "o.txt"
    local.write_text("x")
    b.server.fail_next(200, status=503, method="PUT")
    remote = RemoteFiles(only_our_retries(b), retries=1, backoff=0.01)
    with pytest.raises(RemoteError) as info:
        remote.upload(str(local), b.url("results/o.txt"))
    assert info.value.kind == "transient"
    assert str(info.value) == f"{b.url('results/o.txt')}: upload failed after 2 attempts: HTTP 503"
    assert [r.method for r in b.server.requests].count("PUT") == 2
    b.server.clear()
    assert not b.fs.exists(f"{b.name}/results/o.txt")


def test_s3_404_fails_fast_naming_the_url(s3_bucket, tmp_path):  # noqa: F811  (pytest fixture)
    b = s3_bucket
    b.server.clear()
    with pytest.raises(RemoteError) as info:
        RemoteFiles(stage_root=str(tmp_path), backoff=5).download(b.url("raw/missing.fq"))
    assert str(info.value) == f"{b.url('raw/missing.fq')}: not found (HTTP 404)"
    assert len(b.server.requests) <= 2  # no retries (and no 5 s backoff either)
    assert not os.listdir(tmp_path)


def test_credentials_never_appear_in_errors_logs_or_reprs(s3_bucket, tmp_path, monkeypatch,  # noqa: F811  (pytest fixture)
                                                          caplog, http_server):
    b = s3_bucket
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # moto does not check it
    options = {"s3": {**b.storage_options["s3"], "secret": SECRET, "key": "AKIAFILEFLOWTEST"},
               "https": {"headers": {"Authorization": f"Bearer {SECRET}"}}}
    caplog.set_level(logging.DEBUG, logger="fileflow")
    options["s3"].update(only_our_retries(b)["s3"])
    remote = RemoteFiles(options, stage_root=str(tmp_path), retries=2, backoff=0.01)
    texts = [repr(remote)]
    b.server.fail_next(200, status=503)
    for url in (b.url("raw/a.txt"), f"http://me:{SECRET}@127.0.0.1:{http_server.port}/nope",
                f"{http_server.url}/flaky?X-Amz-Signature={SECRET}&sig={SECRET}"):
        http_server.routes["/flaky"] = dict(fail_first=100)
        with pytest.raises(RemoteError) as info:
            remote.download(url)
        texts += [str(info.value), info.value.url, repr(info.value)]
    b.server.clear()
    texts.append(caplog.text)
    assert "retry 1 of 2" in caplog.text  # the retries were logged...
    leaked = [t for t in texts if SECRET in t]
    assert not leaked  # ...and the secret was in none of it


# ---- http:// (a loopback server written here) -------------------------------------------

class _HTTPFiles(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = self.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # path -> dict(body=bytes, status=200, etag=str|None, last_modified=str|None,
        #              fail_first=n (503s), stall=Event (first GET sends a part, then waits),
        #              require={header: value} (403 without them))
        self.routes: dict[str, dict] = {}
        self.hits: list[tuple[str, str, int]] = []  # (method, path, status)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._answer(send_body=False)

    def do_GET(self):
        self._answer(send_body=True)

    def _answer(self, send_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        route = self.server.routes.get(path)
        status = 404 if route is None else route.get("status", 200)
        if route is not None and route.get("fail_first", 0) > 0:
            route["fail_first"] -= 1
            status = 503
        if route is not None and any(self.headers.get(k) != v
                                     for k, v in route.get("require", {}).items()):
            status = 403
        self.server.hits.append((self.command, path, status))
        if status != 200:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = route.get("body", b"")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if route.get("etag"):
            self.send_header("ETag", route["etag"])
        if route.get("last_modified"):
            self.send_header("Last-Modified", route["last_modified"])
        self.end_headers()
        if not send_body:
            return
        stall = route.pop("stall", None)
        if stall is not None:  # a part of the body, then wait: a download caught midway
            self.wfile.write(body[:65536])
            self.wfile.flush()
            stall.wait(60)
            return
        self.wfile.write(body)


def need_aiohttp() -> None:
    import importlib.util

    need_service(importlib.util.find_spec("aiohttp") is not None,
                 "aiohttp, fsspec's HTTP backend (pip install -e '.[test]')")


@pytest.fixture
def http_server():
    server = _HTTPFiles()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_http_tokens_come_from_the_response_headers(http_server):
    need_aiohttp()
    s = http_server
    s.routes["/ref.fa"] = dict(body=b">r\nACGT\n", etag='"v1"')
    s.routes["/plain.txt"] = dict(body=b"hello", last_modified="Sun, 22 Nov 2026 05:00:00 GMT")
    s.routes["/bare.txt"] = dict(body=b"hello")
    remote = RemoteFiles()
    states = remote.stat_many([f"{s.url}/ref.fa", f"{s.url}/plain.txt", f"{s.url}/bare.txt",
                               f"{s.url}/absent.txt"])
    assert states[f"{s.url}/ref.fa"].digest == "etag:v1"
    ns = int(datetime(2026, 11, 22, 5, tzinfo=timezone.utc).timestamp()) * 10**9
    assert states[f"{s.url}/plain.txt"].digest == f"mtime:{ns}:5"
    assert states[f"{s.url}/bare.txt"].exists and states[f"{s.url}/bare.txt"].digest is None
    assert not states[f"{s.url}/absent.txt"].exists
    heads = [h for h in s.hits if h[0] == "HEAD"]
    assert sorted(h[1] for h in heads) == ["/absent.txt", "/bare.txt", "/plain.txt", "/ref.fa"]
    # Served again with a new Last-Modified but the same ETag: the same version.
    s.routes["/ref.fa"]["last_modified"] = "Mon, 23 Nov 2026 00:00:00 GMT"
    assert RemoteFiles().stat(f"{s.url}/ref.fa").digest == "etag:v1"
    s.routes["/ref.fa"].update(body=b">r\nACGTT\n", etag='"v2"')
    assert RemoteFiles().stat(f"{s.url}/ref.fa").digest == "etag:v2"


def test_http_503_is_retried_with_backoff(http_server, tmp_path, caplog):
    need_aiohttp()
    s = http_server
    s.routes["/flaky.txt"] = dict(body=b"finally\n", etag='"f1"', fail_first=3)
    caplog.set_level(logging.WARNING, logger="fileflow")
    remote = RemoteFiles(stage_root=str(tmp_path), retries=5, backoff=0.01)
    path = remote.download(f"{s.url}/flaky.txt")
    assert open(path, "rb").read() == b"finally\n"
    assert [h[2] for h in s.hits].count(503) == 3
    # fsspec tries HEAD, then GET, before it gives up once: 503 503 | 503 200
    assert "retry 1 of 5" in caplog.text and "HTTP 503" in caplog.text


def test_http_404_and_403_fail_at_once_with_a_clear_message(http_server, tmp_path):
    need_aiohttp()
    s = http_server
    s.routes["/private.txt"] = dict(status=403)
    remote = RemoteFiles(stage_root=str(tmp_path), retries=5, backoff=5)
    with pytest.raises(RemoteError) as missing:
        remote.download(f"{s.url}/gone.txt")
    assert str(missing.value) == f"{s.url}/gone.txt: not found (HTTP 404)"
    with pytest.raises(RemoteError) as denied:
        remote.download(f"{s.url}/private.txt")
    assert str(denied.value) == (f"{s.url}/private.txt: access denied (403): "
                                 "check credentials for this server")
    assert len(s.hits) <= 4  # HEAD (+ fsspec's GET fallback) each; no retries
    with pytest.raises(RemoteError, match="read-only"):
        (tmp_path / "o").write_text("x")
        remote.upload(str(tmp_path / "o"), f"{s.url}/o")


def test_a_killed_download_leaves_nothing_reusable(http_server, tmp_path):
    need_aiohttp()
    s = http_server
    body = os.urandom(300_000)
    stall = threading.Event()
    s.routes["/big.bin"] = dict(body=body, etag='"big1"', stall=stall)
    url = f"{s.url}/big.bin"
    stage = str(tmp_path / "stage")
    folder = os.path.dirname(staged_path(url, stage))
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from fileflow.remote.files import RemoteFiles; "
         "RemoteFiles(stage_root=sys.argv[2]).download(sys.argv[1])", url, stage],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        deadline = time.monotonic() + 60
        parts: list[str] = []
        while time.monotonic() < deadline and child.poll() is None:
            parts = [n for n in (os.listdir(folder) if os.path.isdir(folder) else [])
                     if ".part-" in n and os.path.getsize(os.path.join(folder, n)) > 0]
            if parts:
                break
            time.sleep(0.05)
        assert parts, "the child never started writing its temporary file"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        stall.set()
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not os.path.exists(staged_path(url, stage))  # never under the real name
    assert os.listdir(folder) == parts                  # only the dead child's temporary

    remote = RemoteFiles(stage_root=stage)
    path = remote.download(url)
    assert remote.downloads == 1 and open(path, "rb").read() == body
    assert sorted(os.listdir(folder)) == [".big.bin.fileflow-token", "big.bin"]


def test_http_headers_from_the_flowfile_storage_go_with_every_request(http_server, tmp_path):
    """`storage: http = {"headers": {...}}` is sent with the HEAD that reads the token and
    with the download; the header's value (a credential) is never shown."""
    need_aiohttp()
    s = http_server
    secret = "Bearer fileflow-test-header-secret"
    s.routes["/ref.txt"] = dict(body=b"reference\n", etag='"r1"',
                                require={"Authorization": secret})
    project = Project(tmp_path)
    flow = """
        storage: http = {{"headers": {{"Authorization": "{secret}"}}}}
        rule copy:
            input: "{url}/ref.txt"
            output: "local/ref.txt"
            shell: "cp {{input}} {{output}}"
        """
    project.flowfile(flow.format(secret=secret, url=s.url))
    first = project.build()
    assert first.code == 0, first
    assert project.read("local/ref.txt") == "reference\n"
    assert {(m, st) for m, _, st in s.hits} <= {("HEAD", 200), ("GET", 200)}
    assert project.build().ran == []
    project.flowfile(flow.format(secret="Bearer wrong-but-long-enough", url=s.url))
    refused = project.build("-F")
    assert refused.code != 0 and "ref.txt" in refused.err
    assert "wrong-but-long-enough" not in refused.err + refused.out


def test_a_cluster_jobs_own_staging_uses_the_storage_options_but_no_secret(
        s3_bucket, tmp_path, monkeypatch):  # noqa: F811  (pytest fixture)
    """--remote-staging job: the job's manifest carries the stores' options (here the
    endpoint) without any secret value, and the job side reaches the store with them."""
    import json
    from types import SimpleNamespace

    from fileflow.remote.staging import Staging

    s3_bucket.put("raw/a.txt", b"alpha\n")
    url = s3_bucket.url("raw/a.txt")
    options = {"s3": {**s3_bucket.storage_options["s3"],
                      "secret": "fileflow-test-secret-key"}}
    monkeypatch.chdir(tmp_path)
    staging = Staging(RemoteFiles(options, stage_root=".fileflow/remote"),
                      stage_root=".fileflow/remote", in_job=True)
    token = RemoteFiles(s3_bucket.storage_options).stat(url).digest
    job = SimpleNamespace(name="use", inputs=[url], outputs=[])
    path = staging.job_manifest(job, {url: token}, 1)
    with open(path, encoding="utf-8") as fh:
        manifest = json.load(fh)
    assert manifest["storage"]["s3"]["client_kwargs"]["endpoint_url"] == s3_bucket.server.endpoint
    assert "fileflow-test-secret-key" not in json.dumps(manifest)
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    done = subprocess.run([sys.executable, "-m", "fileflow.remote.job_stager", "download",
                           path], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert open(staged_path(url, ".fileflow/remote"), "rb").read() == b"alpha\n"
