"""`octavia worker` processes on real Redis, on SQLite and PostgreSQL, running the real subtitle
pipeline (Whisper tiny.en): two workers share the queue and run each job exactly once; a worker
SIGKILLed mid-job loses nothing — another worker resumes the job from its stage checkpoints."""

from __future__ import annotations

import os
import signal
import time
import uuid

import httpx
import pytest

from tests.server.conftest import free_port
from tests.server.fixtures_jobs import events, fund, ledger, read_sse, speech_upload, subtitle_body, wait_job

pytestmark = [pytest.mark.slow, pytest.mark.redis]
REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def cluster(server_factory, pipeline_overrides, monkeypatch, tmp_path, worker_procs):
    """An API (in-process, uvicorn) on a fresh Redis queue, and a way to start workers on it."""
    from octavia.server.tasks import make_huey

    name = f"octavia-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OCTAVIA_QUEUE_NAME", name)
    srv = server_factory(queue="redis", redis_url=REDIS, **pipeline_overrides)
    s = srv.settings
    env = {
        "OCTAVIA_DATABASE_URL": s.db_url, "OCTAVIA_AUTO_MIGRATE": "0", "OCTAVIA_QUEUE": "redis",
        "OCTAVIA_REDIS_URL": REDIS, "OCTAVIA_QUEUE_NAME": name, "OCTAVIA_STORAGE_DIR": str(s.storage_root),
        "OCTAVIA_SECRET_KEY": s.secret_key.get_secret_value() if s.secret_key else "",
        "OCTAVIA_PUBLIC_URL": srv.url, "OCTAVIA_CACHE_DIR": str(s.cache_dir), "OCTAVIA_OFFLINE": "1",
        "OCTAVIA_DEVICE": "cpu", "OCTAVIA_HEARTBEAT_INTERVAL_S": "0.5", "OCTAVIA_HEARTBEAT_STALE_S": "3",
    }  # fmt: skip

    def start(tag: str, *args: str, **extra: str):
        # Each worker has its own data dir (work files): as if on another machine.
        return worker_procs(tag, {**env, "OCTAVIA_DATA_DIR": str(tmp_path / tag), **extra},
                            "--workers", "1", "--reaper-interval", "0.5", *args)  # fmt: skip

    yield srv, start
    make_huey(s, name=name).flush()


def _started(db, job_id):
    return [e for e in events(db, job_id) if e.type == "started"]


def _claimed(w, job_id: str, attempt: int = 1) -> bool:
    """Whether worker process ``w`` ran that attempt: its log says so (events name no worker)."""
    return f"job {job_id} attempt {attempt} claimed by worker" in w.output()


def test_two_workers_run_each_job_exactly_once(cluster, user_factory):
    srv, start = cluster
    db = srv.app.state.db
    port = free_port()
    w1, w2 = start("w1", "--metrics-port", str(port)), start("w2")
    user = user_factory(server=srv)
    fund(db, user.id, 20)
    up = speech_upload(user.client)
    ids = [user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"] for _ in range(4)]
    for job_id in ids:
        job = wait_job(user.client, job_id, {"done", "failed", "cancelled"}, timeout=180)
        assert job["status"] == "done", job
        assert job["attempts"] == 1
        assert len(_started(db, job_id)) == 1
        assert len(user.client.get(f"/v1/jobs/{job_id}/artifacts").json()) == 2
        assert ledger(db, job_id) == [("reserve", -1), ("settle", 0)]
    assert all(_claimed(w1, j) != _claimed(w2, j) for j in ids)  # each job in exactly one log
    w1_jobs = sum(1 for j in ids if _claimed(w1, j))
    assert 0 < w1_jobs < len(ids)  # both consumers took jobs
    assert all("worker" not in _started(db, j)[0].data for j in ids)  # no host:pid for clients
    # w1's own metrics: the jobs it ran, by outcome, and their stages.
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    assert f'octavia_job_duration_seconds_count{{kind="subtitle",outcome="done"}} {float(w1_jobs)}' in text
    assert 'octavia_job_stage_duration_seconds_count{kind="subtitle",stage="transcribe"}' in text
    assert w2.proc.poll() is None
    w1.proc.send_signal(signal.SIGTERM)  # graceful: an idle consumer exits cleanly at once
    assert w1.proc.wait(20) == 0, w1.output()
    assert "worker stopped" in w1.output()


def test_sigkilled_worker_job_resumes_on_another_worker(cluster, user_factory):
    srv, start = cluster
    db = srv.app.state.db
    # Worker A stops for a minute right after uploading its first checkpoint (extract).
    a = start("wA", OCTAVIA_TEST_PAUSE_AFTER_CHECKPOINT="extract:60")
    user = user_factory(server=srv)
    fund(db, user.id, 10)
    up = speech_upload(user.client)
    job_id = user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"]
    deadline = time.monotonic() + 60
    while not any(e.type == "checkpoint" for e in events(db, job_id)):
        assert time.monotonic() < deadline, a.output()
        time.sleep(0.1)
    assert user.client.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    os.killpg(a.proc.pid, signal.SIGKILL)  # no chance to clean up or report
    a.proc.wait(10)
    b = start("wB")
    job = wait_job(user.client, job_id, {"done", "failed", "cancelled"}, timeout=120)
    assert job["status"] == "done", (job, b.output())
    assert job["attempts"] == 2

    evs = events(db, job_id)
    types = [e.type for e in evs]
    assert len(_started(db, job_id)) == 2
    assert _claimed(a, job_id, 1) and _claimed(b, job_id, 2) and not _claimed(b, job_id, 1)
    assert types.count("requeued") == 1 and types.index("requeued") < types.index("started", 2)
    checkpoints = [(e.stage, e.data["attempt"]) for e in evs if e.type == "checkpoint"]
    assert checkpoints == [("extract", 1), ("transcribe", 2)]  # extract was not redone
    (restored,) = [e for e in evs if e.type == "restored"]
    assert restored.data["stages"] == ["extract"] and restored.data["attempt"] == 2
    stages = job["result"]["info"]["stages"]
    assert stages["extract"]["resumed"] is True and stages["transcribe"]["resumed"] is False
    # Exactly one set of outputs, credits settled once.
    names = [a["name"] for a in user.client.get(f"/v1/jobs/{job_id}/artifacts").json()]
    assert len(names) == 2 and len(set(names)) == 2
    assert types.count("done") == 1
    assert ledger(db, job_id) == [("reserve", -1), ("settle", 0)]
    assert [e["event"] for e in read_sse(user.client, f"/v1/jobs/{job_id}/events")] == types
