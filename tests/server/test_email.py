"""Mail senders against real servers: aiosmtpd (plain, STARTTLS + AUTH, refused recipient) and
local HTTP servers speaking the Resend and SendGrid APIs."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from octavia.server.email import (
    EmailDeliveryError,
    Mail,
    ResendSender,
    SendGridSender,
    SmtpSender,
    build_sender,
)
from octavia.server.settings import ServerSettings
from tests.server.conftest import free_port

MAIL = Mail("Ann <ann@example.com>", "Hello", "plain body", "<p>html body</p>")


@dataclass
class SmtpServer:
    port: int
    received: list[Any] = field(default_factory=list)


def _start_smtp(tmp_path: Path, *, tls: bool, refuse: str | None = None) -> tuple[Any, SmtpServer]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = SmtpServer(free_port())

    class Handler:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if refuse and refuse in address:
                return "550 no such user here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.received.append(
                (
                    session.authenticated,
                    email.message_from_bytes(envelope.content, policy=email.policy.default),
                )
            )
            return "250 Message accepted"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.login == b"octavia" and data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    kwargs: dict[str, Any] = {}
    if tls:
        cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kwargs = {
            "tls_context": ctx,
            "require_starttls": True,
            "authenticator": authenticator,
            "auth_required": True,
        }
    ctl = Controller(Handler(), hostname="127.0.0.1", port=box.port, **kwargs)
    ctl.start()
    return ctl, box


def test_smtp_plain(tmp_path):
    ctl, box = _start_smtp(tmp_path, tls=False)
    try:
        SmtpSender("Octavia <no-reply@example.com>", "127.0.0.1", box.port, starttls=False).send(MAIL)
    finally:
        ctl.stop()
    [(_auth, msg)] = box.received
    assert msg["Subject"] == "Hello" and "ann@example.com" in msg["To"]
    assert msg.get_body(("plain",)).get_content().strip() == "plain body"
    assert "html body" in msg.get_body(("html",)).get_content()


@pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl CLI to make a test certificate"
)
def test_smtp_starttls_with_login(tmp_path):
    ctl, box = _start_smtp(tmp_path, tls=True)
    ca = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))  # verify the server for real
    try:
        SmtpSender(
            "no-reply@example.com", "127.0.0.1", box.port, "octavia", "s3cret", True, tls_context=ca
        ).send(MAIL)
        with pytest.raises(EmailDeliveryError, match=r"127\.0\.0\.1"):
            SmtpSender(
                "no-reply@example.com", "127.0.0.1", box.port, "octavia", "wrong", True, tls_context=ca
            ).send(MAIL)
        with pytest.raises(EmailDeliveryError):  # the server demands STARTTLS first
            SmtpSender("no-reply@example.com", "127.0.0.1", box.port, "octavia", "s3cret", False).send(MAIL)
    finally:
        ctl.stop()
    assert len(box.received) == 1 and box.received[0][0] is True


def test_smtp_failures_are_typed(tmp_path):
    ctl, box = _start_smtp(tmp_path, tls=False, refuse="ann@")
    try:
        with pytest.raises(EmailDeliveryError):
            SmtpSender("no-reply@example.com", "127.0.0.1", box.port, starttls=False).send(MAIL)
    finally:
        ctl.stop()
    with pytest.raises(EmailDeliveryError):  # nobody listening
        SmtpSender("no-reply@example.com", "127.0.0.1", free_port(), starttls=False, timeout=2).send(MAIL)


@dataclass
class FakeApi:
    url: str
    requests: list[dict[str, Any]]
    status: list[int]


@pytest.fixture
def fake_api() -> Iterator[FakeApi]:
    """A local HTTP server answering like Resend (200 {id}) or SendGrid (202, empty)."""
    api = FakeApi("", [], [200])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            api.requests.append({"path": self.path, "auth": self.headers["Authorization"], "json": body})
            status = api.status[0]
            payload = b'{"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}' if status == 200 else b""
            if status >= 400:
                payload = (
                    b'{"statusCode": 422, "message": "Invalid `from` field.", "name": "validation_error"}'
                )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{srv.server_address[1]}"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield api
    srv.shutdown()
    srv.server_close()


def test_resend_api(fake_api):
    ResendSender("Octavia <no-reply@example.com>", "re_123", fake_api.url).send(MAIL)
    [req] = fake_api.requests
    assert req["path"] == "/emails" and req["auth"] == "Bearer re_123"
    assert req["json"] == {
        "from": "Octavia <no-reply@example.com>",
        "to": [MAIL.to],
        "subject": "Hello",
        "text": "plain body",
        "html": "<p>html body</p>",
    }
    fake_api.status[0] = 422
    with pytest.raises(EmailDeliveryError, match="HTTP 422"):
        ResendSender("bad", "re_123", fake_api.url).send(MAIL)


def test_sendgrid_api(fake_api):
    fake_api.status[0] = 202
    SendGridSender("Octavia <no-reply@example.com>", "SG.key", fake_api.url).send(MAIL)
    [req] = fake_api.requests
    assert req["path"] == "/v3/mail/send" and req["auth"] == "Bearer SG.key"
    assert req["json"]["personalizations"] == [{"to": [{"email": MAIL.to}]}]
    assert req["json"]["from"] == {"email": "no-reply@example.com", "name": "Octavia"}
    assert req["json"]["content"] == [
        {"type": "text/plain", "value": "plain body"},
        {"type": "text/html", "value": "<p>html body</p>"},
    ]
    fake_api.status[0] = 401
    with pytest.raises(EmailDeliveryError, match="HTTP 401"):
        SendGridSender("x@example.com", "SG.bad", fake_api.url).send(MAIL)


def test_signup_mail_through_resend_backend(fake_api, server_factory):
    """The app picks the sender from settings; the verification mail goes out over the Resend API."""
    srv = server_factory(email_backend="resend", resend_api_key="re_app", resend_base_url=fake_api.url)
    r = srv.client().post("/v1/auth/signup", json={"email": "zoe@example.com", "password": "pw-long-enough"})
    assert r.status_code == 202
    deadline = time.monotonic() + 10  # sent by the outbox thread, after the answer

    def to_zoe() -> list[dict[str, Any]]:
        return [q for q in fake_api.requests if q["json"]["to"] == ["zoe@example.com"]]

    while not to_zoe() and time.monotonic() < deadline:
        time.sleep(0.02)
    [req] = to_zoe()
    assert req["json"]["to"] == ["zoe@example.com"] and "/verify?token=" in req["json"]["text"]


def test_build_sender_needs_keys():
    from octavia.errors import InputError

    with pytest.raises(InputError, match="RESEND_API_KEY"):
        build_sender(ServerSettings.model_validate({"email_backend": "resend"}))
