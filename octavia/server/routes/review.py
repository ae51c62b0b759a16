"""``/v1/jobs/{id}/review`` and ``/resume``: read and edit a paused dub's lines, then go on.

A dub or translate-audio job created with ``options.review=true`` stops in status ``review``
after translation (see :mod:`octavia.server.review`). Another user's job answers 404.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator

from octavia.server import jobs as J
from octavia.server import review as R
from octavia.server.deps import CurrentUser, DbDep, SettingsDep
from octavia.server.problems import responses
from octavia.server.routes.jobs import QueueDep
from octavia.server.validation import MAX_INT64

log = logging.getLogger("octavia.server")
router = APIRouter(prefix="/v1/jobs", tags=["review"])


class ReviewLine(BaseModel):
    index: int = Field(description="From 1, as the CLI review file's [#n].")
    start: float = Field(description="Seconds into the media.")
    end: float
    speaker: str | None = Field(None, description='"Speaker 1", … when the speakers were told apart.')
    source: str = Field(description="What was said (the transcript overlapping the line's time).")
    machine: str = Field(description="The machine translation.")
    text: str = Field(description="The translation that will be spoken; empty: the line stays silent.")
    voice: str | None = Field(None, description="The voice chosen for the line's speaker (None: automatic).")
    edited: bool


class ReviewLanguage(BaseModel):
    language: str
    lines: list[ReviewLine]


class ReviewOut(BaseModel):
    job_id: str
    status: str
    editable: bool = Field(description="True while the job is in review (PATCH and resume allowed).")
    languages: list[ReviewLanguage]


class LineEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int = Field(ge=1, le=MAX_INT64)
    text: str | None = Field(
        None, max_length=R.MAX_TEXT * 2, description="The new translation; empty: silent."
    )
    speaker: str | None = Field(
        None, max_length=64, description='Move the line to this speaker (a label, e.g. "Speaker 2").'
    )
    language: str | None = Field(None, max_length=16, description="Needed when the job has several.")

    @model_validator(mode="after")
    def _something(self) -> LineEdit:
        if self.text is None and self.speaker is None:
            raise ValueError("give the line's new text, its speaker, or both")
        return self


class ReviewPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineEdit] = Field(default_factory=list, max_length=5000)
    voices: dict[str, str] = Field(
        default_factory=dict,
        max_length=64,
        description="Speaker → voice name (one this server has installed, see GET /v1/offerings).",
    )
    voices_language: str | None = Field(None, max_length=16, description="The language of ``voices``.")

    @model_validator(mode="after")
    def _something(self) -> ReviewPatch:
        if not self.lines and not self.voices:
            raise ValueError("give lines to edit, voices to assign, or both")
        return self


def _review_out(db: Any, user_id: str, job_id: str) -> ReviewOut:
    with db.read() as conn:
        row = J.owned_job(conn, user_id, job_id)
        per_language = R.lines_of(conn, job_id)
    if not per_language:
        raise R.NoReview(
            f"Job {job_id} has no review lines.",
            "Start a dub or translate-audio job with options.review=true; its lines appear when "
            "its status becomes review.",
        )
    order = [lang for lang in (row.languages or []) if lang in per_language]
    order += [lang for lang in per_language if lang not in order]
    return ReviewOut(
        job_id=row.id, status=row.status, editable=row.status == "review",
        languages=[
            ReviewLanguage(language=lang, lines=[
                ReviewLine(index=r.idx, start=r.start, end=r.end, speaker=r.speaker, source=r.source,
                           machine=r.machine, text=r.text, voice=r.voice, edited=r.edited_at is not None)
                for r in per_language[lang]
            ])
            for lang in order
        ],
    )  # fmt: skip


@router.get("/{job_id}/review", responses=responses(404, 409))
def get_review(job_id: str, user: CurrentUser, db: DbDep) -> ReviewOut:
    return _review_out(db, user.id, job_id)


@router.patch("/{job_id}/review", responses=responses(404, 409, 422))
def edit_review(
    job_id: str, body: ReviewPatch, user: CurrentUser, db: DbDep, settings: SettingsDep
) -> ReviewOut:
    edits = [
        R.LineEdit(index=e.index, text=e.text, language=e.language, speaker=e.speaker) for e in body.lines
    ]
    R.edit_lines(db, settings, user_id=user.id, job_id=job_id, edits=edits, voices=body.voices,
                 voices_language=body.voices_language)  # fmt: skip
    return _review_out(db, user.id, job_id)


@router.post("/{job_id}/resume", responses=responses(404, 409))
def resume_job(
    job_id: str, user: CurrentUser, db: DbDep, settings: SettingsDep, queue: QueueDep
) -> dict[str, Any]:
    row = R.resume(db, settings, user_id=user.id, job_id=job_id)
    try:
        queue.enqueue(row.id)
    except Exception:  # the job row is the truth: the reaper re-sends a queued job it finds stale
        log.exception("enqueue of resumed job %s failed; the reaper will retry it", row.id)
    with db.read() as conn:  # immediate mode has run it already
        return J.job_dict(J.owned_job(conn, user.id, row.id))
