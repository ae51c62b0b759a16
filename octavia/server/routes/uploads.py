"""Uploads go straight to storage: declare → signed target → client sends bytes → complete.

``POST /v1/uploads`` checks the declared size and type and returns an upload target (see
:class:`octavia.server.storage.UploadTarget`: a PUT for local storage, a POST policy for S3).
``POST /v1/uploads/{id}/complete`` checks what really arrived — its size, then a real demuxer
probe — and marks the upload ``ready`` (with duration and streams) or ``rejected`` (with why).
Every lookup is scoped to the caller: another user's upload id answers 404.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from octavia.errors import InputError
from octavia.server import tables as t
from octavia.server.db import new_id, owned_row, utcnow
from octavia.server.deps import CurrentUser, DbDep, SettingsDep, StorageDep
from octavia.server.problems import ApiError, not_found, responses
from octavia.server.quota import check_quota
from octavia.server.routes.projects import owned_project
from octavia.server.settings import ServerSettings
from octavia.server.storage import OCTET, Storage, local_copy, storage_errors
from octavia.server.storage_sweep import forget_upload_bytes
from octavia.server.validation import Offset

log = logging.getLogger("octavia.server")

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])
UploadStatus = Literal["pending", "ready", "rejected"]
_EXT = re.compile(r"^\.[A-Za-z0-9]{1,8}$")


class UploadCreate(BaseModel):
    filename: str = Field(min_length=1, max_length=1000)
    content_type: str = Field(min_length=3, max_length=255)
    size: int = Field(gt=0, description="Exact size in bytes; storage refuses a larger body.")
    project_id: str | None = None


class UploadOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    status: UploadStatus
    duration: float | None
    media: dict[str, Any] | None
    error: str | None
    project_id: str | None
    created_at: datetime


class UploadTargetOut(BaseModel):
    url: str
    method: Literal["PUT", "POST"]
    headers: dict[str, str]
    fields: dict[str, str] = Field(description="POST only: form fields to send before the file part 'file'.")
    expires_at: datetime


class UploadCreated(BaseModel):
    upload: UploadOut
    target: UploadTargetOut


class DownloadOut(BaseModel):
    url: str
    expires_at: datetime


def safe_filename(name: str) -> str:
    base = PureWindowsPath(PurePosixPath(name).name).name  # drop any directory part, / or \\
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*').strip(" .")
    return base[:255] or "upload"


def type_allowed(settings: ServerSettings, content_type: str) -> bool:
    ct = content_type.lower()
    return any(ct.startswith(a) if a.endswith("/") else ct == a for a in settings.allowed_content_types)


def upload_out(row: Any) -> UploadOut:
    return UploadOut(
        id=row.id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        status=row.status,
        duration=row.duration,
        media=row.media,
        error=row.error,
        project_id=row.project_id,
        created_at=row.created_at,
    )


def owned_upload(conn: Connection, user_id: str, upload_id: str) -> Any:
    """The upload row if ``user_id`` owns it, else 404. Reusable by the jobs routes."""
    row = owned_row(conn, t.uploads, user_id, upload_id)
    if row is None:
        raise not_found("Upload")
    return row


@router.post("", status_code=201, responses=responses(404, 413, 415))
def create_upload(
    body: UploadCreate, user: CurrentUser, db: DbDep, settings: SettingsDep, storage: StorageDep
) -> UploadCreated:
    ctype = body.content_type.split(";")[0].strip().lower()
    if body.size > settings.max_upload_bytes:
        raise ApiError(
            413,
            "upload_too_large",
            f"Uploads are limited to {settings.max_upload_bytes} bytes.",
            "Cut the file or extract the audio track (much smaller) and upload that.",
        )
    if not type_allowed(settings, ctype):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"{ctype!r} is not an audio or video type.",
            "Upload an audio or video file and declare its type, e.g. audio/wav or video/mp4.",
        )
    filename = safe_filename(body.filename)
    ext = PurePosixPath(filename).suffix
    upload_id = new_id("upl")
    key = f"uploads/{user.id}/{upload_id}/source{ext.lower() if _EXT.match(ext) else ''}"
    with db.begin() as conn:
        if body.project_id is not None:
            owned_project(conn, user.id, body.project_id)
        check_quota(conn, settings, user.id, body.size)
        conn.execute(
            sa.insert(t.uploads).values(
                id=upload_id,
                user_id=user.id,
                project_id=body.project_id,
                filename=filename,
                content_type=ctype,
                size=body.size,
                storage_key=key,
                status="pending",
                created_at=utcnow(),
            )
        )
        row = owned_upload(conn, user.id, upload_id)
    ttl = settings.upload_url_ttl_s
    target = storage.presign_put(key, content_type=ctype, max_size=body.size, expires=ttl)
    return UploadCreated(
        upload=upload_out(row),
        target=UploadTargetOut(
            url=target.url,
            method="POST" if target.method == "POST" else "PUT",
            headers=target.headers,
            fields=target.fields,
            expires_at=utcnow() + timedelta(seconds=ttl),
        ),
    )


@router.get("")
def list_uploads(
    user: CurrentUser,
    db: DbDep,
    status: UploadStatus | None = None,
    project_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> list[UploadOut]:
    q = sa.select(t.uploads).where(t.uploads.c.user_id == user.id)
    if status:
        q = q.where(t.uploads.c.status == status)
    if project_id:
        q = q.where(t.uploads.c.project_id == project_id)
    q = q.order_by(t.uploads.c.created_at.desc(), t.uploads.c.id).limit(limit).offset(offset)
    with db.read() as conn:
        return [upload_out(r) for r in conn.execute(q)]


@router.get("/{upload_id}", responses=responses(404))
def get_upload(upload_id: str, user: CurrentUser, db: DbDep) -> UploadOut:
    with db.read() as conn:
        return upload_out(owned_upload(conn, user.id, upload_id))


def _inspect(storage: Storage, row: Any, settings: ServerSettings) -> tuple[UploadStatus, dict[str, Any]]:
    """Decide ready/rejected from the stored object; returns the new status and column values."""
    from octavia.pipeline.media import probe

    size = storage.size(row.storage_key)
    limit = min(row.size, settings.max_upload_bytes)
    if size > limit:
        return "rejected", {"size": size, "error": f"Too big: {size} bytes, more than the {limit} allowed."}
    with local_copy(storage, row.storage_key, PurePosixPath(row.storage_key).suffix) as path:
        try:
            info = probe(path)
        except InputError as exc:
            reason = exc.message.replace(str(path), row.filename)  # never show server paths
            return "rejected", {"size": size, "error": f"Not an audio or video file: {reason}"}
        media = {
            "format_name": info.format_name,
            "duration": info.duration,
            "streams": [asdict(s) for s in info.streams],
        }
        values: dict[str, Any] = {"size": size, "media": media, "duration": None}
        if not info.audio_streams:
            return "rejected", {**values, "error": "No audio stream: there is no speech to work on."}
        measured = _measure(path, row.filename)
    if isinstance(measured, str):
        return "rejected", {**values, "error": measured}
    # The measured length, not the header's, is what is priced and limited.
    media["duration"] = measured
    media["header_duration"] = info.duration
    values["duration"] = measured
    if measured > settings.max_media_seconds:
        return "rejected", {
            **values,
            "error": f"Too long: {measured:.0f} s, more than the {settings.max_media_seconds:.0f} s allowed.",
        }
    return "ready", values


def _measure(path: Path, filename: str) -> float | str:
    """The audio's real length in seconds, or why it cannot be established (client-safe)."""
    from octavia.pipeline.media import audio_duration

    try:
        return audio_duration(path)
    except InputError as exc:
        return "Length unknown: " + exc.message.replace(str(path), filename)


