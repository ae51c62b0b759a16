"""Auth over real HTTP with mail through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import sqlalchemy as sa

from octavia.server import tables as t
from tests.server.conftest import unique_email


def test_signup_verify_login_logout(user_factory):
    user = user_factory()
    r = user.client.get("/v1/account")
    assert r.status_code == 200, r.text
    assert r.json()["email"] == user.email and r.json()["email_verified"] is True
    assert user.client.post("/v1/auth/logout").status_code == 204
    assert user.client.get("/v1/account").status_code == 401


def test_verification_link_from_the_mail_works_once(client, mailbox, live_server):
    addr = unique_email()
    assert (
        client.post("/v1/auth/signup", json={"email": addr, "password": "pw-long-enough"}).status_code == 202
    )
    text = mailbox.last_text(addr, "Confirm")
    link = next(w for w in text.split() if w.startswith(live_server.url))
    # The link opens the web app's page, which spends nothing until its button is pressed
    # (mail scanners open links); API clients use the same token with /v1/auth/verify.
    page = client.get(link)
    assert page.status_code == 200 and "Confirm my address" in page.text
    api_link = "/v1/auth/verify?token=" + link.split("token=", 1)[1]
    assert client.get(api_link).status_code == 200
    again = client.get(api_link)
    assert again.status_code == 400 and again.json()["code"] == "invalid_token"
    assert (
        client.post("/v1/auth/login", json={"email": addr, "password": "pw-long-enough"}).status_code == 200
    )


def test_unverified_login_needs_the_right_password_to_learn_anything(client):
    addr = unique_email()
    client.post("/v1/auth/signup", json={"email": addr, "password": "pw-long-enough"})
    wrong = client.post("/v1/auth/login", json={"email": addr, "password": "nope-nope-nope"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_credentials"
    right = client.post("/v1/auth/login", json={"email": addr, "password": "pw-long-enough"})
    assert right.status_code == 403 and right.json()["code"] == "email_not_verified"


def test_errors_do_not_reveal_whether_an_email_exists(user_factory, client, mailbox):
    user = user_factory()
    unknown = unique_email()
    known_bad = client.post("/v1/auth/login", json={"email": user.email, "password": "wrong password"})
    unknown_bad = client.post("/v1/auth/login", json={"email": unknown, "password": "wrong password"})
    assert known_bad.status_code == unknown_bad.status_code == 401
    assert known_bad.json() == unknown_bad.json()

    for path in ("/v1/auth/password/forgot", "/v1/auth/verify/resend"):
        a = client.post(path, json={"email": user.email})
        b = client.post(path, json={"email": unknown})
        assert a.status_code == b.status_code == 202 and a.json() == b.json()

    # Signing up again with a taken address looks the same to the caller; the owner gets a notice.
    dup = client.post("/v1/auth/signup", json={"email": user.email, "password": "another-password"})
    new = client.post("/v1/auth/signup", json={"email": unique_email(), "password": "another-password"})
    assert dup.status_code == new.status_code == 202 and dup.json() == new.json()
    assert "already has one" in mailbox.last_text(user.email, "Your Octavia account")
    assert mailbox.for_address(unknown) == []


def test_password_reset_revokes_every_session_and_api_key(user_factory, client, mailbox):
    user = user_factory()
    second = client.post("/v1/auth/login", json={"email": user.email, "password": user.password}).json()[
        "token"
    ]
    key = user.client.post("/v1/account/api-keys", json={"name": "ci"}).json()["key"]
    assert client.get("/v1/account", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.post("/v1/auth/password/forgot", json={"email": user.email}).status_code == 202
    token = mailbox.token(user.email, "Reset")
    r = client.post("/v1/auth/password/reset", json={"token": token, "password": "brand new secret"})
    assert r.status_code == 200, r.text
    # The account may have been taken over: nothing issued before the reset still works.
    assert r.json()["sessions_revoked"] == 2 and r.json()["api_keys_revoked"] == 1
    assert "API key" in r.json()["detail"]
    for credential in (user.token, second, key):
        assert client.get("/v1/account", headers={"Authorization": f"Bearer {credential}"}).status_code == 401
    notice = mailbox.last_text(user.email, "password was changed")
    assert "2 session(s)" in notice and "1 API key(s)" in notice and "reset" in notice
    old = client.post("/v1/auth/login", json={"email": user.email, "password": user.password})
    assert old.status_code == 401
    new = client.post("/v1/auth/login", json={"email": user.email, "password": "brand new secret"})
    assert new.status_code == 200
    reuse = client.post("/v1/auth/password/reset", json={"token": token, "password": "third horse battery"})
    assert reuse.status_code == 400


def test_a_newer_reset_mail_invalidates_the_older_one(user_factory, client, mailbox):
    user = user_factory()
    client.post("/v1/auth/password/forgot", json={"email": user.email})
    first = mailbox.token(user.email, "Reset")
    client.post("/v1/auth/password/forgot", json={"email": user.email})
    second = mailbox.token(user.email, "Reset", at_least=2)
    assert first != second
    body = {"password": "quiet violet tractor"}
    assert client.post("/v1/auth/password/reset", json={"token": first, **body}).status_code == 400
    assert client.post("/v1/auth/password/reset", json={"token": second, **body}).status_code == 200


def test_expired_tokens_and_sessions(server_factory, user_factory, mailbox):
    srv = server_factory(verify_token_ttl_s=-1, session_ttl_s=-1)
    c = srv.client()
    addr = unique_email()
    c.post("/v1/auth/signup", json={"email": addr, "password": "pw-long-enough"})
    r = c.post("/v1/auth/verify", json={"token": mailbox.token(addr, "Confirm")})
    assert r.status_code == 400 and r.json()["code"] == "invalid_token"

    srv2 = server_factory(session_ttl_s=-1)
    user_client = srv2.client()
    addr2 = unique_email()
    user_client.post("/v1/auth/signup", json={"email": addr2, "password": "pw-long-enough"})
    user_client.post("/v1/auth/verify", json={"token": mailbox.token(addr2, "Confirm")})
    tok = user_client.post("/v1/auth/login", json={"email": addr2, "password": "pw-long-enough"}).json()[
        "token"
    ]
    assert user_client.get("/v1/account", headers={"Authorization": f"Bearer {tok}"}).status_code == 401


def test_api_keys_shown_once_hashed_at_rest_and_revocable(user_factory, live_server):
    user = user_factory()
    created = user.client.post("/v1/account/api-keys", json={"name": "ci"})
    assert created.status_code == 201
    key = created.json()
    assert key["key"].startswith("oak_") and key["prefix"] == key["key"][:12]
    listed = user.client.get("/v1/account/api-keys").json()
    assert [k["id"] for k in listed] == [key["id"]] and "key" not in listed[0]

    with live_server.app.state.db.read() as conn:
        stored = conn.execute(
            sa.select(t.api_keys.c.key_hash).where(t.api_keys.c.id == key["id"])
        ).scalar_one()
    assert key["key"] not in stored and len(stored) == 64

    script = live_server.client(key["key"])
    assert script.get("/v1/account").json()["id"] == user.id
    assert user.client.get("/v1/account/api-keys").json()[0]["last_used_at"] is not None
    assert script.post("/v1/auth/logout").status_code == 400  # keys are revoked, not logged out
    assert user.client.delete(f"/v1/account/api-keys/{key['id']}").status_code == 204
    assert script.get("/v1/account").status_code == 401


def test_change_password_keeps_this_session_and_revokes_the_others_and_the_keys(
    user_factory, client, mailbox
):
    user = user_factory()
    other = client.post("/v1/auth/login", json={"email": user.email, "password": user.password}).json()[
        "token"
    ]
    key = user.client.post("/v1/account/api-keys", json={"name": "ci"}).json()["key"]
    new_pw = "lantern orbit 58 pickle"
    bad = user.client.post("/v1/account/password", json={"current_password": "wrong", "new_password": new_pw})
    assert bad.status_code == 403
    ok = user.client.post(
        "/v1/account/password", json={"current_password": user.password, "new_password": new_pw}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["sessions_revoked"] == 1 and ok.json()["api_keys_revoked"] == 1
    assert user.client.get("/v1/account").status_code == 200  # the session that changed it stays
    for credential in (other, key):
        assert client.get("/v1/account", headers={"Authorization": f"Bearer {credential}"}).status_code == 401
    notice = mailbox.last_text(user.email, "password was changed")
    assert "1 session(s) except the one that made the change" in notice and "1 API key(s)" in notice
    assert client.post("/v1/auth/login", json={"email": user.email, "password": new_pw}).status_code == 200


def test_change_password_with_an_api_key_keeps_no_credential(user_factory, live_server):
    user = user_factory()
    key = user.client.post("/v1/account/api-keys", json={"name": "ci"}).json()["key"]
    script = live_server.client(key)
    r = script.post(
        "/v1/account/password",
        json={"current_password": user.password, "new_password": "maple drift 77 oboe"},
    )
    assert r.status_code == 200 and r.json()["sessions_revoked"] == 1 and r.json()["api_keys_revoked"] == 1
    assert script.get("/v1/account").status_code == 401 and user.client.get("/v1/account").status_code == 401


def test_weak_passwords_are_refused_with_the_estimators_feedback(user_factory, client):
    user = user_factory()
    for weak in (" " * 12, "password123", "x" * 10, "qwertyuiop"):
        r = client.post("/v1/auth/signup", json={"email": unique_email(), "password": weak})
        assert r.status_code == 422, (weak, r.text)
        body = r.json()
        assert body["code"] == "weak_password" and body["score"] < 3 and body["hint"], body
    r = client.post("/v1/auth/signup", json={"email": unique_email(), "password": "password123"})
    assert "common" in r.json()["detail"].lower() or r.json()["suggestions"]
    # The same rule for a change (and the address itself is no password).
    r = user.client.post(
        "/v1/account/password", json={"current_password": user.password, "new_password": user.email}
    )
    assert r.status_code == 422 and r.json()["code"] == "weak_password"
    assert user.client.get("/v1/account").status_code == 200  # nothing was changed or revoked
    # A taken address gets the same answer as a new one: the check comes before the lookup.
    taken = client.post("/v1/auth/signup", json={"email": user.email, "password": "password123"})
    assert taken.status_code == 422 and taken.json()["code"] == "weak_password"


def test_long_passwords_are_judged_by_their_start(client):
    long_ok = "saffron kettle 93 " * 50  # 900 chars: past zxcvbn's 72-character maximum
    assert (
        client.post("/v1/auth/signup", json={"email": unique_email(), "password": long_ok}).status_code == 202
    )
    r = client.post("/v1/auth/signup", json={"email": unique_email(), "password": "a" * 1000})
    assert r.status_code == 422 and r.json()["code"] == "weak_password"


def test_the_minimum_score_is_a_setting(server_factory):
    srv = server_factory(password_min_score=4)
    r = srv.client().post("/v1/auth/signup", json={"email": unique_email(), "password": "whatever-password"})
    assert r.status_code == 422 and r.json()["score"] == 3  # accepted at the default of 3


def test_passwords_are_argon2id_hashes(user_factory, live_server):
    user = user_factory()
    with live_server.app.state.db.read() as conn:
        h = conn.execute(sa.select(t.users.c.password_hash).where(t.users.c.id == user.id)).scalar_one()
    assert h.startswith("$argon2id$") and user.password not in h


def test_email_is_case_insensitive_and_validated(user_factory, client):
    user = user_factory()
    r = client.post("/v1/auth/login", json={"email": user.email.upper(), "password": user.password})
    assert r.status_code == 200
    bad = client.post("/v1/auth/signup", json={"email": "not-an-email", "password": "pw-long-enough"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    short = client.post("/v1/auth/signup", json={"email": unique_email(), "password": "short"})
    assert short.status_code == 422
    ok = client.post("/v1/auth/signup", json={"email": unique_email(), "password": "whatever-password"})
    assert ok.status_code == 202
