"""Credits: an append-only ledger; a user's balance is the sum of their entries and never negative.

Entry kinds and their sign:

============ ====== =================================================================
grant        +      operator or signup credits (``octavia admin credits grant``)
purchase     +      a paid Polar order (reference = order id)
reserve      −      the estimate, taken when a job is created (reference = job id); a worker
                    that finds more audio than was paid for adds one more (``{job}:extra``)
settle       +      on success: reserved − actual is given back (reference = job id)
refund       +      on failure/cancel: the whole reservation back (reference = job id)
adjustment   ±      operator corrections
clawback     −      credits taken back after a Polar refund (never below zero)
debt         0      what a clawback could not take: ``debt`` column + owed
debt_payment −      credits that arrived later, taken to pay the debt: ``debt`` column − paid
============ ====== =================================================================

**Debt.** Every entry also has a ``debt`` column (0 for all but the last two kinds); a user's
debt is its sum. A clawback cannot make the balance negative, and credits reserved by queued
jobs are outside the balance, so what it cannot take is *owed*: every later credit that comes
in (purchase, grant, settle, refund) pays the debt first, in the same transaction, with a
``debt_payment`` entry referencing it. So a user in debt has a balance of 0, and
:func:`reserve_for_job` refuses them (:class:`InDebt`, HTTP 402) until the debt is paid.

Idempotency comes from the unique ``(kind, reference)`` constraint: a second grant, reserve,
settle or refund with the same reference changes nothing.

Concurrency: everything that can lower a balance first calls :func:`lock_user`, which
serialises writers per user. On PostgreSQL that is ``SELECT … FOR NO KEY UPDATE`` on the user
row (READ COMMITTED then makes the following read of the balance see every committed entry).
On SQLite it is a no-op UPDATE of the user row, which takes the database write lock before the
balance is read; ``Database.begin()`` already opens transactions with ``BEGIN IMMEDIATE``, and
on a deferred transaction that has already read, SQLite refuses the write (SQLITE_BUSY) rather
than let a stale read through — so neither path can overspend.

The balance and debt are kept per user in ``credit_balances``, updated by the same statement
sequence that writes each entry (:func:`_insert`), so reading them costs one row however long
the ledger grows; :func:`unbalanced` compares them with the ledger's sums.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from octavia.errors import InputError, InsufficientCredits
from octavia.server.authcache import NEUTRAL
from octavia.server.db import insert_for, utcnow
from octavia.server.pricing import estimate_cost
from octavia.server.tables import credit_balances, credit_ledger, users

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

KINDS = ("grant", "purchase", "reserve", "settle", "refund", "adjustment", "clawback", "debt", "debt_payment")
_POSITIVE = {"grant", "purchase", "settle", "refund"}
_NEGATIVE = {"reserve", "clawback"}


class InDebt(InsufficientCredits):
    """The user owes credits (a refunded purchase was already spent) and cannot start jobs."""

    code = "credits_owed"

    def __init__(self, debt: int, cost: int) -> None:
        super().__init__(
            f"Your account owes {debt} credits: a refunded purchase had already been spent. "
            "No new jobs can start until the debt is paid.",
            hint="Credits you buy, and credits given back by jobs, pay the debt first "
            "(GET /v1/billing shows it).",
            shortfall=debt + cost,
        )
        self.debt = debt


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    kind: str
    amount: int
    job_id: str | None
    reference: str | None
    note: str | None
    created_at: datetime
    debt: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "amount": self.amount,
            "debt": self.debt,
            "job_id": self.job_id,
            "reference": self.reference,
            "note": self.note,
            "created_at": self.created_at.isoformat(),
        }


def insert_ignore(conn: Connection, table: sa.Table, values: dict[str, Any], keys: Sequence[str]) -> bool:
    """INSERT … ON CONFLICT (keys) DO NOTHING; True when the row was inserted.

    Used instead of catching IntegrityError because on PostgreSQL a failed INSERT aborts the
    whole transaction, and the caller's other writes must survive a duplicate.
    """
    stmt = (
        insert_for(conn.dialect.name, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(keys))
    )
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT that SQLAlchemy made RETURNING.
    return conn.execute(stmt.returning(*table.primary_key.columns)).first() is not None


# FOR NO KEY UPDATE, not FOR UPDATE: it still excludes other lockers, but not the KEY SHARE
# locks that inserting a row with a foreign key to users takes. With FOR UPDATE, two job
# creations that each insert their job row and then reserve deadlock on each other.
_PG_LOCK = sa.select(users.c.id).where(users.c.id == sa.bindparam("uid")).with_for_update(key_share=True)
# A write, so SQLite takes its (database-wide) write lock now, before the balance is read.
_SQLITE_LOCK = sa.update(users).where(users.c.id == sa.bindparam("uid")).values(is_admin=users.c.is_admin)
_INSERT_ENTRY = credit_ledger.insert()  # built once; each entry's values are its parameters
_FUNDS = sa.select(credit_balances.c.balance, credit_balances.c.debt).where(
    credit_balances.c.user_id == sa.bindparam("uid")
)


def _add_to_funds(dialect: str) -> Any:
    """Add an entry's amount and debt to its user's credit_balances row (made on first use)."""
    new = insert_for(dialect, credit_balances).values(
        user_id=sa.bindparam("user_id"), balance=sa.bindparam("amount"), debt=sa.bindparam("debt")
    )
    return new.on_conflict_do_update(
        index_elements=[credit_balances.c.user_id],
        set_={"balance": credit_balances.c.balance + new.excluded.balance,
              "debt": credit_balances.c.debt + new.excluded.debt},
    )  # fmt: skip


_ADD_TO_FUNDS = {"postgresql": _add_to_funds("postgresql"), "sqlite": _add_to_funds("sqlite")}


def lock_user(conn: Connection, user_id: str) -> None:
    """Serialise balance-changing transactions of one user until ``conn``'s transaction ends."""
    if conn.dialect.name == "postgresql":
        exists = conn.execute(_PG_LOCK, {"uid": user_id}).first() is not None
    else:  # NEUTRAL: a no-op write, so the auth cache need not forget every user
        exists = conn.execute(_SQLITE_LOCK, {"uid": user_id}, execution_options=NEUTRAL).rowcount == 1
    if not exists:
        raise InputError(f"No user with id {user_id!r}.")


