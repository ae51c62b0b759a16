"""Operator pages (admin users only): users and their balances, granting credits (what
``octavia admin credits grant`` does), and queue and worker health (the checks of /readyz and
the job counts of /metrics, plus the heartbeats of running jobs)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Form, Request
from fastapi.responses import Response

from octavia.errors import InputError, OctaviaError
from octavia.server import credits
from octavia.server import tables as tb
from octavia.server.accountmail import normalize_email
from octavia.server.db import utcnow
from octavia.server.deps import get_db, get_settings
from octavia.server.routes import ops
from octavia.server.web import page_router
from octavia.server.web.flash import flash
from octavia.server.web.render import redirect, render
from octavia.server.web.session import AdminWebUser

router = page_router()
_USERS_SHOWN = 200


def _health(request: Request) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    for name, check in (("database", ops._check_db), ("queue", ops._check_queue)):
        try:
            checks[name] = check(request)
        except Exception as exc:  # noqa: BLE001 - like /readyz: any failure means "not ready"
            checks[name] = {"ok": False, "detail": ops._public_detail(exc)}
    return checks


@router.get("/operators")
def operators_page(request: Request, admin: AdminWebUser) -> Response:
    settings = get_settings(request)
    u, j = tb.users, tb.jobs
    with get_db(request).read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(sa.select(j.c.status, sa.func.count()).group_by(j.c.status)).all()
        )
        running = conn.execute(
            sa.select(j.c.id, j.c.kind, j.c.stage, j.c.heartbeat_at, u.c.email)
            .join(u, u.c.id == j.c.user_id)
            .where(j.c.status == "running")
            .order_by(j.c.started_at)
        ).all()
        bal = tb.credit_balances
        users = conn.execute(
            sa.select(
                u.c.id,
                u.c.email,
                u.c.is_admin,
                u.c.email_verified_at,
                u.c.created_at,
                sa.func.coalesce(bal.c.balance, 0).label("balance"),
            )
            .outerjoin(bal, bal.c.user_id == u.c.id)
            .order_by(u.c.created_at.desc())
            .limit(_USERS_SHOWN)
        ).all()
    now = utcnow()
    jobs = [
        {"id": r.id, "kind": r.kind, "stage": r.stage, "email": r.email,
         "age": None if r.heartbeat_at is None else int((now - r.heartbeat_at).total_seconds()),
         "stale": r.heartbeat_at is None or (now - r.heartbeat_at).total_seconds() > settings.heartbeat_stale_s}
        for r in running
    ]  # fmt: skip
    return render(
        request, "operators.html", nav="operators", health=_health(request), counts=counts,
        running=jobs, users=users,
    )  # fmt: skip


@router.post("/operators/grant")
def grant(
    request: Request,
    admin: AdminWebUser,
    email: Annotated[str, Form(max_length=320)],
    amount: Annotated[int, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    addr = normalize_email(email)
    db = get_db(request)
    try:
        with db.begin() as conn:
            user_id = conn.execute(sa.select(tb.users.c.id).where(tb.users.c.email == addr)).scalar()
            if user_id is None:
                flash(request, "ops.grant_unknown", "error", email=addr)
                return redirect(request, "/operators")
            if amount == 0:
                raise InputError("The amount must not be 0.")
            credits.grant(
                conn, user_id=user_id, amount=amount, kind="grant" if amount > 0 else "adjustment",
                note=note.strip() or f"granted by an operator ({admin.email})",
            )  # fmt: skip
            total = credits.balance(conn, user_id)
    except OctaviaError as exc:
        flash(request, "ops.grant_failed", "error", detail=exc.message)
        return redirect(request, "/operators")
    flash(request, "ops.granted", "success", email=addr, amount=amount, balance=total)
    return redirect(request, "/operators")
