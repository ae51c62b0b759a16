"""Sign up, email confirmation, log in, log out, forgot/reset password. Each reuses its /v1
handler in ``routes.auth`` (signup, verify, login, logout, forgot_password, reset_password):
the same rate limits, throttles, password checks, verification rule, mails and session rows.

A form with an error is rendered again with status 200 and the message in a ``role=alert``
paragraph: the page itself was served fine (and browsers log every 4xx page as a console
error). CSRF failures, missing objects and rate limits outside forms keep their 4xx status."""

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
from octavia.server.web.strings import t

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
        return render(request, "login.html", next=safe_next(next, ""), email=email, error=error)
    except ApiError as exc:
        return render(
            request, "login.html", next=safe_next(next, ""), email=email,
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


_signup_limit = rate_limit("auth:signup", "rate_limit_auth")
_verify_limit = rate_limit("auth:verify", "rate_limit_auth")
_forgot_limit = rate_limit("auth:forgot", "rate_limit_auth")
_reset_limit = rate_limit("auth:reset", "rate_limit_auth")


@router.get("/signup")
def signup_page(request: Request, user: OptionalWebUser) -> Response:
    if user is not None:
        return redirect(request, "/")
    return render(request, "signup.html", email="", error=None)


@router.post("/signup")
def signup_submit(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        _signup_limit(request)
        body = api_auth.Credentials(email=email, password=password)
        api_auth.signup(body, request, get_db(request), get_settings(request), get_hasher(request))
    except ValidationError:
        return render(request, "signup.html", email=email, error=t("auth.signup.invalid"))
    except ApiError as exc:
        return render(request, "signup.html", email=email, error=error_message(exc))
    # The same answer for a new and a taken address (as /v1 gives): nothing tells them apart.
    return render(
        request, "message.html", title_key="auth.signup.sent_title", text=t("auth.signup.sent", email=email)
    )


@router.get("/verify")
def verify_page(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    # A GET changes nothing: mail scanners open links, so confirming takes a click (a POST).
    return render(request, "verify.html", token=token, error=None if token else t("auth.verify.missing"))


@router.post("/verify")
def verify_submit(request: Request, token: Annotated[str, Form(max_length=200)]) -> Response:
    try:
        _verify_limit(request)
        api_auth.verify(api_auth.TokenBody(token=token), get_db(request), get_settings(request))
    except ApiError as exc:
        return render(request, "verify.html", token="", error=error_message(exc))
    flash(request, "auth.verify.done", "success")
    return redirect(request, "/login")


@router.get("/forgot")
def forgot_page(request: Request) -> Response:
    return render(request, "forgot.html", email="", error=None)


@router.post("/forgot")
def forgot_submit(request: Request, email: Annotated[str, Form(max_length=320)]) -> Response:
    try:
        _forgot_limit(request)
        api_auth.forgot_password(api_auth.EmailBody(email=email), request, get_db(request))
    except ValidationError:
        return render(request, "forgot.html", email=email, error=t("auth.signup.invalid"))
    except ApiError as exc:
        return render(request, "forgot.html", email=email, error=error_message(exc))
    return render(
        request, "message.html", title_key="auth.forgot.heading", text=t("auth.forgot.sent", email=email)
    )


@router.get("/reset")
def reset_page(request: Request, token: Annotated[str, Query(max_length=200)] = "") -> Response:
    return render(request, "reset.html", token=token, error=None if token else t("auth.verify.missing"))


@router.post("/reset")
def reset_submit(
    request: Request,
    token: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        _reset_limit(request)
        body = api_auth.ResetBody(token=token, password=password)
        api_auth.reset_password(body, request, get_db(request), get_hasher(request), get_settings(request))
    except ValidationError:
        return render(request, "reset.html", token=token, error=t("auth.signup.invalid"))
    except ApiError as exc:
        return render(request, "reset.html", token=token, error=error_message(exc))
    flash(request, "auth.reset.done", "success")
    response = redirect(request, "/login")
    clear_session_cookie(response, request)  # every session of the account was just revoked
    return response
