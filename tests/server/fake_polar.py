"""A local HTTP server that speaks the part of Polar's API that Octavia calls (POST /v1/checkouts/).

Response bodies are generated from the SDK's own output dataclasses, so every required key
(Checkout has 59, nullable ones included) is present and the real SDK parses them. The same
generator builds Order payloads for webhook tests. Requests are recorded for assertions.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import types
import typing
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _blank(tp: Any) -> Any:
    """The simplest JSON value the SDK accepts for a field of type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args:
            return None
        return _blank(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin is typing.Annotated:
        return _blank(args[0])
    if origin in (list, tuple, set, frozenset) or tp in (list, tuple):
        return []
    if origin is dict or tp is dict:
        return {}
    if dataclasses.is_dataclass(tp):
        return blank_json(tp)  # type: ignore[arg-type]
    if hasattr(tp, "__value__"):  # a typing_extensions.TypeAliasType
        return _blank(tp.__value__)
    return {str: "", int: 0, float: 0.0, bool: False}.get(tp)


def blank_json(model: type[Any], **overrides: Any) -> dict[str, Any]:
    """Every required field of the SDK dataclass ``model`` with a blank value, plus ``overrides``."""
    hints = typing.get_type_hints(model)
    out: dict[str, Any] = {}
    for f in dataclasses.fields(model):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required:
            out[f.name] = _blank(hints[f.name])
    out.update(overrides)
    return out


def checkout_json(**overrides: Any) -> dict[str, Any]:
    from polar.v2026_10.outputs import Checkout

    cid = str(uuid.uuid4())
    base = {
        "id": cid,
        "status": "open",
        "url": f"https://sandbox.polar.sh/checkout/polar_c_{cid[:8]}",
        "client_secret": "polar_c_" + uuid.uuid4().hex,
        "created_at": "2026-11-25T12:00:00Z",
        "expires_at": "2026-11-25T13:00:00Z",
        "currency": "usd",
    }
    return blank_json(Checkout, **{**base, **overrides})


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakePolar:
    """Run with :func:`running`. Set ``fail_status`` (and ``retry_after``) to answer with an error."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    fail_status: int | None = None
    retry_after: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        if self.fail_status is not None:
            headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
            detail: Any = {"detail": "fake failure"}
            if self.fail_status == 422:
                detail = {
                    "detail": [{"loc": ["body", "products"], "msg": "bad product", "type": "value_error"}]
                }
            return self.fail_status, headers, detail
        if method == "POST" and path == "/v1/checkouts/":
            return (
                201,
                {},
                checkout_json(
                    product_id=body["products"][0],
                    metadata=body.get("metadata", {}),
                    external_customer_id=body.get("external_customer_id"),
                    customer_email=body.get("customer_email"),
                ),
            )
        return 404, {}, {"detail": "Not found"}


class _Handler(BaseHTTPRequestHandler):
    fake: FakePolar

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self.fake.lock:
            self.fake.requests.append(
                Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
        status, headers, answer = self.fake.answer(self.command, self.path, body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle


@contextmanager
def running() -> Iterator[FakePolar]:
    fake = FakePolar()
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
