"""The web app's scripts call ``/v1`` with the browser's session cookie (the token is HttpOnly,
so a script cannot send it as a bearer token).

Accepted by ``deps.current_user`` only when no ``Authorization`` header is sent. A request
that changes state (anything but GET/HEAD/OPTIONS) must also carry the page's CSRF token in
``X-CSRF-Token`` and no foreign ``Origin``, exactly as the web app's own forms are checked
(:mod:`octavia.server.web.csrf`); otherwise it is a 403. Reads need no token: another site
cannot read a same-origin response, and ``SameSite=Lax`` keeps the cookie off its
sub-requests. The cookie only ever holds a session token, never an API key.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from fastapi import Request

from octavia.server.problems import ApiError
from octavia.server.web.csrf import CSRF_HEADER, _same_origin, _token_for
from octavia.server.web.session import session_token

if TYPE_CHECKING:
    from octavia.server.db import Database
    from octavia.server.deps import AuthUser

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def cookie_user(request: Request, db: Database) -> AuthUser | None:
    """The session cookie's user, or None without a live one; 403 on a write without its token."""
    from octavia.server.deps import authenticate

    token = session_token(request)
    if token is None:
        return None
    try:
        user = authenticate(db, token)
    except ApiError:
        return None
    if request.method not in _SAFE_METHODS:
        given = request.headers.get(CSRF_HEADER, "")
        expected = _token_for(request, f"ses:{user.credential_id}")
        if not _same_origin(request) or not given or not hmac.compare_digest(given, expected):
            raise ApiError(
                403, "csrf_failed", "A request with the session cookie needs the page's X-CSRF-Token header.",
                "Scripts send the token of <meta name=\"csrf-token\">; other clients use Authorization: Bearer.",
            )  # fmt: skip
    return user


__all__ = ["cookie_user"]
