"""Jobs in the database: creation with its credit reservation, cancel, events, ownership.

HTTP-free, so the routes, the worker, the reaper and the tests share one implementation.
A job row is the truth; Huey only carries its id. Creation inserts the row and reserves its
credits in **one** transaction; the caller enqueues only after that commit, so a worker can
never see a job that does not exist yet, and a lost enqueue is repaired by the reaper.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from octavia.errors import InputError, OctaviaError
from octavia.server import credits
from octavia.server import tables as t
from octavia.server.db import insert_for, new_id, owned_row, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from octavia.server.db import Database
    from octavia.server.settings import ServerSettings

TERMINAL = frozenset({"done", "failed", "cancelled"})
#: The PostgreSQL channel :func:`event` notifies with the job id (octavia/server/event_hub.py).
EVENTS_CHANNEL = "octavia_job_events"


class IdempotencyConflict(OctaviaError):
    code = "idempotency_key_reused"
    http_status = 422


class JobFinished(OctaviaError):
    code = "job_finished"
    http_status = 409


class NotFound(OctaviaError):
    code = "not_found"
    http_status = 404


@dataclass(frozen=True)
class JobRequest:
    kind: str
    upload_id: str
    languages: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("srt",)
    source_language: str | None = None
    options: dict[str, Any] | None = None
    project_id: str | None = None

    def digest(self) -> str:
        """What Idempotency-Key replays are compared on: the request, canonically encoded."""
        body = {
            "kind": self.kind,
            "upload_id": self.upload_id,
            "languages": list(self.languages),
            "formats": list(self.formats),
            "source_language": self.source_language,
            "options": self.options or {},
            "project_id": self.project_id,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_options(kind: str, options: dict[str, Any], settings: ServerSettings) -> dict[str, Any]:
    """The options to store, validated for ``kind`` against what this server offers (else 422)."""
    from octavia.server.job_options import validate_job_options

    return validate_job_options(kind, options, settings)


def warm_up(settings: ServerSettings) -> None:
    """Import and build what the first job creation of a process would (the pipeline's job kinds,
    the options' models, the model catalogue, pricing): ~0.4 s of CPU that the first clients
    after every start would otherwise wait for (one request per connection, so the p99 of a
    busy server's first seconds). Run off the event loop at start-up."""
    from octavia.pipeline.catalogue import ENGINE_MODULES
    from octavia.server import pricing, tasks  # noqa: F401 - imported for their import cost
    from octavia.server.job_options import catalogue_specs

    check_kind("subtitle")
    check_options("subtitle", {}, settings)
    for engine in ENGINE_MODULES:
        catalogue_specs(engine)


def target_languages(kind: str, languages: tuple[str, ...], source_language: str | None) -> tuple[str, ...]:
    """The targets a job makes and is charged for: each once, without the spoken language.

    Compared case-insensitively (``ES`` is ``es``), first spelling kept. A request whose only
    targets were the spoken language is refused for the dubbing kinds (nothing to dub into);
    a subtitle job then simply transcribes.
    """
    spoken = (source_language or "").strip().lower()
    seen: set[str] = set()
    out: list[str] = []
    for lang in languages:
        key = lang.strip().lower()
        if key and key != spoken and key not in seen:
            seen.add(key)
            out.append(lang.strip())
    if languages and not out and kind != "subtitle":
        raise InputError(
            f"The only target language given, {source_language!r}, is the spoken language.",
            "Give a target language other than source_language.",
        )
    return tuple(out)


def check_kind(kind: str) -> None:
    from octavia.pipeline.jobs import KINDS, available_kinds

    available = available_kinds()
    if kind not in available:
        known = "known" if kind in KINDS else "unknown"
        raise InputError(
            f"Job kind {kind!r} is not available on this server ({known} kind).",
            f"Available kinds: {', '.join(sorted(available)) or 'none'}.",
        )


def event(conn: Connection, job_id: str, type_: str, stage: str | None = None, **data: Any) -> None:
    """Append an event to the job's stream, in the caller's transaction.

    On PostgreSQL the same statement sends ``pg_notify(EVENTS_CHANNEL, job_id)``: delivered on
    commit, together with the row, it wakes the event hub of every server process at once (one
    round trip: the INSERT runs in a CTE whose RETURNING feeds the notify).
    """
    values = {"job_id": job_id, "at": utcnow(), "type": type_, "stage": stage, "data": data}
    conn.execute(_EVENT_INSERT[conn.dialect.name == "postgresql"], values)


def _event_insert(notify: bool) -> Any:
    e = t.job_events
    insert = sa.insert(e).values(
        job_id=sa.bindparam("job_id"), at=sa.bindparam("at", type_=e.c.at.type), type=sa.bindparam("type"),
        stage=sa.bindparam("stage"), data=sa.bindparam("data", type_=e.c.data.type),
    )  # fmt: skip
    if not notify:
        return insert
    written = insert.returning(e.c.job_id).cte("written")
    return sa.select(sa.func.pg_notify(EVENTS_CHANNEL, written.c.job_id)).select_from(written)


# Built once (bind parameters only): without, then with the PostgreSQL notification.
_EVENT_INSERT = {False: _event_insert(False), True: _event_insert(True)}


_BY_KEY = sa.select(t.jobs).where(
    t.jobs.c.user_id == sa.bindparam("user_id"), t.jobs.c.idempotency_key == sa.bindparam("key")
)
_UPLOAD = sa.select(t.uploads.c.id, t.uploads.c.status, t.uploads.c.duration, t.uploads.c.project_id).where(
    t.uploads.c.id == sa.bindparam("id"), t.uploads.c.user_id == sa.bindparam("user_id")
)
_PROJECT = sa.select(t.projects.c.id).where(
    t.projects.c.id == sa.bindparam("id"), t.projects.c.user_id == sa.bindparam("user_id")
)


def _insert_job(dialect: str) -> Any:
    """INSERT … ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING the row: one statement
    that creates the job or, for a key already used, returns nothing (then: replay)."""
    return (
        insert_for(dialect, t.jobs)
        .on_conflict_do_nothing(index_elements=["user_id", "idempotency_key"])
        .returning(*t.jobs.c)
    )


# Built once per dialect: SQLAlchemy then reuses the compiled statement and its cache key.
_INSERT_JOB = {"postgresql": _insert_job("postgresql"), "sqlite": _insert_job("sqlite")}


def _by_key(conn: Connection, user_id: str, key: str) -> Any:
    return conn.execute(_BY_KEY, {"user_id": user_id, "key": key}).first()


def _replay(row: Any, digest: str) -> Any:
    if row.request_hash != digest:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used with a different request.",
            f"It created job {row.id}. Send the same body to get that job back, or use a new key.",
        )
    return row


class _Replay(Exception):
    """Control flow inside insert_job (roll back, then answer this earlier job); never escapes."""

    def __init__(self, row: Any) -> None:
        self.row = row


def _replay_or(conn: Connection, user_id: str, key: str | None, error: Exception) -> Exception:
    """A request whose key was used before gets that job back even if its upload or project is
    gone by now (as when the key was looked up first); else ``error``."""
    if key is not None and (found := _by_key(conn, user_id, key)) is not None:
        return _Replay(found)
    return error


@dataclass(frozen=True, slots=True)
class PreparedJob:
    """A job request checked and normalised, ready for :func:`insert_job` (no database needed)."""

    req: JobRequest
    options: dict[str, Any]
    digest: str


def prepare_job(settings: ServerSettings, req: JobRequest) -> PreparedJob:
    """Check a request's kind and options and fill in its target languages; raises the 422s."""
    check_kind(req.kind)
    options = check_options(req.kind, req.options or {}, settings)
    req = replace(req, languages=target_languages(req.kind, req.languages, req.source_language))
    return PreparedJob(req, options, req.digest())


def insert_job(
    db: Database, settings: ServerSettings, job: PreparedJob, *, user_id: str, idempotency_key: str | None
) -> tuple[Any, bool]:
    """Insert a :func:`prepare_job`-ed job and reserve its credits; returns (row, created).
    Enqueue after this. One ``db.begin()``, so it may be tried again (deps.run_write).

    The common case is six statements in one transaction: the upload, the job INSERT (its
    idempotency check and its re-read folded in: ON CONFLICT DO NOTHING RETURNING), the user
    lock, the balance (one credit_balances row), the reservation and its balance update; plus
    the ``queued`` event.
    """
    from octavia.server.pricing import billable_seconds, estimate_cost

    req, options, digest = job.req, job.options, job.digest
    job_id = new_id("job")
    try:
        with db.begin() as conn:
            up = conn.execute(_UPLOAD, {"id": req.upload_id, "user_id": user_id}).first()
            if up is None:
                raise _replay_or(conn, user_id, idempotency_key, NotFound("Upload not found."))
            if up.status != "ready" or up.duration is None:
                raise _replay_or(conn, user_id, idempotency_key, InputError(
                    f"Upload {up.id} is {up.status}, not ready.",
                    "Send the bytes, then POST /v1/uploads/{id}/complete; rejected uploads cannot be used.",
                ))  # fmt: skip
            if req.project_id is not None and (
                conn.execute(_PROJECT, {"id": req.project_id, "user_id": user_id}).first() is None
            ):
                raise _replay_or(conn, user_id, idempotency_key, NotFound("Project not found."))
            cost = estimate_cost(settings, req.kind, billable_seconds(float(up.duration)), len(req.languages))
            now = utcnow()
            row = conn.execute(_INSERT_JOB[conn.dialect.name], {
                "id": job_id, "user_id": user_id, "project_id": req.project_id or up.project_id,
                "upload_id": up.id, "kind": req.kind, "status": "queued", "source_language": req.source_language,
                "languages": list(req.languages), "options": {**options, "formats": list(req.formats)},
                "idempotency_key": idempotency_key, "request_hash": digest, "attempts": 0,
                "max_attempts": settings.job_max_attempts, "cancel_requested": False, "progress": {},
                "cost_estimate": cost, "created_at": now, "enqueued_at": now,
            }).first()  # fmt: skip
            if row is None:  # the key was used before (only a non-NULL key can conflict)
                assert idempotency_key is not None
                found = _by_key(conn, user_id, idempotency_key)
                if found is None:  # pragma: no cover - the conflicting row is committed and visible
                    raise IntegrityError("INSERT jobs", None, RuntimeError("idempotency conflict"))
                raise _Replay(found)
            credits.reserve_for_job(conn, user_id=user_id, job_id=job_id, amount=cost, new_job=True)
            event(conn, job_id, "queued", cost_estimate=cost)
        return row, True
    except _Replay as replay:
        return _replay(replay.row, digest), False
    except IntegrityError:
        # Two requests with one key raced; the other one's insert won. Replay it.
        if idempotency_key is None:
            raise
        with db.read() as conn:
            found = _by_key(conn, user_id, idempotency_key)
        if found is None:
            raise
        return _replay(found, digest), False


def owned_job(conn: Connection, user_id: str, job_id: str) -> Any:
    row = owned_row(conn, t.jobs, user_id, job_id)
    if row is None:
        raise NotFound("Job not found.")
    return row


def list_jobs(
    conn: Connection, user_id: str, *, status: str | None = None, kind: str | None = None,
    limit: int = 50, offset: int = 0,
) -> list[Any]:  # fmt: skip
    params = {"uid": user_id, "status": status, "kind": kind, "limit": limit, "offset": offset}
    return list(conn.execute(_page_query(bool(status), bool(kind)), params))


@cache  # four statements in all, built once each (bind parameters only)
def _page_query(by_status: bool, by_kind: bool) -> sa.Select[Any]:
    q = sa.select(t.jobs).where(t.jobs.c.user_id == sa.bindparam("uid"))
    if by_status:
        q = q.where(t.jobs.c.status == sa.bindparam("status"))
    if by_kind:
        q = q.where(t.jobs.c.kind == sa.bindparam("kind"))
    order = (t.jobs.c.created_at.desc(), t.jobs.c.id)
    return q.order_by(*order).limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))


