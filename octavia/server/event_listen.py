"""PostgreSQL LISTEN for the event hub: one dedicated connection per server process.

:func:`octavia.server.jobs.event` sends ``pg_notify(EVENTS_CHANNEL, job_id)`` inside the
writer's transaction, so the notification arrives once the row is committed and readable. The
connection is psycopg's own (autocommit, outside SQLAlchemy's pool: a pooled connection would
be reset and handed to requests). When it drops, the hub falls back to its poll grid and this
loop reconnects with backoff; after each LISTEN the hub reads every subscribed job once, so
nothing written while it was down is missed. A quiet connection is checked with ``SELECT 1``
every ``safety_s``: a silently dead one would otherwise wait for notifications forever.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio
import sqlalchemy as sa

from octavia.server.jobs import EVENTS_CHANNEL

if TYPE_CHECKING:
    from octavia.server.event_hub import EventHub

log = logging.getLogger("octavia.server")
APPLICATION_NAME = "octavia-event-hub"  # in pg_stat_activity, for operators (and the tests)
_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


def conninfo(url: str) -> str:
    """A libpq URI from the SQLAlchemy URL (``postgresql+psycopg://…``), password and query kept."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(hub: EventHub, url: str) -> None:
    """Run until cancelled: LISTEN, hand each notified job id to the hub, reconnect on failure."""
    import psycopg

    failures = 0
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                conninfo(url), autocommit=True, application_name=APPLICATION_NAME, connect_timeout=10
            ) as conn:
                await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                hub.listener_up()
                failures = 0
                while True:
                    async for note in conn.notifies(timeout=hub.safety_s):
                        hub.notified(note.payload)
                    await conn.execute("SELECT 1")
        except psycopg.Error as exc:
            hub.listener_down()
            delay = _BACKOFF_S[min(failures, len(_BACKOFF_S) - 1)]
            failures += 1
            log.warning("event hub: LISTEN connection lost (%s); reconnecting in %.1f s", exc, delay)
            await anyio.sleep(delay)


__all__ = ["APPLICATION_NAME", "conninfo", "listen"]
