"""Accounts in a real browser: sign up → confirm by the emailed link → log in → create an API
key (shown once, never in a URL; it works against /v1) → revoke it; forgot/reset password;
a keyboard-only run of login and key creation."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import PASSWORD, UI, unique_email


def _urls(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    return seen


def test_signup_verify_login_create_and_revoke_api_key(ui: UI) -> None:
    page, app = ui.page, ui.app
    urls = _urls(page)
    email = unique_email("signup")
    ui.goto("/signup")
    ui.shot("signup")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password", exact=True).fill("password")  # too weak for zxcvbn
    page.get_by_role("button", name="Create account").click()
    assert "too weak" in page.get_by_role("alert").inner_text()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    assert f"If {email} can receive mail" in page.locator("main").inner_text()

    ui.goto(app.mail_link(email, "Confirm", "/verify"))
    page.get_by_role("button", name="Confirm my address").click()
    page.wait_for_url(app.url + "/login")
    assert "Your email address is confirmed" in page.locator("main").inner_text()
    ui.login(email)
    assert page.url == app.url + "/"

    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Manage API keys").click()
    page.get_by_label("Name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    page.wait_for_url(app.url + "/account/keys")
    key = page.get_by_label("New API key (shown once)").input_value()
    assert key.startswith("oak_") and len(key) > 40
    ui.shot("api-key-created")
    assert not any(key in u for u in urls), "the key travelled in a URL"
    with app.client(key) as api:
        me = api.get("/v1/account")
        assert me.status_code == 200 and me.json()["email"] == email

    page.reload()  # shown once: a second render has no key, only its prefix in the list
    assert page.get_by_label("New API key (shown once)").count() == 0
    assert key not in page.content()
    assert key[:12] in page.locator("table").inner_text()

    page.get_by_role("button", name="Revoke key laptop").click()
    assert "is revoked" in page.get_by_role("status").filter(has_text="revoked").inner_text()
    assert "Revoked" in page.locator("table").inner_text()
    with app.client(key) as api:
        assert api.get("/v1/account").status_code == 401


def test_forgot_and_reset_password(ui: UI) -> None:
    page, app = ui.page, ui.app
    email, _ = app.signup()
    old_token = app.api_login(email)
    ui.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me a link").click()
    assert f"If {email} has an account" in page.locator("main").inner_text()

    ui.goto(app.mail_link(email, "Reset", "/reset"))
    ui.shot("reset-password")
    new_password = "violet tractor 7 harbour"
    page.get_by_label("New password").fill(new_password)
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_url(app.url + "/login")
    assert "Your password is changed" in page.locator("main").inner_text()
    with app.client(old_token) as api:  # a reset signs every session out
        assert api.get("/v1/account").status_code == 401
    ui.login(email, PASSWORD)
    assert page.get_by_role("alert").inner_text() == "Invalid email or password."
    ui.login(email, new_password)
    assert page.url == app.url + "/"


def _tab_to(page: Any, name: str, limit: int = 40) -> None:
    """Press Tab until the focused element's text or label is ``name``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; return (e.getAttribute('aria-label') || e.labels?.[0]?.textContent || e.textContent || '').trim(); }"
        )
        if focused == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_keyboard_only_login_and_key_creation(ui: UI) -> None:
    page, app = ui.page, ui.app
    email, _ = app.signup()
    ui.goto("/login")
    assert page.evaluate("document.activeElement.id") == "email"  # autofocus
    page.keyboard.type(email)
    _tab_to(page, "Password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(app.url + "/")
    page.keyboard.press("Tab")  # the first stop of every page is the skip link
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    _tab_to(page, "Account")
    page.keyboard.press("Enter")
    page.wait_for_url(app.url + "/account")
    _tab_to(page, "Manage API keys")
    page.keyboard.press("Enter")
    page.wait_for_url(app.url + "/account/keys")
    _tab_to(page, "Name")
    page.keyboard.type("keyboard")
    page.keyboard.press("Enter")
    page.wait_for_url(app.url + "/account/keys")
    key = page.get_by_label("New API key (shown once)").input_value()
    assert key.startswith("oak_")
    _tab_to(page, "Revoke key keyboard")
    page.keyboard.press("Enter")
    # The revoke form reloads the same URL, so wait for its answer, not for a load state the
    # page already has (that returned before the POST on a busy machine).
    page.locator("main").get_by_text("is revoked").first.wait_for(timeout=20_000)
