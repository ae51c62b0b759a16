"""Input the databases cannot store, refused at the HTTP edge with 422 instead of failing as 500.

* Integers: PostgreSQL ``bigint`` (and SQLite's INTEGER) end at 2⁶³−1, so an ``offset`` or an
  event id past it is an error in the database driver, not an empty page. :data:`Offset`,
  :data:`BeforeId`, :data:`AfterEventId` and :data:`LastEventId` bound every such parameter.
* Strings: PostgreSQL text cannot hold NUL (U+0000) and no UTF-8 codec can encode a lone
  surrogate (``"\\ud800"`` is valid JSON). :func:`reject_unstorable` runs before every route (an
  app-level dependency) and checks the path, the query, the headers and a JSON body for
  them, and a JSON body for numbers beyond 64 bits, NaN/Infinity (PostgreSQL ``jsonb`` has
  neither) and nesting deeper than :data:`MAX_DEPTH`.

:func:`unstorable` is the walk itself; the webhook receiver uses it on signed payloads too,
with :func:`storable` for the copy it keeps of a payload it must not refuse.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

MAX_INT64 = 2**63 - 1
#: Request bodies of this API are flat; a deeper one is junk, and rendering it back could
#: exhaust the recursion limit of the JSON encoder.
MAX_DEPTH = 32

Offset = Annotated[int, Query(ge=0, le=MAX_INT64, description="Rows to skip.")]
#: A ledger id to page before (GET /v1/billing).
BeforeId = Annotated[int | None, Query(ge=1, le=MAX_INT64, description="Ledger id: entries older than this.")]
#: The id of a job event (``id:`` in the event stream) to resume after.
AfterEventId = Annotated[int | None, Query(ge=0, le=MAX_INT64, description="Resume after this event id.")]
#: The same, as EventSource sends it on a reconnect. An integer: ``"²".isdigit()`` is true.
LastEventId = Annotated[int | None, Header(ge=0, le=MAX_INT64, description="Resume after this event id.")]

# Cheap byte patterns that may hide what the walk refuses; most bodies match none and are not
# parsed a second time. A NUL escape, a surrogate escape, a non-finite literal, a long number.
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])|NaN|Infinity|[0-9]{19}|[eE][+]?[0-9]{3}")


def _bad_string(s: str) -> str | None:
    if "\x00" in s:
        return "string_nul"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "string_surrogate"
    return None


_MESSAGES = {
    "string_nul": "Text must not contain the NUL character (U+0000).",
    "string_surrogate": "Text must not contain an unpaired surrogate (U+D800–U+DFFF).",
    "number_out_of_range": f"Numbers must be finite and integers within ±{MAX_INT64}.",
    "too_deep": f"JSON may nest at most {MAX_DEPTH} levels.",
}


def unstorable(
    value: Any, loc: tuple[str | int, ...] = (), depth: int = 0, max_depth: int = MAX_DEPTH
) -> Iterator[dict[str, Any]]:
    """Errors (FastAPI's shape: type, loc, msg) for everything in a JSON value that a database
    would refuse or that this API does not accept."""
    kind: str | None = None
    if isinstance(value, str):
        kind = _bad_string(value)
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        kind = None if -MAX_INT64 <= value <= MAX_INT64 else "number_out_of_range"
    elif isinstance(value, float):
        kind = None if math.isfinite(value) else "number_out_of_range"
    elif isinstance(value, dict | list):
        if depth >= max_depth:
            kind = "too_deep"
        elif isinstance(value, dict):
            for k, v in value.items():
                if (bad := _bad_string(k)) is not None:
                    yield _error(bad, (*loc, k.encode("unicode_escape").decode()))
                    continue
                yield from unstorable(v, (*loc, k), depth + 1, max_depth)
        else:
            for i, v in enumerate(value):
                yield from unstorable(v, (*loc, i), depth + 1, max_depth)
    if kind is not None:
        yield _error(kind, loc)


def storable_text(s: str) -> str:
    """``s`` with NUL and lone surrogates replaced by U+FFFD, so any database can store it."""
    if _bad_string(s) is None:
        return s
    return "".join("\ufffd" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in s)


def storable(value: Any) -> Any:
    """A copy of a parsed JSON value that SQLite and PostgreSQL ``jsonb`` both accept: text made
    :func:`storable_text`, NaN and ±Infinity (which ``jsonb`` lacks) as null. For keeping a
    signed payload we must not refuse; the facts taken from it are validated on their own."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {storable_text(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def _error(kind: str, loc: tuple[str | int, ...]) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "msg": _MESSAGES[kind], "input": None}


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


async def reject_unstorable(request: Request) -> None:
    """App-level dependency: 422 for NUL or a lone surrogate anywhere in the request, and for a
    JSON body :func:`unstorable` objects to. Runs before authentication, so it costs no lookup.

    Bodies are only looked at for routes whose body FastAPI parses: the file PUT streams its
    body (reading it here would buffer it), the webhook checks its own signed payload."""
    errors: list[dict[str, Any]] = []
    for name, value in request.path_params.items():
        errors.extend(unstorable(str(value), ("path", name)))
    for name, value in request.query_params.multi_items():
        errors.extend(unstorable(name, ("query", name)))
        errors.extend(unstorable(value, ("query", name)))
    for name, value in request.headers.items():  # h11 refuses NUL already; other servers may not
        if "\x00" in value:
            errors.append(_error("string_nul", ("header", name)))
    route = request.scope.get("route")
    ctype = request.headers.get("content-type", "")
    if (
        not errors
        and isinstance(route, APIRoute)
        and route.body_field is not None
        and ctype.startswith(_FORMS)
    ):
        # The web app's forms: FastAPI parsed (and cached) the form, not the raw body.
        for name, value in (await request.form()).multi_items():
            if isinstance(value, str):
                errors.extend(unstorable(name, ("body", name)))
                errors.extend(unstorable(value, ("body", name)))
    elif not errors and isinstance(route, APIRoute) and route.body_field is not None:
        raw = await request.body()  # cached: FastAPI read it before the dependencies
        if raw and (_SUSPECT.search(raw) or raw.count(b"[") + raw.count(b"{") > MAX_DEPTH):
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):
                body = None  # not JSON: FastAPI's own parsing answers it (400 or 422)
            errors.extend(unstorable(body, ("body",)))
    if errors:
        raise RequestValidationError(errors)


__all__ = [
    "MAX_DEPTH",
    "MAX_INT64",
    "AfterEventId",
    "BeforeId",
    "LastEventId",
    "Offset",
    "reject_unstorable",
    "storable",
    "storable_text",
    "unstorable",
]
