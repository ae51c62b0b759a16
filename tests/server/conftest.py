"""Shared fixtures for the server tests (real HTTP, real SMTP, SQLite and real PostgreSQL).

- ``db_url`` (session, parametrized): a migrated SQLite file and a fresh PostgreSQL database
  created at 127.0.0.1:5432 (user postgres) for this session and dropped afterwards. Every
  test that uses ``settings`` therefore runs on both.
- ``mailbox`` (session): a real aiosmtpd server; the app sends its mail there over SMTP.
- ``settings``: ServerSettings with tmp dirs, that database, that SMTP server, cheap argon2.
- ``server_factory(settings=None, **overrides)``: runs an app under uvicorn on a free loopback
  port in a thread and returns a :class:`LiveServer` (``.url``, ``.app``, ``.settings``, ``.client()``).
- ``live_server`` / ``app`` / ``client``: the default server, its app, an httpx.Client on it.
- ``user_factory(server=None)``: signs up, verifies through the emailed link, logs in; returns a
  :class:`TestUser` with an authenticated ``client``. ``two_users``: (alice, bob) for authz tests.
- ``assert_hidden(client, method, path)``: the authz helper — the object must answer 404 exactly
  as a missing one does. Other suites may add fixtures in ``tests/server/fixtures_*.py``;
  they are loaded by ``pytest_plugins`` in tests/conftest.py (pytest allows it only there).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from octavia.server.settings import ServerSettings

PG_ADMIN_DSN = os.environ.get("OCTAVIA_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


# ---------------------------------------------------------------- databases


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (migrated), dropped at the end."""
    import psycopg

    from octavia.server.db import migrate

    name = f"octavia_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_database"))
    from octavia.server.db import migrate

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'octavia.db'}"
    migrate(url)
    return url


# ---------------------------------------------------------------- email


@dataclass
class Mailbox:
    host: str
    port: int
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_address(self, to: str) -> list[email.message.EmailMessage]:
        with self.lock:
            return [m for m in self.messages if to.lower() in str(m["To"]).lower()]

    def last_text(self, to: str, subject_contains: str = "", timeout: float = 5.0, at_least: int = 1) -> str:
        """The newest matching mail's text, once ``at_least`` have arrived (mail is sent in the
        background, after the request has answered)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.for_address(to) if subject_contains in str(m["Subject"])]
            if len(found) >= at_least:
                body = found[-1].get_body(preferencelist=("plain",))
                assert body is not None
                return str(body.get_content())
            time.sleep(0.02)
        raise AssertionError(f"no mail to {to} with subject containing {subject_contains!r}")

    def token(self, to: str, subject_contains: str, at_least: int = 1) -> str:
        m = re.search(r"token=([\w.\-]+)", self.last_text(to, subject_contains, at_least=at_least))
        assert m, "no token in the mail"
        return m.group(1)


def free_port() -> int:
    # aiosmtpd's Controller cannot take port 0 (its readiness check dials the given port).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    from aiosmtpd.controller import Controller

    box = Mailbox("127.0.0.1", free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            with box.lock:
                box.messages.append(msg)  # type: ignore[arg-type]
            return "250 Message accepted"

    ctl = Controller(Handler(), hostname=box.host, port=box.port)
    ctl.start()
    yield box
    ctl.stop()


# ---------------------------------------------------------------- settings and servers


@pytest.fixture
def settings(tmp_path: Path, db_url: str, mailbox: Mailbox) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        database_url=db_url,
        auto_migrate=False,  # db_url is migrated once per session
        secret_key="test-secret-" + uuid.uuid4().hex,
        email_backend="smtp",
        smtp_host=mailbox.host,
        smtp_port=mailbox.port,
        smtp_starttls=False,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        rate_limit_auth="10000/minute",
        rate_limit_jobs="10000/minute",
        queue="immediate",
    )


@dataclass
class LiveServer:
    url: str
    app: Any
    settings: ServerSettings
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c = httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)
        self._clients.append(c)
        return c


def listening_socket() -> socket.socket:
    """A loopback socket for uvicorn. proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on
    accepted connections only when the socket's proto is TCP, and a plain ``socket.socket()``
    has proto 0 — every response then waits ~40 ms for a delayed ACK (measured: 44 ms → 0.9 ms)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _serve(app: Any, sock: socket.socket) -> tuple[Any, threading.Thread]:
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.005)
    return server, thread


