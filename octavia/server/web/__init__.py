"""The Octavia web app: server-rendered pages on the same origin as ``/v1``.

``install(app)`` (called by ``create_app``) adds the page routers, ``/static/`` and the error
handlers that answer page requests with pages (a redirect to /login, a 403 or 404 page)
instead of problem JSON. Pages are Jinja2 templates (``templates/``, all extending
``base.html``) with every visible string from ``strings/``; behaviour beyond plain HTML forms
is small ES modules under ``static/js/`` (progressive enhancement: the forms work without
them). See docs/architecture.md, "Web app".

Page modules, each with its own ``router``: ``PAGE_MODULES`` below. A module's routes are
tagged ``web`` so errors they raise are rendered as pages.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from octavia.server.problems import ApiError
from octavia.server.web.csrf import CsrfFailed, require_csrf
from octavia.server.web.render import STATIC, redirect, render
from octavia.server.web.session import AdminRequired, LoginRequired, login_url

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("octavia.web")

#: Modules of octavia.server.web with a ``router`` of pages; "jobs_pages" serves ``/`` (the dashboard).
PAGE_MODULES = ("auth_pages", "account_pages", "credits_pages", "ops_pages", "jobs_pages")


def page_router() -> APIRouter:
    """A router for a page module: tagged ``web``, kept out of the API schema, CSRF-checked."""
    return APIRouter(tags=["web"], include_in_schema=False, dependencies=[Depends(require_csrf)])


def _is_page(request: Request) -> bool:
    route = request.scope.get("route")
    return route is not None and "web" in (getattr(route, "tags", None) or [])


def install(app: FastAPI) -> None:
    """Mount the web app on ``app``: page routes, static files and page error handlers."""
    for name in PAGE_MODULES:
        module = importlib.import_module(f"octavia.server.web.{name}")
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    api_error_handler = app.exception_handlers[ApiError]

    async def on_login_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        return redirect(request, login_url(exc.next_path))

    async def on_csrf(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", status_code=403, message_key="errors.csrf")

    async def on_admin(request: Request, _exc: Exception) -> Response:
        return render(request, "error.html", status_code=403, message_key="errors.forbidden")

    async def on_api_error(request: Request, exc: Exception) -> Any:
        assert isinstance(exc, ApiError)
        if not _is_page(request):
            answer = api_error_handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer
        key = {404: "errors.not_found", 403: "errors.forbidden"}.get(exc.status, "errors.server")
        return render(request, "error.html", status_code=exc.status, message_key=key)

    app.add_exception_handler(LoginRequired, on_login_required)
    app.add_exception_handler(CsrfFailed, on_csrf)
    app.add_exception_handler(AdminRequired, on_admin)
    app.add_exception_handler(ApiError, on_api_error)


__all__ = ["PAGE_MODULES", "install", "page_router"]
