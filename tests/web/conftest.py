"""Web app tests: a real ``octavia serve`` and a real ``octavia worker`` (subprocesses on a free
port, SQLite + local storage + the SQLite queue in a tmp dir, console mail read from the server's
log, the local Polar API server of tests/server/fake_polar.py), driven by Playwright in Debian's
Chromium.

Fixtures:
- ``web_app`` (session): the running :class:`WebApp` (``.url``, ``.mail_link(to, subject, path)``,
  ``.signup(...)`` a verified user over /v1, ``.make_admin(email)``, ``.post_webhook(body)``, ``.db``).
- ``browser_type_launch_args`` / ``browser_context_args``: pytest-playwright's, set to Debian's
  Chromium (``--no-sandbox``) and the server as ``base_url``, 1280×720; the test command runs
  pytest without ``--browser``, so these defaults matter.
- ``ui``: a :class:`UI` on pytest-playwright's ``page``: ``.shot(name)`` saves full-page PNGs at
  1280×720 and 390×844 under the test's output dir (pytest-playwright ``output_path``:
  test-results/<test>/), and the test FAILS if the page logged a console error or threw
  (``.allow_console(substring)`` for an error the test expects, e.g. a deliberate 404).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import fake_polar
from tests.server.conftest import free_port
from tests.server.fixtures_billing import PRODUCTS, STANDARD_SECRET, sign_headers

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if Path(p).exists()), None)
PASSWORD = "correct horse 9 battery"
DESKTOP = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
_MAIL = re.compile(r"--- email from .*? to (?P<to>\S+): (?P<subject>[^\n]*)\n(?P<text>.*?)\n---\n", re.DOTALL)


def unique_email(tag: str = "web") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@dataclass
class WebApp:
    url: str
    data_dir: Path
    env: dict[str, str]
    server: Proc
    worker: Proc
    polar: fake_polar.FakePolar
    _db: Any = field(default=None, repr=False)

    @property
    def db(self) -> Any:
        from octavia.server.db import Database

        if self._db is None:
            self._db = Database(self.env["OCTAVIA_DATABASE_URL"])
        return self._db

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def mails(self, to: str) -> list[tuple[str, str]]:
        """(subject, text) of every mail the console backend printed for ``to``, oldest first."""
        return [(m["subject"], m["text"]) for m in _MAIL.finditer(self.server.output()) if m["to"] == to]

    def mail_text(self, to: str, subject_contains: str, *, at_least: int = 1, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            found = [text for subject, text in self.mails(to) if subject_contains in subject]
            if len(found) >= at_least:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no mail to {to} about {subject_contains!r}:\n{self.server.output()[-3000:]}"
                )
            time.sleep(0.05)

    def mail_link(self, to: str, subject_contains: str, path: str, **kw: Any) -> str:
        """The link to ``path`` (e.g. "/verify") in the newest matching mail, as a path + query."""
        text = self.mail_text(to, subject_contains, **kw)
        m = re.search(re.escape(self.url) + re.escape(path) + r"\?token=[\w.\-]+", text)
        assert m, f"no {path} link in:\n{text}"
        return m.group(0)[len(self.url) :]

    def signup(self, email: str | None = None, password: str = PASSWORD) -> tuple[str, str]:
        """A verified account made over /v1 (for tests that are not about signing up)."""
        addr = email or unique_email()
        with self.client() as c:
            r = c.post("/v1/auth/signup", json={"email": addr, "password": password})
            assert r.status_code == 202, r.text
            token = self.mail_link(addr, "Confirm", "/verify").split("token=", 1)[1]
            r = c.post("/v1/auth/verify", json={"token": token})
            assert r.status_code == 200, r.text
        return addr, password

    def api_login(self, email: str, password: str = PASSWORD) -> str:
        with self.client() as c:
            r = c.post("/v1/auth/login", json={"email": email, "password": password})
            assert r.status_code == 200, r.text
            return str(r.json()["token"])

    def user_id(self, email: str) -> str:
        import sqlalchemy as sa

        from octavia.server.tables import users

        with self.db.read() as conn:
            return str(conn.execute(sa.select(users.c.id).where(users.c.email == email)).scalar_one())

    def make_admin(self, email: str) -> None:
        import sqlalchemy as sa

        from octavia.server.tables import users

        with self.db.begin() as conn:
            conn.execute(sa.update(users).where(users.c.email == email).values(is_admin=True))

    def post_webhook(self, body: bytes) -> httpx.Response:
        # Generous: the first webhook parses with the Polar SDK, whose models the server builds
        # in the background after start (seconds of CPU; far more on a loaded test machine).
        with httpx.Client(base_url=self.url, timeout=180) as c:
            return c.post("/v1/webhooks/polar", content=body, headers=sign_headers(body))


def _start(cmd: list[str], env: dict[str, str], log: Path) -> Proc:
    proc = subprocess.Popen(
        [sys.executable, "-m", "octavia", *cmd],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    return Proc(proc, log)


def _wait_ready(url: str, proc: Proc, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            raise RuntimeError(f"octavia serve exited:\n{proc.output()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"octavia serve did not answer in {timeout}s:\n{proc.output()}")


@pytest.fixture(scope="session")
def web_app(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> Iterator[WebApp]:
    root = tmp_path_factory.mktemp("webapp")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fake_polar.checkout_json()  # builds the SDK models once, not inside the server's checkout timeout
    with fake_polar.running() as polar:
        env = {
            "OCTAVIA_DATA_DIR": str(root / "data"), "OCTAVIA_CACHE_DIR": str(session_cache),
            "OCTAVIA_DATABASE_URL": f"sqlite:///{root / 'octavia.db'}", "OCTAVIA_QUEUE": "sqlite",
            "OCTAVIA_QUEUE_NAME": f"octavia-web-{uuid.uuid4().hex[:8]}",
            "OCTAVIA_SECRET_KEY": "web-test-" + uuid.uuid4().hex, "OCTAVIA_PUBLIC_URL": url,
            "OCTAVIA_EMAIL_BACKEND": "console", "OCTAVIA_MAIL_POLL_INTERVAL_S": "0.2",
            "OCTAVIA_ARGON2_TIME_COST": "1", "OCTAVIA_ARGON2_MEMORY_KIB": "1024",
            "OCTAVIA_RATE_LIMIT_AUTH": "10000/minute", "OCTAVIA_RATE_LIMIT_JOBS": "10000/minute",
            "OCTAVIA_LOGIN_THROTTLE": "10000/15 minutes",
            "OCTAVIA_OFFLINE": "1", "OCTAVIA_DEVICE": "cpu",
            "OCTAVIA_HEARTBEAT_INTERVAL_S": "0.5", "OCTAVIA_HEARTBEAT_STALE_S": "5",
            "OCTAVIA_POLAR_ACCESS_TOKEN": "polar_oat_test_token", "OCTAVIA_POLAR_ENVIRONMENT": "sandbox",
            "OCTAVIA_POLAR_BASE_URL": polar.url, "OCTAVIA_POLAR_WEBHOOK_SECRET": STANDARD_SECRET,
            "OCTAVIA_POLAR_PRODUCTS": json.dumps(PRODUCTS),
            "OCTAVIA_POLAR_SUCCESS_URL": f"{url}/credits/return?checkout={{CHECKOUT_ID}}",
        }  # fmt: skip
        server = _start(["serve", "--port", str(port), "--plain-logs"], env, root / "serve.log")
        worker = _start(
            ["worker", "--plain-logs", "--workers", "1", "--reaper-interval", "1"], env, root / "worker.log"
        )
        try:
            _wait_ready(url, server)
            app = WebApp(url, root / "data", env, server, worker, polar)
            yield app
            if app._db is not None:
                app._db.dispose()
        finally:
            worker.stop()
            server.stop()


# ---------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    assert CHROMIUM, "the web tests need Debian's Chromium (apt-get install chromium)"
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], web_app: WebApp) -> dict[str, Any]:
    return {**browser_context_args, "base_url": web_app.url, "viewport": DESKTOP}


@dataclass
class UI:
    page: Any  # playwright.sync_api.Page
    app: WebApp
    out: Path
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def goto(self, path: str) -> Any:
        return self.page.goto(path)

    def allow_console(self, substring: str) -> None:
        self.allowed.append(substring)

    def shot(self, name: str) -> list[Path]:
        """Full-page screenshots at desktop and phone width; the viewport is restored after."""
        paths = []
        for size in (DESKTOP, PHONE):
            self.page.set_viewport_size(size)
            path = self.out / f"{name}-{size['width']}.png"
            self.page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        self.page.set_viewport_size(DESKTOP)
        self.shots.extend(paths)
        return paths

    def login(self, email: str, password: str = PASSWORD) -> None:
        self.goto("/login")
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_url(self.app.url + "/**")

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def ui(page: Any, web_app: WebApp, output_path: str) -> Iterator[UI]:
    out = Path(output_path)
    out.mkdir(parents=True, exist_ok=True)
    helper = UI(page, web_app, out)
    page.on(
        "console", lambda msg: helper.errors.append(f"console: {msg.text}") if msg.type == "error" else None
    )
    page.on("pageerror", lambda exc: helper.errors.append(f"pageerror: {exc}"))
    page.set_default_timeout(15_000)
    yield helper
    bad = helper.unexpected_errors()
    assert not bad, f"the page logged errors: {bad}"


_META_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class WebClient:
    """A browser stand-in over plain HTTP (cookies, forms, CSRF tokens) for tests of answers
    rather than of rendering: status codes, headers, 404s for other users' objects."""

    def __init__(self, app: WebApp) -> None:
        self.app = app
        self.http = httpx.Client(base_url=app.url, follow_redirects=True, timeout=30)

    def csrf(self, path: str = "/login") -> str:
        m = _META_CSRF.search(self.http.get(path).text)
        assert m, f"no CSRF token on {path}"
        return m.group(1)

    def login(self, email: str, password: str = PASSWORD) -> WebClient:
        r = self.http.post("/login", data={"email": email, "password": password, "csrf_token": self.csrf()})
        assert r.status_code == 200 and str(r.url) == self.app.url + "/", (r.status_code, r.url)
        return self

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, token: str | None = "auto", **kw: Any
    ) -> httpx.Response:
        form = dict(data or {})
        if token == "auto":
            form["csrf_token"] = self.csrf("/account")
        elif token is not None:
            form["csrf_token"] = token
        return self.http.post(path, data=form, **kw)

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def web_client(web_app: WebApp) -> Iterator[Callable[[], WebClient]]:
    made: list[WebClient] = []

    def make() -> WebClient:
        c = WebClient(web_app)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
