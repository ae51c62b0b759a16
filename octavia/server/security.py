"""Secrets: password hashes (argon2id via pwdlib), random tokens stored as sha256, signed URLs.

Session tokens, API keys and email tokens carry 256 random bits, so a fast sha256 at rest is
enough (nobody can brute-force the preimage); passwords are low-entropy and get argon2id.
Signed tokens are ``base64url(json).base64url(hmac_sha256)`` with an expiry inside the payload
and a purpose mixed into the MAC, so an upload token can never pass as a download token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

SESSION_PREFIX = "ses_"
API_KEY_PREFIX = "oak_"
API_KEY_DISPLAY_CHARS = 12


class BadToken(Exception):
    """A signed token is malformed, tampered with, expired or for another purpose."""


@dataclass(frozen=True, slots=True)
class PasswordHasher:
    """argon2id with configurable cost (tests lower it; production keeps the pwdlib defaults)."""

    time_cost: int = 3
    memory_kib: int = 65536

    def hash(self, password: str) -> str:
        return _hasher(self.time_cost, self.memory_kib).hash(password)

    def verify(self, password: str, hashed: str) -> bool:
        return bool(_hasher(self.time_cost, self.memory_kib).verify(password, hashed))

    def dummy_verify(self, password: str) -> None:
        """Spend the time a real verify would, so a missing account is not faster to reject."""
        self.verify(password, _dummy_hash(self.time_cost, self.memory_kib))


@cache
def _hasher(time_cost: int, memory_kib: int) -> Any:
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    return PasswordHash((Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib),))


@cache
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return str(_hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16)))


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, purpose: str, payload: dict[str, Any], *, expires_in: float) -> str:
    body = dict(payload, exp=int(time.time() + expires_in))
    raw = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key, f"{purpose}:{raw}".encode(), hashlib.sha256).digest()
    return f"{raw}.{_b64(mac)}"


def unsign(key: bytes, purpose: str, token: str) -> dict[str, Any]:
    raw, _, mac = token.partition(".")
    if not raw or not mac:
        raise BadToken("malformed token")
    expected = hmac.new(key, f"{purpose}:{raw}".encode(), hashlib.sha256).digest()
    try:
        given = _unb64(mac)
        body = json.loads(_unb64(raw))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadToken("malformed token") from exc
    if not hmac.compare_digest(expected, given):
        raise BadToken("bad signature")
    if not isinstance(body, dict) or not isinstance(body.get("exp"), int):
        raise BadToken("malformed token")
    if body["exp"] < time.time():
        raise BadToken("expired")
    return body
