"""accounts: mail outbox and per-account login attempts

Revision ID: 0003_accounts
Revises: 0002_ledger_debt
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_accounts"
down_revision: str | None = "0002_ledger_debt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_mail_outbox_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    op.create_index("ix_mail_outbox_status_next_attempt_at", "mail_outbox", ["status", "next_attempt_at"])
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_key", sa.String(length=64), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index("ix_login_attempts_account_key_at", "login_attempts", ["account_key", "at"])
    _rekey_welcome_grants()


def _welcome_reference(addr: str) -> str:
    # A frozen copy of octavia.server.passwords.welcome_reference as of this revision.
    local, _, domain = addr.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        domain, local = "gmail.com", local.replace(".", "")
    return "welcome:" + hashlib.sha256(f"{local}@{domain}".encode()).hexdigest()[:40]


def _rekey_welcome_grants() -> None:
    """Welcome grants were keyed ``signup:<user id>``; key them by mailbox, so a plus-address of
    an account that already had them gets none. Where two accounts of one mailbox both got
    them already, the first keeps the new key and the others keep their old one."""
    conn = op.get_bind()
    cols = ("id", "kind", "reference", "user_id")
    ledger = sa.table("credit_ledger", *(sa.column(c) for c in cols))
    users = sa.table("users", sa.column("id"), sa.column("email"))
    rows = conn.execute(
        sa.select(ledger.c.id, users.c.email)
        .join(users, users.c.id == ledger.c.user_id)
        .where(ledger.c.kind == "grant", ledger.c.reference.like("signup:%"))
        .order_by(ledger.c.id)
    ).all()
    taken = set(
        conn.execute(
            sa.select(ledger.c.reference).where(
                ledger.c.kind == "grant", ledger.c.reference.like("welcome:%")
            )
        ).scalars()
    )
    for entry_id, email in rows:
        ref = _welcome_reference(email)
        if ref not in taken:
            taken.add(ref)
            conn.execute(sa.update(ledger).where(ledger.c.id == entry_id).values(reference=ref))


def downgrade() -> None:
    op.drop_index("ix_login_attempts_account_key_at", table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_index("ix_mail_outbox_status_next_attempt_at", table_name="mail_outbox")
    op.drop_table("mail_outbox")
