"""Logging in and out in a real browser against a real server."""

from __future__ import annotations

from tests.web.conftest import UI


def test_log_in_and_out(ui: UI) -> None:
    email, password = ui.app.signup()
    page = ui.page
    ui.goto("/")  # the dashboard needs a session: sent to the login page
    assert page.url == ui.app.url + "/login"
    ui.shot("login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "Invalid email or password."
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(ui.app.url + "/")
    assert page.get_by_role("status").filter(has_text="You are logged in.").count() == 1
    assert email in page.locator("header").inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "octavia_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(ui.app.url + "/login")
    assert "You are logged out." in page.locator("main").inner_text()
    ui.goto("/")
    assert page.url == ui.app.url + "/login"  # the session row is revoked, not just the cookie