@router.post("/{upload_id}/complete", responses=responses(404, 409))
def complete_upload(
    upload_id: str, user: CurrentUser, db: DbDep, settings: SettingsDep, storage: StorageDep
) -> UploadOut:
    """Check the uploaded bytes. Idempotent: a finished upload is returned as it is."""
    with db.read() as conn:
        row = owned_upload(conn, user.id, upload_id)
    if row.status != "pending":
        return upload_out(row)
    if not storage.exists(row.storage_key):
        raise ApiError(
            409,
            "upload_incomplete",
            "No bytes have arrived for this upload yet.",
            "Send the file to the upload target first, then call complete.",
        )
    status, values = _inspect(storage, row, settings)
    if status == "rejected":
        _free_now(storage, row.storage_key)  # unusable bytes: free the space now
    with db.begin() as conn:
        res = conn.execute(
            sa.update(t.uploads)
            .where(t.uploads.c.id == upload_id, t.uploads.c.status == "pending")
            .values(status=status, **values)
        )
        if status == "rejected" and res.rowcount == 1:
            forget_upload_bytes(conn, settings, row, "rejected")  # bytes sent again must not stay
        return upload_out(owned_upload(conn, user.id, upload_id))


@router.get("/{upload_id}/download", responses=responses(404, 409))
def download_upload(
    upload_id: str, user: CurrentUser, db: DbDep, settings: SettingsDep, storage: StorageDep
) -> DownloadOut:
    with db.read() as conn:
        row = owned_upload(conn, user.id, upload_id)
    if row.status != "ready":
        raise ApiError(409, "upload_not_ready", f"The upload is {row.status}.")
    ttl = settings.download_url_ttl_s
    ctype = served_media_type(row.media)
    url = storage.presign_get(row.storage_key, expires=ttl, filename=row.filename, content_type=ctype)
    return DownloadOut(url=url, expires_at=utcnow() + timedelta(seconds=ttl))


