"""The account mails (verify, reset, "already registered", password changed) and their tokens.

The outbox sender calls :func:`render` when it delivers a queued intent: only then does it look
the account up and issue the single-use token, so the request that queued the intent did the
same work whether or not the address has an account (see ``outbox.py``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from octavia.server import tables as t
from octavia.server.db import new_id, utcnow
from octavia.server.email import Mail
from octavia.server.security import new_secret_token, sha256_hex
from octavia.server.settings import ServerSettings

Purpose = Literal["verify", "reset"]
# verify: a new account; resend: verify again if still unverified; signup_again: the address
# already had an account; reset: forgot-password; password_changed: change or reset done.
MailKind = Literal["verify", "resend", "signup_again", "reset", "password_changed"]


def normalize_email(email: str) -> str:
    """The address an account is stored and logs in under."""
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
    # The web app's page (it asks for one click, so a mail scanner opening the link spends nothing);
    # API clients POST the token to /v1/auth/verify, or GET /v1/auth/verify?token=.
    link = f"{settings.public_url.rstrip('/')}/verify?token={token}"
    hours = settings.verify_token_ttl_s // 3600
    return Mail(
        to,
        "Confirm your Octavia account",
        f"Confirm your email address by opening this link:\n\n{link}\n\nIt expires in {hours} hours.\n",
        f'<p>Confirm your email address: <a href="{link}">{link}</a></p><p>It expires in {hours} hours.</p>',
    )


def _reset_mail(settings: ServerSettings, to: str, token: str) -> Mail:
    minutes = settings.reset_token_ttl_s // 60
    link = f"{settings.public_url.rstrip('/')}/reset?token={token}"
    return Mail(
        to,
        "Reset your Octavia password",
        "Someone asked to reset the password of this account. If it was you, choose a new one\n"
        f"within {minutes} minutes at\n\n{link}\n\n"
        "(or send the token to POST /v1/auth/password/reset).\n\n"
        "If it was not you, ignore this message; your password is unchanged.\n",
    )


def _signup_again_mail(to: str) -> Mail:
    return Mail(
        to,
        "Your Octavia account",
        "Someone tried to create an Octavia account with this address, which already has one.\n"
        "If it was you, log in, or reset your password if you forgot it.\n",
    )


def _password_changed_mail(to: str, data: dict[str, Any]) -> Mail:
    how = "reset through the emailed token" if data.get("via") == "reset" else "changed"
    kept = " except the one that made the change" if data.get("kept_session") else ""
    return Mail(
        to,
        "Your Octavia password was changed",
        f"The password of your Octavia account was {how}.\n"
        f"Signed out: {data.get('sessions_revoked', 0)} session(s){kept}. "
        f"Revoked: {data.get('api_keys_revoked', 0)} API key(s); create new ones after logging in.\n\n"
        "If this was not you, reset your password now with POST /v1/auth/password/forgot.\n",
    )


def _user(conn: Connection, addr: str, *, unverified_only: bool = False) -> Any:
    q = sa.select(t.users.c.id).where(t.users.c.email == addr)
    if unverified_only:
        q = q.where(t.users.c.email_verified_at.is_(None))
    return conn.execute(q).first()


def render(
    conn: Connection, settings: ServerSettings, kind: str, to: str, data: dict[str, Any]
) -> Mail | None:
    """The mail for a queued intent, issuing its token now; None when there is nothing to send
    (no such account, or already verified)."""
    if kind == "signup_again" or kind == "password_changed":
        if _user(conn, to) is None:
            return None
        return _signup_again_mail(to) if kind == "signup_again" else _password_changed_mail(to, data)
    if kind in ("verify", "resend"):
        row = _user(conn, to, unverified_only=True)
        return (
            None
            if row is None
            else _verify_mail(settings, to, issue_email_token(conn, settings, row.id, "verify"))
        )
    if kind == "reset":
        row = _user(conn, to)
        return (
            None
            if row is None
            else _reset_mail(settings, to, issue_email_token(conn, settings, row.id, "reset"))
        )
    raise ValueError(f"unknown mail kind {kind!r}")
