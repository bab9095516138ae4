"""When a remote operation fails: the error fileflow raises, what kind of failure it was
(missing, denied, transient, failed) and words for it that hold no secret. Layer 2; no
backend is imported: failures are told apart by status, errno and class name.

Secrets never reach a message: every text goes through a `SecretScrubber`, which drops URL
userinfo, signed query parameters, and the literal secret values it was given (storage
options) or can see (the usual credential environment variables).
"""
from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from fileflow.errors import FileflowError

__all__ = ["RemoteError", "scrub_url", "SecretScrubber", "classify_failure", "failure_reason",
           "remote_error", "without_secrets"]

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


def _exception_chain(exc: BaseException | None) -> list[BaseException]:
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


def classify_failure(exc: BaseException) -> tuple[str, int | None, BaseException]:
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


def failure_reason(exc: BaseException, status: int | None = None) -> str:
    """A failure in a few words: its HTTP status when known, else the error's class and text."""
    if status is not None:
        return f"HTTP {status}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def remote_error(url: str, what: str, kind: str, status: int | None, exc: BaseException,
                 attempts: int, scrub: Callable[[str], str]) -> RemoteError:
    """The RemoteError of a failed `what` (download, stat ...) of `url`, of the kind
    `classify_failure` found, worded for the user with its secrets scrubbed."""
    shown = scrub(url)
    if kind == "missing":
        message = f"not found (HTTP {status or 404})"
    elif kind == "denied":
        message = (f"access denied ({status or 403}): check credentials for this "
                   f"{'bucket' if urlsplit(url).scheme in ('s3', 'gs', 'gcs') else 'server'}")
    elif kind == "transient":
        message = f"{what} failed after {attempts} attempts: {failure_reason(exc, status)}"
    else:
        message = f"{what} failed: {failure_reason(exc, status)}"
    return RemoteError(shown, scrub(message), kind=kind, status=status)


def scrub_url(text: str) -> str:
    """`text` with URL userinfo (`user:pw@`) and credential query parameters removed."""
    return _SECRET_QUERY.sub(r"\1***", _USERINFO.sub("***@", text))


def without_secrets(value: Any) -> Any:
    """Storage options with every value under a key that names a secret (a key, a token,
    an Authorization header ...) left out: what may be written to a file a cluster job
    reads, whose own credentials come from its environment."""
    if isinstance(value, Mapping):
        return {k: without_secrets(v) for k, v in value.items()
                if not _SECRET_KEY.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [without_secrets(v) for v in value]
    return value


class SecretScrubber:
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
