"""Polar.sh: checkout sessions out, paid and refunded orders in (polar-sdk 1.x, API 2026-10).

Money → credits rules:

* ``order.paid`` with ``billing_reason == "purchase"`` grants the product's credits (from
  ``settings.polar_products``) once per order: the ledger reference is the order id, so two
  different events about one order (paid, then a refund that arrives first, a redelivery...)
  grant once.
* ``order.refunded`` carries the *cumulative* ``refunded_amount``. The clawback target is
  ``floor(credits × refunded / net_amount)`` (everything on a full refund); each event takes
  the difference between the target for the new cumulative amount and the one already
  stored in ``polar_orders``, so partial refunds add up and replays or out-of-order older
  events take nothing.
* A refund can arrive before the order's ``order.paid``; a refunded order was paid, so the
  purchase is granted first and then clawed back (the later ``order.paid`` is a no-op).
* The balance never goes negative: when the user has already spent (or reserved) the
  credits, the clawback takes what is left (down to 0) and the rest is recorded as a
  ``debt`` entry (logged as a warning too). Later purchases, refunds and cancellations pay
  the debt first, and a user in debt cannot create jobs (see :mod:`octavia.server.credits`).
* Orders for an unknown user or an unconfigured product change nothing; the event row stays
  with ``processed_at`` NULL and a warning is logged. Redelivering the event from Polar's
  dashboard after fixing the settings applies it then.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from octavia.errors import InputError, OctaviaError
from octavia.server import credits
from octavia.server.db import utcnow
from octavia.server.tables import polar_orders, users
from octavia.server.validation import storable_text

if TYPE_CHECKING:
    from polar.v2026_10.outputs import Order
    from sqlalchemy.engine import Connection

    from octavia.server.settings import ServerSettings

log = logging.getLogger("octavia.server.billing")

#: Our user id travels as ``external_customer_id`` and, as a fallback, in this metadata key.
USER_METADATA_KEY = "octavia_user_id"
CHECKOUT_TIMEOUT_S = 10.0
#: polar_orders amounts are INTEGER columns (cents): 2³¹−1 is over 21 million dollars.
MAX_AMOUNT = 2**31 - 1


class BillingNotConfigured(OctaviaError):
    code = "billing_not_configured"
    http_status = 503


class UnknownProduct(InputError):
    code = "unknown_product"


class PaymentProviderError(OctaviaError):
    """Polar failed or refused our request; the client cannot fix it by changing its request."""

    code = "payment_provider_error"
    http_status = 502

    def __init__(self, message: str, hint: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


class PaymentProviderBusy(PaymentProviderError):
    code = "payment_provider_busy"
    http_status = 503


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    id: str
    url: str


def warm_up() -> None:
    """Build the SDK's webhook loaders now (about 3 s of CPU, once per process).

    Otherwise the first webhook after a start pays it, inside Polar's 10 s delivery timeout.
    Meant for the app's startup (lifespan), run in a thread.
    """
    from polar.base import PolarDeserializationError, deserialize
    from polar.v2026_10.webhooks import WebhookPayload

    with contextlib.suppress(PolarDeserializationError):  # expected: only the compiled loader is wanted
        deserialize({}, WebhookPayload)


def packs(settings: ServerSettings) -> list[dict[str, Any]]:
    return [{"product_id": pid, "credits": n} for pid, n in sorted(settings.polar_products.items())]


def resolve_product(settings: ServerSettings, *, product_id: str | None, credits_wanted: int | None) -> str:
    """The product id for a checkout request given a product id or a pack size in credits."""
    if product_id is not None:
        if product_id in settings.polar_products:
            return product_id
    elif credits_wanted is not None:
        for pid, n in settings.polar_products.items():
            if n == credits_wanted:
                return pid
    sizes = ", ".join(str(n) for n in sorted(settings.polar_products.values())) or "none configured"
    raise UnknownProduct(
        "No such credit pack.", hint=f"Available packs (credits): {sizes}; see GET /v1/billing."
    )


def create_checkout(
    settings: ServerSettings, *, user_id: str, email: str, product_id: str
) -> CheckoutSession:
    """Open a Polar checkout for ``product_id`` on behalf of ``user_id``; blocking (one HTTP call)."""
    from polar import base as polar_base
    from polar.v2026_10 import Polar

    if settings.polar_access_token is None:
        raise BillingNotConfigured(
            "Buying credits is not enabled on this server.",
            hint="Operator: set OCTAVIA_POLAR_ACCESS_TOKEN and OCTAVIA_POLAR_PRODUCTS.",
        )
    token = settings.polar_access_token.get_secret_value()
    request: dict[str, Any] = {
        "products": [product_id],
        "external_customer_id": user_id,
        "customer_email": email,
        "metadata": {USER_METADATA_KEY: user_id, "credits": settings.polar_products[product_id]},
    }
    if settings.polar_success_url:
        request["success_url"] = settings.polar_success_url
    try:
        with Polar(
            token,
            environment=settings.polar_environment,
            base_url=settings.polar_base_url,
            timeout=CHECKOUT_TIMEOUT_S,
        ) as client:
            checkout = client.checkouts.create(**request)
    except polar_base.PolarRateLimitError as e:
        log.warning("polar: checkout rate limited (retry after %s s)", e.retry_after)
        raise PaymentProviderBusy(
            "The payment provider is busy.",
            hint=f"Try again in {e.retry_after or 60} seconds.",
            retry_after=e.retry_after,
        ) from e
    except polar_base.PolarClientError as e:
        log.error("polar: checkout refused with %s: %s", e.status_code, e.error)
        if e.status_code in (401, 403):
            msg = "The payment provider rejected this server's credentials."
            hint = "Operator: check OCTAVIA_POLAR_ACCESS_TOKEN and OCTAVIA_POLAR_ENVIRONMENT (tokens differ)."
        else:
            msg = f"The payment provider refused the checkout ({e.status_code})."
            hint = "Operator: check that OCTAVIA_POLAR_PRODUCTS lists existing product ids."
        raise PaymentProviderError(msg, hint=hint) from e
    except (polar_base.PolarServerError, polar_base.PolarNetworkError) as e:
        log.error("polar: checkout failed: %s", e)
        raise PaymentProviderError(
            "The payment provider could not be reached or failed.", hint="Try again in a minute."
        ) from e
    except polar_base.PolarDeserializationError as e:
        log.error("polar: unexpected checkout response: %s", e)
        raise PaymentProviderError("The payment provider sent an unexpected answer.") from e
    return CheckoutSession(id=checkout.id, url=checkout.url)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """The fields of a Polar Order that billing uses, from the typed model or the raw JSON."""

    order_id: str
    billing_reason: str
    product_id: str | None
    external_customer_id: str | None
    metadata_user_id: str | None
    net_amount: int
    refunded_amount: int

    def __post_init__(self) -> None:
        # Signed by Polar is not the same as storable: the amounts go to INTEGER columns and
        # the ids into queries; out of range, the order is unusable (ValueError), not a 500.
        for name in ("net_amount", "refunded_amount"):
            amount = getattr(self, name)
            if not isinstance(amount, int) or not 0 <= amount <= MAX_AMOUNT:
                raise ValueError(f"{name} {amount!r} is outside 0..{MAX_AMOUNT}")
        texts = (self.order_id, self.billing_reason, self.product_id, self.external_customer_id,
                 self.metadata_user_id)  # fmt: skip
        for text in texts:
            if text is not None and (len(text) > 255 or storable_text(text) != text):
                raise ValueError(f"unusable id or reason {text[:80]!r}")

    @classmethod
    def from_order(cls, order: Order) -> OrderFacts:
        meta = order.metadata.get(USER_METADATA_KEY)
        return cls(
            order_id=order.id,
            billing_reason=order.billing_reason,
            product_id=order.product_id or (order.product.id if order.product else None),
            external_customer_id=order.customer.external_id,
            metadata_user_id=meta if isinstance(meta, str) else None,
            net_amount=order.net_amount,
            refunded_amount=order.refunded_amount,
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderFacts:
        """Fallback when the SDK cannot load a (signature-verified) order, e.g. a new enum value."""
        customer = data.get("customer") or {}
        product = data.get("product") or {}
        meta = (data.get("metadata") or {}).get(USER_METADATA_KEY)
        return cls(
            order_id=str(data["id"]),
            billing_reason=str(data.get("billing_reason")),
            product_id=data.get("product_id") or product.get("id"),
            external_customer_id=customer.get("external_id"),
            metadata_user_id=meta if isinstance(meta, str) else None,
            net_amount=int(data["net_amount"]),
            refunded_amount=int(data.get("refunded_amount") or 0),
        )


def _user_exists(conn: Connection, user_id: str | None) -> bool:
    if not user_id:
        return False
    return conn.execute(sa.select(users.c.id).where(users.c.id == user_id)).first() is not None


def _clawback_target(credits_bought: int, net_amount: int, refunded: int) -> int:
    if refunded <= 0:
        return 0
    if net_amount <= 0 or refunded >= net_amount:
        return credits_bought
    return credits_bought * refunded // net_amount


def apply_order(conn: Connection, settings: ServerSettings, event_type: str, order: OrderFacts) -> str | None:
    """Bring the ledger in line with a paid or refunded order. Returns None when applied, else why not."""
    if order.billing_reason != "purchase":
        return f"billing_reason {order.billing_reason!r} is not a one-time purchase"
    row = conn.execute(sa.select(polar_orders).where(polar_orders.c.order_id == order.order_id)).first()
    if row is not None:  # the first event fixed who and how much; settings may have changed since
        user_id, credits_bought = str(row.user_id), int(row.credits)
    else:
        candidates = (order.external_customer_id, order.metadata_user_id)
        user_id = next((u for u in candidates if u and _user_exists(conn, u)), "")
        if not user_id:
            log.warning("polar: order %s is for an unknown user %s", order.order_id, candidates)
            return f"no user matches {candidates}"
        if order.product_id is None or order.product_id not in settings.polar_products:
            log.warning("polar: order %s is for unconfigured product %s", order.order_id, order.product_id)
            return f"product {order.product_id!r} is not in polar_products"
        credits_bought = settings.polar_products[order.product_id]
    credits.lock_user(conn, user_id)
    now = utcnow()
    values = {
        "order_id": order.order_id,
        "user_id": user_id,
        "product_id": order.product_id or "",
        "credits": credits_bought,
        "net_amount": order.net_amount,
        "refunded_amount": 0,
        "created_at": now,
        "updated_at": now,
    }
    credits.insert_ignore(conn, polar_orders, values, ("order_id",))
    # Read back under the user lock: a concurrent event about this order may have stored it first.
    stored = conn.execute(sa.select(polar_orders).where(polar_orders.c.order_id == order.order_id)).one()
    credits_bought = int(stored.credits)
    # Both order.paid and order.refunded mean the order was paid.
    credits.grant(
        conn,
        user_id=user_id,
        amount=credits_bought,
        kind="purchase",
        reference=order.order_id,
        note=f"Polar order {order.order_id}",
    )
    if event_type == "order.refunded" and order.refunded_amount > stored.refunded_amount:
        _claw_back(conn, user_id, order, credits_bought, int(stored.net_amount), int(stored.refunded_amount))
    return None


def _claw_back(
    conn: Connection, user_id: str, order: OrderFacts, credits_bought: int, net_amount: int, old_refunded: int
) -> None:
    new = order.refunded_amount
    due = _clawback_target(credits_bought, net_amount, new) - _clawback_target(
        credits_bought, net_amount, old_refunded
    )
    conn.execute(
        sa.update(polar_orders)
        .where(polar_orders.c.order_id == order.order_id)
        .values(refunded_amount=new, updated_at=utcnow())
    )
    take = min(due, credits.balance(conn, user_id))
    reference = f"{order.order_id}:refunded:{new}"
    if take > 0:
        note = f"Refund of Polar order {order.order_id} (refunded {new}/{net_amount})"
        credits.grant(conn, user_id=user_id, amount=-take, kind="clawback", reference=reference, note=note)
    if due > take:
        log.warning(
            "polar: refund of order %s: user %s already spent %d of %d credits; recorded as debt",
            order.order_id,
            user_id,
            due - take,
            due,
        )
        note = f"Refund of Polar order {order.order_id}: {due - take} credits already spent, owed"
        credits.record_debt(conn, user_id=user_id, amount=due - take, reference=reference, note=note)
