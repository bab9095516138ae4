"""A small Language Server Protocol client for tests: JSON-RPC 2.0 messages with
Content-Length framing, over the pipes of a real server process.

A reader thread puts every message the server sends on a queue; `request` waits for the
response with its id, `notification` for a notification of a method (keeping the others
for later calls). The timeouts only keep a broken server from hanging the test run.
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

WAIT = 30.0  # seconds: a guard against a hung server, never a measure of speed


def uri(path: Path | str) -> str:
    return Path(path).resolve().as_uri()


class LspClient:
    def __init__(self, cwd: Path | str, command: list[str] | None = None):
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "fileflow", "lsp"], cwd=cwd, env=dict(os.environ),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.messages: queue.Queue = queue.Queue()
        self.kept: list[dict] = []   # messages read while waiting for something else
        self.next_id = 0
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    # -- the wire

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while True:  # headers, up to the empty line
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            body = stream.read(length)
            self.messages.put(json.loads(body.decode("utf-8")))

    def _drain_stderr(self) -> None:
        self.stderr = self.process.stderr.read()

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def _next(self) -> dict:
        try:
            message = self.messages.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError(f"no message from the server in {WAIT} s") from None
        if message is None:
            raise AssertionError(f"the server closed its output; stderr:\n{self.stderr.decode()}")
        return message

    def _wait(self, wanted) -> dict:
        for i, message in enumerate(self.kept):
            if wanted(message):
                return self.kept.pop(i)
        while True:
            message = self._next()
            if wanted(message):
                return message
            self.kept.append(message)

    # -- requests and notifications

    def request(self, method: str, params: dict | None = None) -> object:
        self.next_id += 1
        number = self.next_id
        self.send({"id": number, "method": method, "params": params or {}})
        reply = self._wait(lambda m: m.get("id") == number and "method" not in m)
        if "error" in reply:
            raise AssertionError(f"{method} failed: {reply['error']}")
        return reply.get("result")

    def notify(self, method: str, params: dict | None = None) -> None:
        self.send({"method": method, "params": params or {}})

    def notification(self, method: str, where=lambda params: True) -> dict:
        return self._wait(lambda m: m.get("method") == method and "id" not in m
                          and where(m.get("params")))["params"]

    # -- the usual conversation

    def initialize(self, root: Path | str) -> dict:
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": uri(root),
                                             "capabilities": {}})
        self.notify("initialized")
        return result

    def open(self, path: Path, text: str, version: int = 1) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri(path), "languageId": "flowfile", "version": version, "text": text}})

    def change(self, path: Path, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {
            "textDocument": {"uri": uri(path), "version": version},
            "contentChanges": [{"text": text}]})

    def diagnostics(self, path: Path, version: int | None = None) -> list[dict]:
        """The next diagnostics published for the file (for that version, when given)."""
        wanted = uri(path)
        return self.notification("textDocument/publishDiagnostics", lambda p: p["uri"] == wanted and (
            version is None or p.get("version") == version))["diagnostics"]

    def at(self, path: Path, line: int, character: int) -> dict:
        """Position parameters: 0-based line and character, as the protocol counts."""
        return {"textDocument": {"uri": uri(path)}, "position": {"line": line, "character": character}}

    def close(self) -> int:
        """shutdown, exit, and the exit status of the process."""
        self.request("shutdown")
        self.notify("exit")
        try:
            return self.process.wait(timeout=WAIT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
