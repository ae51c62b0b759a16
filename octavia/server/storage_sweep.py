"""Storage housekeeping, run by the reaper thread: expire pending uploads, apply retention,
and delete what ``storage_purges`` says is due.

* **Pending uploads** older than ``upload_pending_ttl_s`` lose their row, and their bytes are
  queued for deletion.
* **Bytes that arrive late**: a signed upload URL stays valid for ``upload_url_ttl_s``. Local
  storage refuses a PUT for an upload that is no longer pending, but S3 accepts a presigned
  POST until the policy expires, so every deleted, rejected or expired upload gets a second
  purge just after its URL expires: nothing a client sends can outlive its row.
* **Retention**: a finished job's checkpoints (``jobs/{id}/work/``) are deleted
  ``checkpoint_retention_s`` after it ended, its outputs (``jobs/{id}/out/`` and their
  artifact rows) ``artifact_retention_s`` after.

Each step is a conditional UPDATE/DELETE, so reapers on many machines may run it at once; a
purge done twice deletes nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.db import utcnow
from octavia.server.jobs import TERMINAL
from octavia.server.storage import storage_errors

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from octavia.server.db import Database
    from octavia.server.settings import ServerSettings
    from octavia.server.storage import Storage

log = logging.getLogger("octavia.reaper")
#: After a signed upload URL's expiry, how long until its late bytes are deleted (clock skew).
URL_EXPIRY_SLACK_S = 60.0


@dataclass
class SweepResult:
    expired_uploads: list[str] = field(default_factory=list)
    checkpoints_purged: list[str] = field(default_factory=list)
    artifacts_purged: list[str] = field(default_factory=list)
    purged_keys: list[str] = field(default_factory=list)


def schedule_purge(
    conn: Connection, key: str, *, due_at: datetime, reason: str, prefix: bool = False
) -> None:
    conn.execute(
        sa.insert(t.storage_purges).values(storage_key=key, is_prefix=prefix, due_at=due_at, reason=reason)
    )


def forget_upload_bytes(conn: Connection, settings: ServerSettings, row: Any, reason: str) -> None:
    """Queue the deletion of an upload's bytes: now, and again once its upload URL expired."""
    now = utcnow()
    schedule_purge(conn, row.storage_key, due_at=now, reason=reason)
    url_dead = row.created_at + timedelta(seconds=settings.upload_url_ttl_s + URL_EXPIRY_SLACK_S)
    if url_dead > now:
        schedule_purge(conn, row.storage_key, due_at=url_dead, reason=f"{reason}-late")


def _expire_uploads(db: Database, settings: ServerSettings, limit: int) -> list[str]:
    u = t.uploads
    before = utcnow() - timedelta(seconds=settings.upload_pending_ttl_s)
    with db.read() as conn:
        rows = conn.execute(
            sa.select(u).where(u.c.status == "pending", u.c.created_at < before).limit(limit)
        ).all()
    done = []
    for row in rows:
        with db.begin() as conn:
            res = conn.execute(sa.delete(u).where(u.c.id == row.id, u.c.status == "pending"))
            if res.rowcount == 1:
                forget_upload_bytes(conn, settings, row, "expired")
                done.append(row.id)
    return done


def _retain(db: Database, column: sa.Column[Any], keep_s: float, folder: str, limit: int) -> list[str]:
    """Finished jobs older than ``keep_s`` whose ``column`` is unset: mark them, queue their
    ``jobs/{id}/{folder}/`` prefix for deletion (and drop their artifact rows for ``out``)."""
    j = t.jobs
    before = utcnow() - timedelta(seconds=keep_s)
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(
            sa.select(j.c.id).where(j.c.status.in_(TERMINAL), j.c.finished_at < before, column.is_(None))
            .limit(limit)
        )]  # fmt: skip
    done = []
    for job_id in ids:
        with db.begin() as conn:
            now = utcnow()
            res = conn.execute(sa.update(j).where(j.c.id == job_id, column.is_(None)).values({column: now}))
            if res.rowcount != 1:
                continue
            if folder == "out":
                conn.execute(sa.delete(t.artifacts).where(t.artifacts.c.job_id == job_id))
            schedule_purge(conn, f"jobs/{job_id}/{folder}/", due_at=now, reason="retention", prefix=True)
        done.append(job_id)
    return done


def _run_purges(db: Database, storage: Storage, limit: int) -> list[str]:
    p = t.storage_purges
    with db.read() as conn:
        due = conn.execute(sa.select(p).where(p.c.due_at <= utcnow()).order_by(p.c.id).limit(limit)).all()
    done = []
    for row in due:
        try:
            if row.is_prefix:
                storage.delete_prefix(row.storage_key)
            else:
                storage.delete(row.storage_key)
        except storage_errors() as exc:  # storage briefly unreachable: the entry stays for next pass
            log.warning("purge of %s failed: %s", row.storage_key, exc)
            continue
        with db.begin() as conn:
            conn.execute(sa.delete(p).where(p.c.id == row.id))
        done.append(row.storage_key)
    return done


def sweep_storage(
    db: Database, settings: ServerSettings, storage: Storage, *, limit: int = 200
) -> SweepResult:
    out = SweepResult()
    out.expired_uploads = _expire_uploads(db, settings, limit)
    out.checkpoints_purged = _retain(db, t.jobs.c.checkpoints_purged_at, settings.checkpoint_retention_s,
                                     "work", limit)  # fmt: skip
    if settings.artifact_retention_s is not None:
        out.artifacts_purged = _retain(db, t.jobs.c.artifacts_purged_at, settings.artifact_retention_s,
                                       "out", limit)  # fmt: skip
    out.purged_keys = _run_purges(db, storage, limit)
    if out.expired_uploads or out.checkpoints_purged or out.artifacts_purged:
        log.info("storage sweep: expired uploads=%s checkpoints of=%s outputs of=%s, %d objects deleted",
                 out.expired_uploads, out.checkpoints_purged, out.artifacts_purged, len(out.purged_keys))  # fmt: skip
    return out


__all__ = ["SweepResult", "forget_upload_bytes", "schedule_purge", "sweep_storage"]