def balance(conn: Connection, user_id: str) -> int:
    return funds(conn, user_id)[0]


def debt(conn: Connection, user_id: str) -> int:
    """Credits the user owes (what clawbacks could not take, less what was paid since)."""
    return funds(conn, user_id)[1]


def record_debt(conn: Connection, *, user_id: str, amount: int, reference: str, note: str) -> bool:
    """Write that ``user_id`` owes ``amount`` more credits; once per reference. Takes the user lock."""
    if amount <= 0:
        raise InputError(f"A debt must be positive (got {amount}).")
    lock_user(conn, user_id)
    return _insert(conn, user_id=user_id, kind="debt", amount=0, debt=amount, reference=reference, note=note)


def _pay_debt(conn: Connection, user_id: str, cause_kind: str, cause_reference: str | None) -> int:
    """After credits came in: pay as much of the debt as the balance allows; returns what was paid.

    Called under the user lock by everything that adds credits, so a debt never coexists with
    spendable credits.
    """
    have, owed = funds(conn, user_id)
    if owed <= 0:
        return 0
    pay = min(owed, have)
    if pay <= 0:
        return 0
    reference = None if cause_reference is None else f"{cause_kind}:{cause_reference}"
    note = f"Pays {pay} of the {owed} credits owed, from this {cause_kind}"
    _insert(
        conn, user_id=user_id, kind="debt_payment", amount=-pay, debt=-pay, reference=reference, note=note
    )
    return pay


def _insert(
    conn: Connection,
    *,
    user_id: str,
    kind: str,
    amount: int,
    reference: str | None,
    job_id: str | None = None,
    note: str | None = None,
    debt: int = 0,
    fresh: bool = False,
) -> bool:
    """Insert a ledger entry unless one of its kind and reference exists; ``fresh``: none can
    (its job was created in this transaction), so a plain INSERT without the conflict check."""
    values = {
        "user_id": user_id,
        "kind": kind,
        "amount": amount,
        "debt": debt,
        "job_id": job_id,
        "reference": reference,
        "note": note,
        "created_at": utcnow(),
    }
    if reference is None or fresh:  # NULL references never conflict: nothing to dedupe on
        conn.execute(_INSERT_ENTRY, values)
    elif not insert_ignore(conn, credit_ledger, values, ("kind", "reference")):
        return False
    if amount or debt:
        conn.execute(_ADD_TO_FUNDS[conn.dialect.name], {"user_id": user_id, "amount": amount, "debt": debt})
    return True


