"""Welcome credits: granted once, on verification, never before it."""

from __future__ import annotations

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
