"""The FastAPI application: ``create_app(settings)`` wires settings, database, storage, email,
rate limits, error mapping and every router. No work happens at import time."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from octavia._version import __version__
from octavia.server.settings import ServerSettings, load_server_settings

log = logging.getLogger("octavia.server")

_ROUTERS = (
    "auth",
    "account",
    "projects",
    "uploads",
    "files",
    "jobs",
    "review",
    "offerings",
    "ops",
    "billing",
    "webhooks",
)
# Paths whose bodies are bounded by their own signed limits, not by max_request_bytes.
_BODY_LIMIT_EXEMPT = ("/v1/files/",)


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    """Rejects bodies over ``max_bytes`` with 413 before the app reads them: at once when the
    Content-Length says so, else as soon as the streamed bytes pass the limit. ``Connection:
    close`` on the 413 stops uvicorn from draining the rest of a huge body (see SERVER.md §2)."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app, self.max_bytes, self.exempt = app, max_bytes, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        seen = 0
        state = {"too_large": False, "started": False}

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    state["too_large"] = True
                    raise _TooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            if state["too_large"]:
                return  # the app's own answer to the aborted read is replaced by our 413
            state["started"] = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not state["too_large"]:
                raise
        if state["too_large"] and not state["started"]:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        import json

        body = json.dumps(
            {
                "type": "urn:octavia:error:request_too_large",
                "title": "Request body too large.",
                "status": 413,
                "code": "request_too_large",
                "detail": f"Request bodies are limited to {self.max_bytes} bytes.",
                "hint": "Upload media with POST /v1/uploads, not in the request body.",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class OctaviaApp(FastAPI):
    """FastAPI with :class:`~octavia.server.headers.SecurityHeaders` outside every other layer,
    Starlette's error middleware included, so no response leaves without them."""

    def build_middleware_stack(self) -> ASGIApp:
        from octavia.server.headers import SecurityHeaders

        return SecurityHeaders(super().build_middleware_stack())


def _warm_jobs(app: FastAPI) -> None:
    """What the first job creation would build: the queue client (importing Huey alone is ~1 s
    without cached bytecode) and the job-options machinery (octavia.server.jobs.warm_up)."""
    from octavia.errors import OctaviaError
    from octavia.server.jobs import warm_up
    from octavia.server.routes.jobs import queue_for

    settings: ServerSettings = app.state.settings
    try:
        if settings.queue != "immediate":  # immediate mode also builds a worker: left to first use
            queue_for(app.state)
        warm_up(settings)
    except OctaviaError as exc:  # e.g. no subtitle kind here: every job request will say so itself
        log.warning("job creation warm-up: %s", exc)


def _router_modules() -> list[Any]:
    return [importlib.import_module(f"octavia.server.routes.{name}") for name in _ROUTERS]


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the API. Opens the database (migrating SQLite by default), storage and email sender."""
    from octavia.server import problems
    from octavia.server.db import Database, migrate
    from octavia.server.email import build_sender
    from octavia.server.event_hub import EventHub
    from octavia.server.headers import install_docs
    from octavia.server.outbox import MailOutbox
    from octavia.server.ratelimit import (
        AccountThrottle,
        DbAccountThrottle,
        Limiter,
        MemoryLimiter,
        RedisAccountThrottle,
        RedisLimiter,
    )
    from octavia.server.security import PasswordHasher
    from octavia.server.storage import build_storage
    from octavia.server.validation import reject_unstorable

    settings = settings or load_server_settings()
    if settings.should_migrate():
        migrate(settings.db_url)
    db = Database.from_settings(settings)
    from octavia.server.authcache import AuthCache

    auth_cache = AuthCache()
    auth_cache.watch(db.engine)  # revocations through this app's engine invalidate it at once
    mail_outbox = MailOutbox(db, build_sender(settings), settings)
    event_hub = EventHub(db)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        import asyncio

        from octavia.server import polar

        # Build the Polar SDK's parsers now (~3 s of CPU) so the first webhook after a start
        # answers well inside Polar's delivery timeout; off the event loop, not awaited.
        loop = asyncio.get_running_loop()
        warm = loop.run_in_executor(None, polar.warm_up)
        warm_jobs = loop.run_in_executor(None, _warm_jobs, _app)
        mail_outbox.start()  # delivers mail queued by requests (and by earlier runs)
        event_hub.start()  # reads job events for every open stream (idle without one)
        yield
        await event_hub.stop()
        mail_outbox.stop()
        await warm
        await warm_jobs
        if db.async_reader is not None:
            await db.async_reader.aclose()
        db.dispose()

    app = OctaviaApp(
        title="Octavia",
        version=__version__,
        description="Subtitles, translated subtitles, translated audio and dubbed video from speech.",
        docs_url=None,  # served by headers.install_docs, with a CSP for its CDN assets
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        # Before every route: NUL and other unstorable input is a 422, not a database error.
        dependencies=[Depends(reject_unstorable)],
    )
    limiter: Limiter = RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()
    app.state.settings = settings
    app.state.db = db
    app.state.auth_cache = auth_cache
    app.state.storage = build_storage(settings)
    app.state.mail_outbox = mail_outbox
    app.state.event_hub = event_hub
    app.state.rate_limiter = limiter
    throttle: AccountThrottle = (
        RedisAccountThrottle(settings.redis_url) if settings.redis_url else DbAccountThrottle(db)
    )
    app.state.login_throttle = throttle
    app.state.hasher = PasswordHasher(settings.argon2_time_cost, settings.argon2_memory_kib)

    problems.install(app)
    install_docs(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes, exempt=_BODY_LIMIT_EXEMPT)
    for mod in _router_modules():
        app.include_router(mod.router)
    from octavia.server.web import install as install_web

    install_web(app)  # the pages at /, /login, ... and /static/ (after problems.install: wraps its handler)
    return app
