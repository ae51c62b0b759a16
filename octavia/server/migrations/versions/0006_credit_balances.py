"""credit_balances: each user's ledger sums, kept with every entry

Revision ID: 0006_credit_balances
Revises: 0005_review
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_credit_balances"
down_revision: str | None = "0005_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_balances",
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credit_balances_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credit_balances")),
    )
    # The sums so far, in the migration's own transaction: no entry can slip in between.
    op.execute(
        "INSERT INTO credit_balances (user_id, balance, debt) "
        "SELECT user_id, COALESCE(SUM(amount), 0), COALESCE(SUM(debt), 0) FROM credit_ledger GROUP BY user_id"
    )


def downgrade() -> None:
    op.drop_table("credit_balances")
