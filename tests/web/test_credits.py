"""Credits in a real browser: balance and ledger, buying a pack through a checkout on the local
Polar API server, and the return page that waits for the signed webhook; operators."""

from __future__ import annotations

import uuid

from tests.server.fixtures_billing import PRODUCT_SMALL, order_event
from tests.web.conftest import UI, WebClient


def test_buy_credits_balance_changes_after_the_webhook(ui: UI) -> None:
    page, app = ui.page, ui.app
    email, _ = app.signup()
    user_id = app.user_id(email)
    ui.login(email)
    page.get_by_role("link", name="Credits").click()
    assert page.locator("#balance").inner_text() == "30 credits"  # the welcome credits
    assert "Granted" in page.locator("#ledger").inner_text()
    # The checkout host is the one place besides this origin a form may lead to.
    csp = page.request.get(app.url + "/credits").headers["content-security-policy"]
    assert "form-action 'self' https://sandbox.polar.sh" in csp
    ui.shot("credits")

    # The browser leaves for Polar's checkout page; a stand-in answers for that host.
    page.route("https://sandbox.polar.sh/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>Polar checkout</title><p>Pay here</p>"))  # fmt: skip
    before = len(app.polar.requests)
    page.get_by_role("button", name="Buy 100 credits").click()
    page.wait_for_url("https://sandbox.polar.sh/checkout/**")
    [sent] = app.polar.requests[before:]
    assert sent.path == "/v1/checkouts/" and sent.body["products"] == [PRODUCT_SMALL]
    assert sent.body["external_customer_id"] == user_id
    assert sent.body["success_url"] == app.url + "/credits/return?checkout={CHECKOUT_ID}"

    ui.goto("/credits/return?checkout=" + str(uuid.uuid4()))
    state = page.locator("#checkout-state")
    assert state.inner_text() == "Waiting for payment confirmation…"
    ui.shot("checkout-waiting")
    r = app.post_webhook(order_event("order.paid", order_id=str(uuid.uuid4()), user_id=user_id))
    assert r.status_code in (200, 202, 204), r.text
    expected = "Payment confirmed: 100 credits were added. Your balance is 130 credits."
    page.wait_for_function(
        "t => document.getElementById('checkout-state').textContent === t", arg=expected, timeout=20_000
    )
    page.wait_for_function("t => document.getElementById('live').textContent === t", arg=expected)
    page.get_by_role("link", name="Back to credits").click()
    assert page.locator("#balance").inner_text() == "130 credits"
    assert "Purchase" in page.locator("#ledger").inner_text()


def test_operator_grants_credits_and_sees_health(ui: UI, web_client) -> None:  # type: ignore[no-untyped-def]
    page, app = ui.page, ui.app
    admin, _ = app.signup()
    app.make_admin(admin)
    someone, _ = app.signup()
    plain: WebClient = web_client().login(someone)
    r = plain.http.get("/operators")
    assert r.status_code == 403  # not an operator

    ui.login(admin)
    page.get_by_role("link", name="Operators").click()
    assert "OK" in page.locator("#health-heading + dl").inner_text()
    assert someone in page.locator("#users").inner_text()
    page.get_by_label("User email address").fill(someone)
    page.get_by_label("Credits", exact=True).fill("25")
    page.get_by_label("Note (shown in the user's history)").fill("beta tester")
    page.get_by_role("button", name="Grant").click()
    assert f"{someone} got 25 credits and now has 55." in page.locator("main").inner_text()
    ui.shot("operators")
    credits_page = plain.http.get("/credits").text
    assert "55 credits" in credits_page and "beta tester" in credits_page
