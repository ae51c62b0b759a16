"""Server settings: the core :class:`~octavia.config.Settings` plus what the server, the workers
and billing need. Same precedence as the core (arguments > ``OCTAVIA_*`` env > TOML > defaults);
dict fields take JSON in the environment (``OCTAVIA_PRICES_PER_MINUTE='{"dub": 5}'``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr

from octavia.config import Settings

QueueBackend = Literal["sqlite", "redis", "postgres", "immediate"]
StorageBackend = Literal["local", "s3"]
EmailBackend = Literal["console", "smtp", "resend", "sendgrid"]

MiB = 1024 * 1024


class ServerSettings(Settings):
    """Everything ``octavia serve`` / ``octavia worker`` read; built once at the edge."""

    # Database and queue
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: a SQLite file <data_dir>/octavia.db."
    )
    auto_migrate: bool | None = Field(
        default=None,
        description="Run `alembic upgrade head` in create_app; default: on for SQLite, off otherwise.",
    )
    db_pool_size: int = Field(
        default=16, ge=1,
        description="PostgreSQL connections a pool keeps open (an API process has two: reads on "
        "its event loop and the rest in threads; a worker one). Past them, up to db_max_overflow "
        "more are opened for a request and closed after it: size it to a process's concurrent "
        "requests (5 cost a quarter of job creations/s under 16 clients). Every pool's worst "
        "case must fit PostgreSQL's max_connections (README: Running several server processes).",
    )  # fmt: skip
    db_max_overflow: int = Field(
        default=8, ge=0, description="Connections a PostgreSQL pool may open past db_pool_size."
    )
    queue: QueueBackend = "sqlite"
    redis_url: str | None = Field(
        default=None, description="Redis for the Huey queue and shared rate limits."
    )

    # Jobs / workers (used by the jobs/worker code)
    job_max_attempts: int = 3
    heartbeat_interval_s: float = 5.0
    heartbeat_stale_s: float = 60.0
    queued_stale_s: float = 300.0
    review_ttl_s: float = Field(
        default=14 * 24 * 3600.0,
        description="A job left in review this long is cancelled and its credits refunded.",
    )
    worker_threads: int = 1

    # Storage
    storage: StorageBackend = "local"
    storage_dir: Path | None = Field(
        default=None, description="Local storage root; default <data_dir>/storage."
    )
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_prefix: str = ""
    upload_pending_ttl_s: int = Field(
        default=24 * 3600,
        description="An upload never completed is deleted (row and bytes) this long after it was declared.",
    )
    storage_quota_bytes: int | None = Field(
        default=20 * 1024 * MiB,
        description="Per user: uploads (pending and ready) plus job outputs; None for no limit.",
    )
    checkpoint_retention_s: float = Field(
        default=24 * 3600.0,
        description="Stage checkpoints of a finished job are deleted this long after it ended.",
    )
    artifact_retention_s: float | None = Field(
        default=30 * 24 * 3600.0,
        description="A finished job's outputs are deleted this long after it ended; None keeps them.",
    )

    # Identity of this server
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs upload/download URLs; default: generated once into <data_dir>/secret_key.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000", description="Base URL clients reach this server at."
    )

    # Email
    email_backend: EmailBackend = "console"
    email_from: str = "Octavia <no-reply@localhost>"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_timeout_s: float = 10.0
    mail_poll_interval_s: float = Field(
        default=2.0, description="How often the outbox sender looks for mail queued by other processes."
    )
    mail_max_attempts: int = Field(default=8, description="Delivery tries before a mail is marked failed.")
    mail_retry_base_s: float = Field(default=5.0, description="First retry delay; doubles each try.")
    mail_retry_max_s: float = 3600.0
    mail_lease_s: float = Field(
        default=120.0, description="A claimed mail another sender may retry after (its sender died)."
    )
    resend_api_key: SecretStr | None = None
    resend_base_url: str = "https://api.resend.com"
    sendgrid_api_key: SecretStr | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com"

    # Auth
    require_email_verification: bool = True
    session_ttl_s: int = 30 * 24 * 3600
    verify_token_ttl_s: int = 48 * 3600
    reset_token_ttl_s: int = 3600
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    password_min_score: int = Field(
        default=3, ge=0, le=4, description="Lowest zxcvbn score (0-4) a new password may have."
    )

    # Limits
    max_request_bytes: int = Field(
        default=1 * MiB, description="JSON bodies; uploads go to storage, not here."
    )
    max_upload_bytes: int = 2048 * MiB
    max_media_seconds: float = 4 * 3600.0
    allowed_content_types: list[str] = Field(
        default_factory=lambda: ["audio/", "video/", "application/ogg", "application/mp4"],
        description="Declared upload types: a prefix ending in '/' or an exact type.",
    )
    upload_url_ttl_s: int = 3600
    download_url_ttl_s: int = 3600
    rate_limit_auth: str = Field(default="10/minute", description="Per client IP and auth route.")
    login_throttle: str = Field(
        default="10/15 minutes",
        description="Failed logins per account (any IP, all processes) before it is throttled.",
    )
    rate_limit_jobs: str = Field(default="60/minute", description="Per client IP, job creation.")

    # Billing
    prices_per_minute: dict[str, int] = Field(
        default_factory=lambda: {"subtitle": 1, "translate-audio": 3, "dub": 5},
        description="Credits per started media minute, by job kind.",
    )
    signup_credits: int = 30
    polar_access_token: SecretStr | None = None
    polar_environment: Literal["sandbox", "production"] = "sandbox"
    polar_base_url: str | None = Field(default=None, description="Override the Polar API base URL (tests).")
    polar_webhook_secret: SecretStr | None = None
    polar_products: dict[str, int] = Field(
        default_factory=dict, description="Polar product id → credits it buys."
    )
    polar_success_url: str | None = None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'octavia.db'}"

    @property
    def storage_root(self) -> Path:
        return self.storage_dir or self.data_dir / "storage"

    def should_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.db_url.startswith("sqlite")

    def signing_key(self) -> bytes:
        """The secret for signed URLs. Generated once per data dir so restarts keep URLs valid."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: two processes starting at once must agree on one key.
            try:
                with path.open("x") as f:
                    f.write(secrets.token_urlsafe(48))
                path.chmod(0o600)
            except FileExistsError:
                pass
        return path.read_text().strip().encode()


def load_server_settings(**overrides: Any) -> ServerSettings:
    """Like :func:`octavia.config.load_settings`: ``None`` overrides are ignored."""
    return ServerSettings(**{k: v for k, v in overrides.items() if v is not None})
