"""``octavia admin credits …`` as an operator runs it: a real process, settings from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from octavia.server import credits
from octavia.server.db import Database
from tests.server.fixtures_billing import make_user


def _octavia(db_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OCTAVIA_DATABASE_URL": db_url,
        "OCTAVIA_DATA_DIR": str(tmp_path / "data"),
        "OCTAVIA_CONFIG": str(tmp_path / "none.toml"),  # no operator config file leaks in
    }
    return subprocess.run(
        [sys.executable, "-m", "octavia", "admin", "credits", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def db(db_url: str) -> Database:
    return Database(db_url)


def test_grant_by_email_and_id_take_back_and_show(db: Database, db_url: str, tmp_path: Path) -> None:
    email = f"Op-Target-{os.getpid()}-{tmp_path.name}@Example.com"
    uid = make_user(db, email)
    r = _octavia(db_url, tmp_path, "grant", email.lower(), "250", "--note", "conference promo")
    assert r.returncode == 0, r.stderr
    assert "now has 250" in r.stdout
    r = _octavia(db_url, tmp_path, "grant", "--reference", f"fix-{uid}", uid, "--", "-50")
    assert r.returncode == 0, r.stderr
    r = _octavia(
        db_url, tmp_path, "grant", "--reference", f"fix-{uid}", uid, "--", "-50"
    )  # re-run: no change
    assert r.returncode == 0 and "already used" in r.stdout
    with db.read() as conn:
        assert credits.balance(conn, uid) == 200
        notes = [(e.kind, e.amount, e.note) for e in credits.history(conn, uid)]
    assert notes == [("adjustment", -50, "granted by an operator"), ("grant", 250, "conference promo")]
    r = _octavia(db_url, tmp_path, "show", uid)
    assert r.returncode == 0 and "200 credits" in r.stdout and "conference promo" in r.stdout
    db.dispose()


def test_errors_are_clear_and_change_nothing(db: Database, db_url: str, tmp_path: Path) -> None:
    uid = make_user(db)
    r = _octavia(db_url, tmp_path, "grant", "nobody@example.com", "5")
    assert r.returncode == 2 and "No user" in r.stderr
    r = _octavia(db_url, tmp_path, "grant", uid, "--", "-1")
    assert r.returncode == 2 and "negative" in r.stderr
    with db.read() as conn:
        assert credits.balance(conn, uid) == 0
    db.dispose()


def test_check_finds_a_balance_that_differs_from_the_ledger(
    db: Database, db_url: str, tmp_path: Path
) -> None:
    import sqlalchemy as sa

    from octavia.server.db import utcnow
    from octavia.server.tables import credit_ledger

    uid = make_user(db)
    assert _octavia(db_url, tmp_path, "grant", uid, "30").returncode == 0
    r = _octavia(db_url, tmp_path, "check")
    assert r.returncode == 0 and "Every balance matches the ledger" in r.stdout, r.stderr
    with db.begin() as conn:  # an entry written behind credits' back (a hand-made SQL fix, say)
        bad = conn.execute(
            sa.insert(credit_ledger)
            .values(user_id=uid, kind="adjustment", amount=-7, created_at=utcnow())
            .returning(credit_ledger.c.id)
        ).scalar_one()
    try:
        r = _octavia(db_url, tmp_path, "check")
        assert r.returncode == 1
        assert f"{uid}: kept balance 30, debt 0; ledger sums 23, 0" in r.stderr
        assert "1 balance(s) differ" in r.stderr and "Traceback" not in r.stderr
    finally:
        with db.begin() as conn:  # the database is shared with other tests
            conn.execute(sa.delete(credit_ledger).where(credit_ledger.c.id == bad))
        db.dispose()
