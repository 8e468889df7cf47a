"""A real HTTP server on loopback that speaks the OpenAI chat-completions protocol, scripted per test.

Each request to ``POST /v1/chat/completions`` takes the next step of the script (the last one repeats).
A step is a ``Reply``: the content to answer with (or an HTTP status and error body), an optional delay,
and whether to refuse ``response_format``. Streaming requests get server-sent events, as the real API
sends them. Every request body is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    error: str = ""
    delay_s: float = 0.0
    reject_schema: bool = False  # answer reject_status when the request carries response_format
    reject_status: int = 400
    reject_message: str = "response_format json_schema is not supported"
    headers: dict[str, str] = field(default_factory=dict)
    respond: Callable[[dict[str, Any]], str] | None = None  # builds the content from the request


class OpenAIServer:
    """``with OpenAIServer([Reply(...), ...], model="m") as server: server.base_url``."""

    def __init__(self, script: list[Reply], model: str = "test-model") -> None:
        self.script = list(script)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": server.model, "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.headers_seen.append(dict(self.headers))
                reply = server._next(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if body.get("model") != server.model:
                    self._send(404, {"error": {"message": f"model '{body.get('model')}' not found", "code": "model_not_found"}})
                    return
                if reply.reject_schema and "response_format" in body:
                    self._send(reply.reject_status, {"error": {"message": reply.reject_message}})
                    return
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": reply.error or "scripted error"}}, reply.headers)
                    return
                content = reply.respond(body) if reply.respond else reply.content
                if body.get("stream"):
                    self._stream(content)
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": server.model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )

            def _stream(self, content: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = [content[i : i + 40] for i in range(0, len(content), 40)] or [""]
                for piece in pieces:
                    event = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": server.model,
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        return Handler


def lines_reply(lines: list[dict[str, Any]], title: str | None = None) -> str:
    """The JSON a well-behaved model returns for a draft."""
    return json.dumps({"title": title, "lines": lines})


def passages_of(request: dict[str, Any]) -> dict[str, str]:
    """The passages a request gave the model, by id."""
    user = request["messages"][-1]["content"] if request["messages"][-1]["role"] == "user" else ""
    user = next((m["content"] for m in request["messages"] if m["role"] == "user"), user)
    return {m.group(1): m.group(2) for m in re.finditer(r'<passage id="(P\d+)"[^>]*>\n(.*?)\n</passage>', user, re.S)}


def grounded(section_of: Callable[[dict[str, Any], str], str], limit: int = 6) -> Callable[[dict[str, Any]], str]:
    """A model that writes lines taken from the passages it was given, citing them; ``section_of(request,
    passage text)`` picks each line's section."""

    def respond(request: dict[str, Any]) -> str:
        lines = []
        for pid, text in list(passages_of(request).items())[:limit]:
            first = next((ln for ln in text.strip().splitlines() if ln.strip() and not ln.startswith("```")), text)
            lines.append({"section": section_of(request, text), "text": first.strip()[:160], "cites": [pid]})
        return lines_reply(lines)

    return respond
