"""``/v1/jobs``: create (idempotent, credits reserved), read, list, cancel, live events, artifacts.

Every lookup is scoped to the caller: another user's job answers 404 exactly like a missing
one. Creation commits the job row with its credit reservation, *then* enqueues its id; if the
enqueue fails the job stays ``queued`` and the reaper sends it again.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field, WithJsonSchema

from octavia.server import jobs as J
from octavia.server import tables as t
from octavia.server.db import utcnow
from octavia.server.deps import CurrentUser, DbDep, SettingsDep, StorageDep, run_read, run_write
from octavia.server.job_options import options_schema
from octavia.server.problems import responses
from octavia.server.ratelimit import rate_limit
from octavia.server.validation import AfterEventId, LastEventId, Offset

log = logging.getLogger("octavia.server")
router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
JobStatus = Literal["queued", "running", "review", "done", "failed", "cancelled"]
_state_lock = threading.Lock()


class JobCreate(BaseModel):
    kind: str = Field(max_length=32, description="subtitle | translate-audio | dub")
    upload_id: str = Field(max_length=40)
    source_language: str | None = Field(None, max_length=16, description="Spoken language; default: detect.")
    languages: list[Annotated[str, Field(min_length=2, max_length=16)]] = Field(
        default_factory=list, max_length=20
    )
    formats: list[Annotated[str, Field(min_length=2, max_length=8)]] = Field(
        default_factory=lambda: ["srt"], min_length=1, max_length=5
    )
    # Validated per kind in jobs.prepare_job (a 422 names the option); the schema documents it.
    options: Annotated[dict[str, Any], WithJsonSchema(options_schema())] = Field(default_factory=dict)
    project_id: str | None = Field(None, max_length=40)


def get_queue(request: Request) -> Any:
    """The app's JobQueue, built on first use. In immediate mode it also runs jobs, inline."""
    return queue_for(request.app.state)


def queue_for(state: Any) -> Any:
    """:func:`get_queue` for an app's ``state``; the app's start-up builds a real queue early."""
    with _state_lock:
        queue = getattr(state, "job_queue", None)
        if queue is None:
            from octavia.server.tasks import JobQueue

            queue = JobQueue.from_settings(state.settings)
            state.job_queue = queue  # before get_metrics, so its collector sees the queue
            if queue.immediate:
                from octavia.server.worker import Worker

                worker = Worker(state.settings, db=state.db, storage=state.storage, queue=queue,
                                metrics=metrics_for(state)[1])  # fmt: skip
                queue.set_runner(worker)
        return queue


def get_metrics(request: Request) -> Any:
    """(registry, WorkerMetrics) of this app, built on first use."""
    return metrics_for(request.app.state)


def metrics_for(state: Any) -> Any:
    found = getattr(state, "metrics", None)
    if found is None:
        from octavia.server.metrics import build_registry

        found = build_registry(state.db, getattr(state, "job_queue", None))
        state.metrics = found
    return found


async def _queue_dep(request: Request) -> Any:
    # Async: a sync dependency costs a thread-pool hop per request (building it is once).
    return get_queue(request)


QueueDep = Annotated[Any, Depends(_queue_dep)]


def _out(row: Any) -> dict[str, Any]:
    return J.job_dict(row)


def _json(data: Any, status_code: int = 200) -> JSONResponse:
    # job_dict is JSON-ready already: answering it directly skips FastAPI's validation and
    # jsonable_encoder walk of the declared dict[str, Any] (the same bytes, a fraction of the CPU).
    return JSONResponse(data, status_code=status_code)


