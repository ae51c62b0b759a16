"""One-shot messages for the page after a redirect (POST-redirect-GET), and the one secret a
page may show once (a new API key).

They travel in a cookie ``octavia_flash`` that the next page render reads and clears. The
cookie is signed with the server secret (``security.sign``, purpose ``web-flash``), so a
client cannot forge a message, and expires after two minutes. Messages are catalogue keys plus
parameters, never free text. A secret is encrypted as well: XOR with an HMAC-SHA256 keystream
keyed by the server secret, the browser's session token (which only the cookie holds; the
database has its sha256) and a random nonce, so the cookie is useless without that session and
the secret is never written to the database, a log or a URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from octavia.server.security import BadToken, sha256_hex, sign, unsign
from octavia.server.web.session import is_secure, session_token

FLASH_COOKIE = "octavia_flash"
_PURPOSE = "web-flash"
_TTL_S = 120


@dataclass(frozen=True, slots=True)
class Flash:
    level: str  # "info" | "success" | "error"
    key: str
    params: dict[str, Any]


def _keystream(key: bytes, session: str, nonce: bytes, length: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < length:
        block = f"web-secret:{session}:{counter}".encode() + nonce
        out += hmac.new(key, block, hashlib.sha256).digest()
        counter += 1
    return out[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def _pending(request: Request) -> dict[str, Any]:
    if not hasattr(request.state, "flash_out"):
        request.state.flash_out = {"m": []}
    out: dict[str, Any] = request.state.flash_out
    return out


def flash(request: Request, key: str, level: str = "info", **params: Any) -> None:
    """Queue a message (catalogue ``key``) for the next page this browser renders."""
    _pending(request)["m"].append([level, key, params])


def flash_secret(request: Request, secret: str, *, session: str) -> None:
    """Queue ``secret`` for the next render of the session whose raw token is ``session``."""
    key = request.app.state.settings.signing_key()
    nonce = secrets.token_bytes(16)
    data = secret.encode()
    enc = _xor(data, _keystream(key, session, nonce, len(data)))
    owner = sha256_hex(session)
    _pending(request)["s"] = [base64.b64encode(nonce).decode(), base64.b64encode(enc).decode(), owner]


def apply_flash(request: Request, response: Response) -> None:
    """Write the queued messages into the cookie of ``response`` (a redirect, usually)."""
    out = getattr(request.state, "flash_out", None)
    if not out or (not out["m"] and "s" not in out):
        return
    value = sign(request.app.state.settings.signing_key(), _PURPOSE, out, expires_in=_TTL_S)
    response.set_cookie(
        FLASH_COOKIE, value, max_age=_TTL_S, path="/", httponly=True, secure=is_secure(request),
        samesite="lax",
    )  # fmt: skip


def take_flash(request: Request) -> tuple[list[Flash], str | None]:
    """The messages and the secret waiting for this render (the caller clears the cookie)."""
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return [], None
    key = request.app.state.settings.signing_key()
    try:
        body = unsign(key, _PURPOSE, raw)
    except BadToken:
        return [], None
    messages = [
        Flash(str(m[0]), str(m[1]), dict(m[2]))
        for m in body.get("m", [])
        if isinstance(m, list) and len(m) == 3
    ]
    secret = None
    session = session_token(request)
    held = body.get("s")
    # Only the session that created the secret sees it (a cookie copied elsewhere shows nothing).
    if isinstance(held, list) and len(held) == 3 and session is not None and held[2] == sha256_hex(session):
        try:
            nonce, enc = base64.b64decode(held[0]), base64.b64decode(held[1])
            secret = _xor(enc, _keystream(key, session, nonce, len(enc))).decode()
        except (ValueError, UnicodeDecodeError):
            secret = None
    return messages, secret


def clear_flash(request: Request, response: Response) -> None:
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(
            FLASH_COOKIE, path="/", httponly=True, secure=is_secure(request), samesite="lax"
        )
