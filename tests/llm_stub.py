"""A local HTTP server speaking the OpenAI chat-completions API, for the LLM translator's error
paths (the real llama.cpp server covers the happy path: tests/test_llm_server.py).

By default it "translates" each numbered sentence of the request to ``[es] <sentence>`` and
answers in the shape the request asked for. ``script`` holds answers to give first, in order:
an HTTP status with a body, or an assistant text to wrap in a 200 completion.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_SENTENCE = re.compile(r'^(\d+): ("(?:[^"\\]|\\.)*")', re.MULTILINE)


def sentences(body: dict[str, Any]) -> dict[str, str]:
    """The numbered sentences of a request, as the prompt lists them."""
    user = body["messages"][-1]["content"]
    return {m.group(1): json.loads(m.group(2)) for m in _SENTENCE.finditer(user)}


def echo(body: dict[str, Any]) -> str:
    return json.dumps({k: f"[es] {v}" for k, v in sentences(body).items()}, ensure_ascii=False)


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant's text (status 200)
    body: Any = None  # a raw JSON body (any status)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Stub:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[Reply | Callable[[dict[str, Any]], Reply]] = field(default_factory=list)
    key: str | None = None  # when set, requests without "Bearer <key>" get 401
    reject_schema: bool = False  # answer 400 to json_schema response formats, like an older server
    answer: Callable[[dict[str, Any]], str] = echo


def serve() -> Iterator[Stub]:
    stub = Stub(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": {"message": f"no route {self.path}"}})
            if stub.key and self.headers.get("Authorization") != f"Bearer {stub.key}":
                return self._send(
                    401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
                )
            fmt = (body.get("response_format") or {}).get("type")
            if stub.reject_schema and fmt == "json_schema":
                return self._send(400, {"error": {"message": "response_format json_schema is not supported"}})
            reply = stub.script.pop(0) if stub.script else Reply(content=stub.answer(body))
            if callable(reply):
                reply = reply(body)
            payload = reply.body
            if payload is None:
                payload = {
                    "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": reply.content}}],
                }  # fmt: skip
            self._send(reply.status, payload, reply.headers)

        def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