@pytest.fixture
def server_factory(settings: ServerSettings) -> Iterator[Callable[..., LiveServer]]:
    from octavia.server.app import create_app

    running: list[tuple[Any, threading.Thread, LiveServer]] = []

    def make(base: ServerSettings | None = None, **overrides: Any) -> LiveServer:
        sock = listening_socket()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        src = base or settings
        # model_validate (not model_copy) so overrides are parsed: "re_x" → SecretStr, etc.
        s = type(src).model_validate({**src.model_dump(), "public_url": url, **overrides})
        app = create_app(s)
        server, thread = _serve(app, sock)
        live = LiveServer(url, app, s)
        running.append((server, thread, live))
        return live

    yield make
    for server, thread, live in running:
        for c in live._clients:
            c.close()
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    return server_factory()


@pytest.fixture
def app(live_server: LiveServer) -> Any:
    return live_server.app


@pytest.fixture
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client()


# ---------------------------------------------------------------- users


@dataclass
class TestUser:
    id: str
    email: str
    password: str
    token: str
    client: httpx.Client


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


@pytest.fixture
def user_factory(live_server: LiveServer, mailbox: Mailbox) -> Callable[..., TestUser]:
    def make(
        server: LiveServer | None = None, email_addr: str | None = None, password: str = "correct horse 9"
    ) -> TestUser:
        srv = server or live_server
        addr = email_addr or unique_email()
        anon = srv.client()
        r = anon.post("/v1/auth/signup", json={"email": addr, "password": password})
        assert r.status_code == 202, r.text
        token = mailbox.token(addr, "Confirm")
        r = anon.post("/v1/auth/verify", json={"token": token})
        assert r.status_code == 200, r.text
        r = anon.post("/v1/auth/login", json={"email": addr, "password": password})
        assert r.status_code == 200, r.text
        body = r.json()
        return TestUser(body["user_id"], addr, password, body["token"], srv.client(body["token"]))

    return make


@pytest.fixture
def two_users(user_factory: Callable[..., TestUser]) -> tuple[TestUser, TestUser]:
    return user_factory(), user_factory()


def assert_hidden(client: httpx.Client, method: str, path: str, **kwargs: Any) -> None:
    """Another user's object must look exactly like a missing one: 404 with code not_found."""
    r = client.request(method, path, **kwargs)
    assert r.status_code == 404, f"{method} {path} → {r.status_code} {r.text}"
    assert r.json()["code"] == "not_found"


# ---------------------------------------------------------------- media and uploads


@dataclass(frozen=True)
class MediaFiles:
    wav: Path  # 1 s tone, audio/wav
    mp4_silent_video: Path  # 1 s video, no audio stream
    text: Path  # not media at all


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> MediaFiles:
    """Small real media made by the ffmpeg Octavia uses."""
    from octavia.pipeline.media import FFmpeg

    d = tmp_path_factory.mktemp("media")
    ff = FFmpeg()
    wav, mp4, txt = d / "tone.wav", d / "silent.mp4", d / "notes.txt"
    ff.run(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-ar", "16000", str(wav)], what="make wav")
    ff.run(
        ["-f", "lavfi", "-i", "color=c=blue:s=64x64:d=1", "-c:v", "mpeg4", "-an", str(mp4)],
        what="make mp4",
    )
    txt.write_text("these are not the bytes you are looking for\n" * 20)
    return MediaFiles(wav, mp4, txt)


def send_to_target(target: dict[str, Any], data: bytes, content_type: str | None = None) -> httpx.Response:
    """Send bytes to an upload target as a client would: PUT body, or POST form (S3 policy)."""
    if target["method"] == "PUT":
        headers = dict(target["headers"])
        if content_type:
            headers["Content-Type"] = content_type
        return httpx.put(target["url"], content=data, headers=headers, timeout=30)
    fields = dict(target["fields"])
    if content_type:
        fields["Content-Type"] = content_type
    return httpx.post(target["url"], data=fields, files={"file": ("blob", data)}, timeout=30)


def upload_file(
    client: httpx.Client, path: Path, content_type: str, *, complete: bool = True, **extra: Any
) -> dict[str, Any]:
    """The whole upload flow for ``client``'s user; returns the upload JSON (after complete)."""
    data = path.read_bytes()
    r = client.post(
        "/v1/uploads", json={"filename": path.name, "content_type": content_type, "size": len(data), **extra}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    sent = send_to_target(created["target"], data)
    assert sent.status_code in (200, 204), sent.text
    if not complete:
        return dict(created["upload"])
    r = client.post(f"/v1/uploads/{created['upload']['id']}/complete")
    assert r.status_code == 200, r.text
    return dict(r.json())
