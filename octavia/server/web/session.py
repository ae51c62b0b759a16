"""The browser session: a cookie holding a ``ses_`` session token of the ``sessions`` table.

The web app signs in exactly as ``POST /v1/auth/login`` does (``routes.auth.login`` issues the
token); the token then travels in a cookie instead of an ``Authorization`` header. So a web
session is a server-side row like an API session: log out, a password change or a reset
revokes it, and its expiry is ``session_ttl_s``. The cookie is HttpOnly (scripts never see the
token), SameSite=Lax (other sites' forms and fetches do not carry it) and Secure whenever the
server is reached over HTTPS (the request's scheme, or a ``public_url`` starting with https).
API keys are never accepted from the cookie.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response

from octavia.server.deps import AuthUser, authenticate, get_db
from octavia.server.problems import ApiError
from octavia.server.security import SESSION_PREFIX

SESSION_COOKIE = "octavia_session"


class LoginRequired(Exception):
    """Raised by :data:`CurrentWebUser` without a live session; answered by a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class AdminRequired(Exception):
    """A signed-in user who is not an operator asked for an operator page (answered 403)."""


def is_secure(request: Request) -> bool:
    settings = request.app.state.settings
    return request.url.scheme == "https" or str(settings.public_url).startswith("https://")


def session_token(request: Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    return token if token and token.startswith(SESSION_PREFIX) else None


def optional_web_user(request: Request) -> AuthUser | None:
    """The signed-in user of this browser, or None. Cached on the request (one lookup)."""
    if hasattr(request.state, "web_user"):
        cached: AuthUser | None = request.state.web_user
        return cached
    user: AuthUser | None = None
    token = session_token(request)
    if token is not None:
        try:
            user = authenticate(get_db(request), token)
        except ApiError:
            user = None  # expired or revoked: treated as signed out
    request.state.web_user = user
    return user


def current_web_user(request: Request) -> AuthUser:
    user = optional_web_user(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


def admin_web_user(user: Annotated[AuthUser, Depends(current_web_user)]) -> AuthUser:
    if not user.is_admin:
        raise AdminRequired
    return user


def safe_next(target: str | None, default: str = "/") -> str:
    """A same-site path to go to after login: never another host (``//x``, ``/\\x``, ``http:``)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


def login_url(next_path: str) -> str:
    return "/login" if next_path in ("", "/") else f"/login?next={quote(next_path, safe='/')}"


def set_session_cookie(response: Response, request: Request, token: str, expires: datetime) -> None:
    max_age = max(0, int((expires - datetime.now(expires.tzinfo)).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, path="/", httponly=True, secure=is_secure(request),
        samesite="lax",
    )  # fmt: skip


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=is_secure(request), samesite="lax")


OptionalWebUser = Annotated[AuthUser | None, Depends(optional_web_user)]
CurrentWebUser = Annotated[AuthUser, Depends(current_web_user)]
AdminWebUser = Annotated[AuthUser, Depends(admin_web_user)]
