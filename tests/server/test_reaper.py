"""The reaper on SQLite and PostgreSQL: stale heartbeats requeue, fail or cancel; fresh ones are
left alone; lost enqueues are re-sent once; concurrent reapers change each job exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.db import utcnow
from octavia.server.reaper import reap
from octavia.server.worker import Worker
from tests.server.fixtures_jobs import balance, events, fund, ledger, speech_upload, subtitle_body


@pytest.fixture
def env(server_factory, user_factory):
    srv = server_factory(queue="sqlite")
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 50)
    up = speech_upload(user.client)

    def new_job(running: bool = True, stale_s: float = 120, attempts: int | None = None) -> str:
        job_id = user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"]
        if running:
            w = Worker(
                srv.settings, db=srv.app.state.db, storage=srv.app.state.storage, worker_id="dead-worker"
            )
            assert w.claim(job_id) is not None
            values: dict[str, object] = {"heartbeat_at": utcnow() - timedelta(seconds=stale_s)}
            if attempts is not None:
                values["attempts"] = attempts
            with srv.app.state.db.begin() as conn:
                conn.execute(sa.update(t.jobs).where(t.jobs.c.id == job_id).values(**values))
        return job_id

    return srv, user, new_job


def _row(db, job_id):
    with db.read() as conn:
        return conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).one()


def test_stale_jobs_are_requeued_failed_or_cancelled(env):
    srv, user, new_job = env
    db, settings = srv.app.state.db, srv.settings
    requeue = new_job()
    fresh = new_job(stale_s=1)  # heartbeat 1 s ago: a live worker
    exhausted = new_job(attempts=3)
    cancelling = new_job()
    with db.begin() as conn:
        conn.execute(sa.update(t.jobs).where(t.jobs.c.id == cancelling).values(cancel_requested=True))
    before = balance(db, user.id)
    sent: list[str] = []
    result = reap(db, settings, sent.append)
    assert result.requeued == [requeue] and sent == [requeue]
    assert result.failed == [exhausted] and result.cancelled == [cancelling]
    r = _row(db, requeue)
    assert r.status == "queued" and r.worker_id is None and r.attempts == 1
    assert _row(db, fresh).status == "running" and _row(db, fresh).worker_id == "dead-worker"
    failed = _row(db, exhausted)
    assert failed.status == "failed" and failed.error["code"] == "worker_lost" and failed.finished_at
    assert _row(db, cancelling).status == "cancelled"
    assert ledger(db, exhausted) == [("reserve", -1), ("refund", 1)]
    assert ledger(db, cancelling) == [("reserve", -1), ("refund", 1)]
    assert ledger(db, requeue) == [("reserve", -1)]  # still reserved: it will run again
    assert balance(db, user.id) == before + 2
    assert [e.type for e in events(db, requeue)][-1] == "requeued"
    # A second pass finds nothing more to do.
    again = reap(db, settings, sent.append)
    assert (again.requeued, again.failed, again.cancelled, sent) == ([], [], [], [requeue])


def test_lost_enqueues_are_sent_again_once(env):
    srv, _user, new_job = env
    db = srv.app.state.db
    old, recent = new_job(running=False), new_job(running=False)
    with db.begin() as conn:
        conn.execute(
            sa.update(t.jobs).where(t.jobs.c.id == old).values(enqueued_at=utcnow() - timedelta(hours=1))
        )
    sent: list[str] = []
    assert reap(db, srv.settings, sent.append).reenqueued == [old]
    assert sent == [old]
    assert _row(db, old).enqueued_at > utcnow() - timedelta(minutes=1)  # clock restarted
    assert reap(db, srv.settings, sent.append).reenqueued == [] and sent == [old]
    assert _row(db, recent).status == "queued"


def test_concurrent_reapers_requeue_each_job_once(env):
    srv, _user, new_job = env
    db = srv.app.state.db
    jobs = {new_job() for _ in range(3)}
    sent: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def enqueue(job_id: str) -> None:
        with lock:
            sent.append(job_id)

    def one() -> None:
        barrier.wait()
        reap(db, srv.settings, enqueue)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(sent) == sorted(jobs)
    for job_id in jobs:
        assert [e.type for e in events(db, job_id)].count("requeued") == 1
