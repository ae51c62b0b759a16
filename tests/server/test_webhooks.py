"""POST /v1/webhooks/polar over real HTTP, signed the way Polar signs (Standard Webhooks)."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from octavia.server import credits
from octavia.server.tables import credit_ledger, polar_orders, webhook_events
from tests.server.fixtures_billing import (
    LEGACY_SECRET,
    PRODUCT_LARGE,
    PRODUCT_SMALL,
    PRODUCTS,
    BillingServer,
    order_event,
    sign_headers,
    stale,
)


def _order() -> str:
    return str(uuid.uuid4())


def _event_row(bs: BillingServer, event_id: str) -> Any:
    with bs.db.read() as conn:
        return conn.execute(sa.select(webhook_events).where(webhook_events.c.id == event_id)).first()


def _ledger(bs: BillingServer, uid: str) -> list[tuple[str, int, str | None]]:
    with bs.db.read() as conn:
        rows = conn.execute(
            sa.select(credit_ledger.c.kind, credit_ledger.c.amount, credit_ledger.c.reference)
            .where(credit_ledger.c.user_id == uid)
            .order_by(credit_ledger.c.id)
        ).all()
    return [(r.kind, r.amount, r.reference) for r in rows]


def test_paid_order_grants_its_credits_once_per_event_and_per_order(billing_server: BillingServer) -> None:
    bs = billing_server
    u = bs.user()
    oid = _order()
    body = order_event("order.paid", order_id=oid, user_id=u.id, product_id=PRODUCT_LARGE)
    headers = sign_headers(body, msg_id="msg_first")
    r = bs.post_webhook(body, headers)
    assert r.status_code == 200 and r.json() == {"status": "processed"}
    assert bs.balance(u.id) == 500
    row = _event_row(bs, "msg_first")
    assert row.type == "order.paid" and row.processed_at is not None and row.payload["data"]["id"] == oid

    # A replay (same webhook-id, re-signed with a fresh timestamp as Polar's retries are): no effect.
    again = bs.post_webhook(body, sign_headers(body, msg_id="msg_first"))
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    # A different event about the same order (e.g. a manual resend as a new event): still one grant.
    other = bs.post_webhook(body, sign_headers(body, msg_id="msg_second"))
    assert other.status_code == 200
    assert bs.balance(u.id) == 500
    assert _ledger(bs, u.id) == [("purchase", 500, oid)]
    with bs.db.read() as conn:
        order = conn.execute(sa.select(polar_orders).where(polar_orders.c.order_id == oid)).one()
    assert (order.user_id, order.product_id, order.credits, order.net_amount) == (
        u.id,
        PRODUCT_LARGE,
        500,
        1000,
    )


def test_legacy_secret_scheme_is_accepted(server_factory: Any, billing_server: BillingServer) -> None:
    live = server_factory(
        billing_server.live.settings, polar_webhook_secret=SecretStr(LEGACY_SECRET), polar_products=PRODUCTS
    )
    bs = BillingServer(live, billing_server.db, billing_server.polar)
    u = bs.user()
    body = order_event("order.paid", order_id=_order(), user_id=u.id)
    assert bs.post_webhook(body, secret=LEGACY_SECRET, scheme="legacy").status_code == 200
    # The same secret used the Standard Webhooks way is a different key: rejected.
    assert bs.post_webhook(body, secret="whsec_" + "A" * 40).status_code == 401
    assert bs.balance(u.id) == 100


@pytest.mark.parametrize(
    "case",
    ["unsigned", "no_signature", "stale", "future", "wrong_secret", "tampered", "reserialised", "bad_sig"],
)
def test_forged_or_stale_webhooks_are_rejected_without_effect(
    billing_server: BillingServer, case: str
) -> None:
    bs = billing_server
    u = bs.user()
    body = order_event("order.paid", order_id=_order(), user_id=u.id)
    msg_id = f"msg_{case}_{uuid.uuid4().hex[:6]}"
    headers = sign_headers(body, msg_id=msg_id)
    sent = body
    if case == "unsigned":
        headers = {"content-type": "application/json"}
    elif case == "no_signature":
        del headers["webhook-signature"]
    elif case == "stale":
        headers = sign_headers(body, msg_id=msg_id, at=stale(600))
    elif case == "future":
        headers = sign_headers(body, msg_id=msg_id, at=datetime.now(UTC) + timedelta(minutes=10))
    elif case == "wrong_secret":
        headers = sign_headers(body, msg_id=msg_id, secret="whsec_" + "QUJD" * 10)
    elif case == "tampered":
        sent = body.replace(b'"net_amount": 1000', b'"net_amount": 1001')
        assert sent != body
    elif case == "reserialised":
        sent = body.replace(b", ", b",")
    elif case == "bad_sig":
        headers["webhook-signature"] = "v1,AAAA" + headers["webhook-signature"][7:]
    r = bs.post_webhook(sent, headers)
    assert r.status_code == (400 if case in ("unsigned", "no_signature") else 401), r.text
    assert r.json()["code"] == "invalid_signature"
    assert bs.balance(u.id) == 0
    assert _event_row(bs, msg_id) is None


def test_timestamp_inside_tolerance_is_accepted(billing_server: BillingServer) -> None:
    u = billing_server.user()
    body = order_event("order.paid", order_id=_order(), user_id=u.id)
    assert billing_server.post_webhook(body, at=stale(240)).status_code == 200
    assert billing_server.balance(u.id) == 100


def test_refund_claws_back_by_cumulative_refunded_amount(billing_server: BillingServer) -> None:
    bs = billing_server
    u = bs.user()
    oid = _order()
    assert bs.post_webhook(order_event("order.paid", order_id=oid, user_id=u.id)).status_code == 200
    partial = order_event("order.refunded", order_id=oid, user_id=u.id, refunded_amount=333)
    assert bs.post_webhook(partial).json() == {"status": "processed"}
    assert bs.balance(u.id) == 67  # floor(100 × 333/1000) = 33 taken
    # An older, smaller cumulative amount arriving late (a retry) takes nothing more.
    assert bs.post_webhook(partial).status_code == 200
    assert bs.balance(u.id) == 67
    full = order_event("order.refunded", order_id=oid, user_id=u.id, refunded_amount=1000)
    assert bs.post_webhook(full).status_code == 200
    assert bs.balance(u.id) == 0
    assert bs.post_webhook(partial).status_code == 200  # stale partial after the full one
    assert bs.balance(u.id) == 0
    assert [k for k, _, _ in _ledger(bs, u.id)] == ["purchase", "clawback", "clawback"]


def test_refund_before_paid_ends_in_the_right_balance(billing_server: BillingServer) -> None:
    bs = billing_server
    u = bs.user()
    oid = _order()
    half = order_event(
        "order.refunded", order_id=oid, user_id=u.id, product_id=PRODUCT_LARGE, refunded_amount=500
    )
    assert bs.post_webhook(half).status_code == 200
    assert bs.balance(u.id) == 250
    paid = order_event("order.paid", order_id=oid, user_id=u.id, product_id=PRODUCT_LARGE)
    assert bs.post_webhook(paid).status_code == 200
    assert bs.balance(u.id) == 250
    assert _ledger(bs, u.id) == [("purchase", 500, oid), ("clawback", -250, f"{oid}:refunded:500")]


def test_clawback_of_spent_credits_stops_at_zero_and_owes_the_rest(billing_server: BillingServer) -> None:
    bs = billing_server
    u = bs.user()
    oid = _order()
    bs.post_webhook(order_event("order.paid", order_id=oid, user_id=u.id))
    with bs.db.begin() as conn:
        credits.reserve_for_job(conn, user_id=u.id, job_id="job_spent_most", amount=80)
    r = bs.post_webhook(order_event("order.refunded", order_id=oid, user_id=u.id, refunded_amount=1000))
    assert r.status_code == 200
    assert bs.balance(u.id) == 0
    ledger = _ledger(bs, u.id)
    assert ledger[-2:] == [
        ("clawback", -20, f"{oid}:refunded:1000"),
        ("debt", 0, f"{oid}:refunded:1000"),
    ]
    billing = u.client.get("/v1/billing").json()
    assert billing["debt"] == 80 and billing["entries"][0]["debt"] == 80
    assert "80 credits already spent" in billing["entries"][0]["note"]


def test_unknown_and_unused_event_types_are_recorded_and_ignored(billing_server: BillingServer) -> None:
    bs = billing_server
    body = b'{"type": "payout.sent", "timestamp": "2026-11-25T12:00:00Z", "data": {"id": "x"}}'
    r = bs.post_webhook(body, msg_id="msg_unknown_type")
    assert r.status_code == 202 and r.json() == {"status": "ignored"}
    row = _event_row(bs, "msg_unknown_type")
    assert row.type == "payout.sent" and row.processed_at is None
    u = bs.user()
    created = order_event("order.created", order_id=_order(), user_id=u.id)
    assert bs.post_webhook(created).json() == {"status": "ignored"}
    sub = order_event("order.paid", order_id=_order(), user_id=u.id, billing_reason="subscription_cycle")
    assert bs.post_webhook(sub).status_code == 200
    assert bs.balance(u.id) == 0


def test_order_the_sdk_cannot_load_still_grants_from_the_verified_json(billing_server: BillingServer) -> None:
    u = billing_server.user()
    body = order_event("order.paid", order_id=_order(), user_id=u.id, status="a_status_from_the_future")
    assert b"a_status_from_the_future" in body
    assert billing_server.post_webhook(body).json() == {"status": "processed"}
    assert billing_server.balance(u.id) == 100


def test_unmatched_orders_wait_for_an_operator_then_apply_on_redelivery(
    server_factory: Any, billing_server: BillingServer
) -> None:
    bs = billing_server
    u = bs.user()
    stranger = order_event("order.paid", order_id=_order(), user_id="usr_does_not_exist")
    r = bs.post_webhook(stranger, msg_id="msg_stranger")
    assert r.status_code == 200 and r.json() == {"status": "ignored"}
    assert _event_row(bs, "msg_stranger").processed_at is None

    new_product = "33333333-3333-4333-8333-333333333333"
    body = order_event("order.paid", order_id=_order(), user_id=None, product_id=new_product,
                       metadata={"octavia_user_id": u.id})  # fmt: skip
    assert bs.post_webhook(body, msg_id="msg_new_product").json() == {"status": "ignored"}
    assert bs.balance(u.id) == 0
    # The operator adds the product; Polar's "redeliver" resends the same webhook-id.
    live = server_factory(bs.live.settings, polar_products={**PRODUCTS, new_product: 42})
    fixed = BillingServer(live, bs.db, bs.polar)
    assert fixed.post_webhook(body, msg_id="msg_new_product").json() == {"status": "processed"}
    assert fixed.post_webhook(body, msg_id="msg_new_product").json() == {"status": "duplicate"}
    assert bs.balance(u.id) == 42  # matched through the checkout metadata (no external id)


def test_missing_secret_means_503(server_factory: Any, billing_server: BillingServer) -> None:
    live = server_factory(billing_server.live.settings, polar_webhook_secret=None)
    body = order_event("order.paid", order_id=_order(), user_id="usr_x")
    r = BillingServer(live, billing_server.db, billing_server.polar).post_webhook(body)
    assert r.status_code == 503


def test_concurrent_duplicate_deliveries_grant_once(billing_server: BillingServer) -> None:
    bs = billing_server
    u = bs.user()
    oid = _order()
    body = order_event("order.paid", order_id=oid, user_id=u.id, product_id=PRODUCT_SMALL)
    ids = ["msg_same"] * 4 + [f"msg_other_{i}" for i in range(4)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(ids))

    def send(msg_id: str) -> None:
        headers = sign_headers(body, msg_id=f"{msg_id}_{oid}")
        barrier.wait()
        statuses.append(bs.post_webhook(body, headers).status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert statuses == [200] * len(ids)
    assert bs.balance(u.id) == 100
    assert _ledger(bs, u.id) == [("purchase", 100, oid)]
