"""``GET /v1/billing`` (balance, packs and ledger of the caller) and ``POST /v1/billing/checkout``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from octavia.server import credits, polar
from octavia.server.deps import CurrentUser, DbDep, SettingsDep
from octavia.server.problems import responses
from octavia.server.validation import BeforeId

router = APIRouter(prefix="/v1/billing", tags=["billing"])


@router.get("")
def billing_overview(
    user: CurrentUser,
    db: DbDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: BeforeId = None,
) -> dict[str, Any]:
    """The caller's balance, debt, purchasable packs and ledger entries (newest first, by ``before``)."""
    with db.read() as conn:
        total = credits.balance(conn, user.id)
        owed = credits.debt(conn, user.id)
        # One extra row tells whether another page exists without a COUNT.
        entries = credits.history(conn, user.id, limit=limit + 1, before=before)
    page = entries[:limit]
    return {
        "balance": total,
        # Owed after a refunded purchase had been spent; new jobs are refused while it is > 0.
        "debt": owed,
        "prices_per_minute": settings.prices_per_minute,
        "packs": polar.packs(settings),
        "entries": [e.to_dict() for e in page],
        "next_before": page[-1].id if len(entries) > limit else None,
    }


class CheckoutBody(BaseModel):
    product_id: str | None = Field(None, max_length=255, description="A Polar product id from `packs`.")
    credits: int | None = Field(None, ge=1, description="Or: the size of the pack, in credits.")

    @model_validator(mode="after")
    def _one_of(self) -> CheckoutBody:
        if (self.product_id is None) == (self.credits is None):
            raise ValueError("give exactly one of product_id or credits")
        return self


@router.post("/checkout", status_code=201, responses=responses(502, 503))
def create_checkout(body: CheckoutBody, user: CurrentUser, settings: SettingsDep) -> dict[str, str]:
    """Open a Polar checkout for a credit pack; send the user to ``url``. Credits arrive by webhook."""
    product_id = polar.resolve_product(settings, product_id=body.product_id, credits_wanted=body.credits)
    session = polar.create_checkout(settings, user_id=user.id, email=user.email, product_id=product_id)
    return {"id": session.id, "url": session.url}
