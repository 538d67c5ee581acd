"""A scripted OpenAI-compatible server on 127.0.0.1 for tests: each request to
/v1/chat/completions is answered by a function of (request body, request number)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def completion(content: str | dict[str, Any], finish_reason: str = "stop", usage: tuple[int, int] = (120, 30)) -> Reply:
    text = content if isinstance(content, str) else json.dumps(content)
    return Reply(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": "fake-model",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish_reason}
            ],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        }
    )


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> Reply:
    reply = completion("")
    message = reply.body["choices"][0]["message"]
    message["content"] = None
    message["tool_calls"] = [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for i, (name, args) in enumerate(calls)
    ]
    reply.body["choices"][0]["finish_reason"] = "tool_calls"
    return reply


def error(status: int, message: str = "boom", headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, body={"error": {"message": message, "type": "test"}}, headers=headers or {})


Responder = Callable[[dict[str, Any], int], Reply]


class FakeLLM:
    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.requests.append(body)
                    number = len(fake.requests)
                reply = fake.responder(body, number)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(payload.encode())))
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def task_of(request: dict[str, Any]) -> str:
    """Which Caseworker task a request is: classify, tools (a drafting look-up turn), draft or escalate."""
    if request.get("tools"):
        return "tools"
    system = request["messages"][0]["content"]
    if "triage classifier" in system:
        return "classify"
    if "write replies" in system:
        return "draft"
    return "escalate"


def requested_fields(request: dict[str, Any]) -> dict[str, list[str]]:
    """The fields and allowed values a classify request asks for, read from its JSON schema."""
    fmt = request.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = fmt["json_schema"]["schema"]
    else:
        system = request["messages"][0]["content"]
        schema = json.loads(system[system.index("{") :])
    fields = {}
    for name, ref in schema["properties"].items():
        target = schema["$defs"][ref["$ref"].split("/")[-1]]
        value = target["properties"]["value"]
        fields[name] = list(value.get("enum") or [value["const"]])
    return fields
