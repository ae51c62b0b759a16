"""Auth over real HTTP: sign-up → emailed verification (real SMTP) → login → logout."""

from __future__ import annotations


def test_signup_verify_login_logout(user_factory, live_server):
    user = user_factory()
    r = user.client.get("/v1/account")
    assert r.status_code == 200, r.text
    assert r.json()["email"] == user.email
    assert user.client.post("/v1/auth/logout").status_code == 204
    assert user.client.get("/v1/account").status_code == 401
