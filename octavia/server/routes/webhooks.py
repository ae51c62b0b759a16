"""``POST /v1/webhooks/polar``: Standard Webhooks signature check, then exactly-once processing.

* The raw body is verified by the SDK (``polar.v2026_10.webhooks.validate_event``: HMAC over
  ``id.timestamp.body``, ±300 s, both of Polar's secret schemes). Missing headers → 400; bad
  signature or stale/future timestamp → 401; nothing is written either way.
* The ``webhook-id`` header is the event id (Polar reuses it on retries and redelivery). The
  ``webhook_events`` row is inserted in the same transaction as the ledger change, so an
  event takes effect once; a replay answers 200 ``duplicate`` without effect. Only an event
  that changed nothing (unknown user/product: ``processed_at`` NULL) is re-applied when
  redelivered, so an operator can fix the settings and redeliver from Polar's dashboard.
* Event types this SDK does not know → 202, recorded and ignored; known but unused types → 200.
* A ``webhook-id`` the table cannot hold (over 255 characters, NUL) → 400: it cannot serve as
  the idempotency key. A signed payload nested deeper than :data:`MAX_DEPTH` → 202, ignored.
  Otherwise text a database cannot store (NUL, lone surrogates) and NaN/Infinity are replaced
  in the stored copy, and an order whose facts are out of range (``net_amount`` 1e400 or
  10³⁰, ids with NUL) changes nothing (200 ``ignored``, logged): an error status would only
  make Polar retry the same payload for an hour.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from octavia.server import polar
from octavia.server.credits import insert_ignore
from octavia.server.db import Database, utcnow
from octavia.server.deps import DbDep, SettingsDep
from octavia.server.problems import ApiError, responses
from octavia.server.settings import ServerSettings
from octavia.server.tables import webhook_events
from octavia.server.validation import storable, storable_text, unstorable

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
log = logging.getLogger("octavia.server.billing")
ORDER_EVENTS = ("order.paid", "order.refunded")
#: Polar's payloads nest about ten levels; far deeper is not an event we can use.
MAX_DEPTH = 64
MAX_ID_CHARS = 255  # webhook_events.id


def _verify(body: bytes, headers: dict[str, str], secret: str) -> tuple[str, Any]:
    """(event type, typed payload or None); raises ApiError for anything not signed by Polar."""
    from polar.v2026_10 import webhooks as pw

    try:
        payload = pw.validate_event(body, headers, secret)
    except RecursionError:
        # The SDK parses only after the signature checked out; the route says what is wrong.
        return "", None
    except pw.PolarWebhookVerificationError as e:
        log.warning("polar webhook rejected: %s", e.message)
        status = 400 if "Missing" in e.message else 401
        raise ApiError(status, "invalid_signature", f"Webhook rejected: {e.message}.") from None
    except pw.PolarWebhookUnknownTypeError as e:
        return e.event_type or "", None
    except pw.PolarWebhookError as e:
        # Signed by Polar, but the SDK could not load it (a new enum value, a missing field).
        log.warning("polar webhook: verified payload the SDK cannot load: %s", e.__cause__ or e)
        return "", None
    return payload.type, payload


def _parse(body: bytes) -> dict[str, Any] | None:
    """The payload as a JSON object; None if it nests deeper than MAX_DEPTH (Python's own
    parser gives up near 1000 levels with RecursionError, which is no ValueError)."""
    try:
        raw = json.loads(body)
    except RecursionError:
        return None
    except ValueError:
        raise ApiError(400, "invalid_payload", "The webhook body is not JSON.") from None
    if not isinstance(raw, dict):
        raise ApiError(400, "invalid_payload", "The webhook body is not a JSON object.")
    if any(e["type"] == "too_deep" for e in unstorable(raw, max_depth=MAX_DEPTH)):
        return None
    return raw


def _order_facts(event_type: str, payload: Any, raw: dict[str, Any]) -> polar.OrderFacts | None:
    if event_type not in ORDER_EVENTS:
        return None
    try:
        if payload is not None:
            return polar.OrderFacts.from_order(payload.data)
        return polar.OrderFacts.from_json(raw["data"])
    except (KeyError, TypeError, ValueError, OverflowError) as e:
        log.error("polar webhook %s: order payload unusable: %r", event_type, e)
        return None


def _process(
    db: Database, settings: ServerSettings, event_id: str, event_type: str, raw: dict[str, Any], order: Any
) -> str:
    with db.begin() as conn:
        fresh = insert_ignore(
            conn,
            webhook_events,
            {
                "id": event_id,
                "source": "polar",
                "type": event_type[:100],
                "received_at": utcnow(),
                "processed_at": None,
                "payload": raw,
            },
            ("id",),
        )
        if not fresh:
            done = conn.execute(
                sa.select(webhook_events.c.processed_at).where(webhook_events.c.id == event_id)
            ).scalar_one()
            if done is not None or order is None:
                return "duplicate"
        if order is None:
            return "ignored"
        why_not = polar.apply_order(conn, settings, event_type, order)
        if why_not is not None:
            log.warning("polar webhook %s (%s) not applied: %s", event_id, event_type, why_not)
            return "ignored"
        conn.execute(
            sa.update(webhook_events).where(webhook_events.c.id == event_id).values(processed_at=utcnow())
        )
        return "processed"


@router.post(
    "/polar",
    responses={
        200: {"description": "Processed, a duplicate, or ignored (see `status`)."},
        202: {"description": "An event type this server does not know, or nested too deep: ignored."},
        **responses(400, 401, 413, 503),
    },
)
async def polar_webhook(request: Request, db: DbDep, settings: SettingsDep) -> JSONResponse:
    if settings.polar_webhook_secret is None:
        raise ApiError(503, "billing_not_configured", "Polar webhooks are not configured on this server.")
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    event_type, payload = _verify(body, headers, settings.polar_webhook_secret.get_secret_value())
    event_id = headers["webhook-id"]
    if len(event_id) > MAX_ID_CHARS or storable_text(event_id) != event_id:
        log.warning("polar webhook rejected: unusable webhook-id %r", event_id[:80])
        raise ApiError(
            400, "invalid_webhook_id", f"The webhook-id must be at most {MAX_ID_CHARS} characters of text."
        )
    raw = _parse(body)
    if raw is None:
        log.warning("polar webhook %s ignored: nested deeper than %d levels", event_id, MAX_DEPTH)
        return JSONResponse({"status": "ignored"}, status_code=202)
    raw = storable(raw)  # the facts used are checked by OrderFacts; the copy must only be storable
    event_type = storable_text(event_type or str(raw.get("type") or "unknown"))
    order = _order_facts(event_type, payload, raw)
    status = await run_in_threadpool(_process, db, settings, event_id, event_type, raw, order)
    known = payload is not None or event_type in ORDER_EVENTS
    return JSONResponse({"status": status}, status_code=200 if known or status == "duplicate" else 202)
