"""Sign-up with email verification, login/logout with session tokens, password reset.

Answers never tell whether an email has an account: sign-up, resend and reset always return
202 with the same body after the same work (one row queued in the mail outbox; the account
is looked up and the mail sent later, off the request path, see ``outbox.py``), and a failed
login says "invalid email or password" in both cases (after spending the same argon2 time).
Only the holder of the right password learns that an account still needs verification.
Logins are limited per client IP and, across all processes, per account.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy.engine import Connection

from octavia.server import outbox
from octavia.server import tables as t
from octavia.server.accountmail import consume_email_token, normalize_email
from octavia.server.db import new_id, utcnow
from octavia.server.deps import CurrentUser, DbDep, HasherDep, SettingsDep
from octavia.server.passwords import check_password, welcome_reference
from octavia.server.problems import ApiError, responses
from octavia.server.ratelimit import AccountThrottle, parse_rate, rate_limit, too_many
from octavia.server.security import SESSION_PREFIX, new_secret_token, sha256_hex
from octavia.server.settings import ServerSettings

router = APIRouter(prefix="/v1/auth", tags=["auth"])
ACCEPTED = {"status": "accepted", "detail": "If the address can receive mail, a message is on its way."}


def _limited(name: str) -> list[Any]:
    return [Depends(rate_limit(f"auth:{name}", "rate_limit_auth"))]


class Credentials(BaseModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=1024)


class LoginBody(BaseModel):
    email: EmailStr
    # No min length here: a login must not reveal the password policy of an old account.
    password: str = Field(max_length=1024)


class EmailBody(BaseModel):
    email: EmailStr


class TokenBody(BaseModel):
    token: str = Field(max_length=200)


class ResetBody(BaseModel):
    token: str = Field(max_length=200)
    password: str = Field(min_length=8, max_length=1024)


def queued(request: Request) -> None:
    """After the commit: the mail sender of this process need not wait for its next poll."""
    request.app.state.mail_outbox.wake()


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user_id: str
    email: str


@router.post("/signup", status_code=202, dependencies=_limited("signup"))
def signup(
    body: Credentials, request: Request, db: DbDep, settings: SettingsDep, hasher: HasherDep
) -> dict[str, str]:
    addr = normalize_email(body.email)
    # Judged for a taken address too: the answer must not depend on whether it has an account.
    check_password(body.password, settings.password_min_score, email=addr)
    pw_hash = hasher.hash(body.password)  # before the transaction: ~100 ms of CPU holds no lock
    user_id = new_id("usr")
    with db.begin() as conn:
        existing = conn.execute(sa.select(t.users.c.id).where(t.users.c.email == addr)).first()
        if existing is None:
            conn.execute(
                sa.insert(t.users).values(
                    id=user_id, email=addr, password_hash=pw_hash, is_admin=False, created_at=utcnow()
                )
            )
            outbox.enqueue(conn, "verify", addr, user_id=user_id)
        else:
            outbox.enqueue(conn, "signup_again", addr)
    queued(request)
    return ACCEPTED


def mark_verified(conn: Connection, settings: ServerSettings, user_id: str) -> None:
    """Mark the address verified and grant the welcome credits, once per user.

    Credits wait for verification so throwaway sign-ups cannot collect them. The grant's
    reference is the canonical address (``passwords.canonical_email``: no ``+tag``, no Gmail
    dots), so a second verification, a later reset, or another account on a plus-address of
    the same mailbox grants nothing.
    """
    from octavia.server import credits

    email = conn.execute(sa.select(t.users.c.email).where(t.users.c.id == user_id)).scalar_one()
    done = conn.execute(
        sa.update(t.users)
        .where(t.users.c.id == user_id, t.users.c.email_verified_at.is_(None))
        .values(email_verified_at=utcnow())
    ).rowcount
    if done and settings.signup_credits > 0:
        credits.grant(conn, user_id=user_id, amount=settings.signup_credits, kind="grant",
                      reference=welcome_reference(email), note="welcome credits")  # fmt: skip


def _verify(token: str, db: DbDep, settings: ServerSettings) -> dict[str, Any]:
    with db.begin() as conn:
        user_id = consume_email_token(conn, token, "verify")
        if user_id is None:
            raise ApiError(
                400,
                "invalid_token",
                "This verification link is invalid or has expired.",
                "Ask for a new one with POST /v1/auth/verify/resend.",
            )
        mark_verified(conn, settings, user_id)
    return {"status": "verified"}


@router.post("/verify", dependencies=_limited("verify"), responses=responses(400))
def verify(body: TokenBody, db: DbDep, settings: SettingsDep) -> dict[str, Any]:
    return _verify(body.token, db, settings)


@router.get(
    "/verify",
    dependencies=_limited("verify"),
    summary="Verify (the link in the email)",
    responses=responses(400),
)
def verify_link(
    token: Annotated[str, Query(max_length=200)], db: DbDep, settings: SettingsDep
) -> dict[str, Any]:
    return _verify(token, db, settings)


@router.post("/verify/resend", status_code=202, dependencies=_limited("resend"))
def resend(body: EmailBody, request: Request, db: DbDep) -> dict[str, str]:
    with db.begin() as conn:
        outbox.enqueue(conn, "resend", normalize_email(body.email))
    queued(request)
    return ACCEPTED


def create_session(conn: Connection, settings: ServerSettings, user_id: str) -> tuple[str, datetime]:
    token = new_secret_token(SESSION_PREFIX)
    now = utcnow()
    expires = now + timedelta(seconds=settings.session_ttl_s)
    conn.execute(
        sa.insert(t.sessions).values(
            id=new_id("ses"),
            user_id=user_id,
            token_hash=sha256_hex(token),
            created_at=now,
            expires_at=expires,
        )
    )
    return token, expires


@router.post("/login", dependencies=_limited("login"), responses=responses(401, 403))
def login(
    body: LoginBody, request: Request, db: DbDep, settings: SettingsDep, hasher: HasherDep
) -> SessionOut:
    addr = normalize_email(body.email)
    throttle: AccountThrottle = request.app.state.login_throttle
    account_key = sha256_hex(addr)
    limit, window = parse_rate(settings.login_throttle)
    wait, attempt = throttle.attempt(account_key, limit, window)
    if wait > 0:
        raise too_many("Too many failed logins for this account.", wait)
    with db.read() as conn:
        row = conn.execute(sa.select(t.users).where(t.users.c.email == addr)).first()
    if row is None:
        hasher.dummy_verify(body.password)
        raise ApiError(401, "invalid_credentials", "Invalid email or password.")
    if not hasher.verify(body.password, row.password_hash):
        raise ApiError(401, "invalid_credentials", "Invalid email or password.")
    throttle.forget(account_key, attempt)  # the right password: no failure to count
    if settings.require_email_verification and row.email_verified_at is None:
        raise ApiError(
            403,
            "email_not_verified",
            "Confirm your email address first.",
            "Open the link we emailed you, or ask for a new one with POST /v1/auth/verify/resend.",
        )
    with db.begin() as conn:
        token, expires = create_session(conn, settings, row.id)
    return SessionOut(token=token, expires_at=expires, user_id=row.id, email=row.email)


@router.post("/logout", status_code=204, responses=responses(400))
def logout(user: CurrentUser, db: DbDep) -> Response:
    if user.via != "session":
        raise ApiError(400, "not_a_session", "API keys are revoked with DELETE /v1/account/api-keys/{id}.")
    with db.begin() as conn:
        conn.execute(
            sa.update(t.sessions).where(t.sessions.c.id == user.credential_id).values(revoked_at=utcnow())
        )
    return Response(status_code=204)


@router.post("/password/forgot", status_code=202, dependencies=_limited("forgot"))
def forgot_password(body: EmailBody, request: Request, db: DbDep) -> dict[str, str]:
    # The same single insert for every address: whether it has an account is decided by the
    # mail sender, so status, body and timing are the same for both.
    with db.begin() as conn:
        outbox.enqueue(conn, "reset", normalize_email(body.email))
    queued(request)
    return ACCEPTED


def revoke_credentials(conn: Connection, user_id: str, *, keep_session: str | None = None) -> dict[str, int]:
    """Revoke the user's live sessions (but ``keep_session``) and every API key; the counts."""
    now = utcnow()
    s, k = t.sessions, t.api_keys
    q = sa.update(s).where(s.c.user_id == user_id, s.c.revoked_at.is_(None))
    if keep_session is not None:
        q = q.where(s.c.id != keep_session)
    sessions = conn.execute(q.values(revoked_at=now)).rowcount
    keys = conn.execute(
        sa.update(k).where(k.c.user_id == user_id, k.c.revoked_at.is_(None)).values(revoked_at=now)
    ).rowcount
    return {"sessions_revoked": int(sessions), "api_keys_revoked": int(keys)}


