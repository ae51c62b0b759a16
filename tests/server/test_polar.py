"""octavia.server.polar without HTTP: the order model mapping, clawback arithmetic, pack choice,
and that the fake Polar API's answers are as strict as the SDK (so the HTTP tests mean something)."""

from __future__ import annotations

import json

import pytest

from octavia.server import polar
from octavia.server.settings import ServerSettings
from tests.server.fake_polar import checkout_json
from tests.server.fixtures_billing import PRODUCT_LARGE, PRODUCT_SMALL, PRODUCTS, order_event


def test_fake_checkout_answer_has_every_required_key_the_sdk_demands() -> None:
    from polar.base import PolarDeserializationError, deserialize
    from polar.v2026_10.outputs import Checkout

    full = checkout_json(url="https://x/checkout/1")
    assert len(full) == 59
    assert deserialize(full, Checkout).url == "https://x/checkout/1"
    for key in full:
        partial = {k: v for k, v in full.items() if k != key}
        with pytest.raises(PolarDeserializationError):
            deserialize(partial, Checkout)


def test_order_facts_from_the_sdk_model_and_from_raw_json_agree() -> None:
    from polar.base import deserialize
    from polar.v2026_10.webhooks import WebhookOrderRefundedPayload

    raw = json.loads(
        order_event(
            "order.refunded",
            order_id="ord-1",
            user_id="usr_a",
            product_id=PRODUCT_LARGE,
            net_amount=2000,
            refunded_amount=500,
            metadata={"octavia_user_id": "usr_meta", "credits": 500},
        )
    )
    typed = deserialize(raw, WebhookOrderRefundedPayload)
    a = polar.OrderFacts.from_order(typed.data)
    b = polar.OrderFacts.from_json(raw["data"])
    assert a == b
    assert a == polar.OrderFacts(
        order_id="ord-1",
        billing_reason="purchase",
        product_id=PRODUCT_LARGE,
        external_customer_id="usr_a",
        metadata_user_id="usr_meta",
        net_amount=2000,
        refunded_amount=500,
    )


@pytest.mark.parametrize(
    "steps", [[1000], [1, 999, 1000], [333, 666, 1000], [10, 20, 30, 1000], [999, 1000], [400, 1200]]
)
def test_partial_refunds_add_up_to_exactly_the_credits_bought(steps: list[int]) -> None:
    credits_bought, net = 100, 1000
    taken, before = 0, 0
    for cumulative in steps:
        step = polar._clawback_target(credits_bought, net, cumulative) - polar._clawback_target(
            credits_bought, net, before
        )
        assert step >= 0
        taken += step
        before = cumulative
    assert taken == credits_bought  # every sequence here ends fully refunded
    assert polar._clawback_target(credits_bought, net, 999) == 99  # rounded down: the customer's favour
    assert polar._clawback_target(credits_bought, 0, 1) == 100  # a free order refunded: all back


def test_packs_are_chosen_by_product_id_or_by_size() -> None:
    s = ServerSettings(polar_products=PRODUCTS)
    assert polar.resolve_product(s, product_id=PRODUCT_SMALL, credits_wanted=None) == PRODUCT_SMALL
    assert polar.resolve_product(s, product_id=None, credits_wanted=500) == PRODUCT_LARGE
    with pytest.raises(polar.UnknownProduct) as exc:
        polar.resolve_product(s, product_id="nope", credits_wanted=None)
    assert exc.value.hint is not None and "100, 500" in exc.value.hint
    assert polar.packs(s) == [
        {"product_id": PRODUCT_SMALL, "credits": 100},
        {"product_id": PRODUCT_LARGE, "credits": 500},
    ]


def test_warm_up_leaves_webhook_parsing_fast() -> None:
    import time

    from polar.v2026_10.webhooks import validate_event

    from tests.server.fixtures_billing import STANDARD_SECRET, sign_headers

    polar.warm_up()
    body = order_event("order.paid", order_id="ord-warm", user_id="usr_w")
    start = time.perf_counter()
    assert validate_event(body, sign_headers(body), STANDARD_SECRET).type == "order.paid"
    assert time.perf_counter() - start < 0.5  # cold, the first parse takes ~3 s
