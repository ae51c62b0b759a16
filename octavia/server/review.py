"""Review over HTTP: a dub job started with ``review`` stops after translation for its owner's edits.

HTTP-free, shared by the routes, the worker and the reaper. The life of such a job:

1. **Review pass.** The worker runs the pipeline with ``review`` on: it stops after the
   translate stages (their checkpoints already in storage under ``jobs/{id}/work/``). The
   worker reads the transcript and the translations from its workspace and stores one
   ``review_lines`` row per line, then sets the job to ``review`` (fenced, like every outcome).
   Its credit reservation is kept: the job is not over.
2. **Edits.** ``PATCH /v1/jobs/{id}/review`` changes line texts (only while in ``review``).
3. **Resume.** ``POST /v1/jobs/{id}/resume`` sets the job ``queued`` again and enqueues it. The
   worker that claims it (any machine) restores the checkpoints, finds the review lines, and
   writes the CLI's review file (``review.{lang}.txt``, :mod:`octavia.pipeline.review`) from
   them into the fresh workspace before running the pipeline with ``review`` off: the same
   mechanism as ``octavia dub --resume``. Extraction, transcription and translation are
   restored, not run again; the synthesizer speaks each line once, with its edited text.
4. **Expiry.** A job left in ``review`` for ``review_ttl_s`` is cancelled and refunded by the
   reaper; retention then deletes its checkpoints like any finished job's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from octavia.errors import InputError, OctaviaError
from octavia.server import credits
from octavia.server import tables as t
from octavia.server.db import utcnow
from octavia.server.jobs import event, owned_job

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from octavia.server.db import Database
    from octavia.server.settings import ServerSettings
    from octavia.types import Segment

#: Job kinds whose options take ``review``.
REVIEW_KINDS = ("dub", "translate-audio")
#: Longest text of one line (the web form and the API agree on it).
MAX_TEXT = 2000


class NotInReview(OctaviaError):
    code = "job_not_in_review"
    http_status = 409


class NoReview(OctaviaError):
    code = "review_not_available"
    http_status = 409


@dataclass(frozen=True)
class LineEdit:
    """One line's change: its text, its speaker (moving it to another speaker), or both."""

    index: int
    text: str | None = None
    language: str | None = None
    speaker: str | None = None


def _source_text(original: Sequence[Segment], start: float, end: float) -> str:
    """What was said during [start, end]: the original segments overlapping it, by time.

    By time, not by position: a Whisper speech translation cuts its own segments.
    """
    said = [s.text.strip() for s in original if s.start < end and s.end > start and s.text.strip()]
    return " ".join(said)


