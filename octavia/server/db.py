"""Database access: one :class:`Database` per process over SQLAlchemy Core, on SQLite or PostgreSQL.

SQLite gets WAL (readers never block the writer), foreign keys, a busy timeout, a writer
lock shared by the machine's processes (``sqlite_lock.py``) and ``BEGIN IMMEDIATE`` for
:meth:`Database.begin`: a deferred transaction that reads then writes can fail with "database
is locked" without waiting, while IMMEDIATE takes the write lock up front and so honours
busy_timeout. Read-only work goes through :meth:`Database.read`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from octavia.server.async_reads import AsyncReader
from octavia.server.loop_local import LoopLocal
from octavia.server.sqlite_lock import WriterLock

if TYPE_CHECKING:
    from octavia.server.settings import ServerSettings

# Set by Database.without_waiting for the code it runs (context-local: one task or thread).
_NO_WAIT: ContextVar[bool] = ContextVar("octavia_db_no_wait", default=False)
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def utcnow() -> datetime:
    return datetime.now(UTC)


_ID_LEN = 20
_ID_SPACE = len(_ID_ALPHABET) ** _ID_LEN


def new_id(prefix: str) -> str:
    """A prefixed random id, e.g. ``usr_3k9x…`` (20 base36 chars ≈ 103 bits).

    One ``secrets.randbelow`` over the whole id space, written in base 36: uniform like 20
    ``secrets.choice`` calls, at a tenth of their cost (two ids per job creation)."""
    n = secrets.randbelow(_ID_SPACE)
    digits = []
    for _ in range(_ID_LEN):
        n, d = divmod(n, 36)
        digits.append(_ID_ALPHABET[d])
    return prefix + "_" + "".join(digits)


@cache  # one statement per table, built once: SQLAlchemy then reuses its compiled form
def _owned_query(table: sa.Table) -> sa.Select[Any]:
    return sa.select(table).where(
        table.c.id == sa.bindparam("row_id"), table.c.user_id == sa.bindparam("uid")
    )


def owned_row(conn: Connection, table: sa.Table, user_id: str, row_id: str) -> Any | None:
    """The row of ``table`` with ``row_id`` if ``user_id`` owns it, else None.

    Every ownership check goes through here, so "another user's object" and "no such object"
    are the same query and the same answer (callers raise their 404).
    """
    return conn.execute(_owned_query(table), {"row_id": row_id, "uid": user_id}).first()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def insert_for(dialect: str, table: sa.Table) -> Any:
    """``INSERT INTO table`` in the dialect's own construct, the one with ``on_conflict_do_*``
    (PostgreSQL's or SQLite's; they spell ON CONFLICT alike)."""
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if is_sqlite(url):
        db_path = sa.engine.make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    engine = sa.create_engine(url, **kwargs)
    ping_when_idle(engine)
    return engine


#: A pooled connection idle longer than this is tested before use (see ping_when_idle).
IDLE_PING_S = 5.0


def ping_when_idle(engine: Engine) -> None:
    """``pool_pre_ping``, but only for connections that sat idle in the pool for a while.

    A ping on every checkout was one more round trip per request (as many as the query
    itself). Connections die while idle (a server restart, an idle timeout, a failover), so
    one checked in moments ago needs none; a dead busy one is caught by SQLAlchemy's own
    disconnect handling, which invalidates the pool on the error.
    """

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["octavia_checkin"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("octavia_checkin")
        if idle_since is None or time.monotonic() - idle_since < IDLE_PING_S:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
            dbapi_conn.rollback()
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise sa.exc.DisconnectionError() from exc


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own is deferred, and late).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = "BEGIN" if conn.get_execution_options().get("octavia_readonly") else "BEGIN IMMEDIATE"
        conn.exec_driver_sql(mode)


class Database:
    """The process-wide engine. ``with db.begin() as conn:`` is one transaction."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        # SQLite has one writer at a time: writers of this machine queue on a lock (threads,
        # then processes through flock) instead of in SQLite's busy handler (sqlite_lock.py).
        self._write_lock: WriterLock | None = None
        if is_sqlite(url):
            path = sa.engine.make_url(url).database
            self._write_lock = WriterLock(Path(path) if path and path != ":memory:" else None)
        # PostgreSQL reads run in autocommit: under READ COMMITTED every statement sees its own
        # snapshot anyway, so a BEGIN … COMMIT around them bought nothing but two round trips.
        self._read_engine: Engine = (
            self.engine if is_sqlite(url) else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        #: Whether a short read may run on the caller's event loop instead of a worker thread.
        #: SQLite in WAL: a reader never waits for a writer, and a read by key is ~0.1 ms of
        #: CPU that holds the GIL anyway, so a thread gains no parallelism and costs a hand-off
        #: each way (measured: GET /v1/jobs/{id} p99 halved under 16 clients). A PostgreSQL
        #: read waits on the network (possibly another machine): that one stays in a thread.
        self.reads_inline = is_sqlite(url)
        #: PostgreSQL through psycopg: an async route's reads run on its event loop, waiting for
        #: the database without a thread (async_reads.py); other drivers read in threads.
        self.async_reader: AsyncReader | None = None
        if AsyncReader.supports(url):  # PostgreSQL through psycopg only
            pool = {k: engine_kwargs[k] for k in ("pool_size", "max_overflow") if k in engine_kwargs}
            self.async_reader = AsyncReader(url, **pool)
        #: Whether a short write may be tried on the event loop (:meth:`without_waiting`): on
        #: SQLite, where it runs on this machine's CPU and the writers' lock says at once
        #: whether it would wait. A PostgreSQL write waits on the network: a thread's job.
        self.writes_inline = self._write_lock is not None
        #: The event loop's writers take turns here first (deps.run_write): while one waits in a
        #: thread for another process's write, the others wait on this lock, without a thread.
        self.loop_writers: LoopLocal[asyncio.Lock] = LoopLocal(asyncio.Lock)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> Database:
        """The database of ``settings``, its PostgreSQL pool sized by them (SQLite's needs none:
        opening its file is cheap, and one writer at a time is its limit)."""
        url = settings.db_url
        if is_sqlite(url):
            return cls(url)
        return cls(url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A read-write transaction, committed on success and rolled back on error."""
        if self._write_lock is None:
            with self.engine.begin() as conn:
                yield conn
            return
        with self._write_lock.hold(wait=not _NO_WAIT.get()), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def without_waiting(self) -> Iterator[None]:
        """Within this block, :meth:`begin` raises :class:`WriterBusy` rather than wait for the
        SQLite writers' lock (held by another thread or process): the caller, an event loop,
        then hands the work to a thread. Nested ``begin()`` calls never raise (the lock is
        held by then), so the work sees the error before it has written anything."""
        token = _NO_WAIT.set(True)
        try:
            yield
        finally:
            _NO_WAIT.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not take the write lock; on PostgreSQL
        each statement runs on its own, as READ COMMITTED would have it anyway)."""
        with self._read_engine.connect() as conn:
            conn = conn.execution_options(octavia_readonly=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_lock is not None:
            self._write_lock.close()


def alembic_config(url: str) -> Any:
    """An Alembic Config for the migrations shipped inside the package (no alembic.ini needed)."""
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option: configparser would choke on '%' in passwords.
    cfg.attributes["database_url"] = url
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (creating a SQLite file if needed)."""
    from alembic import command

    if is_sqlite(url):
        db_path = sa.engine.make_url(url).database
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
