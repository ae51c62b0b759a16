"""Live job events over real HTTP: the stream follows a job a worker runs meanwhile, ends with
the job, and resumes after Last-Event-ID."""

from __future__ import annotations

import threading
import time

from octavia.server.worker import Worker
from tests.server.fixtures_jobs import events, fund, read_sse, speech_upload, subtitle_body


def test_stream_follows_a_running_job_and_resumes(server_factory, user_factory, pipeline_overrides):
    srv = server_factory(queue="sqlite", **pipeline_overrides)  # no consumer: the test runs the worker
    db = srv.app.state.db
    user = user_factory(server=srv)
    fund(db, user.id, 10)
    up = speech_upload(user.client)
    job_id = user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"]

    got: list[list[dict]] = []
    reader = threading.Thread(
        target=lambda: got.append(read_sse(user.client, f"/v1/jobs/{job_id}/events?poll=0.1"))
    )
    reader.start()
    time.sleep(0.5)  # the stream is open and has sent only "queued" so far
    assert reader.is_alive()
    worker = Worker(srv.settings, db=db, storage=srv.app.state.storage)
    assert worker.run(job_id) == "done"
    reader.join(30)
    assert not reader.is_alive(), "the stream did not end with the job"
    (live,) = got
    stored = events(db, job_id)
    assert [e["id"] for e in live] == [e.id for e in stored]  # every event, in order, once
    assert [e["event"] for e in live][:2] == ["queued", "started"] and live[-1]["event"] == "done"
    progress = [e for e in live if e["event"] == "progress"]
    assert progress and {e["data"]["stage"] for e in progress} >= {"extract", "transcribe"}
    assert live[-1]["data"]["outputs"]

    # Resume: only what came after the given id; after the last one, an empty stream that ends.
    cut = live[2]["id"]
    rest = read_sse(user.client, f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(cut)})
    assert [e["id"] for e in rest] == [e["id"] for e in live[3:]]
    # EventSource reconnects to the URL it was opened with (here ?after= an older id) and sends
    # Last-Event-ID: the later of the two wins, so nothing is repeated.
    again = read_sse(
        user.client, f"/v1/jobs/{job_id}/events?after={live[0]['id']}", headers={"Last-Event-ID": str(cut)}
    )
    assert [e["id"] for e in again] == [e["id"] for e in live[3:]]
    assert (
        read_sse(user.client, f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": str(live[-1]["id"])})
        == []
    )


def test_stream_of_a_cancelled_job_ends(server_factory, user_factory):
    srv = server_factory(queue="sqlite")
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 10)
    up = speech_upload(user.client)
    job_id = user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"]
    got: list[list[dict]] = []
    reader = threading.Thread(
        target=lambda: got.append(read_sse(user.client, f"/v1/jobs/{job_id}/events?poll=0.1"))
    )
    reader.start()
    time.sleep(0.3)
    assert user.client.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    reader.join(10)
    assert not reader.is_alive()
    assert [e["event"] for e in got[0]] == ["queued", "cancelled"]
