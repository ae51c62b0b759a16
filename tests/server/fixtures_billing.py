"""Billing fixtures: users with API keys made straight in the database, Polar webhook signing
(the Standard Webhooks package, the way Polar's server signs), order payloads built from the
SDK's Order model, a local fake Polar API, and a live app wired to both."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from octavia.server.db import Database, new_id, utcnow
from tests.server import fake_polar

#: Scheme (b), endpoints created since 2026-09-08: a whsec_ secret whose base64 part is the key.
STANDARD_SECRET = "whsec_" + base64.b64encode(b"octavia-test-webhook-key-32bytes").decode()
#: Scheme (a), older endpoints: the raw secret string is the key (Polar signs with b64(secret)).
LEGACY_SECRET = "polar_whs_LegacySecretForTests0123456789"
PRODUCT_SMALL = "11111111-1111-4111-8111-111111111111"
PRODUCT_LARGE = "22222222-2222-4222-8222-222222222222"
PRODUCTS = {PRODUCT_SMALL: 100, PRODUCT_LARGE: 500}


def sign_headers(
    body: bytes,
    *,
    secret: str = STANDARD_SECRET,
    scheme: str = "standard",
    msg_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """Headers exactly as Polar sends them (polar/webhook/tasks.py ``sign_webhook``)."""
    from standardwebhooks import Webhook

    key = secret if scheme == "standard" else base64.b64encode(secret.encode()).decode()
    msg_id = msg_id or f"msg_{uuid.uuid4()}"
    at = at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(key).sign(msg_id, at, body.decode()),
        "webhook-api-version": "2026-10",
        "content-type": "application/json",
        "user-agent": "polar.sh webhooks",
    }


def order_event(
    event_type: str,
    *,
    order_id: str,
    user_id: str | None,
    product_id: str = PRODUCT_SMALL,
    net_amount: int = 1000,
    refunded_amount: int = 0,
    billing_reason: str = "purchase",
    metadata: dict[str, Any] | None = None,
    **order_overrides: Any,
) -> bytes:
    """A webhook body for ``order.*`` with a complete Order (the SDK parses it)."""
    from polar.v2026_10.outputs import Order, OrderCustomer

    customer = fake_polar.blank_json(
        OrderCustomer,
        id=f"cus_{order_id[:8]}",
        external_id=user_id,
        email="buyer@example.com",
        organization_id="org_1",
        created_at="2026-11-25T12:00:00Z",
    )
    status = (
        "paid"
        if refunded_amount == 0
        else ("refunded" if refunded_amount >= net_amount else "partially_refunded")
    )
    fields: dict[str, Any] = dict(
        id=order_id,
        created_at="2026-11-25T12:00:00Z",
        status=status,
        paid=True,
        subtotal_amount=net_amount,
        net_amount=net_amount,
        total_amount=net_amount,
        refunded_amount=refunded_amount,
        refundable_amount=net_amount - refunded_amount,
        currency="usd",
        billing_reason=billing_reason,
        customer_id=customer["id"],
        customer=customer,
        product_id=product_id,
        metadata=metadata if metadata is not None else ({"octavia_user_id": user_id} if user_id else {}),
        description="Credit pack",
    )
    data = fake_polar.blank_json(Order, **{**fields, **order_overrides})
    event = {"type": event_type, "timestamp": "2026-11-25T12:00:01Z", "api_version": "2026-10", "data": data}
    return json.dumps(event).encode()


def make_user(db: Database, email: str | None = None) -> str:
    from octavia.server.tables import users

    uid = new_id("usr")
    with db.begin() as conn:
        conn.execute(
            users.insert().values(
                id=uid,
                email=email or f"bill-{uuid.uuid4().hex[:10]}@example.com",
                password_hash="!",  # cannot log in with a password; API key only
                email_verified_at=utcnow(),
                is_admin=False,
                created_at=utcnow(),
            )
        )
    return uid


def make_api_key(db: Database, user_id: str) -> str:
    from octavia.server.security import API_KEY_PREFIX, sha256_hex
    from octavia.server.tables import api_keys

    token = API_KEY_PREFIX + secrets.token_urlsafe(24)
    with db.begin() as conn:
        conn.execute(
            api_keys.insert().values(
                id=new_id("key"),
                user_id=user_id,
                name="billing tests",
                prefix=token[:12],
                key_hash=sha256_hex(token),
                created_at=utcnow(),
            )
        )
    return token


@dataclass
class BillingUser:
    id: str
    email: str
    client: httpx.Client


@dataclass
class BillingServer:
    """A live app with billing configured; ``post_webhook`` signs and sends over real HTTP."""

    live: Any  # tests.server.conftest.LiveServer
    db: Database
    polar: fake_polar.FakePolar

    def user(self) -> BillingUser:
        email = f"bill-{uuid.uuid4().hex[:10]}@example.com"
        uid = make_user(self.db, email)
        return BillingUser(uid, email, self.live.client(make_api_key(self.db, uid)))

    def post_webhook(self, body: bytes, headers: dict[str, str] | None = None, **sign: Any) -> httpx.Response:
        hdrs = headers if headers is not None else sign_headers(body, **sign)
        with httpx.Client(base_url=self.live.url, timeout=30) as c:
            return c.post("/v1/webhooks/polar", content=body, headers=hdrs)

    def balance(self, user_id: str) -> int:
        from octavia.server import credits

        with self.db.read() as conn:
            return credits.balance(conn, user_id)


@pytest.fixture
def polar_api() -> Iterator[fake_polar.FakePolar]:
    with fake_polar.running() as fake:
        yield fake


@pytest.fixture
def billing_server(
    server_factory: Callable[..., Any], polar_api: fake_polar.FakePolar
) -> Iterator[BillingServer]:
    live = server_factory(
        # model_copy(update=...) does not validate: secrets must already be SecretStr.
        polar_access_token=SecretStr("polar_oat_test_token"),
        polar_environment="sandbox",
        polar_base_url=polar_api.url,
        polar_webhook_secret=SecretStr(STANDARD_SECRET),
        polar_products=PRODUCTS,
        polar_success_url="https://octavia.example/billing/done?checkout={CHECKOUT_ID}",
    )
    db = Database(live.settings.db_url)
    yield BillingServer(live, db, polar_api)
    db.dispose()


def stale(seconds: int) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
