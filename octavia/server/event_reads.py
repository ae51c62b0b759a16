"""The event hub's reads (octavia/server/event_hub.py): many jobs' statuses and events at once.

Both are one statement whatever the number of jobs, so a read of every open stream's job costs
the same round trips for one stream as for a thousand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from octavia.server import tables as t

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection


def events_for(conn: Connection, positions: Mapping[str, int], limit: int = 2000) -> list[Any]:
    """The events of several jobs, each job's past its own position, in one statement, in id order.

    Positions are per job, never one high-water mark: PostgreSQL hands out ids before commit,
    so a row of one job may become visible after a larger id of another. Cut at ``limit`` rows,
    each job still gets a prefix of its pending events (the smallest ids come first). The
    positions travel as one or two bound values (arrays; JSON on SQLite), so the statement's
    text is the same for any number of jobs, and each job is one probe of the (job_id, id)
    index: a join with a VALUES list made PostgreSQL hash-join a scan of the whole table, and
    SQLite (once ANALYZEd) build a temporary index of it.
    """
    if not positions:
        return []
    e = t.job_events
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        ids = sa.bindparam("ids", list(positions), type_=ARRAY(sa.String))
        seen = sa.bindparam("seen", list(positions.values()), type_=ARRAY(sa.BigInteger))
        pos = (
            sa.func.unnest(ids, seen)
            .table_valued(sa.column("job_id", sa.String), sa.column("seen", sa.BigInteger))
            .render_derived(name="pos")
        )
        pending = (
            sa.select(e).where(e.c.job_id == pos.c.job_id, e.c.id > pos.c.seen).order_by(e.c.id).limit(limit)
        ).lateral("pending")
        q = sa.select(pending).select_from(pos).join(pending, sa.true())
        return list(conn.execute(q.order_by(pending.c.id).limit(limit)))
    each = sa.func.json_each(json.dumps(list(positions.items()))).table_valued("value").alias("pos")
    extract = sa.func.json_extract
    on = sa.and_(e.c.job_id == extract(each.c.value, "$[0]"), e.c.id > extract(each.c.value, "$[1]"))
    q = sa.select(e).select_from(each).join(e, on)
    return list(conn.execute(q.order_by(e.c.id).limit(limit)))


def job_statuses(conn: Connection, job_ids: Iterable[str]) -> dict[str, str]:
    """{job id: status} of those jobs that exist."""
    j = t.jobs
    rows = conn.execute(sa.select(j.c.id, j.c.status).where(j.c.id.in_(list(job_ids))))
    return {r.id: r.status for r in rows}


__all__ = ["events_for", "job_statuses"]
