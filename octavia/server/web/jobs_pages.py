"""The jobs pages: ``/`` (dashboard), ``/jobs/new``, ``/jobs/{id}`` and ``/jobs/{id}/review``.

Each page reads through the same HTTP-free functions as the ``/v1`` routes
(:mod:`octavia.server.jobs`, :mod:`octavia.server.review`), scoped to the signed-in user: another
user's job is the same 404 page as a missing one. The review page and cancel are plain forms
(CSRF-checked, POST-redirect-GET); the new-job page needs its script (files go straight from the
browser to storage through the signed upload URL); the job page's script adds live progress
(server-sent events) and the audio-track selector.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response

from octavia.errors import InputError
from octavia.server import jobs as J
from octavia.server import review as R
from octavia.server import tables as t
from octavia.server.problems import not_found
from octavia.server.web import page_router
from octavia.server.web.flash import flash
from octavia.server.web.render import redirect, render
from octavia.server.web.session import CurrentWebUser

router = page_router()
STATUSES = ("queued", "running", "review", "done", "failed", "cancelled")
#: Offered in the form's language lists (codes; the names are in the strings catalogue).
LANGUAGES = ("en", "es", "fr", "de", "it", "pt", "nl", "ja", "zh", "ru", "ar", "hi")
#: Stages in the order a job runs them (per-language stages are shown as "stage:lang").
STAGE_ORDER = ("extract", "transcribe", "translate", "review", "bed", "synthesize", "mix", "mux")


def _owned(request: Request, user_id: str, job_id: str) -> Any:
    with request.app.state.db.read() as conn:
        try:
            return J.owned_job(conn, user_id, job_id)
        except J.NotFound:
            raise not_found("Job") from None


@router.get("/")
def dashboard(request: Request, user: CurrentWebUser, status: str | None = None) -> Response:
    wanted = status if status in STATUSES else None
    with request.app.state.db.read() as conn:
        jobs = [J.job_dict(r) for r in J.list_jobs(conn, user.id, status=wanted, limit=200)]
        projects = conn.execute(
            sa.select(t.projects)
            .where(t.projects.c.user_id == user.id)
            .order_by(t.projects.c.created_at.desc())
        ).all()
        uploads = dict(conn.execute(
            sa.select(t.uploads.c.id, t.uploads.c.filename).where(t.uploads.c.user_id == user.id)
        ).all())  # fmt: skip
    names = {p.id: p.name for p in projects}
    for job in jobs:
        job["filename"] = uploads.get(job["upload_id"], "")
        job["percent"] = _percent(job)
    return render(request, "jobs/dashboard.html", nav="dashboard", jobs=jobs, projects=projects,
                  project_names=names, statuses=STATUSES, status=wanted)  # fmt: skip


def _percent(job: dict[str, Any]) -> int:
    """The share of the current stage done, for the dashboard's bar (100 when finished)."""
    if job["status"] == "done":
        return 100
    stage = job.get("stage")
    frac = (job.get("progress") or {}).get(stage or "", {}).get("fraction") if stage else None
    return round(100 * float(frac)) if isinstance(frac, int | float) else 0


@router.get("/jobs/new")
def new_job(request: Request, user: CurrentWebUser) -> Response:
    from octavia.server.routes.offerings import offerings

    offered = offerings(user, request.app.state.settings)
    with request.app.state.db.read() as conn:
        projects = conn.execute(
            sa.select(t.projects).where(t.projects.c.user_id == user.id).order_by(t.projects.c.name)
        ).all()
    return render(request, "jobs/new.html", nav="new", offered=offered, languages=LANGUAGES,
                  projects=projects, page_script="js/jobs-new.js")  # fmt: skip


def stage_rows(job: dict[str, Any]) -> list[dict[str, Any]]:
    """(stage, percent) for the job page, in running order."""
    progress = job.get("progress") or {}

    def order(name: str) -> tuple[int, str]:
        base = name.split(":")[0]
        return (STAGE_ORDER.index(base) if base in STAGE_ORDER else len(STAGE_ORDER), name)

    rows = []
    for name in sorted(progress, key=order):
        frac = progress[name].get("fraction") if isinstance(progress[name], dict) else None
        rows.append(
            {"name": name, "percent": round(100 * float(frac)) if isinstance(frac, int | float) else 0}
        )
    return rows


def _artifacts(request: Request, job_id: str) -> list[dict[str, Any]]:
    settings, storage = request.app.state.settings, request.app.state.storage
    ttl = settings.download_url_ttl_s
    with request.app.state.db.read() as conn:
        rows = conn.execute(
            sa.select(t.artifacts).where(t.artifacts.c.job_id == job_id).order_by(t.artifacts.c.name)
        ).all()
    return [
        {"name": a.name, "size": a.size, "content_type": a.content_type,
         "url": storage.presign_get(a.storage_key, expires=ttl, filename=a.name, content_type=a.content_type),
         "inline": storage.presign_get(a.storage_key, expires=ttl, content_type=a.content_type)}
        for a in rows
    ]  # fmt: skip


