"""Welcome credits: granted once, on verification, never before it."""

from __future__ import annotations

import uuid
from typing import Any

from tests.server.conftest import unique_email


def test_credits_arrive_with_verification_once(live_server: Any, mailbox: Any) -> None:
    addr, password = unique_email("welcome"), "correct horse 9"
    anon = live_server.client()
    assert anon.post("/v1/auth/signup", json={"email": addr, "password": password}).status_code == 202
    token = mailbox.token(addr, "Confirm")
    assert anon.post("/v1/auth/verify", json={"token": token}).status_code == 200
    assert anon.post("/v1/auth/verify", json={"token": token}).status_code == 400  # single use
    # A password reset also proves the address; it must not grant the welcome credits again.
    assert anon.post("/v1/auth/password/forgot", json={"email": addr}).status_code == 202
    reset = mailbox.token(addr, "eset")
    assert (
        anon.post("/v1/auth/password/reset", json={"token": reset, "password": "another horse 7"}).status_code
        == 200
    )
    login = anon.post("/v1/auth/login", json={"email": addr, "password": "another horse 7"}).json()
    billing = live_server.client(login["token"]).get("/v1/billing").json()
    assert billing["balance"] == live_server.settings.signup_credits > 0
    grants = [e for e in billing["entries"] if e["kind"] == "grant"]
    assert len(grants) == 1


def _verify_and_balance(live_server: Any, mailbox: Any, addr: str, password: str) -> int:
    anon = live_server.client()
    assert anon.post("/v1/auth/signup", json={"email": addr, "password": password}).status_code == 202
    assert anon.post("/v1/auth/verify", json={"token": mailbox.token(addr, "Confirm")}).status_code == 200
    login = anon.post("/v1/auth/login", json={"email": addr, "password": password})
    assert login.status_code == 200, login.text  # each account logs in with the address it gave
    assert login.json()["email"] == addr.lower()
    return int(live_server.client(login.json()["token"]).get("/v1/billing").json()["balance"])


def test_plus_addresses_of_one_mailbox_get_the_welcome_credits_once(live_server: Any, mailbox: Any) -> None:
    base = f"ann{uuid.uuid4().hex[:8]}"
    password, credits = "correct horse 9", live_server.settings.signup_credits
    assert _verify_and_balance(live_server, mailbox, f"{base}@example.com", password) == credits
    assert _verify_and_balance(live_server, mailbox, f"{base}+promo@example.com", password) == 0
    assert _verify_and_balance(live_server, mailbox, f"{base.upper()}+again@Example.com", password) == 0
    # Gmail ignores dots and treats googlemail.com as gmail.com; other domains keep their dots.
    g = f"b.o.b{uuid.uuid4().hex[:6]}"
    assert _verify_and_balance(live_server, mailbox, f"{g}@gmail.com", password) == credits
    assert _verify_and_balance(live_server, mailbox, f"{g.replace('.', '')}+x@googlemail.com", password) == 0
    assert _verify_and_balance(live_server, mailbox, f"{g}@example.org", password) == credits
    assert _verify_and_balance(live_server, mailbox, f"{g.replace('.', '')}@example.org", password) == credits


def test_canonical_email() -> None:
    from octavia.server.passwords import canonical_email

    assert canonical_email(" Ann+Tag+more@Example.COM ") == "ann@example.com"
    assert canonical_email("a.n.n+x@googlemail.com") == "ann@gmail.com"
    assert canonical_email("a.n.n@example.com") == "a.n.n@example.com"


def test_migration_rekeys_existing_welcome_grants(tmp_path: Any) -> None:
    """Grants made before 0003 (``signup:<user id>``) count for their mailbox afterwards (and
    0006 keeps their sum as the balance)."""
    import sqlalchemy as sa

    from octavia.server import credits
    from octavia.server import tables as t
    from octavia.server.db import Database, migrate, utcnow
    from octavia.server.passwords import welcome_reference

    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "0002_ledger_debt")  # the revision before 0003
    db = Database(url)
    try:
        with db.begin() as conn:
            for uid, addr in (
                ("usr_a", "ann@example.com"),
                ("usr_b", "ann+2@example.com"),
                ("usr_c", "cy@x.org"),
            ):
                conn.execute(
                    sa.insert(t.users).values(id=uid, email=addr, password_hash="!", created_at=utcnow())
                )
                conn.execute(
                    sa.insert(t.credit_ledger).values(
                        user_id=uid, kind="grant", amount=30, reference=f"signup:{uid}", created_at=utcnow()
                    )
                )
        migrate(url)
        with db.read() as conn:
            refs = dict(conn.execute(sa.select(t.credit_ledger.c.user_id, t.credit_ledger.c.reference)).all())
            # 0006 filled credit_balances from the entries already there
            kept = {uid: credits.funds(conn, uid) for uid in refs}
            assert credits.unbalanced(conn) == []
    finally:
        db.dispose()
    assert kept == {uid: (30, 0) for uid in ("usr_a", "usr_b", "usr_c")}
    assert refs == {
        "usr_a": welcome_reference("ann@example.com"),
        "usr_b": "signup:usr_b",  # the mailbox's key is taken by ann@; the entry itself stays
        "usr_c": welcome_reference("cy@x.org"),
    }
