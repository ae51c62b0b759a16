"""Deleting an account over real HTTP: confirmed by password, refused while jobs run or credits
are owed, then the person is gone (sign-in, keys, uploads, stored bytes queued for deletion)
while the ledger's money facts stay."""

from __future__ import annotations

import sqlalchemy as sa

from octavia.server import credits
from octavia.server import tables as t
from tests.server.fixtures_jobs import fund, speech_upload, subtitle_body


def _delete(client, password):  # type: ignore[no-untyped-def]
    return client.request("DELETE", "/v1/account", json={"password": password})


def test_delete_account_removes_the_person_and_keeps_the_ledger(server_factory, user_factory):
    srv = server_factory(queue="sqlite", signup_credits=0)  # jobs stay queued: no worker
    db = srv.app.state.db
    user = user_factory(server=srv)
    fund(db, user.id, 20)
    key = user.client.post("/v1/account/api-keys", json={"name": "ci"}).json()["key"]
    up = speech_upload(user.client)
    job = user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()

    assert _delete(user.client, "not my password").status_code == 403
    busy = _delete(user.client, user.password)
    assert busy.status_code == 409 and busy.json()["code"] == "jobs_in_progress", busy.text
    assert user.client.post(f"/v1/jobs/{job['id']}/cancel").status_code in (200, 202)

    r = _delete(user.client, user.password)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["uploads_deleted"] == 1 and body["jobs_purged"] == 1 and body["credits_forfeited"] == 20
    assert body["api_keys_revoked"] == 1 and body["sessions_revoked"] >= 1
    # Signed out everywhere; the key is dead; the address can sign in no more.
    assert user.client.get("/v1/account").status_code == 401
    assert srv.client(key).get("/v1/account").status_code == 401
    login = srv.client().post("/v1/auth/login", json={"email": user.email, "password": user.password})
    assert login.status_code == 401
    with db.read() as conn:
        row = conn.execute(sa.select(t.users).where(t.users.c.id == user.id)).one()
        assert row.email.endswith("@deleted.invalid") and row.password_hash == "!"
        assert conn.execute(sa.select(t.uploads).where(t.uploads.c.user_id == user.id)).all() == []
        purges = {r.storage_key for r in conn.execute(sa.select(t.storage_purges))}
        assert up_key(conn, up, purges) and f"jobs/{job['id']}/" in purges
        kinds = [
            r.kind
            for r in conn.execute(sa.select(t.credit_ledger).where(t.credit_ledger.c.user_id == user.id))
        ]
        assert "grant" in kinds and "refund" in kinds  # the money facts stay
        assert credits.balance(conn, user.id) == 20
    # The address is free again: the same person may sign up anew (a new user row).
    again = srv.client().post("/v1/auth/signup", json={"email": user.email, "password": "another horse 7"})
    assert again.status_code == 202, again.text
    with db.read() as conn:
        ids = [r.id for r in conn.execute(sa.select(t.users).where(t.users.c.email == user.email))]
    assert len(ids) == 1 and ids[0] != user.id


def up_key(conn, up, purges) -> bool:  # type: ignore[no-untyped-def]
    """The upload's own bytes are queued (its row is gone, so match by the id in the key)."""
    return any(up["id"] in key for key in purges)


def test_an_account_that_owes_credits_cannot_be_deleted(server_factory, user_factory):
    srv = server_factory(queue="sqlite", signup_credits=0)
    db = srv.app.state.db
    user = user_factory(server=srv)
    with db.begin() as conn:
        credits.record_debt(
            conn, user_id=user.id, amount=7, reference="test-debt", note="spent then refunded"
        )
    r = _delete(user.client, user.password)
    assert r.status_code == 409 and r.json()["code"] == "credits_owed", r.text
    assert user.client.get("/v1/account").status_code == 200  # nothing happened
