"""The worker in-process on SQLite and PostgreSQL: claims are exclusive, a lost lease writes
nothing, I/O errors retry with backoff then fail and refund, bad input fails at once, cancel
stops a running job at its next check."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.reaper import reap
from octavia.server.storage import LocalStorage
from octavia.server.tasks import JobQueue, make_huey
from octavia.server.worker import PAUSE_ENV, Worker, retry_delay
from octavia.server.worker_io import Lease
from tests.server.fixtures_jobs import balance, events, fund, ledger, speech_upload, subtitle_body


@pytest.fixture
def env(server_factory, user_factory, pipeline_overrides):
    srv = server_factory(queue="sqlite", **pipeline_overrides)
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 50)
    up = speech_upload(user.client)

    def new_job(**extra: object) -> str:
        r = user.client.post("/v1/jobs", json=subtitle_body(up["id"], **extra))
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    return srv, user, up, new_job


def _worker(srv, **kw) -> Worker:
    return Worker(srv.settings, db=srv.app.state.db, storage=kw.pop("storage", srv.app.state.storage), **kw)


def _row(db, job_id):
    with db.read() as conn:
        return conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).one()


def test_only_one_of_many_concurrent_claims_wins(env):
    srv, _user, _up, new_job = env
    job_id = new_job()
    barrier = threading.Barrier(6)
    won: list[object] = []

    def claim(i: int) -> None:
        barrier.wait()
        if _worker(srv, worker_id=f"w{i}").claim(job_id) is not None:
            won.append(i)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(won) == 1
    row = _row(srv.app.state.db, job_id)
    assert row.status == "running" and row.attempts == 1 and row.worker_id == f"w{won[0]}"


def test_a_worker_that_lost_its_lease_cannot_write(env):
    srv, _user, _up, new_job = env
    db = srv.app.state.db
    job_id = new_job()
    a = _worker(srv, worker_id="A")
    row = a.claim(job_id)
    lease = Lease(db, job_id, "A", row.attempts, interval=60)
    assert lease.alive() and not lease.should_stop()
    with db.begin() as conn:  # A stalls past the stale limit...
        conn.execute(
            sa.update(t.jobs)
            .where(t.jobs.c.id == job_id)
            .values(heartbeat_at=row.started_at.replace(year=2000))
        )
    reap(db, srv.settings, lambda _id: None)  # ...is reaped, and B takes the job
    assert _worker(srv, worker_id="B").claim(job_id).attempts == 2
    with lease.fenced("done") as (_conn, ok):
        assert not ok
    assert lease.lost and lease.should_stop()
    assert _row(db, job_id).worker_id == "B"


class FlakyStorage(LocalStorage):
    """Fault injection around the real local storage: every write fails like a network outage."""

    def __init__(self, inner: LocalStorage) -> None:
        super().__init__(inner.root, signing_key=inner.signing_key, base_url=inner.base_url)
        self.failures = 0

    def put_file(self, key: str, path: Path) -> None:
        self.failures += 1
        raise ConnectionResetError("connection reset by peer")


def test_io_errors_retry_with_backoff_then_fail_and_refund(env, tmp_path):
    srv, user, _up, new_job = env
    db = srv.app.state.db
    job_id = new_job()
    before = balance(db, user.id)
    huey = make_huey(srv.settings.model_copy(update={"data_dir": tmp_path}), name="retry-test")
    queue = JobQueue(huey)
    flaky = FlakyStorage(srv.app.state.storage)
    w = _worker(srv, storage=flaky, queue=queue, retry_base_s=0.5)
    assert w.run(job_id) == "retry"
    row = _row(db, job_id)
    assert row.status == "queued" and row.attempts == 1 and row.error["code"] == "io_error"
    assert queue.pending() == 1  # re-sent (with an eta: the consumer holds it until due)
    assert w.run(job_id) == "retry"
    assert queue.pending() == 2
    assert w.run(job_id) == "failed"  # max_attempts = 3
    row = _row(db, job_id)
    assert row.status == "failed" and row.attempts == 3 and row.error["code"] == "io_error"
    retries = [e for e in events(db, job_id) if e.type == "retry"]
    assert [e.data["delay"] for e in retries] == [0.5, 1.0]  # exponential
    assert ledger(db, job_id) == [("reserve", -1), ("refund", 1)] and balance(db, user.id) == before + 1
    assert flaky.failures == 3
    assert retry_delay(30, 5.0) == 600.0  # capped


def test_non_transient_errors_fail_at_once(env):
    srv, _user, up, new_job = env
    db = srv.app.state.db
    job_id = new_job()
    with db.read() as conn:
        key = conn.execute(sa.select(t.uploads.c.storage_key).where(t.uploads.c.id == up["id"])).scalar_one()
    srv.app.state.storage.delete(key)  # the source vanished from storage: retrying cannot help
    assert _worker(srv).run(job_id) == "failed"
    row = _row(db, job_id)
    assert row.attempts == 1 and row.error["code"] == "object_not_found"
    assert ledger(db, job_id) == [("reserve", -1), ("refund", 1)]
    assert [e.type for e in events(db, job_id)][-1] == "failed"


def test_cancel_stops_a_running_job_at_the_next_check(env, monkeypatch):
    srv, user, _up, new_job = env
    db = srv.app.state.db
    job_id = new_job()
    monkeypatch.setenv(PAUSE_ENV, "extract:1.5")  # hold the worker just after its first checkpoint
    outcome: list[str] = []
    th = threading.Thread(target=lambda: outcome.append(_worker(srv).run(job_id)))
    th.start()
    deadline = time.monotonic() + 30
    while "checkpoint" not in [e.type for e in events(db, job_id)]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = user.client.post(f"/v1/jobs/{job_id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "running" and r.json()["cancel_requested"]
    th.join(30)
    assert outcome == ["cancelled"]
    row = _row(db, job_id)
    assert row.status == "cancelled" and row.finished_at is not None
    types = [e.type for e in events(db, job_id)]
    assert types.count("checkpoint") == 1  # transcribe never ran
    assert types[-2:] == ["cancel_requested", "cancelled"]
    assert ledger(db, job_id) == [("reserve", -1), ("refund", 1)]
