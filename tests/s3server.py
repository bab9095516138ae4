"""A real S3 API on loopback for tests: moto's server, with a request log and injected faults.

Use it from a test module with

    from s3server import s3_server, s3_bucket  # noqa: F401  (pytest fixtures)

Fixtures (stable; the engine's end-to-end tests use them too):

- `s3_server` (session): an `S3Server` running moto's S3 in this process on 127.0.0.1 and a
  free port. `.endpoint` is its URL; `.requests` lists every request as a `Request`
  (method, path, query); `.fail_next(n, status=503, method=None, path=None)` makes the next
  n requests (of that method, to that path) answer `status` without reaching moto, with the
  S3 error code a real S3 gives for it (403 AccessDenied, 404 NoSuchKey, 503
  ServiceUnavailable); `.hold_next(method, path)` returns a `Hold`: the next such request
  waits (`.reached` is set) until `.release()`; `.clear()` empties the log.
- `s3_bucket` (function): a fresh, empty bucket, with the environment set so that anything
  in this process or in a child process (`python -m fileflow ...`) finds the server with
  no further options: AWS_ENDPOINT_URL_S3 (and AWS_ENDPOINT_URL), test credentials
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION. Yields an `S3Bucket`:
  `.name`, `.url(key)` -> "s3://name/key", `.fs` (an s3fs file system for arranging
  objects), `.storage_options` ({"s3": {...}} for RemoteFiles, naming the endpoint
  explicitly), `.server` (the S3Server), `.client` (a boto3 client, for versioning etc.).

The request log and the faults sit in a WSGI middleware in front of moto's app, so what is
counted is what reached the server, after any client-side retries.
"""
from __future__ import annotations

import threading
import uuid
from typing import Any, NamedTuple

import pytest
from conftest import need_service

TEST_ACCESS_KEY = "fileflow-test-access-key"
TEST_SECRET_KEY = "fileflow-test-secret-key"
REGION = "us-east-1"


class Request(NamedTuple):
    method: str
    path: str
    query: str


# The S3 error code of an injected status, as a real S3 would answer it: botocore decides
# whether to retry from the code as well as the status, so a 403 must not say
# "ServiceUnavailable". (Not "SlowDown" for 503: s3fs retries that code itself, on top of
# botocore.)
_CODES = {400: "InvalidRequest", 403: "AccessDenied", 404: "NoSuchKey", 409: "Conflict",
          500: "InternalError", 503: "ServiceUnavailable"}


def _error_code(status: int) -> str:
    return _CODES.get(status, "InternalError" if status >= 500 else "InvalidRequest")


class Hold(NamedTuple):
    reached: threading.Event    # the request arrived and waits
    released: threading.Event

    def release(self) -> None:
        self.released.set()


class S3Server:
    """moto's S3 in a thread, behind a middleware that logs requests and injects faults."""

    def __init__(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.requests: list[Request] = []
        self._faults: list[tuple[int, str | None, str | None]] = []  # (status, method, path)
        self._holds: list[tuple[str, str, Hold]] = []
        self._lock = threading.Lock()
        moto_app = DomainDispatcherApplication(create_backend_app)

        def app(environ, start_response):
            request = Request(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                              environ.get("QUERY_STRING", ""))
            with self._lock:
                self.requests.append(request)
                fault = next((f for f in self._faults
                              if f[1] in (None, request.method) and f[2] in (None, request.path)),
                             None)
                if fault is not None:
                    self._faults.remove(fault)
                hold = next((h for h in self._holds
                             if h[0] == request.method and h[1] == request.path), None)
                if hold is not None:
                    self._holds.remove(hold)
            if hold is not None:
                hold[2].reached.set()
                hold[2].released.wait(120)
            if fault is not None:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                if length:
                    environ["wsgi.input"].read(length)  # leave the connection usable
                body = (b"<?xml version='1.0' encoding='UTF-8'?><Error>"
                        b"<Code>" + _error_code(fault[0]).encode() + b"</Code>"
                        b"<Message>injected by tests/s3server.py</Message></Error>")
                start_response(f"{fault[0]} Injected", [("Content-Type", "application/xml"),
                                                        ("Content-Length", str(len(body)))])
                return [body]
            return moto_app(environ, start_response)

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, n: int, status: int = 503, method: str | None = None,
                  path: str | None = None) -> None:
        """The next n requests (of `method`, to `path`, when given) answer `status` instead
        of moto."""
        with self._lock:
            self._faults.extend([(status, method, path)] * n)

    def hold_next(self, method: str, path: str) -> Hold:
        """The next `method` request to `path` (e.g. "/bucket/key") waits until released."""
        hold = Hold(threading.Event(), threading.Event())
        with self._lock:
            self._holds.append((method, path, hold))
        return hold

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            holds, self._holds = self._holds, []
        for _, _, hold in holds:
            hold.release()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


class S3Bucket(NamedTuple):
    name: str
    server: S3Server
    fs: Any
    client: Any
    storage_options: dict

    def url(self, key: str) -> str:
        return f"s3://{self.name}/{key}"

    def put(self, key: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.name}/{key}", data)
        self.fs.invalidate_cache()


S3_ENV = {
    "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": TEST_SECRET_KEY,
    "AWS_DEFAULT_REGION": REGION,
    # botocore >= 1.36 would otherwise send streaming checksums some S3 clones refuse
    "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
}


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="session")
def s3_server():
    need_service(_importable("moto.server") and _importable("s3fs") and _importable("boto3"),
                 "moto's S3 server (moto[server], s3fs: pip install -e '.[test]')")
    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, monkeypatch):
    import boto3
    import s3fs

    for name, value in {**S3_ENV, "AWS_ENDPOINT_URL_S3": s3_server.endpoint,
                        "AWS_ENDPOINT_URL": s3_server.endpoint}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")  # no profile of the machine's user
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    name = f"ff-{uuid.uuid4().hex[:12]}"
    options = {"client_kwargs": {"endpoint_url": s3_server.endpoint, "region_name": REGION}}
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name=REGION)
    client.create_bucket(Bucket=name)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    s3_server.clear()
    yield S3Bucket(name, s3_server, fs, client, {"s3": options})
    s3_server.clear()
