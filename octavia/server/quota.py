"""Per-user storage quota: what a user's uploads and job outputs take up in storage.

Counted: uploads that are pending (their declared size: storage refuses more) or ready (their
measured size), and the outputs of the user's jobs until retention deletes them. Not counted:
stage checkpoints (the server's own, deleted by retention) and rejected uploads (their bytes
are deleted at once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from octavia.errors import OctaviaError
from octavia.server import credits
from octavia.server import tables as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from octavia.server.settings import ServerSettings


class QuotaExceeded(OctaviaError):
    code = "storage_quota_exceeded"
    http_status = 413


def used_bytes(conn: Connection, user_id: str) -> int:
    u, a, j = t.uploads, t.artifacts, t.jobs
    uploads = sa.select(sa.func.coalesce(sa.func.sum(u.c.size), 0)).where(
        u.c.user_id == user_id, u.c.status.in_(("pending", "ready"))
    )
    outputs = (
        sa.select(sa.func.coalesce(sa.func.sum(a.c.size), 0))
        .select_from(a.join(j, j.c.id == a.c.job_id))
        .where(j.c.user_id == user_id)
    )
    return int(conn.execute(uploads).scalar_one()) + int(conn.execute(outputs).scalar_one())


def check_quota(conn: Connection, settings: ServerSettings, user_id: str, size: int) -> None:
    """Raise :class:`QuotaExceeded` unless ``size`` more bytes fit the user's quota.

    Locks the user's row first (PostgreSQL; SQLite serialises writers anyway), so two uploads
    declared at once cannot both take the last free bytes.
    """
    quota = settings.storage_quota_bytes
    if quota is None:
        return
    credits.lock_user(conn, user_id)  # FOR NO KEY UPDATE on PostgreSQL: see its comment
    used = used_bytes(conn, user_id)
    if used + size > quota:
        raise QuotaExceeded(
            f"Storage quota exceeded: {used} of {quota} bytes used, this upload needs {size} more.",
            "Delete uploads you no longer need (DELETE /v1/uploads/{id}); old job outputs are "
            "deleted automatically after the retention period.",
        )


__all__ = ["QuotaExceeded", "check_quota", "used_bytes"]
