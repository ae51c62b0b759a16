"""FastAPI dependencies shared by every router: settings, database, storage, the current user.

``CurrentUser`` accepts ``Authorization: Bearer <token>`` where the token is a session token
(``ses_…``, from login) or an API key (``oak_…``). Both are looked up by their sha256. Without
that header it accepts the web app's session cookie (``octavia/server/web/api_cookie.py``): on
a state-changing request only with the page's ``X-CSRF-Token`` header and a same-site Origin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Concatenate, Literal, ParamSpec, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from octavia.server import tables as t
from octavia.server.authcache import NEUTRAL
from octavia.server.db import Database, utcnow
from octavia.server.problems import ApiError, raises
from octavia.server.security import API_KEY_PREFIX, SESSION_PREFIX, PasswordHasher, sha256_hex
from octavia.server.settings import ServerSettings
from octavia.server.sqlite_lock import WriterBusy
from octavia.server.storage import Storage

if TYPE_CHECKING:
    from octavia.server.authcache import AuthCache

P = ParamSpec("P")
R = TypeVar("R")

_bearer = HTTPBearer(auto_error=False, description="A session token (ses_…) or an API key (oak_…).")
# last_used_at is informative; writing it on every request would turn reads into writes.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class AuthUser:
    id: str
    email: str
    is_admin: bool
    email_verified: bool
    via: Literal["session", "api_key"]
    credential_id: str  # the session id or API key id that authenticated this request


def get_settings(request: Request) -> ServerSettings:
    settings: ServerSettings = request.app.state.settings
    return settings


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def get_hasher(request: Request) -> PasswordHasher:
    hasher: PasswordHasher = request.app.state.hasher
    return hasher


# The dependencies are async wrappers of the functions above: FastAPI runs a sync dependency
# in its thread pool, a hop per dependency per request, only to read an attribute.
async def _settings_dep(request: Request) -> ServerSettings:
    return get_settings(request)


async def _db_dep(request: Request) -> Database:
    return get_db(request)


async def _storage_dep(request: Request) -> Storage:
    return get_storage(request)


async def _hasher_dep(request: Request) -> PasswordHasher:
    return get_hasher(request)


SettingsDep = Annotated[ServerSettings, Depends(_settings_dep)]
DbDep = Annotated[Database, Depends(_db_dep)]
StorageDep = Annotated[Storage, Depends(_storage_dep)]
HasherDep = Annotated[PasswordHasher, Depends(_hasher_dep)]


async def run_read(
    db: Database, fn: Callable[Concatenate[Connection, P], R], *args: P.args, **kwargs: P.kwargs
) -> R:
    """``fn(conn, *args, **kwargs)`` in a read transaction, for an async route: on the event loop
    where the database allows it (:attr:`Database.reads_inline`, SQLite; :attr:`Database.
    async_reader`, PostgreSQL through psycopg, awaiting the database), else in the thread pool."""

    def read() -> R:
        with db.read() as conn:
            return fn(conn, *args, **kwargs)

    if db.reads_inline:
        return read()
    if db.async_reader is not None:
        return await db.async_reader.run(fn, *args, **kwargs)
    return await run_in_threadpool(read)


async def run_write(db: Database, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)``, one write transaction through ``db.begin()``, for an async route:
    on the event loop when the database allows it (:attr:`Database.writes_inline`, SQLite) and
    the writers' lock is free at that moment, else in the thread pool, where it waits for it.

    A job creation is ~1 ms of CPU that holds the GIL: in a thread it paid a hand-off each way
    and held the machine's write lock while queueing for the GIL behind other threads
    (measured, one server process: 2.7 instead of 3.7 ms of CPU per creation). The loop's
    writers take turns (:attr:`Database.loop_writers`): while one waits in a thread for another
    process's write, the rest queue on the loop instead of each starting a thread that would
    wait too (two processes: 493 → 660 creations/s). A busy lock is not tried again after a
    sleep (measured slower). ``fn`` may start twice, so it must write nothing before ``begin()``."""
    if not db.writes_inline:
        return await run_in_threadpool(fn, *args, **kwargs)
    async with db.loop_writers.get():
        try:
            with db.without_waiting():
                return fn(*args, **kwargs)
        except WriterBusy:
            pass
        return await run_in_threadpool(fn, *args, **kwargs)


