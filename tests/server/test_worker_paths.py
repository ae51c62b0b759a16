"""Every way out of a running job, with the real worker, pipeline and Whisper tiny.en on real
speech: a cancel during transcription stops it there (cancelled, refunded, not charged); a cancel
followed by a transient error ends cancelled, not queued for ever; a 250-character (multi-byte)
file name still gives a finished job; nothing a client reads names the worker's host or pid."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.reaper import reap
from octavia.server.storage import LocalStorage
from octavia.server.worker import Worker
from tests.conftest import SHORT_SPEECH, repeated_speech
from tests.server.conftest import upload_file
from tests.server.fixtures_jobs import balance, events, fund, ledger, subtitle_body


@pytest.fixture
def env(server_factory, user_factory, pipeline_overrides):
    srv = server_factory(queue="sqlite", **pipeline_overrides)  # no consumer: the test runs the worker
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 50)
    return srv, user


def _worker(srv, **kw) -> Worker:
    return Worker(srv.settings, db=srv.app.state.db, storage=kw.pop("storage", srv.app.state.storage), **kw)


def _row(db, job_id):
    with db.read() as conn:
        return conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).one()


def _job(user, path: Path, **extra: object) -> str:
    up = upload_file(user.client, path, "audio/wav", **extra)
    assert up["status"] == "ready", up
    r = user.client.post("/v1/jobs", json=subtitle_body(up["id"], formats=["srt"]))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_cancel_during_transcription_stops_it_there(env, tmp_path):
    srv, user = env
    db = srv.app.state.db
    # 50 × 7.1 s ≈ 355 s → 6 credits. Batched Whisper decodes 8 VAD chunks (≤ 30 s each) per
    # forward pass and cancellation is checked as each batch's segments arrive, so the clip must
    # span at least two batches for a cancel to land inside the stage.
    job_id = _job(user, repeated_speech(tmp_path / "long.wav", 50))
    before = balance(db, user.id)
    outcome: list[str] = []
    th = threading.Thread(target=lambda: outcome.append(_worker(srv, progress_interval_s=0.1).run(job_id)))
    th.start()
    deadline = time.monotonic() + 120
    while True:  # wait for Whisper's first decoded segment, then cancel
        ev = [e for e in events(db, job_id) if e.type == "progress" and e.stage == "transcribe"]
        if any(0 < (e.data.get("completed") or 0) < e.data.get("total", 0) for e in ev):
            break
        assert th.is_alive() and time.monotonic() < deadline, [e.type for e in events(db, job_id)]
        time.sleep(0.05)
    r = user.client.post(f"/v1/jobs/{job_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "running", r.text
    th.join(120)
    assert outcome == ["cancelled"]
    row = _row(db, job_id)
    assert row.status == "cancelled" and row.cost_actual is None and row.result is None
    assert row.progress.get("transcribe", {}).get("fraction", 0) < 1.0  # stopped mid-stage
    types = [e.type for e in events(db, job_id)]
    assert "done" not in types and types.count("checkpoint") == 1  # only extract was checkpointed
    assert ledger(db, job_id) == [("reserve", -6), ("refund", 6)]
    assert balance(db, user.id) == before + 6
    with db.read() as conn:
        assert conn.execute(sa.select(t.artifacts).where(t.artifacts.c.job_id == job_id)).all() == []


class CancelThenFail(LocalStorage):
    """The real local storage, but the first checkpoint upload meets a network outage, and the
    owner cancels the job (over the real API) just before it does."""

    def __init__(self, inner: LocalStorage, client: httpx.Client, job_id: str) -> None:
        super().__init__(inner.root, signing_key=inner.signing_key, base_url=inner.base_url)
        self.client, self.job_id = client, job_id

    def put_file(self, key: str, path: Path) -> None:
        r = self.client.post(f"/v1/jobs/{self.job_id}/cancel")
        assert r.status_code == 200 and r.json()["cancel_requested"], r.text
        raise ConnectionResetError("connection reset by peer")


def test_cancel_then_transient_error_ends_cancelled_not_queued(env):
    srv, user = env
    db = srv.app.state.db
    job_id = _job(user, SHORT_SPEECH)
    before = balance(db, user.id)
    storage = CancelThenFail(srv.app.state.storage, user.client, job_id)
    assert _worker(srv, storage=storage, retry_base_s=0.1).run(job_id) == "cancelled"
    row = _row(db, job_id)
    assert row.status == "cancelled" and row.finished_at is not None and row.worker_id is not None
    assert ledger(db, job_id) == [("reserve", -1), ("refund", 1)] and balance(db, user.id) == before + 1
    assert [e.type for e in events(db, job_id)][-2:] == ["cancel_requested", "cancelled"]
    sent: list[str] = []
    # queued_stale_s=0: a job left queued would be re-sent on this very pass.
    result = reap(db, srv.settings.model_copy(update={"queued_stale_s": 0.0}), sent.append)
    # The database is shared with the session's other tests: judge this job alone.
    assert job_id not in sent and job_id not in result.cancelled  # nothing left for the reaper


def test_queued_jobs_with_a_cancel_request_are_ended_by_the_reaper(env):
    """Rows an older worker left ``queued`` + ``cancel_requested``: no worker claims them."""
    srv, user = env
    db = srv.app.state.db
    job_id = _job(user, SHORT_SPEECH)
    with db.begin() as conn:
        conn.execute(sa.update(t.jobs).where(t.jobs.c.id == job_id).values(cancel_requested=True, attempts=1))
    assert _worker(srv).run(job_id) == "skipped"
    sent: list[str] = []
    result = reap(db, srv.settings.model_copy(update={"queued_stale_s": 0.0}), sent.append)
    assert job_id in result.cancelled and job_id not in sent  # (other tests' jobs share the database)
    assert _row(db, job_id).status == "cancelled"
    assert ledger(db, job_id) == [("reserve", -1), ("refund", 1)]


def test_a_250_character_multibyte_name_gives_a_finished_job(env, tmp_path):
    srv, user = env
    name = "ü" * 125 + "x" * 121 + ".wav"  # 250 characters, 375 bytes of UTF-8
    assert len(name) == 250
    job_id = _job(user, SHORT_SPEECH, filename=name)
    assert _worker(srv).run(job_id) == "done", _row(srv.app.state.db, job_id).error
    job = user.client.get(f"/v1/jobs/{job_id}").json()
    (out,) = job["result"]["outputs"].values()
    assert out.endswith(".en.srt") and out.startswith("ü" * 75) and len(out.encode()) <= 200
    (art,) = user.client.get(f"/v1/jobs/{job_id}/artifacts").json()
    r = httpx.get(art["url"])
    assert r.status_code == 200 and b"-->" in r.content


def test_no_client_visible_event_names_the_worker_host_or_pid(env):
    srv, user = env
    job_id = _job(user, SHORT_SPEECH)
    assert _worker(srv).run(job_id) == "done"
    body = user.client.get(f"/v1/jobs/{job_id}/events", params={"after": 0}, timeout=60)
    assert body.status_code == 200 and "event: started" in body.text, body.text[:500]
    assert socket.gethostname() not in body.text
    assert f":{os.getpid()}:" not in body.text and str(srv.settings.data_dir) not in body.text
    job = user.client.get(f"/v1/jobs/{job_id}").json()
    assert socket.gethostname() not in str(job) and "worker" not in job


def test_a_failed_jobs_error_names_no_worker_path(env, media_files):
    """The source went bad in storage after its probe: the worker's own probe fails, quoting
    its path on the worker's disk. The client sees the file name; the log has the rest."""
    srv, user = env
    db = srv.app.state.db
    job_id = _job(user, SHORT_SPEECH)
    with db.read() as conn:
        key = conn.execute(
            sa.select(t.uploads.c.storage_key).join(t.jobs, t.jobs.c.upload_id == t.uploads.c.id)
            .where(t.jobs.c.id == job_id)
        ).scalar_one()  # fmt: skip
    srv.app.state.storage.path_for(key).write_bytes(media_files.text.read_bytes())
    assert _worker(srv).run(job_id) == "failed"
    job = user.client.get(f"/v1/jobs/{job_id}").json()
    assert job["error"]["code"] == "input_error" and "audio or video file" in job["error"]["message"]
    assert str(srv.settings.data_dir) not in str(job) and "/work/" not in job["error"]["message"]
    assert SHORT_SPEECH.stem in job["error"]["message"]
    body = user.client.get(f"/v1/jobs/{job_id}/events", params={"after": 0}, timeout=60).text
    assert "event: failed" in body and str(srv.settings.data_dir) not in body
