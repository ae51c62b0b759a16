"""The web app's scripts call /v1 with the session cookie: reads as the cookie's user, writes
only with the page's CSRF token and no foreign Origin; a bearer header still wins."""

from __future__ import annotations

import re

from octavia.server.web.session import SESSION_COOKIE


def test_session_cookie_reads_and_writes_with_the_page_token(live_server, user_factory):
    alice, bob = user_factory(), user_factory()
    browser = live_server.client(cookies={SESSION_COOKIE: alice.token})
    assert browser.get("/v1/account").json()["email"] == alice.email
    page = browser.get("/jobs/new")
    assert page.status_code == 200, page.text
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)

    refused = browser.post("/v1/projects", json={"name": "x"})
    assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
    assert (
        browser.post("/v1/projects", json={"name": "x"}, headers={"X-CSRF-Token": "0" * 64}).status_code
        == 403
    )
    foreign = {"X-CSRF-Token": token, "Origin": "https://evil.example"}
    assert browser.post("/v1/projects", json={"name": "x"}, headers=foreign).status_code == 403
    made = browser.post("/v1/projects", json={"name": "from the page"}, headers={"X-CSRF-Token": token})
    assert made.status_code == 201, made.text
    assert [p["name"] for p in alice.client.get("/v1/projects").json()] == ["from the page"]
    # Bob's bearer token wins over Alice's cookie; a cookie is never an API key.
    both = live_server.client(token=bob.token, cookies={SESSION_COOKIE: alice.token})
    assert both.get("/v1/account").json()["email"] == bob.email
    assert (
        live_server.client(cookies={SESSION_COOKIE: "oak_not_a_session"}).get("/v1/account").status_code
        == 401
    )
