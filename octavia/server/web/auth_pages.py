"""Log in and log out. Both reuse the /v1 handlers (``routes.auth.login`` / ``logout``): the
same throttles, password checks, verification rule and session rows."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from octavia.server.deps import get_db, get_hasher, get_settings
from octavia.server.problems import ApiError
from octavia.server.ratelimit import rate_limit
from octavia.server.routes import auth as api_auth
from octavia.server.web import page_router
from octavia.server.web.flash import flash
from octavia.server.web.forms import error_message
from octavia.server.web.render import redirect, render
from octavia.server.web.session import (
    CurrentWebUser,
    OptionalWebUser,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)

router = page_router()
_login_limit = rate_limit("auth:login", "rate_limit_auth")


@router.get("/login")
def login_page(
    request: Request, user: OptionalWebUser, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    if user is not None:
        return redirect(request, safe_next(next))
    return render(request, "login.html", next=safe_next(next, ""), email="", error=None)


@router.post("/login")
def login_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        _login_limit(request)
        body = api_auth.LoginBody(email=email, password=password)
        session = api_auth.login(body, request, get_db(request), get_settings(request), get_hasher(request))
    except ValidationError:
        error = error_message(ApiError(401, "invalid_credentials", ""))
        return render(
            request, "login.html", status_code=400, next=safe_next(next, ""), email=email, error=error
        )
    except ApiError as exc:
        return render(
            request, "login.html", status_code=exc.status, next=safe_next(next, ""), email=email,
            error=error_message(exc),
        )  # fmt: skip
    flash(request, "auth.login.done", "success")
    response = redirect(request, safe_next(next))
    set_session_cookie(response, request, session.token, session.expires_at)
    return response


@router.post("/logout")
def logout_submit(request: Request, user: CurrentWebUser) -> Response:
    api_auth.logout(user, get_db(request))
    flash(request, "auth.logout.done", "success")
    response = redirect(request, "/login")
    clear_session_cookie(response, request)
    return response
