"""Sign-up with email verification, login/logout with session tokens, password reset.

Answers never tell whether an email has an account: sign-up, resend and reset always return
202 with the same body, and a failed login says "invalid email or password" in both cases
(after spending the same argon2 time). Only the holder of the right password learns that an
account still needs verification.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy.engine import Connection

from octavia.server import tables as t
from octavia.server.db import new_id, utcnow
from octavia.server.deps import CurrentUser, DbDep, EmailDep, HasherDep, SettingsDep
from octavia.server.email import Mail
from octavia.server.problems import ApiError, responses
from octavia.server.ratelimit import rate_limit
from octavia.server.security import SESSION_PREFIX, new_secret_token, sha256_hex
from octavia.server.settings import ServerSettings

router = APIRouter(prefix="/v1/auth", tags=["auth"])
Purpose = Literal["verify", "reset"]
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


class SessionOut(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user_id: str
    email: str


def normalize_email(email: str) -> str:
    return email.strip().lower()


def issue_email_token(conn: Connection, settings: ServerSettings, user_id: str, purpose: Purpose) -> str:
    token = new_secret_token()
    ttl = settings.verify_token_ttl_s if purpose == "verify" else settings.reset_token_ttl_s
    # One live token per purpose: a new mail invalidates the links in older ones.
    conn.execute(
        sa.update(t.email_tokens)
        .where(t.email_tokens.c.user_id == user_id, t.email_tokens.c.purpose == purpose)
        .where(t.email_tokens.c.used_at.is_(None))
        .values(used_at=utcnow())
    )
    conn.execute(
        sa.insert(t.email_tokens).values(
            id=new_id("etk"),
            user_id=user_id,
            purpose=purpose,
            token_hash=sha256_hex(token),
            expires_at=utcnow() + timedelta(seconds=ttl),
        )
    )
    return token


def consume_email_token(conn: Connection, token: str, purpose: Purpose) -> str | None:
    """Mark the token used and return its user id; None if unknown, used, expired or another purpose."""
    et = t.email_tokens
    row = conn.execute(
        sa.update(et)
        .where(et.c.token_hash == sha256_hex(token), et.c.purpose == purpose)
        .where(et.c.used_at.is_(None), et.c.expires_at > utcnow())
        .values(used_at=utcnow())
        .returning(et.c.user_id)
    ).first()
    return None if row is None else str(row.user_id)


def _verify_mail(settings: ServerSettings, to: str, token: str) -> Mail:
    link = f"{settings.public_url.rstrip('/')}/v1/auth/verify?token={token}"
    hours = settings.verify_token_ttl_s // 3600
    return Mail(
        to,
        "Confirm your Octavia account",
        f"Confirm your email address by opening this link:\n\n{link}\n\nIt expires in {hours} hours.\n",
        f'<p>Confirm your email address: <a href="{link}">{link}</a></p><p>It expires in {hours} hours.</p>',
    )


def _reset_mail(settings: ServerSettings, to: str, token: str) -> Mail:
    minutes = settings.reset_token_ttl_s // 60
    return Mail(
        to,
        "Reset your Octavia password",
        "Someone asked to reset the password of this account. If it was you, send this token to\n"
        f"POST /v1/auth/password/reset within {minutes} minutes:\n\ntoken={token}\n\n"
        "If it was not you, ignore this message; your password is unchanged.\n",
    )


def _signup_again_mail(to: str) -> Mail:
    return Mail(
        to,
        "Your Octavia account",
        "Someone tried to create an Octavia account with this address, which already has one.\n"
        "If it was you, log in, or reset your password if you forgot it.\n",
    )


@router.post("/signup", status_code=202, dependencies=_limited("signup"), responses=responses(503))
def signup(
    body: Credentials, db: DbDep, settings: SettingsDep, hasher: HasherDep, email: EmailDep
) -> dict[str, str]:
    addr = normalize_email(body.email)
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
            token = issue_email_token(conn, settings, user_id, "verify")
    if existing is None:
        email.send(_verify_mail(settings, addr, token))
    else:
        email.send(_signup_again_mail(addr))
    return ACCEPTED


def mark_verified(conn: Connection, settings: ServerSettings, user_id: str) -> None:
    """Mark the address verified and grant the welcome credits, once per user.

    Credits wait for verification so throwaway sign-ups cannot collect them; the grant's
    reference makes a second verification (or a later reset) grant nothing.
    """
    from octavia.server import credits

    done = conn.execute(
        sa.update(t.users)
        .where(t.users.c.id == user_id, t.users.c.email_verified_at.is_(None))
        .values(email_verified_at=utcnow())
    ).rowcount
    if done and settings.signup_credits > 0:
        credits.grant(conn, user_id=user_id, amount=settings.signup_credits, kind="grant",
                      reference=f"signup:{user_id}", note="welcome credits")  # fmt: skip


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


@router.post("/verify/resend", status_code=202, dependencies=_limited("resend"), responses=responses(503))
def resend(body: EmailBody, db: DbDep, settings: SettingsDep, email: EmailDep) -> dict[str, str]:
    addr = normalize_email(body.email)
    token = None
    with db.begin() as conn:
        row = conn.execute(
            sa.select(t.users.c.id).where(t.users.c.email == addr, t.users.c.email_verified_at.is_(None))
        ).first()
        if row is not None:
            token = issue_email_token(conn, settings, row.id, "verify")
    if token is not None:
        email.send(_verify_mail(settings, addr, token))
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
def login(body: LoginBody, db: DbDep, settings: SettingsDep, hasher: HasherDep) -> SessionOut:
    addr = normalize_email(body.email)
    with db.read() as conn:
        row = conn.execute(sa.select(t.users).where(t.users.c.email == addr)).first()
    if row is None:
        hasher.dummy_verify(body.password)
        raise ApiError(401, "invalid_credentials", "Invalid email or password.")
    if not hasher.verify(body.password, row.password_hash):
        raise ApiError(401, "invalid_credentials", "Invalid email or password.")
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


@router.post("/password/forgot", status_code=202, dependencies=_limited("forgot"), responses=responses(503))
def forgot_password(body: EmailBody, db: DbDep, settings: SettingsDep, email: EmailDep) -> dict[str, str]:
    addr = normalize_email(body.email)
    token = None
    with db.begin() as conn:
        row = conn.execute(sa.select(t.users.c.id).where(t.users.c.email == addr)).first()
        if row is not None:
            token = issue_email_token(conn, settings, row.id, "reset")
    if token is not None:
        email.send(_reset_mail(settings, addr, token))
    return ACCEPTED


def revoke_sessions(conn: Connection, user_id: str) -> None:
    conn.execute(
        sa.update(t.sessions)
        .where(t.sessions.c.user_id == user_id, t.sessions.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


@router.post("/password/reset", dependencies=_limited("reset"), responses=responses(400))
def reset_password(body: ResetBody, db: DbDep, hasher: HasherDep, settings: SettingsDep) -> dict[str, str]:
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
        revoke_sessions(conn, user_id)
    return {"status": "password_changed"}