def _original(request: Request, upload_id: str | None) -> str | None:
    """A signed URL of the source upload (the player's "original audio" choice), if it still exists."""
    if upload_id is None:
        return None
    with request.app.state.db.read() as conn:
        up = conn.execute(sa.select(t.uploads).where(t.uploads.c.id == upload_id)).first()
    if up is None or up.status != "ready":
        return None
    ttl = request.app.state.settings.download_url_ttl_s
    return str(
        request.app.state.storage.presign_get(up.storage_key, expires=ttl, content_type=up.content_type)
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, user: CurrentWebUser) -> Response:
    job = J.job_dict(_owned(request, user.id, job_id))
    with request.app.state.db.read() as conn:  # the live stream starts after what this page shows
        last_event = conn.execute(
            sa.select(sa.func.max(t.job_events.c.id)).where(t.job_events.c.job_id == job_id)
        ).scalar()
    artifacts = _artifacts(request, job_id) if job["status"] == "done" else []
    videos = [a for a in artifacts if a["content_type"].startswith("video/")]
    audios = [a for a in artifacts if a["content_type"].startswith("audio/")]
    vtts = [a for a in artifacts if a["name"].endswith(".vtt")]
    report = next((a for a in artifacts if a["name"].endswith("report.html")), None)
    return render(
        request, "jobs/job.html", nav="dashboard", job=job, stages=stage_rows(job), artifacts=artifacts,
        video=videos[0] if videos else None, audio=audios[0] if audios else None, vtts=vtts, report=report,
        original=_original(request, job["upload_id"]) if artifacts else None, page_script="js/job.js",
        last_event=int(last_event or 0),
    )  # fmt: skip


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: str, user: CurrentWebUser) -> Response:
    _owned(request, user.id, job_id)
    try:
        J.cancel_job(request.app.state.db, user_id=user.id, job_id=job_id)
        flash(request, "jobs.job.cancel_sent", "success")
    except J.JobFinished:
        flash(request, "jobs.job.already_finished", "error")
    return redirect(request, f"/jobs/{job_id}")


@router.get("/jobs/{job_id}/review")
def review_page(request: Request, job_id: str, user: CurrentWebUser, error: str | None = None) -> Response:
    row = _owned(request, user.id, job_id)
    with request.app.state.db.read() as conn:
        per_language = R.lines_of(conn, job_id)
    from octavia.server.routes.offerings import installed_voices

    voices = [v.name for v in installed_voices(request.app.state.settings)]
    return render(request, "jobs/review.html", nav="dashboard", job=J.job_dict(row), lines=per_language,
                  editable=row.status == "review", max_text=R.MAX_TEXT, voices=voices)  # fmt: skip


@router.post("/jobs/{job_id}/review")
async def review_submit(request: Request, job_id: str, user: CurrentWebUser) -> Response:
    from starlette.concurrency import run_in_threadpool

    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return await run_in_threadpool(_save_review, request, user.id, job_id, fields)


def _voice_fields(fields: dict[str, str]) -> dict[str, dict[str, str]]:
    """language → {speaker: voice} from the form's voice selects (empty: leave the choice automatic)."""
    out: dict[str, dict[str, str]] = {}
    for name, speaker in fields.items():
        if name.startswith("voice-speaker-"):
            lang, _, n = name.removeprefix("voice-speaker-").rpartition("-")
            voice = fields.get(f"voice-{lang}-{n}", "").strip()
            if voice:
                out.setdefault(lang, {})[speaker] = voice
    return out


def _save_review(request: Request, user_id: str, job_id: str, fields: dict[str, str]) -> Response:
    db = request.app.state.db
    _owned(request, user_id, job_id)
    with db.read() as conn:
        current = {(r.language, r.idx): r for rows in R.lines_of(conn, job_id).values() for r in rows}
    edits = []
    for (lang, idx), line in current.items():
        given = fields.get(f"text-{lang}-{idx}")
        text = given if given is not None and " ".join(given.split()) != line.text else None
        named = fields.get(f"speaker-{lang}-{idx}")
        speaker = named if named and line.speaker and " ".join(named.split()) != line.speaker else None
        if text is not None or speaker is not None:
            edits.append(R.LineEdit(index=idx, text=text, language=lang, speaker=speaker))
    voices = _voice_fields(fields)
    try:
        if edits:
            R.edit_lines(db, request.app.state.settings, user_id=user_id, job_id=job_id, edits=edits)
        for lang, chosen in voices.items():
            R.edit_lines(db, request.app.state.settings, user_id=user_id, job_id=job_id, edits=[],
                         voices=chosen, voices_language=lang)  # fmt: skip
        if fields.get("action") == "resume":
            from octavia.server.routes.jobs import get_queue

            row = R.resume(db, request.app.state.settings, user_id=user_id, job_id=job_id)
            get_queue(request).enqueue(row.id)
            flash(request, "jobs.review.resumed", "success")
            return redirect(request, f"/jobs/{job_id}")
    except (InputError, R.NotInReview) as exc:
        flash(request, "jobs.review.not_saved", "error", reason=exc.message)
        return redirect(request, f"/jobs/{job_id}/review")
    flash(request, "jobs.review.saved", "success", count=len(edits))
    return redirect(request, f"/jobs/{job_id}/review")


__all__ = ["LANGUAGES", "STATUSES", "router", "stage_rows"]
