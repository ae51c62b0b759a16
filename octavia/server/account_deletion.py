"""Deleting an account: the person goes, the money facts stay.

What goes, in one transaction: every session and API key (revoked), pending email tokens,
the uploads' rows, artifact rows, and the email address and password hash (the row is kept,
anonymised, because the credits ledger and past jobs point at it: the ledger is append-only
and is the record of money that changed hands). Every stored byte of the account (uploads,
job checkpoints and outputs) is queued for deletion in ``storage_purges``, which the storage
sweep carries out (at once, and again once any upload URL handed out has expired).

Refused while a job is queued, running or waiting in review (its credits are reserved and a
worker may be writing; cancel first, which refunds) and while the account owes credits
(deleting must not escape a debt). A remaining balance is forfeited, and the answer says how
much.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from octavia.server import tables as t
from octavia.server.credits import balance, debt, lock_user
from octavia.server.db import utcnow
from octavia.server.jobs import TERMINAL
from octavia.server.problems import ApiError
from octavia.server.routes.auth import revoke_credentials
from octavia.server.settings import ServerSettings
from octavia.server.storage_sweep import forget_upload_bytes, schedule_purge

DELETED_DOMAIN = "deleted.invalid"  # RFC 2606: can never be a real address, so never mailed


def delete_account(conn: Connection, settings: ServerSettings, user_id: str) -> dict[str, Any]:
    """Delete ``user_id``'s account inside ``conn``'s transaction; what was removed."""
    j = t.jobs
    lock_user(conn, user_id)  # job creation and credit changes take this lock too: none slips in
    owed = debt(conn, user_id)
    if owed:
        raise ApiError(
            409, "credits_owed", f"This account owes {owed} credits (a refunded purchase had been spent).",
            "Buy credits to pay the debt, then delete the account.",
        )  # fmt: skip
    active = conn.execute(
        sa.select(sa.func.count()).select_from(j).where(j.c.user_id == user_id, j.c.status.not_in(TERMINAL))
    ).scalar_one()
    if active:
        raise ApiError(
            409, "jobs_in_progress", f"{active} job(s) of this account are not finished.",
            "Cancel them (their credits are refunded) or wait until they finish, then delete the account.",
        )  # fmt: skip
    now = utcnow()
    forfeited = balance(conn, user_id)
    uploads = conn.execute(sa.select(t.uploads).where(t.uploads.c.user_id == user_id)).all()
    for row in uploads:
        forget_upload_bytes(conn, settings, row, "account_deleted")
    job_ids = [r[0] for r in conn.execute(sa.select(j.c.id).where(j.c.user_id == user_id))]
    for job_id in job_ids:
        schedule_purge(conn, f"jobs/{job_id}/", due_at=now, reason="account_deleted", prefix=True)
    if job_ids:
        conn.execute(sa.delete(t.artifacts).where(t.artifacts.c.job_id.in_(job_ids)))
    conn.execute(sa.delete(t.uploads).where(t.uploads.c.user_id == user_id))
    revoked = revoke_credentials(conn, user_id, keep_session=None)
    conn.execute(sa.delete(t.email_tokens).where(t.email_tokens.c.user_id == user_id))
    conn.execute(
        sa.update(t.users)
        .where(t.users.c.id == user_id)
        .values(
            email=f"{user_id}@{DELETED_DOMAIN}", password_hash="!", email_verified_at=None, is_admin=False
        )
    )
    return {"status": "deleted", "uploads_deleted": len(uploads), "jobs_purged": len(job_ids),
            "credits_forfeited": forfeited, **revoked}  # fmt: skip


__all__ = ["DELETED_DOMAIN", "delete_account"]
