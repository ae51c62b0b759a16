"""The event hub under many streams, over real HTTP on SQLite and PostgreSQL: each stream gets
its own job's events in order and ends as the job does; reads stay O(1) statements whatever the
number of streams; the hub reads nothing once the last stream leaves; on PostgreSQL a NOTIFY
wakes a stream (counted: no interval read happened) and a dropped LISTEN connection recovers.

Events are written straight into ``job_events`` (as a worker would, through ``jobs.event``), so
the tests control their order and timing without running the pipeline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from octavia.server import jobs as J
from octavia.server import tables as t
from tests.server.fixtures_jobs import events, fund, read_sse, speech_upload, sse_events, subtitle_body


def wait_until(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Reader(threading.Thread):
    """Reads one event stream in the background; ``events`` grows as they arrive."""

    def __init__(self, client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(daemon=True)
        self.client, self.path, self.headers = client, path, headers or {}
        self.events: list[dict[str, Any]] = []
        self.ended = threading.Event()
        self.dropped = False

    def run(self) -> None:
        try:
            with self.client.stream("GET", self.path, headers=self.headers, timeout=120) as r:
                assert r.status_code == 200
                for ev in sse_events(r.iter_lines()):
                    self.events.append(ev)
        except httpx.TransportError:
            self.dropped = True  # the test closed the client under it
        finally:
            self.ended.set()


def _setup(server_factory: Any, user_factory: Any, n_jobs: int) -> tuple[Any, Any, list[str]]:
    srv = server_factory(queue="sqlite")  # no consumer: the test writes the jobs' events itself
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 100 * n_jobs)
    up = speech_upload(user.client)
    ids = [user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"] for _ in range(n_jobs)]
    return srv, user, ids


def _write(db: Any, job_id: str, type_: str, status: str | None = None, **data: Any) -> None:
    with db.begin() as conn:
        if status is not None:
            conn.execute(sa.update(t.jobs).where(t.jobs.c.id == job_id).values(status=status))
        J.event(conn, job_id, type_, **data)


def test_many_streams_get_their_own_events_in_order_and_end_with_their_jobs(server_factory, user_factory):
    srv, user, ids = _setup(server_factory, user_factory, 24)
    db, hub = srv.app.state.db, srv.app.state.event_hub
    with ThreadPoolExecutor(len(ids)) as pool:
        clients = [srv.client(user.token) for _ in ids]
        futures = [
            pool.submit(read_sse, c, f"/v1/jobs/{job_id}/events?poll=0.1")
            for c, job_id in zip(clients, ids, strict=True)
        ]
        wait_until(lambda: hub.subscribers == len(ids), "every stream to subscribe")
        for step in range(3):  # interleaved across jobs, one transaction each, as workers do
            for job_id in ids:
                _write(db, job_id, "progress", stage="transcribe", completed=step)
        for i, job_id in enumerate(ids):
            if i % 4 == 0:
                _write(db, job_id, "done", status="done", outputs=[])
            elif i % 4 == 1:
                _write(db, job_id, "review", status="review")  # ends: waits in review
            elif i % 4 == 2:
                assert user.client.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
        gone = ids[3::4]
        for job_id in gone:  # the job disappears (its events with it): the stream ends
            with db.begin() as conn:
                conn.execute(sa.delete(t.jobs).where(t.jobs.c.id == job_id))
        got = [f.result(timeout=60) for f in futures]
    wait_until(lambda: hub.subscribers == 0, "the hub to drop every ended stream")
    for job_id, live in zip(ids, got, strict=True):
        if job_id in gone:
            assert [e["event"] for e in live] == ["queued", "progress", "progress", "progress"][: len(live)]
            continue
        stored = events(db, job_id)
        assert [e["id"] for e in live] == [e.id for e in stored], job_id  # all, in order, once
        assert [e["data"].get("completed") for e in live[1:4]] == [0, 1, 2]
        assert live[-1]["event"] in {"done", "review", "cancelled"}


def test_reconnect_with_last_event_id_after_a_dropped_stream(server_factory, user_factory):
    srv, user, (job_id,) = _setup(server_factory, user_factory, 1)
    db, hub = srv.app.state.db, srv.app.state.event_hub
    for step in range(3):
        _write(db, job_id, "progress", stage="extract", completed=step)
    first: list[dict[str, Any]] = []
    with user.client.stream("GET", f"/v1/jobs/{job_id}/events?poll=0.1") as r:
        for line in r.iter_lines():
            if line.startswith("id: "):
                first.append({"id": int(line[4:])})
                if len(first) == 2:
                    break  # the client goes away mid-stream
    wait_until(lambda: hub.subscribers == 0, "the dropped stream to unsubscribe")
    _write(db, job_id, "progress", stage="extract", completed=3)
    _write(db, job_id, "done", status="done", outputs=[])
    rest = read_sse(user.client, f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(first[-1]["id"])})
    stored = [e.id for e in events(db, job_id)]
    assert [e["id"] for e in first] + [e["id"] for e in rest] == stored
    assert rest[-1]["event"] == "done"


@pytest.mark.parametrize("n_streams", [1, 30])
def test_reads_are_a_constant_number_of_statements_whatever_the_number_of_streams(
    server_factory, user_factory, n_streams
):
    srv, user, ids = _setup(server_factory, user_factory, n_streams)
    db, hub = srv.app.state.db, srv.app.state.event_hub
    hub.safety_s = 0.1  # on PostgreSQL: read on the poll grid as SQLite does, not only on NOTIFY
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "job" in statement:  # the hub's reads; nothing else touches jobs while streams idle
            statements.append(statement)

    readers = [Reader(srv.client(user.token), f"/v1/jobs/{job_id}/events?poll=0.1") for job_id in ids]
    for reader in readers:
        reader.start()
    wait_until(lambda: all(r.events for r in readers), "every stream's queued event")
    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        reads0, jobs0 = hub.stats.reads, hub.stats.jobs_read
        wait_until(lambda: hub.stats.reads >= reads0 + 5, "five reads")
        reads, jobs_read, n_statements = (
            hub.stats.reads - reads0,
            hub.stats.jobs_read - jobs0,
            len(statements),
        )
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    # Two statements a read (statuses, then events), ±1 read caught mid-way at either end.
    assert n_statements <= 2 * (reads + 1), statements[:6]
    assert jobs_read >= (reads - 1) * n_streams  # every read covers every stream's job
    for job_id in ids:
        _write(db, job_id, "done", status="done", outputs=[])
    for reader in readers:
        reader.join(30)
        assert reader.events[-1]["event"] == "done"


def test_the_hub_reads_nothing_once_the_last_stream_leaves(server_factory, user_factory):
    srv, user, ids = _setup(server_factory, user_factory, 3)
    hub = srv.app.state.event_hub
    clients = [srv.client(user.token) for _ in ids]
    readers = [
        Reader(c, f"/v1/jobs/{job_id}/events?poll=0.05") for c, job_id in zip(clients, ids, strict=True)
    ]
    for reader in readers:
        reader.start()
    wait_until(lambda: hub.subscribers == 3 and hub.stats.reads >= 3, "streams being read")
    for c in clients:
        c.close()  # the browsers go away
    wait_until(lambda: hub.subscribers == 0, "every stream to unsubscribe")
    for reader in readers:
        reader.join(10)
        assert reader.dropped
    time.sleep(0.2)  # a read in flight when the last one left may still finish
    before = hub.stats.reads
    time.sleep(0.6)  # 12 polls' worth at the streams' interval
    assert hub.stats.reads == before


# LISTEN/NOTIFY is PostgreSQL's: these run on PostgreSQL only (SQLite streams use interval reads).
pg_only = pytest.mark.parametrize("db_url", ["postgres"], indirect=True)


@pg_only
def test_notify_wakes_a_stream_without_waiting_for_an_interval(server_factory, user_factory):
    srv, user, (job_id,) = _setup(server_factory, user_factory, 1)
    assert srv.app.state.db.dialect == "postgresql"
    db, hub = srv.app.state.db, srv.app.state.event_hub
    hub.safety_s = 3600.0  # no interval read can come during this test
    reader = Reader(user.client, f"/v1/jobs/{job_id}/events?poll=10")
    reader.start()
    wait_until(lambda: hub.listening and len(reader.events) == 1, "LISTEN and the queued event")
    scheduled, notified = hub.stats.scheduled_reads, hub.stats.notifications
    _write(db, job_id, "progress", stage="extract", completed=1)
    wait_until(lambda: len(reader.events) == 2, "the notified event")
    assert hub.stats.notifications > notified
    _write(db, job_id, "done", status="done", outputs=[])
    reader.join(30)
    assert [e["event"] for e in reader.events] == ["queued", "progress", "done"]
    assert hub.stats.scheduled_reads == scheduled  # both came through NOTIFY alone


@pg_only
def test_a_dropped_listen_connection_recovers(server_factory, user_factory):
    from octavia.server.event_listen import APPLICATION_NAME

    srv, user, (job_id,) = _setup(server_factory, user_factory, 1)
    assert srv.app.state.db.dialect == "postgresql"
    db, hub = srv.app.state.db, srv.app.state.event_hub
    hub.safety_s = 3600.0
    reader = Reader(user.client, f"/v1/jobs/{job_id}/events?poll=10")
    reader.start()
    wait_until(lambda: hub.listening and len(reader.events) == 1, "LISTEN and the queued event")
    assert hub.stats.listener_connects == 1
    with db.begin() as conn:  # what a PostgreSQL restart or a network cut does to the listener
        killed = conn.execute(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": APPLICATION_NAME},
        ).scalar()
    assert killed == 1
    _write(db, job_id, "progress", stage="extract", completed=1)  # while it may be down
    wait_until(lambda: hub.stats.listener_connects == 2 and hub.listening, "the listener to reconnect")
    notified = hub.stats.notifications
    _write(db, job_id, "progress", stage="extract", completed=2)
    wait_until(lambda: len(reader.events) == 3, "both events")
    assert hub.stats.notifications > notified  # the new connection hears notifications
    _write(db, job_id, "done", status="done", outputs=[])
    reader.join(30)
    assert [e["data"].get("completed") for e in reader.events] == [None, 1, 2, None]