def _exists(conn: Connection, kind: str, reference: str) -> bool:
    row = conn.execute(
        sa.select(credit_ledger.c.id).where(
            credit_ledger.c.kind == kind, credit_ledger.c.reference == reference
        )
    ).first()
    return row is not None


def grant(
    conn: Connection,
    *,
    user_id: str,
    amount: int,
    kind: str = "grant",
    reference: str | None = None,
    note: str | None = None,
) -> bool:
    """Add a ledger entry; False (and nothing written) when ``(kind, reference)`` already exists.

    A negative amount (``adjustment``/``clawback``) must be covered by the balance, else
    InsufficientCredits. Credits added pay any debt first.
    """
    if kind not in KINDS or kind in {"reserve", "settle", "refund", "debt", "debt_payment"}:
        raise InputError(f"grant() cannot write {kind!r} entries.", hint="Use the job functions for those.")
    if (kind in _POSITIVE and amount < 0) or (kind in _NEGATIVE and amount > 0):
        raise InputError(f"A {kind!r} entry cannot be {amount}.")
    lock_user(conn, user_id)
    if reference is not None and _exists(conn, kind, reference):
        return False
    if amount < 0:
        have = balance(conn, user_id)
        if have + amount < 0:
            raise InsufficientCredits(
                f"Taking {-amount} credits would make the balance negative (it is {have}).",
                shortfall=-amount - have,
            )
    inserted = _insert(conn, user_id=user_id, kind=kind, amount=amount, reference=reference, note=note)
    if inserted and amount > 0:
        _pay_debt(conn, user_id, kind, reference)
    return inserted


def funds(conn: Connection, user_id: str) -> tuple[int, int]:
    """(balance, debt): one row, the sums of the user's ledger entries so far."""
    row = conn.execute(_FUNDS, {"uid": user_id}).first()
    return (0, 0) if row is None else (int(row.balance), int(row.debt))


def unbalanced(conn: Connection) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    """Users whose kept (balance, debt) differ from their ledger's sums, as (user, kept, summed):
    none, unless something wrote the ledger without :func:`_insert`. Reads both tables whole."""
    cl = credit_ledger
    summed = {
        r.user_id: (int(r.amount), int(r.debt))
        for r in conn.execute(
            sa.select(cl.c.user_id, sa.func.sum(cl.c.amount).label("amount"), sa.func.sum(cl.c.debt).label("debt"))
            .group_by(cl.c.user_id)
        )
    }  # fmt: skip
    kept = {r.user_id: (int(r.balance), int(r.debt)) for r in conn.execute(sa.select(credit_balances))}
    return [
        (uid, kept.get(uid, (0, 0)), summed.get(uid, (0, 0)))
        for uid in sorted(summed.keys() | kept.keys())
        if kept.get(uid, (0, 0)) != summed.get(uid, (0, 0))
    ]


def reserve_for_job(
    conn: Connection, *, user_id: str, job_id: str, amount: int, new_job: bool = False
) -> None:
    """Take ``amount`` credits for ``job_id``; call inside the transaction that inserts the job.

    Raises InDebt when the user owes credits, InsufficientCredits (with ``shortfall``) when the
    balance does not cover it. A second reservation for the same job is a no-op; ``new_job``
    (the job row was inserted by this transaction, so it has none yet) skips looking for one.
    """
    if amount < 0:
        raise InputError(f"A reservation cannot be negative ({amount}).")
    lock_user(conn, user_id)
    if not new_job and _exists(conn, "reserve", job_id):
        return
    have, owed = funds(conn, user_id)
    if owed > 0:
        raise InDebt(owed, amount)
    if have < amount:
        raise InsufficientCredits(
            f"This job costs {amount} credits but the balance is {have}.",
            hint="Buy credits (POST /v1/billing/checkout) or use a shorter file.",
            shortfall=amount - have,
        )
    _insert(
        conn, user_id=user_id, kind="reserve", amount=-amount, reference=job_id, job_id=job_id, fresh=new_job
    )


