"""Mail off the request path: requests queue an intent row, a sender thread delivers it.

Sending inside the request leaked which addresses have accounts (an existing one waited for
SMTP: 341 ms against 128 ms, and got a 503 naming the SMTP host when it was down). Now every
auth route only inserts one ``mail_outbox`` row, for known and unknown addresses alike, and
answers; :class:`MailOutbox` (a daemon thread in each API process, started by the app's
lifespan) later looks the account up, issues the token, sends, and retries failures with
exponential backoff. SMTP errors go to the server log and the row's ``last_error``, never to
a client.

Several processes may run a sender on one database: a row is claimed by a conditional UPDATE
that pushes its ``next_attempt_at`` one lease ahead, so only one sender wins it, and a sender
that dies mid-send leaves a row another one retries when the lease ends.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from octavia.errors import OctaviaError
from octavia.server import accountmail
from octavia.server import tables as t
from octavia.server.db import Database, new_id, utcnow
from octavia.server.email import EmailSender
from octavia.server.settings import ServerSettings

log = logging.getLogger("octavia.mail")
_BATCH = 20
# Sent rows are kept a week for support questions ("did the mail go out?"), then deleted.
_KEEP_SENT = timedelta(days=7)
_PRUNE_EVERY_S = 3600.0


def enqueue(
    conn: sa.Connection,
    kind: accountmail.MailKind,
    to_addr: str,
    *,
    user_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Queue a mail in the caller's transaction (so it is sent only if that commits)."""
    now = utcnow()
    conn.execute(
        sa.insert(t.mail_outbox).values(
            id=new_id("mail"),
            kind=kind,
            to_addr=to_addr,
            user_id=user_id,
            data=data or {},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


class MailOutbox:
    """Delivers queued mail: ``start()`` a thread, ``wake()`` it after a commit, ``stop()``."""

    def __init__(self, db: Database, sender: EmailSender, settings: ServerSettings) -> None:
        self.db, self.sender, self.settings = db, sender, settings
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="octavia-mail", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        next_prune = 0.0
        while not self._stop.is_set():
            try:
                while self.run_once() and not self._stop.is_set():
                    pass
                if time.monotonic() >= next_prune:
                    self.prune()
                    next_prune = time.monotonic() + _PRUNE_EVERY_S
            except sa.exc.SQLAlchemyError:
                # The database may be restarting; the rows are still there for the next round.
                log.exception("mail outbox: database error, retrying")
            except Exception:  # a thread edge (as ReaperThread._once): log, keep the sender alive
                log.exception("mail outbox: pass crashed; its mail is retried after the lease")
            self._wake.wait(self.settings.mail_poll_interval_s)
            self._wake.clear()

    def prune(self) -> int:
        """Delete sent mail older than a week; returns how many rows went."""
        ob = t.mail_outbox
        with self.db.begin() as conn:
            gone = conn.execute(
                sa.delete(ob).where(ob.c.status == "sent", ob.c.sent_at < utcnow() - _KEEP_SENT)
            )
        return int(gone.rowcount)

    def run_once(self) -> int:
        """Try every due mail once; returns how many were claimed."""
        ob = t.mail_outbox
        now = utcnow()
        with self.db.read() as conn:
            due = (
                conn.execute(
                    sa.select(ob.c.id)
                    .where(ob.c.status == "pending", ob.c.next_attempt_at <= now)
                    .order_by(ob.c.next_attempt_at)
                    .limit(_BATCH)
                )
                .scalars()
                .all()
            )
        claimed = 0
        for mail_id in due:
            if self._deliver(mail_id):
                claimed += 1
        return claimed

    def claim(self, mail_id: str) -> Any | None:
        """Take one due row for a lease; None if it is not due or another sender has it."""
        ob = t.mail_outbox
        now = utcnow()
        with self.db.begin() as conn:
            return conn.execute(
                sa.update(ob)
                .where(ob.c.id == mail_id, ob.c.status == "pending", ob.c.next_attempt_at <= now)
                .values(
                    attempts=ob.c.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=self.settings.mail_lease_s),
                )
                .returning(ob.c.kind, ob.c.to_addr, ob.c.data, ob.c.attempts)
            ).first()

    def _deliver(self, mail_id: str) -> bool:
        row = self.claim(mail_id)
        if row is None:
            return False
        ob = t.mail_outbox
        with self.db.begin() as conn:
            mail = accountmail.render(conn, self.settings, row.kind, row.to_addr, dict(row.data or {}))
            if mail is None:
                # No such account (or nothing left to do): forget the address we were given.
                conn.execute(sa.delete(ob).where(ob.c.id == mail_id))
                return True
        try:
            self.sender.send(mail)  # outside any transaction: SMTP may take seconds
        except OctaviaError as exc:
            self._failed(mail_id, int(row.attempts), exc)
            return True
        with self.db.begin() as conn:
            conn.execute(sa.update(ob).where(ob.c.id == mail_id).values(status="sent", sent_at=utcnow()))
        return True

    def _failed(self, mail_id: str, attempts: int, exc: OctaviaError) -> None:
        s = self.settings
        give_up = attempts >= s.mail_max_attempts
        delay = min(s.mail_retry_max_s, s.mail_retry_base_s * 2 ** (attempts - 1))
        log.warning(
            "mail %s: delivery attempt %d failed%s: %s",
            mail_id, attempts, "; giving up" if give_up else f"; retry in {delay:.0f} s", exc,
        )  # fmt: skip
        ob = t.mail_outbox
        with self.db.begin() as conn:
            conn.execute(
                sa.update(ob)
                .where(ob.c.id == mail_id)
                .values(
                    status="failed" if give_up else "pending",
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    last_error=str(exc)[:2000],
                )
            )
