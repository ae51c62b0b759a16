"""storage lifecycle: purge queue, retention marks on jobs, upload lookups by key and age

Revision ID: 0004_storage
Revises: 0003_accounts
Create Date: 2026-12-02 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_storage"
down_revision: str | None = "0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)  # frozen copy of tables.UTCDateTime's storage type


def upgrade() -> None:
    op.create_table(
        "storage_purges",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("is_prefix", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storage_purges")),
    )
    op.create_index(op.f("ix_storage_purges_due_at"), "storage_purges", ["due_at"], unique=False)
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("checkpoints_purged_at", TS, nullable=True))
        batch.add_column(sa.Column("artifacts_purged_at", TS, nullable=True))
        batch.create_index("ix_jobs_status_finished_at", ["status", "finished_at"], unique=False)
    with op.batch_alter_table("uploads") as batch:
        batch.create_index(op.f("ix_uploads_storage_key"), ["storage_key"], unique=False)
        batch.create_index("ix_uploads_status_created_at", ["status", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("uploads") as batch:
        batch.drop_index("ix_uploads_status_created_at")
        batch.drop_index(op.f("ix_uploads_storage_key"))
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_status_finished_at")
        batch.drop_column("artifacts_purged_at")
        batch.drop_column("checkpoints_purged_at")
    op.drop_index(op.f("ix_storage_purges_due_at"), table_name="storage_purges")
    op.drop_table("storage_purges")
