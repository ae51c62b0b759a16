"""CSRF protection: a token per session, checked on every state-changing request of the web app.

The token is an HMAC (server secret) of what identifies the browser's session: the session row
id once signed in, else a random pre-session cookie (``octavia_pre``, set on the first page),
so the login and sign-up forms are protected too (no login CSRF). Nothing is stored: the
server recomputes the token. Forms send it as the field ``csrf_token``, scripts as the header
``X-CSRF-Token`` (read from ``<meta name="csrf-token">``). A request whose ``Origin`` header
names another site is refused as well, even with a token. SameSite=Lax on the session cookie
is a third, independent layer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request

from octavia.server.web.session import is_secure, optional_web_user

PRE_COOKIE = "octavia_pre"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CsrfFailed(Exception):
    """The request carried no valid CSRF token (answered 403)."""


def _binding(request: Request) -> str | None:
    user = optional_web_user(request)
    if user is not None:
        return f"ses:{user.credential_id}"
    pre = getattr(request.state, "new_pre_cookie", None) or request.cookies.get(PRE_COOKIE)
    return f"pre:{pre}" if pre else None


def _token_for(request: Request, binding: str) -> str:
    key = request.app.state.settings.signing_key()
    return hmac.new(key, f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_token(request: Request) -> str:
    """The token for forms on this page; creates the pre-session cookie value if needed
    (:func:`apply_pre_cookie` then sets it on the response)."""
    binding = _binding(request)
    if binding is None:
        request.state.new_pre_cookie = secrets.token_urlsafe(32)
        binding = f"pre:{request.state.new_pre_cookie}"
    return _token_for(request, binding)


def apply_pre_cookie(request: Request, response: object) -> None:
    new = getattr(request.state, "new_pre_cookie", None)
    if new:
        response.set_cookie(  # type: ignore[attr-defined]
            PRE_COOKIE, new, path="/", httponly=True, secure=is_secure(request), samesite="lax"
        )


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # older browsers and same-origin GET-to-POST navigations may omit it
    own = f"{request.url.scheme}://{request.url.netloc}"
    public = str(request.app.state.settings.public_url).rstrip("/")
    return origin in (own, public)


async def require_csrf(request: Request) -> None:
    """Dependency for every state-changing web route: 403 unless the token matches."""
    if request.method in _SAFE_METHODS:
        return
    if not _same_origin(request):
        raise CsrfFailed
    given = request.headers.get(CSRF_HEADER)
    if not given:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    binding = _binding(request)
    if not given or binding is None or not hmac.compare_digest(given, _token_for(request, binding)):
        raise CsrfFailed
