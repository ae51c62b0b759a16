"""The web app's security properties over real HTTP: CSRF, CSP, cookies, another user's objects."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from octavia.server.web.strings import catalogue
from tests.web.conftest import WebApp, WebClient

PAGES = ["/", "/account", "/account/keys", "/credits", "/credits/return", "/operators"]
ANON_PAGES = ["/login", "/signup", "/forgot", "/reset?token=x", "/verify?token=x"]
TEMPLATES = Path(__file__).parents[2] / "octavia" / "server" / "web" / "templates"


def test_csrf_token_is_required_on_every_form(web_app: WebApp, web_client) -> None:  # type: ignore[no-untyped-def]
    email, _ = web_app.signup()
    c: WebClient = web_client().login(email)
    assert c.post("/account/keys", {"name": "x"}, token=None).status_code == 403
    assert c.post("/account/keys", {"name": "x"}, token="0" * 64).status_code == 403
    other: WebClient = web_client().login(web_app.signup()[0])
    assert c.post("/account/keys", {"name": "x"}, token=other.csrf("/account")).status_code == 403
    good = c.csrf("/account")
    evil = c.post("/account/keys", {"name": "x"}, token=good, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert "This form expired or did not come from this site" in evil.text
    assert c.post("/logout", token=None).status_code == 403
    # Anonymous forms too (no login CSRF).
    anon: WebClient = web_client()
    assert anon.post("/login", {"email": email, "password": "x"}, token=None).status_code == 403
    # The header works for scripts; the form field for forms.
    r = c.http.post("/account/keys", data={"name": "header"}, headers={"X-CSRF-Token": good})
    assert r.status_code == 200 and "Your new API key" in r.text


def test_csp_header_and_no_inline_script_or_style(web_app: WebApp, web_client) -> None:  # type: ignore[no-untyped-def]
    email, _ = web_app.signup()
    web_app.make_admin(email)
    c: WebClient = web_client().login(email)
    anon: WebClient = web_client()
    for client, paths in ((c, PAGES), (anon, ANON_PAGES)):
        for path in paths:
            r = client.http.get(path)
            assert r.status_code == 200, path
            csp = r.headers["content-security-policy"]
            for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'",
                              "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"):  # fmt: skip
                assert directive in csp, (path, csp)
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
            assert r.headers["cache-control"] == "no-store"
            html = r.text
            scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL)
            assert scripts and all(
                'src="/static/' in attrs and not body.strip() for attrs, body in scripts
            ), path
            assert not re.search(r"\sstyle=", html), path
            assert not re.search(r"\son[a-z]+=", html), path
            assert "<style" not in html, path


def test_session_cookie_flags(web_app: WebApp, web_client) -> None:  # type: ignore[no-untyped-def]
    email, _ = web_app.signup()
    c: WebClient = web_client()
    r = c.http.post(
        "/login", data={"email": email, "password": "correct horse 9 battery", "csrf_token": c.csrf()},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    cookie = next(
        v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("octavia_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; https (or an https public_url) adds it


def test_second_user_sees_none_of_the_first_users_objects(web_app: WebApp, web_client) -> None:  # type: ignore[no-untyped-def]
    alice_email, _ = web_app.signup()
    bob_email, _ = web_app.signup()
    alice: WebClient = web_client().login(alice_email)
    bob: WebClient = web_client().login(bob_email)
    alice.post("/account/keys", {"name": "alice-secret-key"})
    keys = alice.http.get("/account/keys").text
    key_id = re.search(r"/account/keys/(key_\w+)/revoke", keys).group(1)  # type: ignore[union-attr]
    assert "alice-secret-key" not in bob.http.get("/account/keys").text
    assert alice_email not in bob.http.get("/credits").text + bob.http.get("/account").text
    # Bob cannot revoke Alice's key: the same 404 page as for a key that does not exist.
    theirs = bob.post(f"/account/keys/{key_id}/revoke", {})
    missing = bob.post("/account/keys/key_doesnotexist/revoke", {})
    assert theirs.status_code == missing.status_code == 404
    assert "This page does not exist, or it is not yours to see." in theirs.text
    assert "Active" in alice.http.get("/account/keys").text  # still alive
    assert bob.http.get("/operators").status_code == 403


def test_every_string_a_template_uses_is_in_the_catalogue() -> None:
    keys = set(catalogue())
    used: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*[,)]""", path.read_text()))
    assert len(used) > 50, "t() calls not found"
    assert not (used - keys), sorted(used - keys)
    # Built keys: a label for every kind of ledger entry.
    from octavia.server.credits import KINDS

    assert {f"credits.kind.{k}" for k in KINDS} <= keys


@pytest.mark.parametrize("path", ["/static/app.css", "/static/js/app.js", "/static/js/checkout_return.js"])
def test_static_files_are_served(web_app: WebApp, path: str) -> None:
    with web_app.client() as c:
        r = c.get(path)
        assert r.status_code == 200 and len(r.content) > 100


def test_delete_account_page_confirms_by_password_and_signs_out(web_app: WebApp, web_client) -> None:  # type: ignore[no-untyped-def]
    email, password = web_app.signup()
    c: WebClient = web_client().login(email)
    wrong = c.post("/account/delete", {"password": "not it"}, token=c.csrf("/account"))
    assert wrong.status_code == 200 and "That password is wrong." in wrong.text
    assert c.http.get("/account", follow_redirects=False).status_code == 200  # still signed in
    done = c.post("/account/delete", {"password": password}, token=c.csrf("/account"))
    assert done.status_code == 200 and "Your account is deleted." in done.text  # the login page, flashed
    assert c.http.get("/account", follow_redirects=False).status_code in (302, 303)  # signed out
    again: WebClient = web_client()
    r = again.http.post("/login", data={"email": email, "password": password, "csrf_token": again.csrf()})
    assert "Invalid email or password." in r.text
