"""JSON problem responses (RFC 9457 shape) for every error the API returns.

The core raises typed :class:`~octavia.errors.OctaviaError`; this module is the one place that
turns them into HTTP. Route code raises :class:`ApiError` for HTTP-only conditions (404, 409...).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from octavia.errors import (
    Cancelled,
    EngineError,
    FFmpegError,
    InputError,
    InsufficientCredits,
    MissingDependency,
    ModelNotAvailable,
    OctaviaError,
    TransientEngineError,
)

log = logging.getLogger("octavia.server")
PROBLEM_JSON = "application/problem+json"

# Most specific class first: the first isinstance match wins.
_STATUS: tuple[tuple[type[OctaviaError], int], ...] = (
    (InsufficientCredits, 402),
    (InputError, 422),
    (ModelNotAvailable, 503),
    (MissingDependency, 503),
    (TransientEngineError, 503),
    (Cancelled, 409),
    (FFmpegError, 500),
    (EngineError, 500),
)


class ApiError(Exception):
    """An HTTP-level error raised by routes: status, a stable code, a message and an optional hint."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        hint: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint
        self.headers = headers or {}
        self.extra = extra


def not_found(what: str = "Resource") -> ApiError:
    # Same answer whether the object does not exist or belongs to someone else.
    return ApiError(404, "not_found", f"{what} not found.")


def problem(
    status: int,
    code: str,
    message: str,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": f"urn:octavia:error:{code}", "title": message, "status": status}
    body.update(code=code, detail=message, hint=hint, **extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def status_for(exc: OctaviaError) -> int:
    extra_status = getattr(exc, "http_status", None)  # server-side OctaviaError subclasses may set it
    if isinstance(extra_status, int):
        return extra_status
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def octavia_problem(exc: OctaviaError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if isinstance(exc, InsufficientCredits):
        extra["shortfall"] = exc.shortfall
        debt = getattr(exc, "debt", None)  # octavia.server.credits.InDebt
        if isinstance(debt, int):
            extra["debt"] = debt
    return problem(status_for(exc), exc.code, exc.message, exc.hint, **extra)


def install(app: FastAPI) -> None:
    async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return problem(exc.status, exc.code, exc.message, exc.hint, exc.headers, **exc.extra)

    async def on_octavia_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OctaviaError)
        if status_for(exc) >= 500:
            log.error("request failed: %s", exc, exc_info=exc)
        return octavia_problem(exc)

    async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return problem(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))

    async def on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(422, "validation_error", "The request is not valid.", errors=errors)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(OctaviaError, on_octavia_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
