"""A refund's clawback cannot be escaped: what it cannot take is owed (SQLite + PostgreSQL).

The issue's scenario over real HTTP and signed Polar webhooks: bought 1000, 300 reserved by a
queued job, full refund, cancel → balance 0, no credits kept, the debt settled by the cancel.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from octavia.server import credits
from octavia.server.db import Database
from tests.server.conftest import upload_file
from tests.server.fixtures_billing import (
    PRODUCT_SMALL,
    PRODUCTS,
    STANDARD_SECRET,
    make_api_key,
    make_user,
    order_event,
    sign_headers,
)

PRODUCT_1000 = "33333333-3333-4333-8333-333333333333"


@dataclass
class Shop:
    url: str
    db: Database
    uid: str
    client: httpx.Client
    upload_id: str

    def webhook(self, body: bytes) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as c:
            r = c.post("/v1/webhooks/polar", content=body, headers=sign_headers(body))
        assert r.status_code == 200, r.text

    def buy(self, product: str = PRODUCT_1000, net: int = 1000) -> str:
        oid = f"ord_{uuid.uuid4().hex[:12]}"
        self.webhook(
            order_event("order.paid", order_id=oid, user_id=self.uid, product_id=product, net_amount=net)
        )
        return oid

    def refund(self, oid: str, product: str = PRODUCT_1000, net: int = 1000) -> None:
        body = order_event(
            "order.refunded", order_id=oid, user_id=self.uid, product_id=product, net_amount=net,
            refunded_amount=net,
        )  # fmt: skip
        self.webhook(body)

    def job(self) -> httpx.Response:
        return self.client.post("/v1/jobs", json={"kind": "subtitle", "upload_id": self.upload_id})

    def billing(self) -> dict[str, Any]:
        r = self.client.get("/v1/billing")
        assert r.status_code == 200
        return dict(r.json())


@pytest.fixture
def shop(server_factory: Any, media_files: Any) -> Iterator[Shop]:
    live = server_factory(
        queue="sqlite",  # jobs stay queued: no worker runs them
        prices_per_minute={"subtitle": 300},  # one 1-second upload reserves 300 credits
        polar_webhook_secret=SecretStr(STANDARD_SECRET),
        polar_products={**PRODUCTS, PRODUCT_1000: 1000},
    )
    db = live.app.state.db
    uid = make_user(db)
    client = live.client(make_api_key(db, uid))
    up = upload_file(client, media_files.wav, "audio/wav")
    assert up["status"] == "ready"
    yield Shop(live.url, db, uid, client, up["id"])


def test_cancel_after_full_refund_pays_the_debt_and_keeps_nothing(shop: Shop) -> None:
    oid = shop.buy()
    r = shop.job()
    assert r.status_code == 201 and r.json()["cost_estimate"] == 300
    job_id = r.json()["id"]
    assert shop.billing()["balance"] == 700
    shop.refund(oid)
    owed = shop.billing()
    assert (owed["balance"], owed["debt"]) == (0, 300)
    refused = shop.job()
    assert refused.status_code == 402
    problem = refused.json()
    assert problem["code"] == "credits_owed" and problem["debt"] == 300 and "300" in problem["detail"]
    r = shop.client.post(f"/v1/jobs/{job_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    after = shop.billing()
    assert (after["balance"], after["debt"]) == (0, 0)  # before: +278 kept
    kinds = [(e["kind"], e["amount"], e["debt"]) for e in reversed(after["entries"])]
    assert kinds == [
        ("purchase", 1000, 0), ("reserve", -300, 0), ("clawback", -700, 0), ("debt", 0, 300),
        ("refund", 300, 0), ("debt_payment", -300, -300),
    ]  # fmt: skip
    assert shop.job().status_code == 402  # balance 0: a plain shortfall now, no debt
    assert shop.job().json()["code"] == "insufficient_credits"


def test_a_later_purchase_pays_the_debt_first(shop: Shop) -> None:
    oid = shop.buy()
    assert shop.job().status_code == 201
    shop.refund(oid)
    assert shop.billing()["debt"] == 300
    shop.buy(PRODUCT_SMALL, net=100)  # 100 credits: all of it goes to the debt
    state = shop.billing()
    assert (state["balance"], state["debt"]) == (0, 200)
    assert shop.job().json()["debt"] == 200
    shop.buy()  # 1000 more: 200 pay the rest, 800 are spendable
    state = shop.billing()
    assert (state["balance"], state["debt"]) == (800, 0)
    assert shop.job().status_code == 201


def test_debt_payments_are_idempotent_per_cause(shop: Shop) -> None:
    oid = shop.buy()
    assert shop.job().status_code == 201
    shop.refund(oid)
    with shop.db.begin() as conn:
        assert credits.grant(conn, user_id=shop.uid, amount=50, reference="promo-1")
        assert not credits.grant(conn, user_id=shop.uid, amount=50, reference="promo-1")
    with shop.db.read() as conn:
        assert (credits.balance(conn, shop.uid), credits.debt(conn, shop.uid)) == (0, 250)