def _unauthorized(message: str = "Missing or invalid credentials.") -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        message,
        "Log in (POST /v1/auth/login) or use an API key: Authorization: Bearer <token>.",
        headers={"WWW-Authenticate": "Bearer"},
    )


_SESSION_QUERY = (
    sa.select(t.users.c.id, t.users.c.email, t.users.c.is_admin, t.users.c.email_verified_at,
              t.sessions.c.id.label("cid"), t.sessions.c.expires_at)
    .join(t.sessions, t.sessions.c.user_id == t.users.c.id)
    .where(t.sessions.c.token_hash == sa.bindparam("digest"), t.sessions.c.revoked_at.is_(None),
           t.sessions.c.expires_at > sa.bindparam("now", type_=t.UTCDateTime()))
)  # fmt: skip
_KEY_QUERY = (
    sa.select(t.users.c.id, t.users.c.email, t.users.c.is_admin, t.users.c.email_verified_at,
              t.api_keys.c.id.label("cid"), t.api_keys.c.last_used_at)
    .join(t.api_keys, t.api_keys.c.user_id == t.users.c.id)
    .where(t.api_keys.c.key_hash == sa.bindparam("digest"), t.api_keys.c.revoked_at.is_(None))
)  # fmt: skip
_TOUCH_KEY = (
    sa.update(t.api_keys)
    .where(t.api_keys.c.id == sa.bindparam("cid"))
    .values(last_used_at=sa.bindparam("now", type_=t.UTCDateTime()))
)


def authenticate(db: Database, token: str, cache: AuthCache | None = None) -> AuthUser:
    """Resolve a bearer token to its user, or raise 401. Blocking: call it off the event loop.

    With ``cache``, a hit answers without a query, and a successful lookup is stored in it
    (see :mod:`octavia.server.authcache` for what that means for revocation)."""
    digest = sha256_hex(token)
    if cache is not None and (hit := cache.get(digest)) is not None:
        return hit
    generation = cache.generation if cache is not None else 0
    now = utcnow()
    row: Any = None
    expires_at: datetime | None = None
    via: Literal["session", "api_key"] = "session"
    # Statements built once at import (bind parameters only): SQLAlchemy then reuses their
    # compiled form and cache key, where building them per request cost more than the query.
    with db.read() as conn:
        if token.startswith(SESSION_PREFIX):
            row = conn.execute(_SESSION_QUERY, {"digest": digest, "now": now}).first()
            expires_at = row.expires_at if row is not None else None
        elif token.startswith(API_KEY_PREFIX):
            row = conn.execute(_KEY_QUERY, {"digest": digest}).first()
            via = "api_key"
    if row is None:
        raise _unauthorized()
    if via == "api_key" and (row.last_used_at is None or now - row.last_used_at > _LAST_USED_RESOLUTION):
        with db.begin() as conn:
            conn.execute(_TOUCH_KEY, {"cid": row.cid, "now": now}, execution_options=NEUTRAL)
    user = AuthUser(row.id, row.email, bool(row.is_admin), row.email_verified_at is not None, via, row.cid)
    if cache is not None:
        valid_for = None if expires_at is None else (expires_at - now).total_seconds()
        cache.put(digest, user, generation, valid_for)
    return user


def _cookie_or_401(request: Request, db: Database) -> AuthUser:
    # The web app's scripts: the browser's session cookie, with its CSRF header on writes.
    from octavia.server.web.api_cookie import cookie_user

    user = cookie_user(request, db)
    if user is None:
        raise _unauthorized()
    return user


@raises(401)
async def current_user(
    request: Request, db: DbDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AuthUser:
    """Async so a cached credential costs no thread hop; a lookup runs in the thread pool."""
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        return await run_in_threadpool(_cookie_or_401, request, db)
    token = creds.credentials
    cache: AuthCache | None = getattr(request.app.state, "auth_cache", None)
    if cache is not None and (hit := cache.get(sha256_hex(token))) is not None:
        return hit
    return await run_in_threadpool(authenticate, db, token, cache)


@raises(403)
async def admin_user(user: Annotated[AuthUser, Depends(current_user)]) -> AuthUser:
    if not user.is_admin:
        raise ApiError(403, "forbidden", "This needs an administrator account.")
    return user


CurrentUser = Annotated[AuthUser, Depends(current_user)]
AdminUser = Annotated[AuthUser, Depends(admin_user)]
