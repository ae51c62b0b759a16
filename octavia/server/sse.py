"""Server-sent events for a job's progress, read from ``job_events``.

The stream reads the database rather than listening to the worker: the worker may be another
process or another machine, and the table is what they share. It does not read it itself: it
subscribes to the process's :class:`~octavia.server.event_hub.EventHub`, which reads for every
open stream at once (and on PostgreSQL is woken by ``NOTIFY``). Each event's ``id:`` is the
row id, so a client that reconnects with ``Last-Event-ID`` (browsers' EventSource do this
themselves) gets exactly the events it missed. The stream ends after the job's terminal
event (``done``, ``failed`` or ``cancelled``), once the job waits in ``review`` with nothing
more to send (its ``review`` event sent; a new stream after ``POST /resume`` carries on), or
when the job is gone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from octavia.server.jobs import TERMINAL

if TYPE_CHECKING:
    from octavia.server.event_hub import EventHub

TERMINAL_EVENTS = TERMINAL  # the worker writes an event named like the final status


def format_event(row: Any) -> str:
    data = {"type": row.type, "stage": row.stage, "at": row.at.isoformat(), **(row.data or {})}
    return (
        f"id: {row.id}\nevent: {row.type}\ndata: {json.dumps(data, separators=(',', ':'), default=str)}\n\n"
    )


async def job_events(
    hub: EventHub, job_id: str, *, after: int = 0, poll_s: float = 0.5, keepalive_s: float = 15.0
) -> AsyncIterator[str]:
    # The retry hint tells EventSource how soon to reconnect after a dropped connection.
    yield "retry: 2000\n\n"
    sub = hub.subscribe(job_id, after, poll_s)
    try:
        while True:
            try:
                update = await asyncio.wait_for(sub.queue.get(), keepalive_s)
            except TimeoutError:  # a comment line keeps proxies from closing an idle stream
                yield ": keepalive\n\n"
                continue
            for row in update.rows:
                yield format_event(row)
                if row.type in TERMINAL_EVENTS:
                    return
            if update.end:
                # Finished (or deleted) with nothing more to send, or paused for review: a
                # client reconnects after POST /resume.
                return
    finally:
        hub.unsubscribe(sub)  # also when the client went away (the response cancels us)


__all__ = ["format_event", "job_events"]