def reserve_more(conn: Connection, *, job_id: str, amount: int, note: str) -> bool:
    """Add ``amount`` to a job's reservation once (the worker measured more audio than was paid).

    Raises InsufficientCredits when the balance does not cover it; False when the job has no
    reservation or was already topped up or closed.
    """
    found = _reservation(conn, job_id)
    if found is None or amount <= 0:
        return False
    user_id, _ = found
    lock_user(conn, user_id)
    if _closed(conn, job_id) or _exists(conn, "reserve", f"{job_id}:extra"):
        return False
    have = balance(conn, user_id)
    if have < amount:
        raise InsufficientCredits(
            f"The audio needs {amount} more credits than were reserved, but the balance is {have}.",
            shortfall=amount - have,
        )
    return _insert(
        conn, user_id=user_id, kind="reserve", amount=-amount, reference=f"{job_id}:extra", job_id=job_id,
        note=note,
    )  # fmt: skip


def reserved(conn: Connection, job_id: str) -> int:
    """The credits held for ``job_id`` (its reservation plus any top-up); 0 without one."""
    found = _reservation(conn, job_id)
    return 0 if found is None else found[1]


def _reservation(conn: Connection, job_id: str) -> tuple[str, int] | None:
    """(user, credits reserved) of a job: its ``reserve`` entries, the first one and a top-up."""
    rows = conn.execute(
        sa.select(credit_ledger.c.user_id, credit_ledger.c.amount).where(
            credit_ledger.c.kind == "reserve", credit_ledger.c.job_id == job_id
        )
    ).all()
    if not rows:
        return None
    return str(rows[0].user_id), -sum(int(r.amount) for r in rows)


def _closed(conn: Connection, job_id: str) -> bool:
    row = conn.execute(
        sa.select(credit_ledger.c.id).where(
            credit_ledger.c.kind.in_(("settle", "refund")), credit_ledger.c.reference == job_id
        )
    ).first()
    return row is not None


def settle_job(conn: Connection, *, job_id: str, actual: int) -> int:
    """Charge ``min(actual, reserved)`` and give back the rest; returns the credits given back.

    The estimate is a cap: a job never costs more than the user agreed to. Does nothing (returns
    0) for a job with no reservation, or one already settled or refunded.
    """
    return _close_reservation(conn, job_id, "settle", charge=lambda reserved: min(max(actual, 0), reserved))


def refund_job(conn: Connection, *, job_id: str) -> int:
    """Give the whole reservation back (job failed or cancelled); returns the credits given back.

    Does nothing after a settle or a previous refund.
    """
    return _close_reservation(conn, job_id, "refund", charge=lambda reserved: 0)


def _close_reservation(conn: Connection, job_id: str, kind: str, *, charge: Callable[[int], int]) -> int:
    """End a job's reservation once (settle or refund), under the user's lock."""
    found = _reservation(conn, job_id)
    if found is None:
        return 0
    user_id, reserved = found
    lock_user(conn, user_id)
    if _closed(conn, job_id):
        return 0
    back = reserved - charge(reserved)
    _insert(conn, user_id=user_id, kind=kind, amount=back, reference=job_id, job_id=job_id)
    if back > 0:
        _pay_debt(conn, user_id, kind, job_id)
    return back


def history(
    conn: Connection, user_id: str, *, limit: int = 50, before: int | None = None
) -> list[LedgerEntry]:
    """The user's entries, newest first; page with ``before`` = the last id seen."""
    query = sa.select(credit_ledger).where(credit_ledger.c.user_id == user_id)
    if before is not None:
        query = query.where(credit_ledger.c.id < before)
    rows = conn.execute(query.order_by(credit_ledger.c.id.desc()).limit(limit)).all()
    return [
        LedgerEntry(
            id=int(r.id),
            kind=r.kind,
            amount=int(r.amount),
            job_id=r.job_id,
            reference=r.reference,
            note=r.note,
            created_at=r.created_at,
            debt=int(r.debt),
        )
        for r in rows
    ]


__all__ = [
    "KINDS",
    "InDebt",
    "LedgerEntry",
    "balance",
    "debt",
    "estimate_cost",
    "funds",
    "grant",
    "history",
    "insert_ignore",
    "lock_user",
    "record_debt",
    "refund_job",
    "reserve_for_job",
    "reserve_more",
    "reserved",
    "settle_job",
    "unbalanced",
]