def cancel_job(db: Database, *, user_id: str, job_id: str) -> Any:
    """Queued or in review → cancelled at once (+ refund); running → cancel_requested (the worker stops at
    its next check and refunds). Conditional UPDATEs, so a worker claiming the job at the same
    moment either sees it cancelled or sees the request."""
    j = t.jobs
    with db.begin() as conn:
        row = owned_job(conn, user_id, job_id)
        if row.status in TERMINAL:
            raise JobFinished(f"Job {job_id} already ended ({row.status}).")
        now = utcnow()
        res = conn.execute(
            sa.update(j).where(j.c.id == job_id, j.c.status.in_(("queued", "review")))
            .values(status="cancelled", finished_at=now, cancel_requested=True)
        )  # fmt: skip
        if res.rowcount == 1:
            credits.refund_job(conn, job_id=job_id)
            event(conn, job_id, "cancelled", by="user")
        else:
            conn.execute(
                sa.update(j).where(j.c.id == job_id, j.c.status == "running").values(cancel_requested=True)
            )
            event(conn, job_id, "cancel_requested")
        return conn.execute(sa.select(j).where(j.c.id == job_id)).one()


def events_after(conn: Connection, job_id: str, after: int, limit: int = 500) -> list[Any]:
    e = t.job_events
    q = sa.select(e).where(e.c.job_id == job_id, e.c.id > after).order_by(e.c.id).limit(limit)
    return list(conn.execute(q))


