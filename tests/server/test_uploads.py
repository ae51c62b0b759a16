"""Uploads over real HTTP with local storage: declare → signed PUT → complete → probe verdict."""

from __future__ import annotations

import httpx
import pytest

from tests.server.conftest import send_to_target, upload_file


def _declare(client: httpx.Client, name: str, ctype: str, size: int) -> httpx.Response:
    return client.post("/v1/uploads", json={"filename": name, "content_type": ctype, "size": size})


def test_wav_becomes_ready_and_downloads_identical(user_factory, media_files):
    user = user_factory()
    up = upload_file(user.client, media_files.wav, "audio/wav")
    assert up["status"] == "ready", up
    assert up["duration"] == pytest.approx(1.0, abs=0.05)
    assert [s["kind"] for s in up["media"]["streams"]] == ["audio"]
    assert up["size"] == media_files.wav.stat().st_size

    assert user.client.get(f"/v1/uploads/{up['id']}").json()["status"] == "ready"
    assert [u["id"] for u in user.client.get("/v1/uploads").json()] == [up["id"]]
    assert user.client.get("/v1/uploads", params={"status": "rejected"}).json() == []

    link = user.client.get(f"/v1/uploads/{up['id']}/download").json()["url"]
    got = httpx.get(link)  # a signed URL: no Authorization header needed
    assert got.status_code == 200
    assert got.content == media_files.wav.read_bytes()
    assert 'filename="tone.wav"' in got.headers["content-disposition"]
    assert got.headers["content-type"].startswith("audio/")
    # A second complete is idempotent.
    again = user.client.post(f"/v1/uploads/{up['id']}/complete")
    assert again.status_code == 200 and again.json()["status"] == "ready"


def test_rejections_carry_the_reason(user_factory, media_files, live_server):
    user = user_factory()
    video = upload_file(user.client, media_files.mp4_silent_video, "video/mp4")
    assert video["status"] == "rejected" and "No audio stream" in video["error"]
    text = upload_file(user.client, media_files.text, "audio/wav")  # lying about the type
    assert text["status"] == "rejected" and "Not an audio or video file" in text["error"]
    assert str(live_server.settings.data_dir) not in text["error"]  # no server paths leak
    # Rejected bytes are deleted from storage right away.
    storage = live_server.app.state.storage
    assert not any(storage.root.rglob("source*"))


def test_too_long_media_is_rejected(server_factory, user_factory, media_files):
    srv = server_factory(max_media_seconds=0.5)
    user = user_factory(server=srv)
    up = upload_file(user.client, media_files.wav, "audio/wav")
    assert up["status"] == "rejected" and up["error"].startswith("Too long")


def test_declared_size_and_type_are_checked_first(server_factory, user_factory):
    srv = server_factory(max_upload_bytes=1000)
    user = user_factory(server=srv)
    r = _declare(user.client, "big.wav", "audio/wav", 1001)
    assert r.status_code == 413 and r.json()["code"] == "upload_too_large"
    r = _declare(user.client, "notes.txt", "text/plain", 10)
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = _declare(user.client, "x.wav", "audio/wav", 0)
    assert r.status_code == 422
    assert user.client.get("/v1/uploads").json() == []


def test_complete_before_bytes_is_a_conflict(user_factory):
    user = user_factory()
    up = _declare(user.client, "a.wav", "audio/wav", 100).json()["upload"]
    r = user.client.post(f"/v1/uploads/{up['id']}/complete")
    assert r.status_code == 409 and r.json()["code"] == "upload_incomplete"
    assert user.client.get(f"/v1/uploads/{up['id']}").json()["status"] == "pending"


def test_signed_put_enforces_size_type_signature_and_write_once(user_factory, media_files):
    user = user_factory()
    data = media_files.wav.read_bytes()
    target = _declare(user.client, "a.wav", "audio/wav", len(data)).json()["target"]
    assert target["method"] == "PUT"

    too_big = send_to_target(target, data + b"x")  # Content-Length says too big: refused before reading
    assert too_big.status_code == 413 and too_big.headers["connection"] == "close"

    def chunks():  # no Content-Length: the server must count while streaming
        yield data
        yield b"x" * 1000

    streamed = httpx.put(target["url"], content=chunks(), headers=target["headers"])
    assert streamed.status_code == 413

    wrong_type = send_to_target(target, data, content_type="video/mp4")
    assert wrong_type.status_code == 415

    raw, mac = target["url"].rsplit(".", 1)
    tampered = httpx.put(f"{raw}.{mac[:-2]}AA", content=data, headers=target["headers"])
    assert tampered.status_code == 403

    assert send_to_target(target, data).status_code == 200
    assert send_to_target(target, b"RIFF" + b"\0" * (len(data) - 4)).status_code == 409  # write-once


def test_expired_upload_url_is_refused(server_factory, user_factory, media_files):
    srv = server_factory(upload_url_ttl_s=-1)
    user = user_factory(server=srv)
    data = media_files.wav.read_bytes()
    target = _declare(user.client, "a.wav", "audio/wav", len(data)).json()["target"]
    r = send_to_target(target, data)
    assert r.status_code == 403 and "expired" in r.json()["detail"]


def test_big_chunked_body_is_cut_off_early(user_factory, live_server):
    """A 64 MiB body against a 1 KiB grant: the server answers 413 long before it is all sent."""
    user = user_factory()
    target = _declare(user.client, "a.wav", "audio/wav", 1024).json()["target"]
    sent = 0

    def body():
        nonlocal sent
        for _ in range(1024):
            sent += 65536
            yield b"\0" * 65536

    try:
        r = httpx.put(target["url"], content=body(), headers=target["headers"], timeout=30)
        assert r.status_code == 413
    except httpx.WriteError:
        pass  # the server closed the socket mid-send: also a refusal
    assert sent < 32 * 1024 * 1024, f"client sent {sent} bytes before the refusal"
    assert not any(p for p in live_server.app.state.storage.root.rglob("*") if p.is_file())


def test_delete_removes_row_and_object(user_factory, media_files, live_server):
    user = user_factory()
    up = upload_file(user.client, media_files.wav, "audio/wav")
    storage = live_server.app.state.storage
    files = [p for p in storage.root.rglob("*") if p.is_file()]
    assert len(files) == 1
    assert user.client.delete(f"/v1/uploads/{up['id']}").status_code == 204
    assert user.client.get(f"/v1/uploads/{up['id']}").status_code == 404
    assert not files[0].exists()


def test_upload_into_own_project(user_factory, media_files):
    user = user_factory()
    prj = user.client.post("/v1/projects", json={"name": "podcast"}).json()
    up = upload_file(user.client, media_files.wav, "audio/wav", project_id=prj["id"])
    assert up["project_id"] == prj["id"]
    listed = user.client.get("/v1/uploads", params={"project_id": prj["id"]}).json()
    assert [u["id"] for u in listed] == [up["id"]]
