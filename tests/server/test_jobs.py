"""The jobs API over real HTTP, on SQLite and PostgreSQL: create, idempotency, credits, list, cancel.

Jobs that must stay queued use the SQLite Huey queue with no consumer running; jobs that
run use immediate mode (the worker runs inline, the real pipeline with Whisper tiny.en).
"""

from __future__ import annotations

import threading

import httpx
import pytest

from octavia.pipeline.jobs import KINDS, available_kinds
from tests.conftest import SHORT_SPEECH, SHORT_SPEECH_TEXT, content_words
from tests.server.conftest import upload_file
from tests.server.fixtures_jobs import (
    balance,
    events,
    fund,
    ledger,
    read_sse,
    scrape,
    speech_upload,
    subtitle_body,
)


@pytest.fixture
def queued_server(server_factory):
    """A server whose jobs stay queued (SQLite Huey, no worker)."""
    return server_factory(queue="sqlite", signup_credits=0)


def _user(user_factory, srv, credits: int = 100):
    user = user_factory(server=srv)
    if credits:
        fund(srv.app.state.db, user.id, credits)
    return user


@pytest.mark.slow
def test_subtitle_job_runs_end_to_end(server_factory, user_factory, pipeline_overrides):
    srv = server_factory(signup_credits=0, **pipeline_overrides)
    db = srv.app.state.db
    user = _user(user_factory, srv, 10)
    up = speech_upload(user.client)
    before = scrape(srv)
    r = user.client.post("/v1/jobs", json=subtitle_body(up["id"]))
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "done", job  # immediate mode ran it inline
    assert job["attempts"] == 1 and job["cost_estimate"] == 1 and job["cost_actual"] == 1
    assert set(job["progress"]) >= {"extract", "transcribe"}
    assert all(p["fraction"] == 1.0 for p in job["progress"].values())
    assert job["result"]["info"]["language"] == "en"
    assert str(srv.settings.data_dir) not in str(job["result"])  # no worker paths leak
    stem = up["filename"].rsplit(".", 1)[0]
    assert sorted(job["result"]["outputs"].values()) == [f"{stem}.en.srt", f"{stem}.en.vtt"]

    arts = user.client.get(f"/v1/jobs/{job['id']}/artifacts").json()
    assert [a["name"] for a in arts] == [f"{stem}.en.srt", f"{stem}.en.vtt"]
    got = user.client.get(f"/v1/jobs/{job['id']}/artifacts/{stem}.en.srt", follow_redirects=True)
    assert got.status_code == 200
    assert len(content_words(SHORT_SPEECH_TEXT) - content_words(got.text)) <= 2, got.text  # tiny.en
    link = user.client.get(f"/v1/jobs/{job['id']}/artifacts/{stem}.en.vtt", params={"redirect": False}).json()
    assert httpx.get(link["url"]).text.startswith("WEBVTT")

    # Credits: reserved once, settled once; the balance paid the real cost.
    assert ledger(db, job["id"]) == [("reserve", -1), ("settle", 0)]
    assert balance(db, user.id) == 9
    types = [e.type for e in events(db, job["id"])]
    assert types[:2] == ["queued", "started"] and types[-1] == "done"
    assert types.count("checkpoint") == 2 and "progress" in types
    # The finished job's event stream replays everything and ends.
    streamed = read_sse(user.client, f"/v1/jobs/{job['id']}/events")
    assert [e["event"] for e in streamed] == types
    after = scrape(srv)
    done = ("octavia_jobs", (("status", "done"),))
    assert after[done] - before.get(done, 0) == 1
    assert (
        after[("octavia_job_stage_duration_seconds_count", (("kind", "subtitle"), ("stage", "transcribe")))]
        == 1
    )


def test_idempotency_key_replays_and_conflicts(queued_server, user_factory):
    db = queued_server.app.state.db
    alice = _user(user_factory, queued_server)
    up = speech_upload(alice.client)
    body, key = subtitle_body(up["id"]), {"Idempotency-Key": "k-123"}
    first = alice.client.post("/v1/jobs", json=body, headers=key)
    assert first.status_code == 201, first.text
    again = alice.client.post("/v1/jobs", json=body, headers=key)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    other = alice.client.post("/v1/jobs", json={**body, "languages": ["es"]}, headers=key)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert first.json()["id"] in other.json()["hint"]
    assert ledger(db, first.json()["id"]) == [("reserve", -1)]  # charged once
    assert len(alice.client.get("/v1/jobs").json()) == 1
    # Without a key, the same body is a new job.
    assert alice.client.post("/v1/jobs", json=body).json()["id"] != first.json()["id"]


