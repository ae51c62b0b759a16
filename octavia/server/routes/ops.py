"""Operations endpoints: ``/healthz`` (the process answers), ``/readyz`` (it can do work),
``/metrics`` (Prometheus). None needs authentication; expose them only to your network."""

from __future__ import annotations

import functools
import logging
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from octavia.server.routes.jobs import get_metrics, get_queue

log = logging.getLogger("octavia.server")
router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@functools.lru_cache(maxsize=4)
def _head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    from octavia.server.db import alembic_config

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _check_db(request: Request) -> dict[str, Any]:
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    db = request.app.state.db
    with db.engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
        current = MigrationContext.configure(conn).get_current_revision()
    head = _head_revision(db.url)
    if current != head:
        return {"ok": False, "detail": f"migrations at {current}, head is {head}: run the migrations"}
    return {"ok": True, "revision": current}


def _check_queue(request: Request) -> dict[str, Any]:
    queue = get_queue(request)
    return {"ok": True, "backend": request.app.state.settings.queue, "pending": queue.pending()}


def _public_detail(exc: BaseException) -> str:
    """What an unauthenticated caller may read of a failed check: the kind of failure, never its
    text (a connection error's names the database or Redis host and port); that goes to the log."""
    return f"{type(exc).__name__} (details in the server log)"


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready; `checks` says why.", "content": {"application/json": {}}}},
)
def readyz(request: Request) -> JSONResponse:
    """200 when the database answers, its schema is at head and the queue answers; else 503."""
    checks: dict[str, Any] = {}
    for name, check in (("database", _check_db), ("queue", _check_queue)):
        try:
            checks[name] = check(request)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; say which
            log.warning("readyz: %s check failed: %s", name, exc)
            checks[name] = {"ok": False, "detail": _public_detail(exc)}
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)  # fmt: skip


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    get_queue(request)  # so the collector reports the queue backend too
    registry, _ = get_metrics(request)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
