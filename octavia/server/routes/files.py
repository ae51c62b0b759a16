"""Signed, expiring file URLs for LocalStorage: the single-machine stand-in for S3 presigning.

``PUT /v1/files/{token}`` streams the body to disk — never buffered — and answers 413 as soon
as it passes the size in the token (up front when Content-Length says so). The 413 carries
``Connection: close`` so uvicorn drops the connection instead of draining a huge body.
Objects are write-once: a second PUT with the same token cannot swap the bytes after the
server probed them, and a PUT for an upload that is no longer pending (deleted, rejected,
expired: its signed URL is still valid) stores nothing. ``GET /v1/files/{token}`` downloads
as an attachment, typed as the token says (never from the file name), with ``nosniff``.
"""

from __future__ import annotations

import os
from typing import Any

import anyio
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from octavia.server import tables as t
from octavia.server.problems import problem
from octavia.server.security import BadToken, unsign
from octavia.server.storage import GET_PURPOSE, OCTET, PUT_PURPOSE, LocalStorage

router = APIRouter(prefix="/v1/files", tags=["files"], include_in_schema=False)
_CLOSE = {"Connection": "close"}


def _local(request: Request) -> LocalStorage | None:
    storage = request.app.state.storage
    return storage if isinstance(storage, LocalStorage) else None


def _claims(request: Request, token: str, purpose: str) -> dict[str, Any] | JSONResponse:
    storage = _local(request)
    if storage is None:
        return problem(404, "not_found", "This server does not serve files itself.")
    try:
        return unsign(storage.signing_key, purpose, token)
    except BadToken as exc:
        return problem(403, "bad_signature", f"This URL is not valid ({exc}).", "Ask the API for a new one.")


def _too_large(limit: int) -> JSONResponse:
    return problem(
        413, "upload_too_large", f"The body is larger than the {limit} bytes announced.", headers=_CLOSE
    )


def _pending(request: Request, key: str) -> bool:
    """Whether an upload still waits for the bytes of ``key``."""
    u = t.uploads
    with request.app.state.db.read() as conn:
        q = sa.select(u.c.id).where(u.c.storage_key == key, u.c.status == "pending")
        return conn.execute(q).first() is not None


def _gone() -> JSONResponse:
    return problem(
        410, "upload_gone", "This upload was deleted, rejected or has expired.",
        "Declare a new upload with POST /v1/uploads.", headers=_CLOSE,
    )  # fmt: skip


@router.put("/{token}")
async def put_file(token: str, request: Request) -> Response:
    claims = _claims(request, token, PUT_PURPOSE)
    if isinstance(claims, JSONResponse):
        return claims
    storage = _local(request)
    assert storage is not None
    limit = int(claims["m"])
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != str(claims["ct"]).lower():
        return problem(
            415, "wrong_content_type", f"Content-Type must be {claims['ct']!r}, as declared.", headers=_CLOSE
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        return _too_large(limit)
    key = str(claims["k"])
    if storage.exists(key):
        return problem(409, "already_uploaded", "These bytes were already uploaded.", headers=_CLOSE)
    if not await anyio.to_thread.run_sync(_pending, request, key):
        return _gone()
    partial = storage.partial_path(key)
    total = 0
    try:
        with partial.open("wb") as f:
            async for chunk in request.stream():
                total += len(chunk)
                if total > limit:
                    return _too_large(limit)
                f.write(chunk)  # local disk; fast enough not to need a thread per chunk
        if total == 0:
            return problem(400, "empty_body", "The upload is empty.")
        try:
            os.link(partial, storage.path_for(key))  # atomic, and fails if the object exists
        except FileExistsError:
            return problem(409, "already_uploaded", "These bytes were already uploaded.")
    finally:
        partial.unlink(missing_ok=True)
    if not await anyio.to_thread.run_sync(
        _pending, request, key
    ):  # deleted or expired while the body streamed in
        storage.delete(key)
        return _gone()
    return JSONResponse({"size": total}, status_code=200)


@router.api_route("/{token}", methods=["GET", "HEAD"])
def get_file(token: str, request: Request) -> Response:
    claims = _claims(request, token, GET_PURPOSE)
    if isinstance(claims, JSONResponse):
        return claims
    storage = _local(request)
    assert storage is not None
    path = storage.path_for(str(claims["k"]))
    if not path.is_file():
        return problem(404, "not_found", "File not found.")
    filename = claims.get("fn")
    media_type = str(claims.get("ct") or OCTET)
    return FileResponse(
        path, media_type=media_type, filename=filename, content_disposition_type="attachment",
        headers={"X-Content-Type-Options": "nosniff"},
    )  # fmt: skip
