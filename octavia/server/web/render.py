"""Page rendering: the Jinja2 environment, the page CSP, and ``render(request, template, ...)``.

Every page gets the same context: ``t`` (the strings catalogue), ``user`` (or None),
``csrf_token``, ``flashes`` (one-shot messages), ``static(path)`` (a cache-busted URL) and
``nav`` (the current section). Pages are never cached (they show per-user data) and carry the
page Content-Security-Policy: scripts, styles, fonts and fetches from this origin only, media
also from the storage origin when storage is S3, nothing inline.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from octavia.server.settings import ServerSettings
from octavia.server.web import strings
from octavia.server.web.csrf import apply_pre_cookie, csrf_token
from octavia.server.web.flash import apply_flash, clear_flash, take_flash
from octavia.server.web.session import optional_web_user

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def storage_origin(settings: ServerSettings) -> str | None:
    """Where browsers fetch media from besides this origin: the S3 endpoint (path-style URLs)."""
    if settings.storage != "s3":
        return None
    url = settings.s3_endpoint_url or f"https://s3.{settings.s3_region}.amazonaws.com"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


#: Where "Buy credits" redirects the form to. Browsers apply form-action to a form's redirects
#: too, so the checkout host must be listed or the 303 to it is blocked.
CHECKOUT_ORIGINS = {"sandbox": "https://sandbox.polar.sh", "production": "https://polar.sh"}


def checkout_origin(settings: ServerSettings) -> str | None:
    return CHECKOUT_ORIGINS[settings.polar_environment] if settings.polar_access_token else None


@cache
def page_csp(origin: str | None, checkout: str | None = None) -> str:
    extra = f" {origin}" if origin else ""
    forms = f" {checkout}" if checkout else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"media-src 'self' blob:{extra}; connect-src 'self'{extra}; font-src 'self'; object-src 'none'; "
        f"frame-ancestors 'none'; base-uri 'none'; form-action 'self'{forms}"
    )


def page_headers(settings: ServerSettings) -> dict[str, str]:
    return {
        "Content-Security-Policy": page_csp(storage_origin(settings), checkout_origin(settings)),
        "Cache-Control": "no-store",
        "Referrer-Policy": "same-origin",
    }


@cache
def _static_version(path: str) -> str:
    """A short content hash, so a changed file gets a new URL (static files may be cached)."""
    return hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:10]


def static_url(path: str) -> str:
    return f"/static/{path}?v={_static_version(path)}"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a typo in a template is an error, not an empty string
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = strings.t
    env.globals["static"] = static_url
    return env


def render(
    request: Request, template: str, *, status_code: int = 200, nav: str = "", **context: Any
) -> HTMLResponse:
    """Render ``template`` with the common page context; reads and clears pending messages."""
    settings: ServerSettings = request.app.state.settings
    flashes, secret = take_flash(request)
    ctx = {
        "request": request,
        "user": optional_web_user(request),
        "csrf_token": csrf_token(request),
        "flashes": flashes,
        "shown_secret": secret,
        "nav": nav,
        "status_code": status_code,
        "page_script": None,
        **context,
    }
    html = environment().get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code, headers=page_headers(settings))
    clear_flash(request, response)
    apply_pre_cookie(request, response)
    return response


def redirect(request: Request, url: str) -> Response:
    """303 See Other to ``url`` (POST-redirect-GET), carrying any queued flash messages."""
    response = RedirectResponse(url, status_code=303)
    apply_flash(request, response)
    return response
