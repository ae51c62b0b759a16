"""Alembic environment: URL from ``config.attributes`` (set by octavia.server.db) or ``-x url=``.

On PostgreSQL the upgrade runs under an advisory lock, so an API process and several workers
starting together migrate once instead of racing on CREATE TABLE. On SQLite ``render_as_batch``
lets later revisions ALTER tables (SQLite can only do that by copying the table).
"""

from __future__ import annotations

from alembic import context

from octavia.server.db import make_engine
from octavia.server.tables import metadata

_PG_LOCK_ID = 0x0C7A71A  # any constant shared by every Octavia process


def _url() -> str:
    url = context.config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get(
        "url"
    )
    if not url:
        raise SystemExit("No database URL: pass -x url=... or use octavia.server.db.migrate().")
    return str(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            is_pg = conn.dialect.name == "postgresql"
            if is_pg:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({_PG_LOCK_ID})")
                conn.commit()
            try:
                context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
                with context.begin_transaction():
                    context.run_migrations()
                conn.commit()
            finally:
                if is_pg:
                    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_PG_LOCK_ID})")
                    conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
