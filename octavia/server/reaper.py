"""The reaper: puts jobs whose worker died back in the queue, and re-sends lost messages.

Huey drops a message when a worker takes it, so a worker killed mid-job (SIGKILL, OOM, power
loss) leaves its row ``running`` with nothing in the queue (QUEUE.md §2). The reaper:

1. **Stale running jobs**: heartbeat older than ``heartbeat_stale_s`` → back to ``queued``
   (and enqueued again) if attempts remain, else ``failed`` + refund; a job whose owner asked
   to cancel becomes ``cancelled`` + refund. Only staleness counts: a live worker's job is
   never touched however long it runs. Each row is changed by a conditional UPDATE that
   re-checks the staleness, so any number of reapers (one per worker process, on many
   machines) may run at once: exactly one wins each job.
2. **Lost enqueues**: ``queued`` jobs whose ``enqueued_at`` is older than ``queued_stale_s``
   (the process died between commit and enqueue, or between dequeue and claim) are enqueued
   again. A duplicate message is harmless: the claim lets only one through.
3. **Cancelled while queued for a retry**: ``queued`` jobs with ``cancel_requested`` (which no
   worker claims) → ``cancelled`` + refund, never re-sent.
4. **Reviews left too long**: jobs in ``review`` for more than ``review_ttl_s`` → ``cancelled``
   + refund (``octavia.server.review``). A job in review has no heartbeat and is never requeued.

Given a storage, the same thread also runs the storage sweep (``storage_sweep.py``): expired
pending uploads, retention of old jobs' checkpoints and outputs, late bytes.

Why a thread in ``octavia worker`` and not a Huey periodic task: Huey's periodic tasks run at
most once a minute (crontab granularity) and on a polling backend may start seconds late, so
a dead worker's job would wait 1–2 minutes on top of the stale limit. A plain thread that
calls :func:`reap` every few seconds is simpler, reacts in seconds, and needs nothing from
Huey; it also runs once when the worker starts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from octavia.server import credits
from octavia.server import tables as t
from octavia.server.db import utcnow
from octavia.server.jobs import event

if TYPE_CHECKING:
    from octavia.server.db import Database
    from octavia.server.settings import ServerSettings
    from octavia.server.storage import Storage

log = logging.getLogger("octavia.reaper")
Enqueue = Callable[[str], None]


@dataclass
class ReapResult:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    reenqueued: list[str] = field(default_factory=list)


def reap(db: Database, settings: ServerSettings, enqueue: Enqueue, *, limit: int = 200) -> ReapResult:
    j = t.jobs
    out = ReapResult()
    now = utcnow()
    stale_before = now - timedelta(seconds=settings.heartbeat_stale_s)
    with db.read() as conn:
        stale = conn.execute(
            sa.select(j.c.id).where(j.c.status == "running", j.c.heartbeat_at < stale_before).limit(limit)
        ).all()
    for (job_id,) in stale:
        with db.begin() as conn:
            row = conn.execute(sa.select(j).where(j.c.id == job_id)).one()
            if row.cancel_requested:
                new, bucket = "cancelled", out.cancelled
            elif row.attempts >= row.max_attempts:
                new, bucket = "failed", out.failed
            else:
                new, bucket = "queued", out.requeued
            values: dict[str, object] = {"status": new, "worker_id": None, "heartbeat_at": None}
            if new == "queued":
                values["enqueued_at"] = now
            else:
                values["finished_at"] = now
            if new == "failed":
                values["error"] = {
                    "code": "worker_lost",
                    "message": f"The worker running this job stopped responding {row.attempts} time(s).",
                    "hint": "The job may be too large for the workers' memory or time limits.",
                }
            # Re-checks the staleness: a worker whose heartbeat landed meanwhile keeps its job.
            res = conn.execute(
                sa.update(j)
                .where(j.c.id == job_id, j.c.status == "running", j.c.heartbeat_at < stale_before)
                .values(**values)
            )
            if res.rowcount != 1:
                continue
            if new != "queued":
                credits.refund_job(conn, job_id=job_id)
            # No worker id in the event: it names a host and pid. The log has it.
            event(conn, job_id, "requeued" if new == "queued" else new, by="reaper", attempt=row.attempts)
            log.warning(
                "reaper: job %s (worker %s, attempt %s) → %s", job_id, row.worker_id, row.attempts, new
            )
            bucket.append(job_id)
    out.cancelled.extend(_cancel_requested_queued(db, limit))
    from octavia.server.review import expire_reviews

    out.cancelled.extend(expire_reviews(db, settings, limit=limit))
    lost_before = now - timedelta(seconds=settings.queued_stale_s)
    with db.begin() as conn:
        lost = [r[0] for r in conn.execute(
            sa.select(j.c.id).where(j.c.status == "queued", j.c.enqueued_at < lost_before,
                                    j.c.cancel_requested.is_(False)).limit(limit)
        )]  # fmt: skip
        if lost:
            # Restart their clock so the next pass does not send them again at once.
            conn.execute(sa.update(j).where(j.c.id.in_(lost), j.c.status == "queued").values(enqueued_at=now))
    out.reenqueued = lost
    for job_id in [*out.requeued, *lost]:
        enqueue(job_id)
    if out.requeued or out.failed or out.cancelled or lost:
        log.warning("reaper: requeued=%s failed=%s cancelled=%s re-enqueued=%s",
                    out.requeued, out.failed, out.cancelled, lost)  # fmt: skip
    return out


def _cancel_requested_queued(db: Database, limit: int) -> list[str]:
    """``queued`` jobs whose owner asked to cancel → ``cancelled`` + refund.

    No worker claims such a job, so left alone it would hold its credits for ever. Today's
    worker never writes one (a cancel wins over a retry), but rows from older versions and
    any future path that does are ended here.
    """
    j = t.jobs
    done: list[str] = []
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(
            sa.select(j.c.id).where(j.c.status == "queued", j.c.cancel_requested.is_(True)).limit(limit)
        )]  # fmt: skip
    for job_id in ids:
        with db.begin() as conn:
            res = conn.execute(
                sa.update(j).where(j.c.id == job_id, j.c.status == "queued", j.c.cancel_requested.is_(True))
                .values(status="cancelled", finished_at=utcnow(), worker_id=None, heartbeat_at=None)
            )  # fmt: skip
            if res.rowcount != 1:
                continue
            credits.refund_job(conn, job_id=job_id)
            event(conn, job_id, "cancelled", by="reaper")
        done.append(job_id)
    return done


class ReaperThread:
    """Calls :func:`reap` now and then every ``interval`` seconds until stopped."""

    def __init__(
        self, db: Database, settings: ServerSettings, enqueue: Enqueue, interval: float,
        storage: Storage | None = None,
    ) -> None:  # fmt: skip
        self.db, self.settings, self.enqueue, self.interval = db, settings, enqueue, interval
        self.storage = storage  # given: each pass also runs the storage sweep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="octavia-reaper", daemon=True)

    def _once(self) -> None:
        try:
            reap(self.db, self.settings, self.enqueue)
            if self.storage is not None:
                from octavia.server.storage_sweep import sweep_storage

                sweep_storage(self.db, self.settings, self.storage)
        except SQLAlchemyError as exc:  # DB briefly down: try again next tick
            log.warning("reaper pass failed: %s", exc)
        except Exception:  # a thread edge: log, keep the loop alive
            log.exception("reaper pass crashed")

    def _loop(self) -> None:
        while True:
            self._once()
            if self._stop.wait(self.interval):
                return

    def start(self) -> ReaperThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(RuntimeError):
            self._thread.join(timeout=10)


__all__ = ["ReapResult", "ReaperThread", "reap"]
