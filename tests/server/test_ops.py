"""Operations endpoints and logs: /healthz, /readyz (DB, migrations, queue), /metrics, JSON logs
carrying the job id, the job-creation rate limit."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import sqlalchemy as sa

from octavia.errors import InputError
from tests.server.conftest import free_port
from tests.server.fixtures_jobs import fund, scrape, speech_upload, subtitle_body


def test_health_and_readiness(client, live_server):
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and body["checks"]["database"]["ok"] and body["checks"]["queue"]["ok"]


def test_not_ready_when_the_queue_is_down(server_factory):
    srv = server_factory(queue="redis", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    r = srv.client().get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert (
        checks["database"]["ok"] and not checks["queue"]["ok"] and "Connection" in checks["queue"]["detail"]
    )
    assert "127.0.0.1" not in r.text  # an unauthenticated caller learns no host or port


def test_not_ready_when_migrations_are_behind(server_factory, tmp_path):
    from octavia.server.db import migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate(url, "base")  # an empty, unmigrated database
    srv = server_factory(database_url=url, auto_migrate=False)
    r = srv.client().get("/readyz")
    assert r.status_code == 503 and "run the migrations" in r.json()["checks"]["database"]["detail"]


def test_metrics_count_jobs_by_status_and_queue(server_factory, user_factory):
    from octavia.server import tables as t

    srv = server_factory(queue="sqlite")
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 10)
    up = speech_upload(user.client)
    before = scrape(srv)  # the session's database is shared with other tests: compare deltas
    ids = [user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"] for _ in range(3)]
    user.client.post(f"/v1/jobs/{ids[0]}/cancel")
    with srv.app.state.db.begin() as conn:  # a failed job, as the worker records it
        conn.execute(
            sa.update(t.jobs)
            .where(t.jobs.c.id == ids[1])
            .values(status="failed", error={"code": "input_error"})
        )
    after = scrape(srv)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta("octavia_jobs", status="queued") == 1
    assert delta("octavia_jobs", status="cancelled") == 1
    assert delta("octavia_queue_length") == 1
    assert delta("octavia_queue_backend_messages", state="pending") == 3  # enqueued, nobody consumed
    assert delta("octavia_jobs_failed", kind="subtitle", code="input_error") == 1


def test_job_creation_is_rate_limited(server_factory, user_factory):
    srv = server_factory(queue="sqlite", rate_limit_jobs="2/minute")
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 10)
    up = speech_upload(user.client)
    codes = [user.client.post("/v1/jobs", json=subtitle_body(up["id"])).status_code for _ in range(3)]
    assert codes == [201, 201, 429]


def test_json_logs_carry_the_job_id(capsys):
    from octavia.server.logging import JobIdFilter, JsonFormatter, job_context

    handler = logging.StreamHandler()
    handler.addFilter(JobIdFilter())
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("octavia.test.jsonlogs")
    log.addHandler(handler)
    log.propagate = False
    try:
        with job_context("job_abc"):
            log.warning("inside %s", "a job", extra={"stage": "transcribe"})
        log.warning("outside")
    finally:
        log.removeHandler(handler)
    inside, outside = (json.loads(line) for line in capsys.readouterr().err.strip().splitlines())
    assert (
        inside["job_id"] == "job_abc" and inside["msg"] == "inside a job" and inside["stage"] == "transcribe"
    )
    assert inside["level"] == "WARNING" and inside["logger"] == "octavia.test.jsonlogs"
    assert outside["job_id"] is None


@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgres"])
def test_every_queue_backend_carries_job_ids(backend, settings, tmp_path, monkeypatch):
    """Enqueue → the backend → dequeue → the runner gets the id (what a consumer does per message)."""
    from octavia.server.db import is_sqlite
    from octavia.server.tasks import JobQueue, make_huey

    if backend == "postgres" and is_sqlite(settings.db_url):
        with pytest.raises(InputError, match="PostgreSQL database URL"):
            make_huey(settings.model_copy(update={"queue": backend}))
        return
    monkeypatch.setenv("OCTAVIA_QUEUE_NAME", f"octavia-test-{uuid.uuid4().hex[:8]}")
    s = settings.model_copy(
        update={"queue": backend, "redis_url": "redis://127.0.0.1:6379/0", "data_dir": tmp_path}
    )
    got: list[str] = []
    queue = JobQueue(make_huey(s), runner=got.append)
    try:
        queue.enqueue("job_a")
        queue.enqueue("job_b", delay=30)  # a retry: held back until due
        assert queue.pending() == 2
        for _ in range(2):
            task = queue.huey.dequeue()
            if task.eta is None:
                queue.huey.execute(task)
        assert got == ["job_a"] and queue.pending() == 0
    finally:
        queue.huey.flush()


def test_octavia_serve_answers(settings, tmp_path):
    """The `octavia serve` command end to end: a uvicorn process, then SIGTERM."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    env = {**os.environ, "OCTAVIA_DATABASE_URL": settings.db_url, "OCTAVIA_DATA_DIR": str(tmp_path),
           "OCTAVIA_QUEUE": "sqlite", "OCTAVIA_SECRET_KEY": "x"}  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "octavia", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout and proc.stdout.read()
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["checks"]["queue"]["backend"] == "sqlite"
        assert "octavia_jobs" in httpx.get(f"http://127.0.0.1:{port}/metrics").text
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (so rc is -15).
        assert proc.wait(30) in (0, -signal.SIGTERM)
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert "Finished server process" in out and '"level": "INFO"' in out  # JSON logs
