"""PostgreSQL reads on the event loop (async_reads.py): they run on the loop's thread, each loop
gets its own engine, a connection the server dropped while idle is replaced before use, and
the shutdown closes the loop's connections."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from octavia.server import db as dbmod
from octavia.server.async_reads import AsyncReader
from octavia.server.db import Database
from octavia.server.deps import run_read

pytestmark = pytest.mark.postgres

_BACKEND_PID = sa.text("SELECT pg_backend_pid()")


def _pid_and_thread(conn: Connection, plus: int) -> tuple[int, int, int]:
    return conn.execute(_BACKEND_PID).scalar_one(), threading.get_ident(), plus + 1


def test_reads_run_on_the_loop_with_one_engine_per_loop(pg_database: str) -> None:
    assert AsyncReader.supports(pg_database) and not AsyncReader.supports("sqlite:///x.db")
    assert not AsyncReader.supports("postgresql+psycopg2://u@h/db")  # no async mode: threads
    db = Database(pg_database, pool_size=2, max_overflow=0)
    assert db.async_reader is not None and db.async_reader.url.startswith("postgresql+psycopg_async://")

    async def main() -> tuple[int, int, int]:
        assert db.async_reader is not None
        try:
            first = await run_read(db, _pid_and_thread, 1)
            assert first[1] == threading.get_ident() and first[2] == 2  # the loop's own thread
            again = await run_read(db, _pid_and_thread, 1)
            assert again[0] == first[0]  # the pooled connection, reused
            return first
        finally:
            await db.async_reader.aclose()

    one, two = asyncio.run(main()), asyncio.run(main())
    assert one[0] != two[0]  # closed at the first loop's end; the second loop opened its own
    db.dispose()


def test_a_connection_the_server_dropped_while_idle_is_replaced(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dbmod, "IDLE_PING_S", 0.0)  # every checkout counts as idle: pinged
    db = Database(pg_database, pool_size=1, max_overflow=0)
    admin = Database(pg_database)

    async def main() -> tuple[int, int]:
        assert db.async_reader is not None
        try:
            before = (await run_read(db, _pid_and_thread, 0))[0]
            with admin.begin() as conn:  # what a PostgreSQL restart or failover does
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": before})
            after = (await run_read(db, _pid_and_thread, 0))[0]
            return before, after
        finally:
            await db.async_reader.aclose()

    before, after = asyncio.run(main())
    assert before != after  # the dead one was pinged, discarded and replaced: no error reached us
    db.dispose()
    admin.dispose()


def test_without_greenlet_reads_run_in_threads(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "greenlet" else real(name, *a)
    )
    db = Database(pg_database)
    assert db.async_reader is None  # an install without sqlalchemy[asyncio]: no crash, threads

    async def main() -> tuple[int, int, int]:
        return await run_read(db, _pid_and_thread, 0)

    _pid, thread, _ = asyncio.run(main())
    assert thread != threading.get_ident()
    db.dispose()
