"""Server-sent events for a job's progress, read from ``job_events``.

The stream polls the database rather than listening to the worker: the worker may be another
process or another machine, and the table is what they share. Each event's ``id:`` is the
row id, so a client that reconnects with ``Last-Event-ID`` (browsers' EventSource do this
themselves) gets exactly the events it missed. The stream ends after the job's terminal
event (``done``, ``failed`` or ``cancelled``), or once the job waits in ``review`` with nothing
more to send (its ``review`` event sent; a new stream after ``POST /resume`` carries on).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.jobs import TERMINAL, events_after

if TYPE_CHECKING:
    from octavia.server.db import Database

TERMINAL_EVENTS = TERMINAL  # the worker writes an event named like the final status


def format_event(row: Any) -> str:
    data = {"type": row.type, "stage": row.stage, "at": row.at.isoformat(), **(row.data or {})}
    return (
        f"id: {row.id}\nevent: {row.type}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"
    )


def _poll(db: Database, job_id: str, after: int) -> tuple[list[Any], str | None]:
    with db.read() as conn:
        rows = events_after(conn, job_id, after)
        status = conn.execute(sa.select(t.jobs.c.status).where(t.jobs.c.id == job_id)).scalar()
    return rows, status


async def job_events(
    db: Database, job_id: str, *, after: int = 0, poll_s: float = 0.5, keepalive_s: float = 15.0
) -> AsyncIterator[str]:
    # The retry hint tells EventSource how soon to reconnect after a dropped connection.
    yield "retry: 2000\n\n"
    idle = 0.0
    while True:
        rows, status = await anyio.to_thread.run_sync(_poll, db, job_id, after)
        for row in rows:
            yield format_event(row)
            after = int(row.id)
            if row.type in TERMINAL_EVENTS:
                return
        if not rows:
            if status is None or status in TERMINAL or status == "review":
                # Finished (or deleted) before this stream began after its last event, or
                # paused for review: a client reconnects after POST /resume.
                return
            idle += poll_s
            if idle >= keepalive_s:  # a comment line keeps proxies from closing an idle stream
                idle = 0.0
                yield ": keepalive\n\n"
        await anyio.sleep(poll_s)


__all__ = ["format_event", "job_events"]