@router.post(
    "", status_code=201, dependencies=[Depends(rate_limit("jobs:create", "rate_limit_jobs"))],
    response_model=dict[str, Any],
    responses={200: {"description": "The job an earlier request with this Idempotency-Key created."},
               **responses(402, 404)},
)  # fmt: skip
async def create_job(
    body: JobCreate, user: CurrentUser, db: DbDep, settings: SettingsDep, queue: QueueDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> Response:  # fmt: skip
    req = J.JobRequest(
        kind=body.kind, upload_id=body.upload_id, languages=tuple(body.languages), formats=tuple(body.formats),
        source_language=body.source_language, options=body.options, project_id=body.project_id,
    )  # fmt: skip
    # Async: the creation runs on the loop when SQLite's writer lock is free (run_write), the
    # Redis push is an asyncio call; what blocks goes to the thread pool inside those two.
    job = J.prepare_job(settings, req)  # once: a busy writer lock retries only the transaction
    row, created = await run_write(
        db, J.insert_job, db, settings, job, user_id=user.id, idempotency_key=idempotency_key
    )
    if not created:
        return _json(_out(row))
    try:
        await queue.enqueue_async(row.id)
    except Exception:
        log.exception("enqueue of job %s failed; the reaper will retry it", row.id)
    if queue.immediate:  # the job has run already: answer its state now
        row = await run_read(db, J.owned_job, user.id, row.id)
    return _json(_out(row), 201)


# The two hot reads are async and read through run_read: inline on SQLite, a thread otherwise.
@router.get("", response_model=list[dict[str, Any]])
async def list_jobs(
    user: CurrentUser, db: DbDep, status: JobStatus | None = None, kind: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50, offset: Offset = 0,
) -> Response:  # fmt: skip
    rows = await run_read(db, J.list_jobs, user.id, status=status, kind=kind, limit=limit, offset=offset)
    return _json([_out(r) for r in rows])


@router.get("/{job_id}", response_model=dict[str, Any], responses=responses(404))
async def get_job(job_id: str, user: CurrentUser, db: DbDep) -> Response:
    return _json(_out(await run_read(db, J.owned_job, user.id, job_id)))


@router.post("/{job_id}/cancel", responses=responses(404, 409))
def cancel_job(job_id: str, user: CurrentUser, db: DbDep) -> dict[str, Any]:
    return _out(J.cancel_job(db, user_id=user.id, job_id=job_id))


@router.get("/{job_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}, **responses(404)})  # fmt: skip
def job_events(
    request: Request, job_id: str, user: CurrentUser, db: DbDep,
    last_event_id: LastEventId = None,
    after: AfterEventId = None,
    poll: Annotated[float, Query(ge=0.05, le=10, description=(
        "Seconds between checks for new events when nothing wakes the stream sooner (rounded to "
        "50 ms). On PostgreSQL a notification wakes it at once; it then checks every 5 s or so."
    ))] = 0.5,
) -> StreamingResponse:  # fmt: skip
    from octavia.server.sse import job_events as stream

    with db.read() as conn:
        J.owned_job(conn, user.id, job_id)
    # Both are bounded integers (422 otherwise), so the stream's queries cannot fail on them.
    # The later one wins: EventSource reconnects to the same URL (``?after=`` of the page that
    # opened it) with Last-Event-ID set to the last event it got, which must not be replayed.
    start = max(after or 0, last_event_id or 0)
    hub = request.app.state.event_hub  # one reader for every stream of this process
    return StreamingResponse(
        stream(hub, job_id, after=start, poll_s=poll), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )  # fmt: skip


def _artifact(a: Any, url: str, ttl: int) -> dict[str, Any]:
    return {"name": a.name, "size": a.size, "content_type": a.content_type, "url": url,
            "expires_at": (utcnow() + timedelta(seconds=ttl)).isoformat()}  # fmt: skip


@router.get("/{job_id}/artifacts", responses=responses(404))
def list_artifacts(
    job_id: str, user: CurrentUser, db: DbDep, storage: StorageDep, settings: SettingsDep
) -> list[dict[str, Any]]:
    ttl = settings.download_url_ttl_s
    with db.read() as conn:
        J.owned_job(conn, user.id, job_id)
        rows = conn.execute(
            sa.select(t.artifacts).where(t.artifacts.c.job_id == job_id).order_by(t.artifacts.c.name)
        )
        return [
            _artifact(
                a,
                storage.presign_get(a.storage_key, expires=ttl, filename=a.name, content_type=a.content_type),
                ttl,
            )
            for a in rows
        ]


@router.get(
    "/{job_id}/artifacts/{name}", response_model=None,
    responses={200: {"description": "With redirect=false: the signed URL."},
               307: {"description": "A redirect to the signed URL."}, **responses(404)},
)  # fmt: skip
def get_artifact(
    job_id: str, name: str, user: CurrentUser, db: DbDep, storage: StorageDep, settings: SettingsDep,
    redirect: bool = True,
) -> Response:  # fmt: skip
    ttl = settings.download_url_ttl_s
    with db.read() as conn:
        J.owned_job(conn, user.id, job_id)
        a = conn.execute(
            sa.select(t.artifacts).where(t.artifacts.c.job_id == job_id, t.artifacts.c.name == name)
        ).first()
    if a is None:
        raise J.NotFound("Artifact not found.")
    url = storage.presign_get(a.storage_key, expires=ttl, filename=a.name, content_type=a.content_type)
    if redirect:
        return RedirectResponse(url, status_code=307)
    return JSONResponse(_artifact(a, url, ttl))
