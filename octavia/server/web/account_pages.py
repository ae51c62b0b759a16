"""Account settings (password change) and API keys. Both call the /v1 handlers of
``routes.account``: the same password checks, credential revocation, key format and storage.

A new API key is shown exactly once: the POST stores it, queues it encrypted for the next
render of this session only (``flash.flash_secret``) and redirects; the key never appears in
a URL, the database or a log.
"""

from __future__ import annotations

from typing import Annotated

import sqlalchemy as sa
from fastapi import Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from octavia.server import tables as tb
from octavia.server.deps import get_db, get_hasher, get_settings
from octavia.server.problems import ApiError
from octavia.server.routes import account as api_account
from octavia.server.web import page_router
from octavia.server.web.flash import flash, flash_secret
from octavia.server.web.forms import error_message
from octavia.server.web.render import redirect, render
from octavia.server.web.session import CurrentWebUser, clear_session_cookie, session_token
from octavia.server.web.strings import t

router = page_router()


@router.get("/account")
def account_page(request: Request, user: CurrentWebUser) -> Response:
    me = api_account.me(user, get_db(request))
    return render(request, "account.html", nav="account", me=me, error=None, delete_error=None)


@router.post("/account/delete")
def delete_account(
    request: Request, user: CurrentWebUser, password: Annotated[str, Form(max_length=1024)]
) -> Response:
    db = get_db(request)
    try:
        body = api_account.AccountDelete(password=password)
        api_account.delete_account(body, user, db, get_hasher(request), get_settings(request))
    except ApiError as exc:
        error = (
            t("account.delete.wrong_password") if exc.code == "invalid_credentials" else error_message(exc)
        )
        return render(request, "account.html", nav="account", me=api_account.me(user, db), error=None,
                      delete_error=error)  # fmt: skip
    flash(request, "account.delete.done", "success")
    response = redirect(request, "/login")
    clear_session_cookie(response, request)
    return response


@router.post("/account/password")
def change_password(
    request: Request,
    user: CurrentWebUser,
    current_password: Annotated[str, Form(max_length=1024)],
    new_password: Annotated[str, Form(max_length=1024)],
) -> Response:
    db = get_db(request)
    try:
        body = api_account.PasswordChange(current_password=current_password, new_password=new_password)
        api_account.change_password(body, request, user, db, get_hasher(request), get_settings(request))
    except ValidationError:
        error = t("account.password.invalid")
    except ApiError as exc:
        error = error_message(exc)
    else:
        flash(request, "account.password.done", "success")
        return redirect(request, "/account")
    return render(request, "account.html", nav="account", me=api_account.me(user, db), error=error,
                  delete_error=None)  # fmt: skip


@router.get("/account/keys")
def keys_page(request: Request, user: CurrentWebUser) -> Response:
    keys = api_account.list_api_keys(user, get_db(request))
    return render(request, "keys.html", nav="account", keys=list(reversed(keys)))


@router.post("/account/keys")
def create_key(
    request: Request, user: CurrentWebUser, name: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    try:
        body = api_account.ApiKeyCreate(name=name.strip() or "default")
    except ValidationError:
        body = api_account.ApiKeyCreate()
    created = api_account.create_api_key(body, user, get_db(request))
    token = session_token(request)
    assert token is not None  # CurrentWebUser came from it
    flash_secret(request, created.key, session=token)
    flash(request, "account.keys.created", "success", name=created.name)
    return redirect(request, "/account/keys")


@router.post("/account/keys/{key_id}/revoke")
def revoke_key(request: Request, user: CurrentWebUser, key_id: str) -> Response:
    db = get_db(request)
    api_account.revoke_api_key(key_id, user, db)  # 404 page for another user's key
    with db.read() as conn:
        name = conn.execute(sa.select(tb.api_keys.c.name).where(tb.api_keys.c.id == key_id)).scalar_one()
    flash(request, "account.keys.revoked_done", "success", name=name)
    return redirect(request, "/account/keys")