def lines_from_workspace(ws: Path, languages: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """The review lines of a review pass, per target language, read from its workspace."""
    from octavia.pipeline.workspace import read_json
    from octavia.types import Transcript

    # The diarized transcript when the speakers were told apart (its segments carry them).
    labelled = ws / "diarized.json"
    original = Transcript.from_dict(read_json(labelled if labelled.exists() else ws / "transcript.json"))
    out: dict[str, list[dict[str, Any]]] = {}
    for lang in languages:
        path = ws / f"translation.{lang}.json"
        translated = Transcript.from_dict(read_json(path)) if path.exists() else original
        out[lang] = [
            {"idx": i, "start": float(seg.start), "end": float(seg.end), "speaker": seg.speaker,
             "source": _source_text(original.segments, seg.start, seg.end),
             "machine": seg.text.strip(), "text": seg.text.strip()}
            for i, seg in enumerate(translated.segments, 1)
        ]  # fmt: skip
    return out


def store_lines(conn: Connection, job_id: str, lines: dict[str, list[dict[str, Any]]]) -> int:
    """Replace the job's review lines (inside the worker's fenced transaction); returns the count."""
    conn.execute(sa.delete(t.review_lines).where(t.review_lines.c.job_id == job_id))
    rows = [{**line, "job_id": job_id, "language": lang} for lang, ls in lines.items() for line in ls]
    if rows:
        conn.execute(sa.insert(t.review_lines), rows)
    return len(rows)


def has_lines(conn: Connection, job_id: str) -> bool:
    r = t.review_lines
    return conn.execute(sa.select(r.c.idx).where(r.c.job_id == job_id).limit(1)).first() is not None


def lines_of(conn: Connection, job_id: str) -> dict[str, list[Any]]:
    """The job's review lines per language (in the job's language order), each list by index."""
    r = t.review_lines
    rows = conn.execute(sa.select(r).where(r.c.job_id == job_id).order_by(r.c.language, r.c.idx)).all()
    out: dict[str, list[Any]] = {}
    for row in rows:
        out.setdefault(row.language, []).append(row)
    return out


def _lock_job(conn: Connection, user_id: str, job_id: str) -> Any:
    """The caller's job, its row locked until the transaction ends (edits and resume serialise)."""
    owned_job(conn, user_id, job_id)  # 404 for another user's job, before any lock is taken
    q = sa.select(t.jobs).where(t.jobs.c.id == job_id)
    if conn.dialect.name == "postgresql":  # SQLite: begin() already holds the write lock
        q = q.with_for_update()
    return conn.execute(q).one()


def _require_review(row: Any) -> None:
    if row.status != "review":
        raise NotInReview(
            f"Job {row.id} is {row.status}, not in review.",
            "Only a dub or translate-audio job started with options.review=true can be edited, "
            "and only until it is resumed.",
        )


def check_text(text: str) -> str:
    """One line's text as the review file will hold it: whitespace collapsed, no note marks."""
    clean = " ".join(text.split())
    if clean.startswith(("#", "[#")):
        raise InputError(
            "A review line cannot start with '#' or '[#' (the review file's note and line marks).",
            "Start the line with a word.",
        )
    if len(clean) > MAX_TEXT:
        raise InputError(f"A review line has at most {MAX_TEXT} characters.")
    return clean


def _language(languages: Sequence[str], asked: str | None, what: str) -> str:
    lang = asked or (languages[0] if len(languages) == 1 else None)
    if lang is None:  # an unknown language is answered by the lookup: "no line N in LANG"
        raise InputError(f"{what}: say which language it is in; this job has {', '.join(languages)}.")
    return lang


def edit_lines(
    db: Database, settings: ServerSettings, *, user_id: str, job_id: str, edits: Sequence[LineEdit],
    voices: Mapping[str, str] | None = None, voices_language: str | None = None,
) -> int:  # fmt: skip
    """Apply ``edits`` (text and speaker per line) and ``voices`` (speaker → voice, checked
    against the voices this server has) to a job in review; returns how many lines changed.
    422 names a bad line, speaker or voice."""
    r = t.review_lines
    with db.begin() as conn:
        row = _lock_job(conn, user_id, job_id)
        _require_review(row)
        languages = list(row.languages or [])
        changed = 0
        now = utcnow()
        for e in edits:
            lang = _language(languages, e.language, f"Line {e.index}")
            where = (r.c.job_id == job_id, r.c.language == lang, r.c.idx == e.index)
            found = conn.execute(sa.select(r.c.text, r.c.speaker).where(*where)).first()
            if found is None:
                raise InputError(
                    f"This job has no line {e.index} in {lang!r}.", "GET the review for its lines."
                )
            values: dict[str, Any] = {}
            if e.text is not None and found.text != (text := check_text(e.text)):
                values["text"] = text
            if e.speaker is not None and found.speaker != (speaker := check_speaker(e.speaker)):
                # The line joins that speaker, and speaks with the voice chosen for them (if any).
                values["speaker"] = speaker
                values["voice"] = _voice_of(conn, job_id, lang, speaker)
            if values:
                conn.execute(sa.update(r).where(*where).values(**values, edited_at=now))
                changed += 1
        if voices:
            lang = _language(languages, voices_language, "voices")
            _check_voices(row, voices, settings)
            for label, voice in voices.items():
                res = conn.execute(
                    sa.update(r).where(r.c.job_id == job_id, r.c.language == lang, r.c.speaker == label,
                                       sa.or_(r.c.voice.is_(None), r.c.voice != voice))
                    .values(voice=voice, edited_at=now)
                )  # fmt: skip
                changed += int(res.rowcount or 0)
        if changed:
            event(conn, job_id, "review_edited", stage="review", lines=changed)
        return changed


def check_speaker(label: str) -> str:
    from octavia.server.job_options import SPEAKER_LABEL

    clean = " ".join(label.split())
    if not SPEAKER_LABEL.fullmatch(clean):
        raise InputError('A speaker is a label of letters, digits, spaces, _ \' - (e.g. "Speaker 2", "Ana").')
    return clean


def _voice_of(conn: Connection, job_id: str, language: str, speaker: str) -> str | None:
    r = t.review_lines
    q = sa.select(r.c.voice).where(r.c.job_id == job_id, r.c.language == language, r.c.speaker == speaker,
                                   r.c.voice.is_not(None)).limit(1)  # fmt: skip
    return conn.execute(q).scalar()


def _check_voices(row: Any, voices: Mapping[str, str], settings: ServerSettings) -> None:
    """The voices must be names this server has, for the job's engine: as a ``cast`` option is."""
    from octavia.server.job_options import validate_job_options

    for label in voices:
        check_speaker(label)
    chosen = {k: v for k, v in (row.options or {}).items() if k in ("tts", "voice")}  # the job's engine
    validate_job_options(row.kind, {**chosen, "cast": dict(voices)}, settings)


def resume(db: Database, settings: ServerSettings, *, user_id: str, job_id: str) -> Any:
    """``review`` → ``queued`` (enqueue after this commits); returns the row. 409 if not in review.

    ``attempts`` keeps counting (the worker's fencing needs it to grow), so the resumed run
    gets a fresh allowance of ``job_max_attempts`` on top of the attempts already made.
    """
    j = t.jobs
    with db.begin() as conn:
        row = _lock_job(conn, user_id, job_id)
        _require_review(row)
        if row.cancel_requested:
            raise NotInReview(f"Job {job_id} is being cancelled.")
        conn.execute(
            sa.update(j).where(j.c.id == job_id, j.c.status == "review")
            .values(status="queued", enqueued_at=utcnow(), stage=None, error=None,
                    max_attempts=row.attempts + settings.job_max_attempts,
                    progress={**(row.progress or {}), "review": {"fraction": 1.0}})
        )  # fmt: skip
        edited = conn.execute(
            sa.select(sa.func.count()).select_from(t.review_lines)
            .where(t.review_lines.c.job_id == job_id, t.review_lines.c.edited_at.is_not(None))
        ).scalar()  # fmt: skip
        event(conn, job_id, "resumed", stage="review", edited=int(edited or 0))
        return conn.execute(sa.select(j).where(j.c.id == job_id)).one()


def write_review_files(db: Database, job_id: str, ws: Path) -> list[str]:
    """Before a resumed run: each language's review file, from the stored lines, into ``ws``."""
    from octavia.pipeline import review
    from octavia.pipeline.workspace import atomic_path
    from octavia.types import Segment

    with db.read() as conn:
        per_language = lines_of(conn, job_id)
    for lang, rows in per_language.items():
        segments = [Segment(start=r.start, end=r.end, text=r.text, speaker=r.speaker) for r in rows]
        # The voices chosen per speaker become the review file's [cast] section.
        cast = {r.speaker: r.voice for r in rows if r.speaker and r.voice}
        text = review.render([], segments, source="", target=lang, resume_hint="(resumed by the server)",
                             cast=cast or None)  # fmt: skip
        with atomic_path(ws / f"review.{lang}.txt") as tmp:
            tmp.write_text(text, encoding="utf-8")
    return sorted(per_language)


def expire_reviews(db: Database, settings: ServerSettings, *, limit: int = 200) -> list[str]:
    """Jobs left in review past ``review_ttl_s`` → cancelled, their reservation refunded."""
    j = t.jobs
    before = utcnow() - timedelta(seconds=settings.review_ttl_s)
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(
            sa.select(j.c.id).where(j.c.status == "review", j.c.review_at < before).limit(limit)
        )]  # fmt: skip
    done: list[str] = []
    for job_id in ids:
        with db.begin() as conn:
            res = conn.execute(
                sa.update(j).where(j.c.id == job_id, j.c.status == "review", j.c.review_at < before)
                .values(status="cancelled", finished_at=utcnow())
            )  # fmt: skip
            if res.rowcount != 1:
                continue
            credits.refund_job(conn, job_id=job_id)
            event(conn, job_id, "cancelled", by="reaper", reason="review_expired")
        done.append(job_id)
    return done


__all__ = [
    "MAX_TEXT",
    "REVIEW_KINDS",
    "LineEdit",
    "NoReview",
    "NotInReview",
    "check_text",
    "edit_lines",
    "expire_reviews",
    "has_lines",
    "lines_from_workspace",
    "lines_of",
    "resume",
    "store_lines",
    "write_review_files",
]
