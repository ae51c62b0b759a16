"""GET /v1/billing and POST /v1/billing/checkout over real HTTP; Polar is a local fake server."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from octavia.server import credits
from tests.server.fixtures_billing import PRODUCT_LARGE, PRODUCT_SMALL, BillingServer


def test_billing_shows_only_the_callers_balance_and_history(billing_server: BillingServer) -> None:
    bs = billing_server
    alice, bob = bs.user(), bs.user()
    with bs.db.begin() as conn:
        for i in range(5):
            credits.grant(conn, user_id=alice.id, amount=10 + i, kind="grant", reference=None, note=f"a{i}")
        credits.reserve_for_job(conn, user_id=alice.id, job_id="job_alice_1", amount=7)
        credits.grant(conn, user_id=bob.id, amount=3, kind="grant", reference=None, note="bob")
    r = alice.client.get("/v1/billing", params={"limit": 4})
    assert r.status_code == 200
    page = r.json()
    assert page["balance"] == 10 + 11 + 12 + 13 + 14 - 7
    assert [e["kind"] for e in page["entries"]] == ["reserve", "grant", "grant", "grant"]
    assert page["entries"][0] == {**page["entries"][0], "amount": -7, "job_id": "job_alice_1"}
    assert {"product_id": PRODUCT_LARGE, "credits": 500} in page["packs"]
    assert page["prices_per_minute"] == bs.live.settings.prices_per_minute
    rest = alice.client.get("/v1/billing", params={"limit": 4, "before": page["next_before"]}).json()
    assert [e["note"] for e in rest["entries"]] == ["a1", "a0"]
    assert rest["next_before"] is None
    ids = {e["id"] for e in page["entries"] + rest["entries"]}
    assert len(ids) == 6
    bob_view = bob.client.get("/v1/billing").json()
    assert bob_view["balance"] == 3 and [e["note"] for e in bob_view["entries"]] == ["bob"]
    assert bs.live.client().get("/v1/billing").status_code == 401


def test_checkout_goes_through_the_polar_sdk_to_the_api(billing_server: BillingServer) -> None:
    bs = billing_server
    u = bs.user()
    r = u.client.post("/v1/billing/checkout", json={"product_id": PRODUCT_LARGE})
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["url"].startswith("https://sandbox.polar.sh/checkout/") and out["id"]
    [req] = bs.polar.requests
    assert (req.method, req.path) == ("POST", "/v1/checkouts/")
    assert req.headers["authorization"] == "Bearer polar_oat_test_token"
    assert req.headers["polar-version"] == "2026-10"
    assert req.body["products"] == [PRODUCT_LARGE]
    assert req.body["external_customer_id"] == u.id
    assert req.body["customer_email"] == u.email
    assert req.body["metadata"] == {"octavia_user_id": u.id, "credits": 500}
    assert req.body["success_url"] == "https://octavia.example/billing/done?checkout={CHECKOUT_ID}"

    # A pack can also be chosen by its size.
    assert u.client.post("/v1/billing/checkout", json={"credits": 100}).status_code == 201
    assert bs.polar.requests[-1].body["products"] == [PRODUCT_SMALL]


@pytest.mark.parametrize(
    "body",
    [{"product_id": "not-a-pack"}, {"credits": 7}, {}, {"product_id": PRODUCT_SMALL, "credits": 100}],
)
def test_checkout_rejects_unknown_or_ambiguous_packs(
    billing_server: BillingServer, body: dict[str, Any]
) -> None:
    u = billing_server.user()
    r = u.client.post("/v1/billing/checkout", json=body)
    assert r.status_code == 422
    assert billing_server.polar.requests == []


@pytest.mark.parametrize(
    ("polar_status", "status", "code", "words"),
    [
        (500, 502, "payment_provider_error", "could not be reached or failed"),
        (503, 502, "payment_provider_error", "could not be reached or failed"),
        (401, 502, "payment_provider_error", "credentials"),
        (422, 502, "payment_provider_error", "refused the checkout (422)"),
        (404, 502, "payment_provider_error", "refused the checkout (404)"),
        (429, 503, "payment_provider_busy", "busy"),
    ],
)
def test_polar_errors_map_to_clear_http_errors(
    billing_server: BillingServer, polar_status: int, status: int, code: str, words: str
) -> None:
    bs = billing_server
    bs.polar.fail_status, bs.polar.retry_after = polar_status, 17
    r = bs.user().client.post("/v1/billing/checkout", json={"product_id": PRODUCT_SMALL})
    assert r.status_code == status, r.text
    problem = r.json()
    assert problem["code"] == code and words in problem["detail"]
    if polar_status == 429:
        assert "17 seconds" in problem["hint"]
    assert len(bs.polar.requests) == 1


def test_unreachable_polar_is_a_502(server_factory: Any, billing_server: BillingServer) -> None:
    with socket.socket() as s:  # a port nobody listens on once closed
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    live = server_factory(billing_server.live.settings, polar_base_url=dead)
    u = BillingServer(live, billing_server.db, billing_server.polar).user()
    r = u.client.post("/v1/billing/checkout", json={"product_id": PRODUCT_SMALL})
    assert r.status_code == 502 and r.json()["code"] == "payment_provider_error"


def test_checkout_without_polar_configured_is_a_503(
    server_factory: Any, billing_server: BillingServer
) -> None:
    live = server_factory(billing_server.live.settings, polar_access_token=None)
    u = BillingServer(live, billing_server.db, billing_server.polar).user()
    r = u.client.post("/v1/billing/checkout", json={"product_id": PRODUCT_SMALL})
    assert r.status_code == 503 and r.json()["code"] == "billing_not_configured"
    assert billing_server.polar.requests == []
