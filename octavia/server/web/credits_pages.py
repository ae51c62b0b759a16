"""Credits: the balance, the ledger, buying a pack through a Polar checkout, and the page the
checkout returns to (its success URL), which waits for the payment webhook.

Buying calls ``polar.resolve_product`` and ``polar.create_checkout`` (as ``POST
/v1/billing/checkout`` does) and redirects the browser to Polar. Credits only arrive by the
signed webhook, so the return page cannot trust its query string: it remembers (a signed
cookie set when the checkout was opened) the newest ledger entry at that moment and polls
``/credits/status?after=<id>`` until a purchase entry newer than it appears.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from octavia.errors import OctaviaError
from octavia.server import credits, polar
from octavia.server import tables as tb
from octavia.server.deps import AuthUser, get_db, get_settings
from octavia.server.security import BadToken, sign, unsign
from octavia.server.web import page_router
from octavia.server.web.flash import apply_flash, flash
from octavia.server.web.render import page_headers, redirect, render
from octavia.server.web.session import CurrentWebUser, is_secure

router = page_router()
CHECKOUT_COOKIE = "octavia_checkout"
_CHECKOUT_PURPOSE = "web-checkout"
_CHECKOUT_TTL_S = 3 * 3600
_PAGE = 50


def _last_entry_id(request: Request, user: AuthUser) -> int:
    with get_db(request).read() as conn:
        last = conn.execute(
            sa.select(sa.func.max(tb.credit_ledger.c.id)).where(tb.credit_ledger.c.user_id == user.id)
        ).scalar()
    return int(last or 0)


def purchases_after(request: Request, user: AuthUser, after: int) -> tuple[int, int]:
    """(credits bought in entries newer than ``after``, current balance)."""
    c = tb.credit_ledger
    with get_db(request).read() as conn:
        added = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(c.c.amount), 0)).where(
                c.c.user_id == user.id, c.c.kind == "purchase", c.c.id > after
            )
        ).scalar_one()
        total = credits.balance(conn, user.id)
    return int(added), total


@router.get("/credits")
def credits_page(
    request: Request, user: CurrentWebUser, before: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    settings = get_settings(request)
    with get_db(request).read() as conn:
        total = credits.balance(conn, user.id)
        owed = credits.debt(conn, user.id)
        entries = credits.history(conn, user.id, limit=_PAGE + 1, before=before)
    page = entries[:_PAGE]
    return render(
        request, "credits.html", nav="credits", balance=total, debt=owed, entries=page,
        next_before=page[-1].id if len(entries) > _PAGE else None,
        packs=polar.packs(settings) if settings.polar_access_token else [],
        prices=settings.prices_per_minute,
    )  # fmt: skip


@router.post("/credits/buy")
def buy(request: Request, user: CurrentWebUser, product_id: Annotated[str, Form(max_length=255)]) -> Response:
    settings = get_settings(request)
    after = _last_entry_id(request, user)
    try:
        pid = polar.resolve_product(settings, product_id=product_id, credits_wanted=None)
        session = polar.create_checkout(settings, user_id=user.id, email=user.email, product_id=pid)
    except OctaviaError as exc:
        flash(request, "credits.buy_failed", "error", detail=exc.message)
        return redirect(request, "/credits")
    response = RedirectResponse(session.url, status_code=303)
    marker = sign(settings.signing_key(), _CHECKOUT_PURPOSE, {"c": session.id, "a": after, "u": user.id},
                  expires_in=_CHECKOUT_TTL_S)  # fmt: skip
    response.set_cookie(
        CHECKOUT_COOKIE, marker, max_age=_CHECKOUT_TTL_S, path="/credits", httponly=True,
        secure=is_secure(request), samesite="lax",
    )  # fmt: skip
    apply_flash(request, response)
    return response


def _checkout_marker(request: Request, user: AuthUser) -> dict[str, Any] | None:
    raw = request.cookies.get(CHECKOUT_COOKIE)
    if not raw:
        return None
    try:
        body = unsign(get_settings(request).signing_key(), _CHECKOUT_PURPOSE, raw)
    except BadToken:
        return None
    return body if body.get("u") == user.id else None


@router.get("/credits/return")
def checkout_return(
    request: Request, user: CurrentWebUser, checkout: Annotated[str, Query(max_length=255)] = ""
) -> Response:
    marker = _checkout_marker(request, user)
    # Without the marker (another browser, an old link) any purchase in the last entries counts.
    after = int(marker["a"]) if marker else max(0, _last_entry_id(request, user) - 20)
    added, total = purchases_after(request, user, after)
    return render(
        request, "credits_return.html", nav="credits", after=after, added=added, balance=total,
        page_script="js/checkout_return.js",
    )  # fmt: skip


@router.get("/credits/status")
def checkout_status(
    request: Request, user: CurrentWebUser, after: Annotated[int, Query(ge=0)] = 0
) -> Response:
    """JSON for the return page's script: whether a purchase landed after ledger entry ``after``."""
    from octavia.server.web.strings import t

    added, total = purchases_after(request, user, after)
    body = {"confirmed": added > 0, "added": added, "balance": total,
            "message": t("credits.return.confirmed", count=added, balance=total) if added else None}  # fmt: skip
    return JSONResponse(body, headers=page_headers(get_settings(request)))
