"""Security headers on every response, and the API docs page with a CSP of its own.

:class:`SecurityHeaders` wraps the *whole* middleware stack (see ``app.OctaviaApp``), outside
Starlette's ServerErrorMiddleware, so even a bare 500, a 413 from the body-size limit or a
404 for an unknown path carries them. A header a response already set (the docs page's CSP,
a download's own type) is left alone.

The API answers JSON and files, never pages, so the default CSP allows nothing at all. The one
HTML page is ``/docs``: Swagger UI loads its script and stylesheet from jsDelivr and starts
with one inline script. It gets a policy that allows exactly those: the CDN, that script by
its SHA-256 (computed from the very page served), inline styles (Swagger UI sets them), images
from itself, data: and the favicon host, and fetches to this origin only (the OpenAPI JSON and
"Try it out"). Serving Swagger UI's files ourselves would drop the CDN but add 1.5 MB of
vendored JavaScript to the wheel; the CDN plus a tight policy is the smaller change. ReDoc
(FastAPI's ``/redoc``) is turned off rather than given a second policy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING

from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI

#: No page of this API needs to load, frame, submit or be framed by anything.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_CDN = "https://cdn.jsdelivr.net"
_FAVICON = "https://fastapi.tiangolo.com"
DEFAULT_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", API_CSP.encode()),
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((n, v) for n, v in DEFAULT_HEADERS if n not in present)
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, send_with_headers)


def docs_csp(html: str) -> str:
    """The CSP for the Swagger UI page ``html``: its inline scripts allowed by hash only."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
        for s in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src {_CDN} {hashes}; style-src {_CDN} 'unsafe-inline'; "
        f"img-src 'self' data: {_FAVICON}; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def install_docs(app: FastAPI, *, path: str = "/docs") -> None:
    """Serve Swagger UI at ``path`` with :func:`docs_csp`; the app must have ``docs_url=None``."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - Swagger UI"
    )
    html = bytes(page.body).decode()
    csp = docs_csp(html)

    @app.get(path, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(html, headers={"Content-Security-Policy": csp})


__all__ = ["API_CSP", "DEFAULT_HEADERS", "SecurityHeaders", "docs_csp", "install_docs"]
