"""Helpers for page handlers: turning errors of the shared /v1 service functions into messages."""

from __future__ import annotations

from octavia.server.problems import ApiError
from octavia.server.web import strings


def error_message(exc: ApiError) -> str:
    """The catalogue text for an ApiError raised by a shared service function (by its code);
    the API's own English message when the catalogue has no entry for that code."""
    key = f"errors.api.{exc.code}"
    if strings.has(key):
        return strings.t(key, hint=exc.hint or "")
    return exc.message
