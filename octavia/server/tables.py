"""The schema: one MetaData, SQLAlchemy Core tables. Migrations mirror this file.

Times are stored as UTC: timestamptz on PostgreSQL; on SQLite the value loses its zone, so
:class:`UTCDateTime` puts UTC back on read and every comparison is between aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite raw text (e.g. from server defaults)
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
ID = sa.String(40)

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _user_fk(ondelete: str | None = "CASCADE") -> sa.Column[Any]:
    return sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete=ondelete), nullable=False, index=True)


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("email_verified_at", UTCDateTime, nullable=True),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

email_tokens = sa.Table(
    "email_tokens",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _user_fk(),
    sa.Column("purpose", sa.String(16), nullable=False),  # 'verify' | 'reset'
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _user_fk(),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _user_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _user_fk(),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _user_fk(),
    sa.Column("project_id", ID, sa.ForeignKey("projects.id", ondelete="SET NULL"), nullable=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("storage_key", sa.String(512), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # 'pending' | 'ready' | 'rejected'
    sa.Column("media", JSONType, nullable=True),
    sa.Column("duration", sa.Float, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_uploads_status_created_at", "status", "created_at"),  # the pending-expiry sweep
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", ID, primary_key=True),
    _user_fk(),
    sa.Column("project_id", ID, sa.ForeignKey("projects.id", ondelete="SET NULL"), nullable=True),
    # Nullable so a user may delete a source upload once its jobs are finished; results stay.
    sa.Column("upload_id", ID, sa.ForeignKey("uploads.id", ondelete="SET NULL"), nullable=True, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # queued|running|review|done|failed|cancelled
    sa.Column("source_language", sa.String(16), nullable=True),
    sa.Column("languages", JSONType, nullable=False),
    sa.Column("options", JSONType, nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, default=3, server_default="3"),
    sa.Column("heartbeat_at", UTCDateTime, nullable=True),
    sa.Column("worker_id", sa.String(200), nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("stage", sa.String(64), nullable=True),
    sa.Column("progress", JSONType, nullable=False),
    sa.Column("error", JSONType, nullable=True),
    sa.Column("result", JSONType, nullable=True),
    sa.Column("cost_estimate", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("cost_actual", sa.Integer, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("enqueued_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    # Set when the retention sweep deleted the job's checkpoints / outputs from storage.
    sa.Column("checkpoints_purged_at", UTCDateTime, nullable=True),
    sa.Column("artifacts_purged_at", UTCDateTime, nullable=True),
    # When a job started with ``review`` stopped for its owner's edits (the review expiry clock).
    sa.Column("review_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("user_id", "idempotency_key", name="uq_jobs_user_id_idempotency_key"),
    sa.Index("ix_jobs_status_heartbeat_at", "status", "heartbeat_at"),
    sa.Index("ix_jobs_user_id_created_at", "user_id", "created_at"),
    sa.Index("ix_jobs_status_finished_at", "status", "finished_at"),  # the retention sweep
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("job_id", ID, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("stage", sa.String(64), nullable=True),
    sa.Column("data", JSONType, nullable=False),
    sa.Index("ix_job_events_job_id_id", "job_id", "id"),
)

#: The lines of a job in review (octavia/server/review.py), one row per (language, line): the
#: timing, speaker and source text for reference, the machine translation, and the text the
#: owner edited. They live here, not on a worker's disk: the resumed job may run anywhere.
review_lines = sa.Table(
    "review_lines",
    metadata,
    sa.Column("job_id", ID, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("language", sa.String(16), primary_key=True),
    sa.Column("idx", sa.Integer, primary_key=True),  # 1-based, the CLI review file's [#n]
    sa.Column("start", sa.Float, nullable=False),
    sa.Column("end", sa.Float, nullable=False),
    sa.Column("speaker", sa.String(64), nullable=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("machine", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("voice", sa.String(200), nullable=True),
    sa.Column("edited_at", UTCDateTime, nullable=True),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("job_id", ID, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("storage_key", sa.String(512), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("content_type", sa.String(255), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

#: Storage objects to delete once ``due_at`` passes: bytes of deleted, rejected or expired
#: uploads (again after their signed upload URL expires, since S3 still accepts a POST until
#: then), and retention's job prefixes. The reaper works through it (storage_sweep.py).
storage_purges = sa.Table(
    "storage_purges",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("storage_key", sa.String(512), nullable=False),
    sa.Column("is_prefix", sa.Boolean, nullable=False, default=False, server_default=sa.false()),
    sa.Column("due_at", UTCDateTime, nullable=False, index=True),
    sa.Column("reason", sa.String(32), nullable=False),
)

credit_ledger = sa.Table(
    "credit_ledger",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    _user_fk(ondelete=None),
    # grant|purchase|reserve|settle|refund|adjustment|clawback|debt|debt_payment
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
    # The entry's change to what the user owes (see octavia.server.credits); 0 for most kinds.
    sa.Column("debt", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("job_id", ID, nullable=True, index=True),
    sa.Column("reference", sa.String(255), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("kind", "reference", name="uq_credit_ledger_kind_reference"),
)

# Each user's sums of credit_ledger.amount and .debt, kept by credits._insert in the transaction
# that writes the entry (under the user lock): a job creation reads one row instead of summing
# the user's whole ledger, which grows with every job (1.1 ms at 10,000 entries on SQLite,
# under the database's one write lock). The ledger stays the record; credits.unbalanced checks.
credit_balances = sa.Table(
    "credit_balances",
    metadata,
    sa.Column("user_id", ID, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("balance", sa.BigInteger, nullable=False),
    sa.Column("debt", sa.BigInteger, nullable=False),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("id", sa.String(255), primary_key=True),  # the webhook-id header
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("type", sa.String(100), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("processed_at", UTCDateTime, nullable=True),
    sa.Column("payload", JSONType, nullable=False),
)

polar_orders = sa.Table(
    "polar_orders",
    metadata,
    sa.Column("order_id", sa.String(255), primary_key=True),
    _user_fk(ondelete=None),
    sa.Column("product_id", sa.String(255), nullable=False),
    sa.Column("credits", sa.Integer, nullable=False),
    sa.Column("net_amount", sa.Integer, nullable=False),
    sa.Column("refunded_amount", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Mail waiting to be sent by the outbox sender (octavia/server/outbox.py). A row is an intent
# ("send the reset mail for this address"), not a rendered message: tokens are issued when the
# mail is sent, so no usable token sits in this table, and an address without an account is
# only discovered (and the row dropped) off the request path.
mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("to_addr", sa.String(320), nullable=False),
    sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    sa.Column("data", JSONType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending|sent|failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),  # server-side only, never shown to clients
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),
)

# Login attempts per account (sha256 of the normalised address, so unknown addresses are not
# stored in clear) for the per-account throttle when no Redis is configured.
login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", ID, primary_key=True),
    sa.Column("account_key", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Index("ix_login_attempts_account_key_at", "account_key", "at"),
)
