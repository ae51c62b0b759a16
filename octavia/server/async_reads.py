"""PostgreSQL reads on the event loop: psycopg's async mode, through SQLAlchemy's AsyncEngine.

An async route's read by key on PostgreSQL used to run in the thread pool: a hand-off each way
(~0.3 ms of CPU), and under load a queue of threads waiting for the GIL, which made the tail
(GET /v1/jobs/{id}, 16 clients, two processes: p99 32 ms in threads, 18 ms here). Here the
read's statements run in a greenlet on the loop, and the loop serves other requests while
each one waits for the database.

The read functions stay plain synchronous code taking a ``Connection`` (``AsyncConnection.
run_sync`` gives them one), so SQLite, threads and this path share them. asyncio connections
belong to the loop that opened them: one engine per running loop (:class:`LoopLocal`), closed
by :meth:`AsyncReader.aclose` from the app's shutdown.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from octavia.server.loop_local import LoopLocal

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

R = TypeVar("R")


class AsyncReader:
    """Runs read functions on this loop's AsyncEngine (autocommit, as ``Database.read``)."""

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 10) -> None:
        self.url = _async_url(url)
        self._pool = {"pool_size": pool_size, "max_overflow": max_overflow}
        self._engines: LoopLocal[AsyncEngine] = LoopLocal(self._build)

    @staticmethod
    def supports(url: str) -> bool:
        """Whether ``url`` names PostgreSQL through psycopg (3), the driver with an async mode,
        and SQLAlchemy's asyncio bridge (greenlet, the server extra's ``sqlalchemy[asyncio]``)
        is installed; if not, reads keep running in threads."""
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() != "postgresql":
            return False
        if parsed.get_driver_name() not in ("psycopg", "psycopg_async"):
            return False
        return importlib.util.find_spec("greenlet") is not None

    def _build(self) -> AsyncEngine:
        from sqlalchemy.ext.asyncio import create_async_engine

        from octavia.server.db import ping_when_idle

        engine = create_async_engine(self.url, isolation_level="AUTOCOMMIT", **self._pool)
        ping_when_idle(engine.sync_engine)
        return engine

    async def run(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(conn, *args, **kwargs)`` with a read-only connection of this loop's pool."""
        async with self._engines.get().connect() as aconn:
            return await aconn.run_sync(_call, fn, args, kwargs)

    async def aclose(self) -> None:
        """Close this loop's connections (the app's shutdown; other loops' go with them)."""
        engine = self._engines.pop()
        if engine is not None:
            await engine.dispose()


def _call(conn: Connection, fn: Callable[..., R], args: tuple[Any, ...], kwargs: dict[str, Any]) -> R:
    return fn(conn.execution_options(octavia_readonly=True), *args, **kwargs)


def _async_url(url: str) -> str:
    parsed = sa.engine.make_url(url)
    return parsed.set(drivername="postgresql+psycopg_async").render_as_string(hide_password=False)


__all__ = ["AsyncReader"]
