"""The dashboard's web application (Starlette) and its server (uvicorn). Layer 4.

Routes: the pages /, /runs/{id}, /jobs/{id}, /files, /compare; the JSON API under /api/ (docs/seeing.md);
the live feed of a run, /api/runs/{id}/events (server-sent events); the scripts and styles
under /static/. Everything reads the run log, opened look-only; nothing writes.

Safety: on a loopback address only requests naming a loopback host are answered (a web page
elsewhere cannot reach the dashboard through DNS rebinding); on any other address every
request must carry the token (`Authorization: Bearer TOKEN`, `?token=TOKEN`, which also sets
a cookie for the pages that follow, or that cookie), else 401. Every answer forbids inline
scripts and framing. A bad request gets a 4xx with a message, an unexpected error a 500
with one line: never a traceback.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fileflow.errors import FileflowError
from fileflow.runlog import history
from fileflow.serve import data, pages
from fileflow.views.runs import job_log_tail

__all__ = ["create_app", "serve", "RuleGraph", "LiveReads", "is_loopback", "TOKEN_COOKIE", "LIVE_INTERVAL"]

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_COOKIE = "fileflow_token"
LIVE_INTERVAL = 1.0     # seconds between two reads of a live run
HEARTBEAT = 15.0        # seconds between two comments on a quiet live feed
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}

def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(header: str) -> str:
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.rpartition(":")[0] if header.count(":") == 1 else header


class Guard:
    """The ASGI middleware that checks every request (token, or a loopback Host) and adds
    the security headers to every answer."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app = app
        self.token = token

    def _given(self, scope: Scope) -> tuple[str, bool]:
        """The token the request carries, and whether it came in the query string."""
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get("token"):
            return query["token"][0], True
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:
            return "", False
        return (cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else ""), False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        set_cookie = False
        if self.token is None:
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            if not is_loopback(_host_name(host)):
                await _refuse(send, 400, "this dashboard answers only on a loopback address")
                return
        else:
            given, in_query = self._given(scope)
            if not secrets.compare_digest(given.encode(), self.token.encode()):
                await _refuse(send, 401, "a token is needed: ?token=TOKEN or "
                                         "Authorization: Bearer TOKEN (printed by fileflow serve)")
                return
            set_cookie = in_query

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if set_cookie:
                    headers.append((b"set-cookie", f"{TOKEN_COOKIE}={self.token}; Path=/; "
                                    "HttpOnly; SameSite=Strict".encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def _id(request: Request) -> int:
    return data.number({"id": request.path_params["id"]}, "id", 0)


def _query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def _api_routes(log: Any) -> list[Route]:
    """The JSON API: each path and what it answers (docs/seeing.md)."""
    answers: dict[str, Callable[[Request], Any]] = {
        "/api/runs": lambda r: data.runs(log, _query(r)),
        "/api/runs/{id}": lambda r: data.run(log, _id(r)),
        "/api/runs/{id}/jobs": lambda r: data.jobs(log, _id(r), _query(r)),
        "/api/jobs/{id}": lambda r: data.job(log, _id(r)),
        "/api/jobs/{id}/log": lambda r: data.job_log(log, _id(r), _query(r)),
        "/api/file": lambda r: data.file_history(log, _query(r)),
        "/api/files": lambda r: data.find_files(log, _query(r)),
        "/api/compare": lambda r: data.compare(log, _query(r)),
    }

    def route(path: str, answer: Callable[[Request], Any]) -> Route:
        def endpoint(request: Request) -> Response:
            return JSONResponse(answer(request))
        return Route(path, endpoint)

    reads = LiveReads(log)

    async def events(request: Request) -> Response:
        run_id = _id(request)
        await reads.get(run_id)   # 404 before the stream starts
        return StreamingResponse(_events(reads, run_id, request), media_type="text/event-stream",
                                 headers={"cache-control": "no-store"})

    return [*(route(p, a) for p, a in answers.items()), Route("/api/runs/{id}/events", events)]


def _page_routes(log: Any, rules: RuleGraph | None) -> list[Route]:
    """The HTML pages."""
    def runs_html(request: Request) -> Response:
        query = _query(request)
        found = data.runs(log, query)
        shown = {k: query[k] for k in data.RUN_FILTER_NAMES if query.get(k)}
        return HTMLResponse(pages.runs_page(found["runs"], shown, found["next"]))

    def run_html(request: Request) -> Response:
        run_id = _id(request)
        live = data.live(log, run_id)    # counts and all: before the jobs, so 404 comes first
        run = history.get_run(log, run_id) or {}
        listed = data.jobs(log, run_id, _query(request))
        failures = [(j, job_log_tail({**j, "log_path": _log_or_none(run, j)}, 15)[0])
                    for j in history.failed_jobs(log, run_id)]
        graph = ""
        if rules is not None and _same_place(rules.workdir, run["workdir"]):
            graph = pages.rule_graph(rules.view, live["rules"])
        return HTMLResponse(pages.run_page(run, live, listed["jobs"], failures, listed["next"],
                                           time.time(), graph))

    def job_html(request: Request) -> Response:
        job = data.job(log, _id(request))
        shown: dict | None = None
        if job["log_path"]:
            try:
                shown = data.job_log(log, job["id"], {})
            except (data.Forbidden, data.NotFound) as exc:
                shown = {"error": str(exc)}
        return HTMLResponse(pages.job_page(job, job["attempts"], shown))

    def files_html(request: Request) -> Response:
        query = _query(request)
        if query.get("path"):
            found = data.file_history(log, query)
            return HTMLResponse(pages.file_page(found["path"], found["file"], found["jobs"],
                                                found["next"]))
        return HTMLResponse(pages.search_page(query.get("q", ""),
                                              data.find_files(log, query)["files"]))

    def compare_html(request: Request) -> Response:
        return HTMLResponse(pages.compare_page(data.compare(log, _query(request))))

    return [Route("/", runs_html), Route("/runs/{id}", run_html), Route("/jobs/{id}", job_html),
            Route("/files", files_html), Route("/compare", compare_html)]


@dataclass(frozen=True)
class RuleGraph:
    """The rule graph (a fileflow.views.graph_view View of rules) of the Flowfile in
    `workdir`: shown on the pages of the runs made there."""

    workdir: str
    view: Any


def create_app(log: Any, token: str | None, rules: RuleGraph | None = None) -> ASGIApp:
    """The dashboard over an open run log (fileflow.runlog.log.RunLog, look-only); with a
    token, every request must carry it; with `rules`, the runs in its directory show it."""
    routes = [*_page_routes(log, rules), *_api_routes(log),
              Mount("/static", StaticFiles(directory=STATIC), name="static")]
    handlers: dict[Any, Callable] = {
        data.BadRequest: _error(400), data.Forbidden: _error(403), data.NotFound: _error(404),
        FileflowError: _error(503), HTTPException: _http_error, Exception: _error(500),
    }
    app = Starlette(routes=routes, exception_handlers=handlers)
    return Guard(app, token)


def _same_place(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _log_or_none(run: dict, job: dict) -> str | None:
    """A job's log path for reading its tail: only inside its run's working directory."""
    if not job["log_path"]:
        return None
    try:
        return data.inside(run["workdir"], job["log_path"])
    except data.Forbidden:
        return None


def _error(status: int) -> Callable[[Request, Exception], Response]:
    def answer(request: Request, exc: Exception) -> Response:
        message = str(exc) if status != 500 else f"internal error: {type(exc).__name__}"
        return _answer(request, status, message)
    return answer


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return _answer(request, exc.status_code, str(exc.detail))


def _answer(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=status)
    if status == 404 and request.url.path.startswith("/static/"):
        return PlainTextResponse(message, status_code=status)
    return HTMLResponse(pages.page(f"{status}", f"<p>{pages.esc(message)}</p>"), status_code=status)


class LiveReads:
    """What the live pages of each run show, read at most once per interval however many
    pages watch the run: ten open browsers cost the run log what one does."""

    def __init__(self, log: Any):
        self.log = log
        self.read: dict[int, tuple[float, dict]] = {}   # run id -> (when read, what)
        self.lock = asyncio.Lock()

    async def get(self, run_id: int) -> dict:
        async with self.lock:
            now = time.monotonic()
            for old in [r for r, (at, _) in self.read.items() if now - at > 60]:
                del self.read[old]
            last = self.read.get(run_id)
            if last is not None and now - last[0] < LIVE_INTERVAL * 0.9:
                return last[1]
            state = await run_in_threadpool(data.live, self.log, run_id)
            self.read[run_id] = (time.monotonic(), state)
            return state


async def _events(reads: LiveReads, run_id: int, request: Request):
    """The live feed of a run: an event whenever what the page shows changed (read once per
    interval for all its pages), a comment now and then on a quiet feed, and an `end` event
    once the run is over."""
    last, quiet = None, 0.0
    while True:
        try:
            now = await reads.get(run_id)
        except (FileflowError, data.NotFound):
            now = None   # a moment when the log cannot be read: the next interval tries again
        if now is not None:
            shown = {k: now[k] for k in ("status", "ended_at", "counts", "running", "rules")}
            if shown != last:
                last, quiet = shown, 0.0
                yield f"data: {json.dumps(now)}\n\n"
            if now["status"] != "running":
                yield "event: end\ndata: {}\n\n"
                return
        quiet += LIVE_INTERVAL
        if quiet >= HEARTBEAT:
            quiet = 0.0
            yield ": still here\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(LIVE_INTERVAL)


def serve(log: Any, host: str, port: int, token: str | None,
          announce: Callable[[str], None], rules: RuleGraph | None = None) -> None:
    """Serve the dashboard until interrupted (Ctrl-C). The address is taken first, so a
    port in use is said before anything is announced."""
    import socket

    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        listening = socket.create_server((host, port), family=family)
    except OSError as exc:
        raise FileflowError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    app = create_app(log, token, rules)
    shown = f"[{host}]" if ":" in host else host
    announce(f"fileflow serve: http://{shown}:{port}/" + (f"?token={token}" if token else "")
             + " (Ctrl-C stops)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=2)
    with listening:
        uvicorn.Server(config).run(sockets=[listening])
