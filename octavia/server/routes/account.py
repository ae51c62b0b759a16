"""The signed-in account: profile, password change, API keys (shown once, stored as sha256)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from octavia.server import outbox
from octavia.server import tables as t
from octavia.server.db import new_id, utcnow
from octavia.server.deps import CurrentUser, DbDep, HasherDep, SettingsDep
from octavia.server.passwords import check_password
from octavia.server.problems import ApiError, not_found, responses
from octavia.server.routes.auth import queued, revoke_credentials
from octavia.server.security import API_KEY_DISPLAY_CHARS, API_KEY_PREFIX, new_secret_token, sha256_hex

router = APIRouter(prefix="/v1/account", tags=["account"])


class AccountOut(BaseModel):
    id: str
    email: str
    email_verified: bool
    is_admin: bool
    created_at: datetime


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class AccountDelete(BaseModel):
    password: str = Field(max_length=1024, description="The account's current password, to confirm.")


class AccountDeleted(BaseModel):
    status: str
    uploads_deleted: int
    jobs_purged: int
    credits_forfeited: int
    sessions_revoked: int
    api_keys_revoked: int


class ApiKeyCreate(BaseModel):
    name: str = Field("default", min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown only in this response; store it now.")


@router.get("")
def me(user: CurrentUser, db: DbDep) -> AccountOut:
    with db.read() as conn:
        row = conn.execute(sa.select(t.users).where(t.users.c.id == user.id)).one()
    return AccountOut(
        id=row.id,
        email=row.email,
        email_verified=row.email_verified_at is not None,
        is_admin=bool(row.is_admin),
        created_at=row.created_at,
    )


@router.delete("", responses=responses(403, 409))
def delete_account(
    body: AccountDelete, user: CurrentUser, db: DbDep, hasher: HasherDep, settings: SettingsDep
) -> AccountDeleted:
    """Delete the account (see :mod:`octavia.server.account_deletion`): 409 while jobs are unfinished."""
    from octavia.server.account_deletion import delete_account as delete

    with db.read() as conn:
        current = conn.execute(sa.select(t.users.c.password_hash).where(t.users.c.id == user.id)).scalar_one()
    if not hasher.verify(body.password, current):
        raise ApiError(403, "invalid_credentials", "The password is wrong.")
    with db.begin() as conn:
        return AccountDeleted(**delete(conn, settings, user.id))


@router.post("/password", responses=responses(403))
def change_password(
    body: PasswordChange,
    request: Request,
    user: CurrentUser,
    db: DbDep,
    hasher: HasherDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    with db.read() as conn:
        current = conn.execute(sa.select(t.users.c.password_hash).where(t.users.c.id == user.id)).scalar_one()
    if not hasher.verify(body.current_password, current):
        raise ApiError(403, "invalid_credentials", "The current password is wrong.")
    check_password(body.new_password, settings.password_min_score, email=user.email)
    new_hash = hasher.hash(body.new_password)
    # The session making the change stays; other sessions and every API key may belong to
    # whoever knew the old password. A change made with an API key keeps no credential.
    keep = user.credential_id if user.via == "session" else None
    with db.begin() as conn:
        conn.execute(sa.update(t.users).where(t.users.c.id == user.id).values(password_hash=new_hash))
        revoked = revoke_credentials(conn, user.id, keep_session=keep)
        outbox.enqueue(
            conn,
            "password_changed",
            user.email,
            user_id=user.id,
            data={"via": "change", "kept_session": keep is not None, **revoked},
        )
    queued(request)
    kept = "this one" if keep else "none"
    return {
        "status": "password_changed",
        "detail": f"Signed out {revoked['sessions_revoked']} other session(s) (kept: {kept}) and revoked "
        f"{revoked['api_keys_revoked']} API key(s); create new keys for your scripts.",
        **revoked,
    }


def _key_out(row: sa.Row[Any]) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


@router.post("/api-keys", status_code=201)
def create_api_key(body: ApiKeyCreate, user: CurrentUser, db: DbDep) -> ApiKeyCreated:
    key = new_secret_token(API_KEY_PREFIX)
    values = {
        "id": new_id("key"),
        "user_id": user.id,
        "name": body.name,
        "prefix": key[:API_KEY_DISPLAY_CHARS],
        "key_hash": sha256_hex(key),
        "created_at": utcnow(),
    }
    with db.begin() as conn:
        conn.execute(sa.insert(t.api_keys).values(**values))
        row = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.id == values["id"])).one()
    return ApiKeyCreated(**_key_out(row).model_dump(), key=key)


@router.get("/api-keys")
def list_api_keys(user: CurrentUser, db: DbDep) -> list[ApiKeyOut]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(t.api_keys).where(t.api_keys.c.user_id == user.id).order_by(t.api_keys.c.created_at)
        ).all()
    return [_key_out(r) for r in rows]


@router.delete("/api-keys/{key_id}", status_code=204, responses=responses(404))
def revoke_api_key(key_id: str, user: CurrentUser, db: DbDep) -> Response:
    k = t.api_keys
    with db.begin() as conn:
        found = conn.execute(
            sa.update(k)
            .where(k.c.id == key_id, k.c.user_id == user.id)
            .values(revoked_at=sa.func.coalesce(k.c.revoked_at, sa.bindparam("now", type_=t.UTCDateTime())))
            .returning(k.c.id),
            {"now": utcnow()},
        ).first()
    if found is None:
        raise not_found("API key")
    return Response(status_code=204)
