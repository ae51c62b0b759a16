"""The database layer on SQLite and PostgreSQL: migrations match tables.py, SQLite pragmas,
UTC round-trips, concurrent writers, and create_app's migrate-on-start for SQLite."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from octavia.server import tables as t
from octavia.server.db import Database, current_revision, migrate, new_id
from octavia.server.settings import ServerSettings


def test_migrations_match_the_tables(db_url):
    migrate(db_url)  # idempotent on an up-to-date database
    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn)
            assert ctx.get_current_revision() is not None
            assert compare_metadata(ctx, t.metadata) == []
            names = set(sa.inspect(conn).get_table_names())
    finally:
        db.dispose()
    assert set(t.metadata.tables) <= names


def test_utc_round_trip_and_foreign_keys(db_url):
    db = Database(db_url)
    try:
        uid = new_id("usr")
        paris = timezone(timedelta(hours=1))
        at = datetime(2026, 3, 1, 12, 0, 0, tzinfo=paris)
        with db.begin() as conn:
            conn.execute(
                sa.insert(t.users).values(
                    id=uid, email=f"{uid}@example.com", password_hash="x", created_at=at
                )
            )
        with db.read() as conn:
            got = conn.execute(sa.select(t.users.c.created_at).where(t.users.c.id == uid)).scalar_one()
            assert got == at and got.tzinfo == UTC and got.hour == 11
            # Comparisons with aware datetimes work in SQL on both backends.
            n = conn.execute(
                sa.select(sa.func.count()).where(
                    t.users.c.id == uid, t.users.c.created_at < at + timedelta(seconds=1)
                )
            ).scalar_one()
            assert n == 1
        with pytest.raises(sa.exc.IntegrityError), db.begin() as conn:
            conn.execute(
                sa.insert(t.projects).values(id=new_id("prj"), user_id="usr_missing", name="x", created_at=at)
            )
        with pytest.raises(sa.exc.StatementError, match="naive"), db.begin() as conn:
            conn.execute(
                sa.update(t.users).where(t.users.c.id == uid).values(created_at=datetime(2026, 1, 1))
            )
    finally:
        db.dispose()


def test_concurrent_writers_do_not_fail(db_url):
    """Eight threads each read-then-write in one transaction; none may hit 'database is locked'."""
    db = Database(db_url)
    uid = new_id("usr")
    now = datetime.now(UTC)
    with db.begin() as conn:
        conn.execute(
            sa.insert(t.users).values(id=uid, email=f"{uid}@example.com", password_hash="x", created_at=now)
        )
    errors: list[Exception] = []

    def work() -> None:
        try:
            for _ in range(10):
                with db.begin() as conn:
                    conn.execute(sa.select(sa.func.count()).select_from(t.projects)).scalar_one()
                    conn.execute(
                        sa.insert(t.projects).values(id=new_id("prj"), user_id=uid, name="p", created_at=now)
                    )
        except sa.exc.SQLAlchemyError as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    try:
        assert errors == []
        with db.read() as conn:
            n = conn.execute(sa.select(sa.func.count()).where(t.projects.c.user_id == uid)).scalar_one()
        assert n == 80
    finally:
        db.dispose()


def test_sqlite_pragmas(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        db.dispose()


def test_default_database_is_a_sqlite_file_in_the_data_dir_migrated_on_start(tmp_path):
    from octavia.server.app import create_app

    s = ServerSettings.model_validate({"data_dir": tmp_path / "data", "secret_key": "k"})
    assert s.db_url == f"sqlite:///{tmp_path / 'data' / 'octavia.db'}" and s.should_migrate()
    app = create_app(s)
    app.state.db.dispose()
    assert (tmp_path / "data" / "octavia.db").exists()
    assert current_revision(s.db_url) is not None
    pg = ServerSettings.model_validate({"database_url": "postgresql+psycopg://x@127.0.0.1/y"})
    assert not pg.should_migrate()  # run `alembic upgrade` (or octavia.server.db.migrate) deliberately


def test_signing_key_is_generated_once_per_data_dir(tmp_path):
    s = ServerSettings.model_validate({"data_dir": tmp_path})
    k1, k2 = s.signing_key(), ServerSettings.model_validate({"data_dir": tmp_path}).signing_key()
    assert k1 == k2 and len(k1) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.postgres
def test_the_settings_size_the_postgres_pool(pg_database: str, tmp_path) -> None:
    settings = ServerSettings(database_url=pg_database, data_dir=tmp_path, db_pool_size=3, db_max_overflow=1)
    db = Database.from_settings(settings)
    try:
        conns = [db.engine.connect() for _ in range(4)]  # the pool's 3 and its 1 overflow
        assert db.engine.pool.checkedout() == 4
        for c in conns:
            c.close()
        assert db.engine.pool.checkedin() == 3  # the overflow one was closed, the 3 are kept
    finally:
        db.dispose()