@router.post("/password/reset", dependencies=_limited("reset"), responses=responses(400))
def reset_password(
    body: ResetBody, request: Request, db: DbDep, hasher: HasherDep, settings: SettingsDep
) -> dict[str, Any]:
    # Judged before the token is spent, so a weak choice can be corrected with the same token.
    check_password(body.password, settings.password_min_score)
    pw_hash = hasher.hash(body.password)
    with db.begin() as conn:
        user_id = consume_email_token(conn, body.token, "reset")
        if user_id is None:
            raise ApiError(
                400,
                "invalid_token",
                "This reset token is invalid or has expired.",
                "Ask for a new one with POST /v1/auth/password/forgot.",
            )
        conn.execute(sa.update(t.users).where(t.users.c.id == user_id).values(password_hash=pw_hash))
        # Receiving the mail proves the address, so a reset also verifies it.
        mark_verified(conn, settings, user_id)
        # Whoever asked may have taken the account over: every session and API key goes.
        revoked = revoke_credentials(conn, user_id)
        addr = conn.execute(sa.select(t.users.c.email).where(t.users.c.id == user_id)).scalar_one()
        outbox.enqueue(conn, "password_changed", addr, user_id=user_id, data={"via": "reset", **revoked})
    queued(request)
    return {
        "status": "password_changed",
        "detail": "Every session was signed out and every API key revoked; log in again and create new keys.",
        **revoked,
    }