def test_concurrent_requests_with_one_key_make_one_job(queued_server, user_factory):
    db = queued_server.app.state.db
    user = _user(user_factory, queued_server)
    up = speech_upload(user.client)
    body = subtitle_body(up["id"])
    results: list[httpx.Response] = []

    def post() -> None:
        with queued_server.client(user.token) as c:
            results.append(c.post("/v1/jobs", json=body, headers={"Idempotency-Key": "race"}))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(r.status_code for r in results) == [200] * 5 + [201], [r.text for r in results]
    assert len({r.json()["id"] for r in results}) == 1
    assert ledger(db, results[0].json()["id"]) == [("reserve", -1)]


def test_requests_that_cannot_become_jobs(queued_server, user_factory, media_files):
    db = queued_server.app.state.db
    user = _user(user_factory, queued_server, credits=0)
    up = speech_upload(user.client)
    r = user.client.post("/v1/jobs", json=subtitle_body(up["id"]))
    assert r.status_code == 402 and r.json()["code"] == "insufficient_credits" and r.json()["shortfall"] == 1
    assert user.client.get("/v1/jobs").json() == []  # nothing half-created
    fund(db, user.id, 5)
    r = user.client.post("/v1/jobs", json=subtitle_body(up["id"], kind="karaoke"))
    assert r.status_code == 422 and "not available" in r.json()["detail"] and "subtitle" in r.json()["hint"]
    for kind in sorted(set(KINDS) - available_kinds()):  # kinds the pipeline has not got yet
        r = user.client.post("/v1/jobs", json=subtitle_body(up["id"], kind=kind, languages=["es"]))
        assert r.status_code == 422 and kind in r.json()["detail"], r.text
    pending = upload_file(user.client, SHORT_SPEECH, "audio/wav", complete=False)
    r = user.client.post("/v1/jobs", json=subtitle_body(pending["id"]))
    assert r.status_code == 422 and "not ready" in r.json()["detail"]
    rejected = upload_file(user.client, media_files.text, "audio/wav")
    r = user.client.post("/v1/jobs", json=subtitle_body(rejected["id"]))
    assert r.status_code == 422 and "rejected" in r.json()["detail"]
    r = user.client.post("/v1/jobs", json=subtitle_body(up["id"], options={"output_stem": "../../x"}))
    assert r.status_code == 422 and "output_stem" in r.json()["detail"]
    r = user.client.post("/v1/jobs", json=subtitle_body(up["id"], options={"whisper_model": "/etc/models/x"}))
    assert r.status_code == 422
    assert user.client.post("/v1/jobs", json=subtitle_body("upl_missing")).status_code == 404
    assert user.client.get("/v1/jobs").json() == [] and balance(db, user.id) == 5


def test_list_filters_and_pages(queued_server, user_factory):
    user = _user(user_factory, queued_server)
    up = speech_upload(user.client)
    ids = [user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()["id"] for _ in range(3)]
    page1 = user.client.get("/v1/jobs", params={"limit": 2}).json()
    page2 = user.client.get("/v1/jobs", params={"limit": 2, "offset": 2}).json()
    assert len(page1) == 2 and len(page2) == 1
    assert {j["id"] for j in page1 + page2} == set(ids)
    assert len(user.client.get("/v1/jobs", params={"status": "queued"}).json()) == 3
    assert user.client.get("/v1/jobs", params={"status": "done"}).json() == []
    assert user.client.get("/v1/jobs", params={"status": "bogus"}).status_code == 422
    one = user.client.get(f"/v1/jobs/{ids[0]}").json()
    assert (
        one["status"] == "queued"
        and one["formats"] == ["srt", "vtt"]
        and one["options"] == {"whisper_model": "tiny.en"}
    )


def test_cancel_a_queued_job_refunds_at_once(queued_server, user_factory):
    from octavia.server.worker import Worker

    db = queued_server.app.state.db
    user = _user(user_factory, queued_server, 10)
    up = speech_upload(user.client)
    job = user.client.post("/v1/jobs", json=subtitle_body(up["id"])).json()
    assert balance(db, user.id) == 9
    r = user.client.post(f"/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert balance(db, user.id) == 10 and ledger(db, job["id"]) == [("reserve", -1), ("refund", 1)]
    again = user.client.post(f"/v1/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "job_finished"
    # The message still in the queue is harmless: the claim finds no queued job.
    worker = Worker(queued_server.settings, db=db, storage=queued_server.app.state.storage)
    assert worker.run(job["id"]) == "skipped"
    assert user.client.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"
