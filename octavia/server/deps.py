"""FastAPI dependencies shared by every router: settings, database, storage, the current user.

``CurrentUser`` accepts ``Authorization: Bearer <token>`` where the token is a session token
(``ses_…``, from login) or an API key (``oak_…``). Both are looked up by their sha256. Without
that header it accepts the web app's session cookie (``octavia/server/web/api_cookie.py``): on
a state-changing request only with the page's ``X-CSRF-Token`` header and a same-site Origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from octavia.server import tables as t
from octavia.server.db import Database, utcnow
from octavia.server.problems import ApiError, raises
from octavia.server.security import API_KEY_PREFIX, SESSION_PREFIX, PasswordHasher, sha256_hex
from octavia.server.settings import ServerSettings
from octavia.server.storage import Storage

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


SettingsDep = Annotated[ServerSettings, Depends(get_settings)]
DbDep = Annotated[Database, Depends(get_db)]
StorageDep = Annotated[Storage, Depends(get_storage)]
HasherDep = Annotated[PasswordHasher, Depends(get_hasher)]


def _unauthorized(message: str = "Missing or invalid credentials.") -> ApiError:
    return ApiError(
        401,
        "unauthorized",
        message,
        "Log in (POST /v1/auth/login) or use an API key: Authorization: Bearer <token>.",
        headers={"WWW-Authenticate": "Bearer"},
    )


def authenticate(db: Database, token: str) -> AuthUser:
    """Resolve a bearer token to its user, or raise 401. Sync: FastAPI runs it in a thread."""
    now = utcnow()
    digest = sha256_hex(token)
    u = t.users
    row: Any
    with db.read() as conn:
        if token.startswith(SESSION_PREFIX):
            s = t.sessions
            row = conn.execute(
                sa.select(u.c.id, u.c.email, u.c.is_admin, u.c.email_verified_at, s.c.id.label("cid"))
                .join(s, s.c.user_id == u.c.id)
                .where(s.c.token_hash == digest, s.c.revoked_at.is_(None), s.c.expires_at > now)
            ).first()
            via: Literal["session", "api_key"] = "session"
            last_used = None
        elif token.startswith(API_KEY_PREFIX):
            k = t.api_keys
            row = conn.execute(
                sa.select(
                    u.c.id,
                    u.c.email,
                    u.c.is_admin,
                    u.c.email_verified_at,
                    k.c.id.label("cid"),
                    k.c.last_used_at,
                )
                .join(k, k.c.user_id == u.c.id)
                .where(k.c.key_hash == digest, k.c.revoked_at.is_(None))
            ).first()
            via = "api_key"
            last_used = row.last_used_at if row is not None else None
        else:
            row = None
    if row is None:
        raise _unauthorized()
    if via == "api_key" and (last_used is None or now - last_used > _LAST_USED_RESOLUTION):
        with db.begin() as conn:
            conn.execute(sa.update(t.api_keys).where(t.api_keys.c.id == row.cid).values(last_used_at=now))
    return AuthUser(row.id, row.email, bool(row.is_admin), row.email_verified_at is not None, via, row.cid)


@raises(401)
def current_user(
    request: Request, db: DbDep, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AuthUser:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        # The web app's scripts: the browser's session cookie, with its CSRF header on writes.
        from octavia.server.web.api_cookie import cookie_user

        user = cookie_user(request, db)
        if user is None:
            raise _unauthorized()
        return user
    return authenticate(db, creds.credentials)


@raises(403)
def admin_user(user: Annotated[AuthUser, Depends(current_user)]) -> AuthUser:
    if not user.is_admin:
        raise ApiError(403, "forbidden", "This needs an administrator account.")
    return user


CurrentUser = Annotated[AuthUser, Depends(current_user)]
AdminUser = Annotated[AuthUser, Depends(admin_user)]
