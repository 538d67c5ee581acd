"""A real HTTP server on 127.0.0.1 standing in for a helpdesk API (Zendesk, Intercom, Jira, Freshdesk).

It records every request and answers 200 (201 for POST) with plausible JSON; it can be scripted to fail
the next calls (429 with `Retry-After`, 5xx, any status) or to answer one route with a given body.

    with FakeHelpdesk() as helpdesk:
        helpdesk.fail_next(429, n=1, retry_after=2)
        ...  # point a client at helpdesk.url
        assert helpdesk.calls[-1].path == "/api/v2/tickets/1.json"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Call:
    method: str
    #: Path without the query string.
    path: str
    query: str
    #: Header names lower-cased.
    headers: dict[str, str]
    #: The parsed JSON body, or None when the body was empty or not JSON.
    json: Any
    raw_body: bytes
    #: The status the fake answered with.
    status: int


@dataclass
class _Failure:
    status: int
    remaining: int
    retry_after: float | None
    body: Any


class FakeHelpdesk:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._failures: list[_Failure] = []
        self._responses: dict[tuple[str, str], tuple[int, Any]] = {}
        self._next_id = 1000
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-helpdesk", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every request so far, oldest first."""
        with self._lock:
            return list(self._calls)

    def fail_next(self, status: int, n: int = 1, retry_after: float | None = None, body: Any = None) -> None:
        """Answer the next `n` requests (any route) with `status`, after earlier scripted failures."""
        with self._lock:
            self._failures.append(_Failure(status, n, retry_after, body))

    def respond(self, method: str, path: str, body: Any, status: int = 200) -> None:
        """Answer every `method path` request with `body` from now on (e.g. a GET of a ticket's tags)."""
        with self._lock:
            self._responses[(method.upper(), path)] = (status, body)

    def clear(self) -> None:
        """Forget the recorded calls and every scripted failure and response."""
        with self._lock:
            self._calls.clear()
            self._failures.clear()
            self._responses.clear()

    def wait_for(self, predicate: Callable[[list[Call]], bool], timeout: float = 5.0) -> list[Call]:
        """Wait until `predicate(calls)` holds and return those calls; TimeoutError lists what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            calls = self.calls
            if predicate(calls):
                return calls
            if time.monotonic() >= deadline:
                seen = ", ".join(f"{c.method} {c.path} -> {c.status}" for c in calls) or "none"
                raise TimeoutError(f"fake helpdesk: condition not met within {timeout}s; calls: {seen}")
            time.sleep(0.01)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeHelpdesk:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _answer(
        self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes
    ) -> tuple[int, dict[str, str], Any]:
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        with self._lock:
            status, extra, body = self._scripted(method, path, parsed)
            self._calls.append(Call(method, path, query, headers, parsed, raw, status))
        return status, extra, body

    def _scripted(self, method: str, path: str, parsed: Any) -> tuple[int, dict[str, str], Any]:
        if self._failures:
            failure = self._failures[0]
            failure.remaining -= 1
            if failure.remaining <= 0:
                self._failures.pop(0)
            extra = {} if failure.retry_after is None else {"Retry-After": _seconds(failure.retry_after)}
            body = failure.body if failure.body is not None else {"error": f"scripted {failure.status}"}
            return failure.status, extra, body
        if (method, path) in self._responses:
            status, body = self._responses[(method, path)]
            return status, {}, body
        self._next_id += 1
        if method == "GET":
            return 200, {}, {"id": self._next_id, "path": path, "tags": []}
        body = {"id": self._next_id, "path": path, "received": parsed}
        return (201 if method == "POST" else 200), {}, body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, extra, body = fake._answer(self.command, parts.path, parts.query, headers, raw)
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
