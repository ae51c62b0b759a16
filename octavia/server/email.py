"""Outgoing mail through a pluggable sender: console (default), SMTP, Resend or SendGrid.

Resend and SendGrid are called over their documented HTTP APIs with httpx (no SDKs):
Resend ``POST /emails`` (Bearer key, JSON ``{from, to, subject, text, html}`` → 200 ``{id}``);
SendGrid ``POST /v3/mail/send`` (Bearer key, personalizations JSON → 202, empty body).
"""

from __future__ import annotations

import smtplib
import ssl
import sys
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from typing import TYPE_CHECKING, Protocol, TextIO

from octavia.errors import InputError, OctaviaError

if TYPE_CHECKING:
    from octavia.server.settings import ServerSettings


class EmailDeliveryError(OctaviaError):
    code = "email_delivery_failed"
    http_status = 503


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None


class EmailSender(Protocol):
    def send(self, mail: Mail) -> None: ...


@dataclass
class ConsoleSender:
    """Writes each mail to a stream (stderr): the zero-setup default for a single-user server."""

    from_addr: str
    stream: TextIO | None = None

    def send(self, mail: Mail) -> None:
        out = self.stream or sys.stderr
        out.write(f"--- email from {self.from_addr} to {mail.to}: {mail.subject}\n{mail.text}\n---\n")
        out.flush()


def _mime(from_addr: str, mail: Mail) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = from_addr
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg.set_content(mail.text)
    if mail.html:
        msg.add_alternative(mail.html, subtype="html")
    return msg


@dataclass
class SmtpSender:
    from_addr: str
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    timeout: float = 10.0
    tls_context: ssl.SSLContext | None = None

    def send(self, mail: Mail) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=self.tls_context or ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(_mime(self.from_addr, mail))
        except (smtplib.SMTPException, OSError) as exc:
            raise EmailDeliveryError(
                f"Could not send email through {self.host}:{self.port}: {exc}",
                "Check the OCTAVIA_SMTP_* settings.",
            ) from exc


def _post(url: str, api_key: str, payload: dict[str, object], service: str, timeout: float) -> None:
    import httpx

    try:
        resp = httpx.post(url, json=payload, headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise EmailDeliveryError(f"{service} could not be reached: {exc}") from exc
    if resp.status_code >= 300:
        raise EmailDeliveryError(
            f"{service} refused the email (HTTP {resp.status_code}): {resp.text[:300]}",
            f"Check the {service} API key and that the sender address is verified there.",
        )


@dataclass
class ResendSender:
    from_addr: str
    api_key: str
    base_url: str = "https://api.resend.com"
    timeout: float = 10.0

    def send(self, mail: Mail) -> None:
        payload: dict[str, object] = {
            "from": self.from_addr,
            "to": [mail.to],
            "subject": mail.subject,
            "text": mail.text,
        }
        if mail.html:
            payload["html"] = mail.html
        _post(f"{self.base_url.rstrip('/')}/emails", self.api_key, payload, "Resend", self.timeout)


@dataclass
class SendGridSender:
    from_addr: str
    api_key: str
    base_url: str = "https://api.sendgrid.com"
    timeout: float = 10.0

    def send(self, mail: Mail) -> None:
        name, addr = parseaddr(self.from_addr)
        sender: dict[str, str] = {"email": addr}
        if name:
            sender["name"] = name
        content = [{"type": "text/plain", "value": mail.text}]
        if mail.html:
            content.append({"type": "text/html", "value": mail.html})
        payload: dict[str, object] = {
            "personalizations": [{"to": [{"email": mail.to}]}],
            "from": sender,
            "subject": mail.subject,
            "content": content,
        }
        _post(f"{self.base_url.rstrip('/')}/v3/mail/send", self.api_key, payload, "SendGrid", self.timeout)


def build_sender(settings: ServerSettings) -> EmailSender:
    backend = settings.email_backend
    if backend == "smtp":
        pw = settings.smtp_password
        return SmtpSender(
            settings.email_from,
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_username,
            pw.get_secret_value() if pw else None,
            settings.smtp_starttls,
            settings.smtp_timeout_s,
        )
    if backend in {"resend", "sendgrid"}:
        key = settings.resend_api_key if backend == "resend" else settings.sendgrid_api_key
        if key is None:
            raise InputError(f"OCTAVIA_EMAIL_BACKEND={backend} needs OCTAVIA_{backend.upper()}_API_KEY.")
        if backend == "resend":
            return ResendSender(settings.email_from, key.get_secret_value(), settings.resend_base_url)
        return SendGridSender(settings.email_from, key.get_secret_value(), settings.sendgrid_base_url)
    return ConsoleSender(settings.email_from)