#: Demuxer name (what the probe found, not what the client declared) → the type downloads are
#: served as. Anything else is served as application/octet-stream.
_SERVED_TYPES = {
    "wav": ("audio/wav", "audio/wav"), "mp3": ("audio/mpeg", "audio/mpeg"),
    "flac": ("audio/flac", "audio/flac"), "ogg": ("audio/ogg", "video/ogg"),
    "aac": ("audio/aac", "audio/aac"), "mov,mp4,m4a,3gp,3g2,mj2": ("audio/mp4", "video/mp4"),
    "matroska,webm": ("audio/webm", "video/webm"), "avi": ("video/x-msvideo", "video/x-msvideo"),
}  # fmt: skip


def served_media_type(media: dict[str, Any] | None) -> str:
    """The validated type of a ready upload, from its probe (audio or video by its streams)."""
    if not media:
        return OCTET
    pair = _SERVED_TYPES.get(str(media.get("format_name")))
    if pair is None:
        return OCTET
    video = any(s.get("kind") == "video" for s in media.get("streams") or ())
    return pair[1] if video else pair[0]


@router.delete("/{upload_id}", status_code=204, responses=responses(404, 409))
def delete_upload(
    upload_id: str, user: CurrentUser, db: DbDep, settings: SettingsDep, storage: StorageDep
) -> Response:
    with db.begin() as conn:
        row = owned_upload(conn, user.id, upload_id)
        active = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.jobs)
            # A job in review still needs its source: the resumed run fetches it again.
            .where(t.jobs.c.upload_id == upload_id, t.jobs.c.status.in_(("queued", "running", "review")))
        ).scalar_one()
        if active:
            raise ApiError(
                409,
                "upload_in_use",
                "A queued, running or in-review job uses this upload.",
                "Cancel it first.",
            )
        conn.execute(sa.delete(t.uploads).where(t.uploads.c.id == upload_id))
        forget_upload_bytes(conn, settings, row, "deleted")  # also bytes sent after this delete
    _free_now(storage, row.storage_key)
    return Response(status_code=204)


def _free_now(storage: Storage, key: str) -> None:
    """Delete the bytes at once where storage answers; the purge queued by
    ``forget_upload_bytes`` retries on the reaper's next pass where it does not."""
    try:
        storage.delete(key)
    except storage_errors() as exc:
        log.warning("deleting %s failed (%s); the storage sweep retries it", key, exc)
