"""JSON problem responses (RFC 9457 shape) for every error the API returns, and their OpenAPI.

The core raises typed :class:`~octavia.errors.OctaviaError`; this module is the one place that
turns them into HTTP. Route code raises :class:`ApiError` for HTTP-only conditions (404, 409...).

The OpenAPI says what the server really answers, so generated clients can parse errors: a
route lists its own problems with ``responses=responses(404, 409)``; a dependency that raises
is marked with :func:`raises` (401 for authentication, 429 for rate limits); 422 (every route:
validation and the NUL guard) and 400/413 (a body that does not parse, or is too large) are
added to every operation they apply to. All of them are ``application/problem+json``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
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
_F = TypeVar("_F", bound=Callable[..., Any])
_RAISES_ATTR = "__octavia_problems__"


class Problem(BaseModel):
    """The body of every error answer (only used to describe it in the OpenAPI)."""

    model_config = ConfigDict(extra="allow")  # e.g. ``errors`` on 422, ``shortfall`` on 402
    type: str = Field(description="urn:octavia:error:<code>")
    title: str
    status: int
    code: str = Field(description="Stable, machine-readable.")
    detail: str
    hint: str | None = Field(None, description="What to do about it.")


_DESCRIPTIONS = {
    400: "The request cannot be read (e.g. the body is not JSON).",
    401: "Missing or invalid credentials.",
    402: "Not enough credits.",
    403: "Not allowed.",
    404: "Not found (also: it belongs to someone else).",
    409: "In conflict with the object's current state.",
    413: "The request or the declared upload is too large.",
    415: "Not an accepted media type.",
    422: "The request is not valid.",
    429: "Too many requests.",
    502: "The payment provider failed.",
    503: "Not available on this server, or not right now.",
}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "required": True, "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds.", "required": True, "schema": {"type": "string"}}},
}


def _problem_response(status: int, *, headers: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": _DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if headers and status in _HEADERS:
        out["headers"] = _HEADERS[status]
    return out


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the problems it answers with itself (not those of its
    dependencies). A 401 or 429 listed here carries no guaranteed header."""
    return {s: _problem_response(s) for s in statuses}


def raises(*statuses: int) -> Callable[[_F], _F]:
    """Mark a dependency with the problem statuses it raises (always with their headers:
    401 with WWW-Authenticate, 429 with Retry-After); every route using it documents them."""

    def mark(fn: _F) -> _F:
        setattr(fn, _RAISES_ATTR, statuses)
        return fn

    return mark


def _dependency_statuses(dependant: Dependant) -> Iterator[int]:
    for dep in dependant.dependencies:
        yield from getattr(dep.call, _RAISES_ATTR, ())
        yield from _dependency_statuses(dep)


def _api_routes(app: FastAPI) -> Iterator[Any]:
    """Every API route with what it inherits from the routers above it (dependencies too)."""
    from fastapi import routing

    # Newer FastAPI keeps included routers lazy: app.routes holds the routers, not the routes.
    iterate: Any = getattr(routing, "iter_route_contexts", None)
    for route in iterate(app.routes) if iterate else app.routes:
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


def _document(app: FastAPI, schema: dict[str, Any]) -> None:
    """Add the problems every operation can answer with to the generated ``schema``."""
    for route in _api_routes(app):
        if not route.include_in_schema:
            continue
        for method in route.methods:
            op = schema["paths"].get(route.path_format, {}).get(method.lower())
            if op is None:
                continue
            answers = op.setdefault("responses", {})
            answers["422"] = _problem_response(422)  # replaces FastAPI's application/json one
            for status in sorted(set(_dependency_statuses(route.dependant))):
                answers[str(status)] = _problem_response(status, headers=True)
            if route.body_field is not None:
                for status in (400, 413):
                    answers.setdefault(str(status), _problem_response(status))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")


def install_openapi(app: FastAPI) -> None:
    generate = app.openapi  # FastAPI's own generator; it caches its result in app.openapi_schema

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(app, generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
    install_openapi(app)
