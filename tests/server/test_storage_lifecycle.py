"""Storage lifecycle on local storage over real HTTP: a PUT for a deleted or rejected upload
stores nothing; pending uploads expire with their bytes; the per-user quota answers a clear
413; retention deletes an old real job's outputs and checkpoints; downloads are typed from the
probe, not the client's file name; security headers on every response, /docs included."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.db import utcnow
from octavia.server.reaper import ReaperThread
from octavia.server.storage import LocalStorage
from octavia.server.storage_sweep import sweep_storage
from tests.conftest import SHORT_SPEECH
from tests.server.conftest import send_to_target, upload_file
from tests.server.fixtures_jobs import fund, subtitle_body


def _declare(client: httpx.Client, name: str, data: bytes, ctype: str = "audio/wav") -> dict:
    r = client.post("/v1/uploads", json={"filename": name, "content_type": ctype, "size": len(data)})
    assert r.status_code == 201, r.text
    return dict(r.json())


def _key(db, upload_id: str) -> str:
    with db.read() as conn:
        return str(
            conn.execute(sa.select(t.uploads.c.storage_key).where(t.uploads.c.id == upload_id)).scalar_one()
        )


def _age_upload(db, upload_id: str, seconds: float) -> None:
    with db.begin() as conn:
        conn.execute(
            sa.update(t.uploads).where(t.uploads.c.id == upload_id)
            .values(created_at=utcnow() - timedelta(seconds=seconds))
        )  # fmt: skip


def test_put_for_a_deleted_upload_stores_nothing(user_factory, media_files, live_server):
    user = user_factory()
    db, storage = live_server.app.state.db, live_server.app.state.storage
    data = media_files.wav.read_bytes()
    created = _declare(user.client, "tone.wav", data)
    key = _key(db, created["upload"]["id"])
    assert user.client.delete(f"/v1/uploads/{created['upload']['id']}").status_code == 204
    r = send_to_target(created["target"], data)  # the signed URL is still valid
    assert r.status_code == 410 and r.json()["code"] == "upload_gone", r.text
    assert not storage.exists(key) and not any(storage.path_for(key).parent.glob("*"))


def test_put_again_after_a_rejection_stores_nothing(user_factory, media_files, live_server):
    user = user_factory()
    db, storage = live_server.app.state.db, live_server.app.state.storage
    junk = media_files.text.read_bytes()
    created = _declare(user.client, "notes.wav", junk)
    assert send_to_target(created["target"], junk).status_code == 200
    done = user.client.post(f"/v1/uploads/{created['upload']['id']}/complete").json()
    assert done["status"] == "rejected"
    key = _key(db, done["id"])
    assert not storage.exists(key)
    r = send_to_target(created["target"], junk)
    assert r.status_code == 410 and not storage.exists(key)


def test_pending_uploads_expire_with_their_bytes(server_factory, user_factory, media_files):
    srv = server_factory(upload_pending_ttl_s=3600)
    user = user_factory(server=srv)
    db, storage = srv.app.state.db, srv.app.state.storage
    old = upload_file(
        user.client, media_files.wav, "audio/wav", complete=False
    )  # bytes sent, never completed
    fresh = upload_file(user.client, media_files.wav, "audio/wav", complete=False)
    ready = upload_file(user.client, media_files.wav, "audio/wav")
    for up in (old, ready):
        _age_upload(db, up["id"], 7200)
    old_key = _key(db, old["id"])
    assert storage.exists(old_key)
    result = sweep_storage(db, srv.settings, storage)
    # Judged on this user's uploads: other tests' pending uploads share the database.
    mine = {old["id"], fresh["id"], ready["id"]}
    assert mine & set(result.expired_uploads) == {old["id"]} and old_key in result.purged_keys
    assert not storage.exists(old_key)
    assert user.client.get(f"/v1/uploads/{old['id']}").status_code == 404
    assert user.client.get(f"/v1/uploads/{fresh['id']}").json()["status"] == "pending"
    assert user.client.get(f"/v1/uploads/{ready['id']}").json()["status"] == "ready"  # only pending expire
    with db.read() as conn:  # its signed URL expired long ago: no second purge is waiting
        left = conn.execute(
            sa.select(t.storage_purges).where(t.storage_purges.c.storage_key == old_key)
        ).all()
    assert left == []


def test_storage_quota_is_a_clear_413(server_factory, user_factory, media_files):
    size = media_files.wav.stat().st_size
    srv = server_factory(storage_quota_bytes=2 * size + 10)
    user, other = user_factory(server=srv), user_factory(server=srv)
    first = upload_file(user.client, media_files.wav, "audio/wav")
    upload_file(user.client, media_files.wav, "audio/wav", complete=False)  # pending counts too
    r = user.client.post("/v1/uploads", json={"filename": "x.wav", "content_type": "audio/wav", "size": size})
    assert r.status_code == 413 and r.json()["code"] == "storage_quota_exceeded", r.text
    assert str(2 * size) in r.json()["detail"] and "DELETE /v1/uploads" in r.json()["hint"]
    assert upload_file(other.client, media_files.wav, "audio/wav")["status"] == "ready"  # per user
    assert user.client.delete(f"/v1/uploads/{first['id']}").status_code == 204
    assert upload_file(user.client, media_files.wav, "audio/wav")["status"] == "ready"


@pytest.mark.slow
def test_retention_deletes_an_old_jobs_outputs_and_checkpoints(
    server_factory, user_factory, pipeline_overrides
):
    srv = server_factory(checkpoint_retention_s=3600, artifact_retention_s=86400, **pipeline_overrides)
    db, storage = srv.app.state.db, srv.app.state.storage
    user = user_factory(server=srv)
    fund(db, user.id, 10)
    up = upload_file(user.client, SHORT_SPEECH, "audio/wav")
    job = user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()
    assert job["status"] == "done", job  # immediate mode
    work, out = storage.path_for(f"jobs/{job['id']}/work"), storage.path_for(f"jobs/{job['id']}/out")
    assert any(work.iterdir()) and len(list(out.iterdir())) == 2

    def age(seconds: float) -> None:
        with db.begin() as conn:
            conn.execute(sa.update(t.jobs).where(t.jobs.c.id == job["id"])
                         .values(finished_at=utcnow() - timedelta(seconds=seconds)))  # fmt: skip

    age(7200)  # past the checkpoint retention, within the outputs'
    r = sweep_storage(db, srv.settings, storage)
    assert r.checkpoints_purged == [job["id"]] and r.artifacts_purged == []
    assert not work.exists() and len(list(out.iterdir())) == 2
    assert len(user.client.get(f"/v1/jobs/{job['id']}/artifacts").json()) == 2
    age(2 * 86400)
    r = sweep_storage(db, srv.settings, storage)
    assert r.artifacts_purged == [job["id"]] and r.checkpoints_purged == []
    assert not out.exists() and user.client.get(f"/v1/jobs/{job['id']}/artifacts").json() == []
    assert sweep_storage(db, srv.settings, storage).purged_keys == []  # done once
    assert storage.exists(_key(db, up["id"]))  # the upload itself is the user's, not the job's


def test_downloads_are_typed_from_the_probe_not_the_name(user_factory, media_files):
    user = user_factory()
    up = upload_file(user.client, media_files.wav, "audio/wav", filename="evil.html")
    assert up["status"] == "ready" and up["filename"] == "evil.html"
    url = user.client.get(f"/v1/uploads/{up['id']}/download").json()["url"]
    r = httpx.get(url)
    assert r.status_code == 200 and r.content == media_files.wav.read_bytes()
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith("attachment;")


def test_security_headers_on_every_response(live_server, user_factory):
    user = user_factory()
    base = live_server.url

    def boom() -> None:
        raise RuntimeError("a bug")

    live_server.app.add_api_route("/v1/test-boom", boom)
    responses = {
        "ok": user.client.get("/v1/uploads"),
        "401": httpx.get(f"{base}/v1/uploads"),
        "404": httpx.get(f"{base}/nothing-here"),
        "422": user.client.post("/v1/uploads", json={}),
        "413": httpx.post(f"{base}/v1/auth/login", content=b"x" * (2 * 1024 * 1024)),
        "500": httpx.get(f"{base}/v1/test-boom"),
        "openapi": httpx.get(f"{base}/openapi.json"),
    }
    assert responses["500"].status_code == 500 and responses["413"].status_code == 413
    for what, r in responses.items():
        assert r.headers.get("x-content-type-options") == "nosniff", what
        assert r.headers.get("referrer-policy") == "no-referrer", what
        assert r.headers.get("x-frame-options") == "DENY", what
        assert "frame-ancestors 'none'" in r.headers.get("content-security-policy", ""), what
        assert "default-src 'none'" in r.headers["content-security-policy"], what
    assert httpx.get(f"{base}/redoc").status_code == 404


def test_docs_page_gets_a_csp_for_exactly_what_it_loads(live_server):
    r = httpx.get(f"{live_server.url}/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    (inline,) = re.findall(r"<script>(.*?)</script>", r.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp["script-src"] and "unsafe-inline" not in csp["script-src"]
    origins = set(re.findall(r'(?:src|href)="(https://[^/"]+)', r.text))  # the CDN and the favicon host
    assert origins and all(o in r.headers["content-security-policy"] for o in origins), origins
    assert "https://cdn.jsdelivr.net" in csp["script-src"] and "https://cdn.jsdelivr.net" in csp["style-src"]
    assert csp["connect-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


class DownStorage(LocalStorage):
    """The real local storage whose deletes fail like an unreachable network store."""

    def __init__(self, inner: LocalStorage) -> None:
        super().__init__(inner.root, signing_key=inner.signing_key, base_url=inner.base_url)

    def delete(self, key: str) -> None:
        raise ConnectionRefusedError("storage unreachable")


def test_the_reaper_thread_sweeps_and_a_failed_purge_is_retried(server_factory, user_factory, media_files):
    srv = server_factory(upload_pending_ttl_s=60)
    db, storage = srv.app.state.db, srv.app.state.storage
    user = user_factory(server=srv)
    up = upload_file(user.client, media_files.wav, "audio/wav", complete=False)
    _age_upload(db, up["id"], 7200)  # and its signed URL (1 h) long expired
    key = _key(db, up["id"])
    down = sweep_storage(db, srv.settings, DownStorage(storage))
    # Other tests' pending uploads share the database and expire too: judge this one.
    assert up["id"] in down.expired_uploads and key not in down.purged_keys
    assert storage.exists(key)  # the row is gone, the purge waits for storage to come back
    reaper = ReaperThread(db, srv.settings, lambda _id: None, 0.2, storage).start()
    try:
        deadline = time.monotonic() + 20
        while storage.exists(key):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        reaper.stop()
    with db.read() as conn:
        assert (
            conn.execute(sa.select(t.storage_purges).where(t.storage_purges.c.storage_key == key)).all() == []
        )