def job_dict(row: Any) -> dict[str, Any]:
    opts = dict(row.options or {})
    formats = opts.pop("formats", ["srt"])

    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {
        "id": row.id, "kind": row.kind, "status": row.status, "upload_id": row.upload_id,
        "project_id": row.project_id, "source_language": row.source_language,
        "languages": list(row.languages or []), "formats": formats, "options": opts,
        "stage": row.stage, "progress": row.progress or {}, "attempts": row.attempts,
        "max_attempts": row.max_attempts, "cancel_requested": bool(row.cancel_requested),
        "error": row.error, "result": row.result, "cost_estimate": row.cost_estimate,
        "cost_actual": row.cost_actual, "created_at": iso(row.created_at), "started_at": iso(row.started_at),
        "finished_at": iso(row.finished_at), "review_at": iso(row.review_at),
    }  # fmt: skip


__all__ = [
    "EVENTS_CHANNEL",
    "TERMINAL",
    "IdempotencyConflict",
    "JobFinished",
    "JobRequest",
    "NotFound",
    "PreparedJob",
    "cancel_job",
    "check_kind",
    "check_options",
    "event",
    "events_after",
    "insert_job",
    "job_dict",
    "list_jobs",
    "owned_job",
    "prepare_job",
    "target_languages",
]
