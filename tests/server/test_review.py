"""Review over HTTP, with the real pipeline (Whisper tiny.en, a Piper pack voice, ffmpeg) on
SQLite and PostgreSQL: a dub started with review stops in ``review`` holding its credits, its
lines are read and edited over HTTP, resume re-queues it, and the worker that takes it (a
fresh Worker with a fresh workspace: nothing survives on disk) dubs with the edited text.
Another user's job is hidden; cancel and the reaper's expiry refund a job left in review."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from octavia.server.reaper import reap
from octavia.server.worker import Worker
from tests.server.conftest import assert_hidden, upload_file
from tests.server.fixtures_jobs import balance, events, fund, ledger, read_sse

pytestmark = pytest.mark.slow
EDITED = "Mister Dashwood had time to think."


@pytest.fixture
def env(server_factory, user_factory, pipeline_overrides, speech_video: Path):
    srv = server_factory(queue="sqlite", **pipeline_overrides)
    alice, bob = user_factory(server=srv), user_factory(server=srv)
    fund(srv.app.state.db, alice.id, 100)
    up = upload_file(alice.client, speech_video, "video/mp4")
    assert up["status"] == "ready", up

    def review_job() -> str:
        body = {"kind": "dub", "upload_id": up["id"], "languages": ["en"], "formats": ["srt"],
                "options": {"whisper_model": "tiny.en", "review": True, "background": "none"}}  # fmt: skip
        r = alice.client.post("/v1/jobs", json=body)
        assert r.status_code == 201, r.text
        job_id = str(r.json()["id"])
        assert _worker(srv).run(job_id) == "review"
        return job_id

    review_job.upload_id = up["id"]  # type: ignore[attr-defined]
    return srv, alice, bob, review_job


def _worker(srv) -> Worker:
    return Worker(srv.settings, db=srv.app.state.db, storage=srv.app.state.storage)


def test_review_edit_resume_dubs_the_edited_line(env):
    srv, alice, bob, review_job = env
    db = srv.app.state.db
    before = balance(db, alice.id)
    job_id = review_job()
    job = alice.client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "review" and job["stage"] == "review" and job["review_at"]
    assert ledger(db, job_id) == [("reserve", -job["cost_estimate"])]  # held, not refunded
    assert balance(db, alice.id) == before - job["cost_estimate"]

    review = alice.client.get(f"/v1/jobs/{job_id}/review").json()
    assert review["editable"] is True and [lang["language"] for lang in review["languages"]] == ["en"]
    lines = review["languages"][0]["lines"]
    assert [line["index"] for line in lines] == list(range(1, len(lines) + 1))
    assert "dashwood" in " ".join(line["source"] for line in lines).lower()
    assert all(line["text"] == line["machine"] and not line["edited"] for line in lines)
    assert all(line["start"] < line["end"] for line in lines)

    # The event stream ends once the job waits in review; its last event says so.
    stream = read_sse(alice.client, f"/v1/jobs/{job_id}/events")
    assert stream[-1]["event"] == "review" and stream[-1]["data"]["lines"] == len(lines)
    # Nothing reaps or refunds a job in review: it has no heartbeat and is not queued.
    assert job_id not in str(reap(db, srv.settings, lambda _id: None))
    assert alice.client.get(f"/v1/jobs/{job_id}").json()["status"] == "review"
    # The resumed run fetches the source again: it cannot be deleted meanwhile.
    assert alice.client.delete(f"/v1/uploads/{review_job.upload_id}").status_code == 409

    for method, path, kw in [("GET", "review", {}), ("PATCH", "review", {"json": {"lines": [{"index": 1, "text": "x"}]}}),
                             ("POST", "resume", {})]:  # fmt: skip
        assert_hidden(bob.client, method, f"/v1/jobs/{job_id}/{path}", **kw)
    bad = [({"index": len(lines) + 1, "text": "x"}, "no line"), ({"index": 1, "text": "# a note"}, "'#'"),
           ({"index": 1, "text": "x", "language": "fr"}, "no line")]  # fmt: skip
    for edit, words in bad:
        r = alice.client.patch(f"/v1/jobs/{job_id}/review", json={"lines": [edit]})
        assert r.status_code == 422 and words in r.json()["detail"], r.text

    r = alice.client.patch(
        f"/v1/jobs/{job_id}/review", json={"lines": [{"index": 1, "text": f"  {EDITED}\n"}]}
    )
    assert r.status_code == 200, r.text
    first = r.json()["languages"][0]["lines"][0]
    assert first["text"] == EDITED and first["edited"] and first["machine"] == lines[0]["machine"]

    r = alice.client.post(f"/v1/jobs/{job_id}/resume")
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    assert alice.client.post(f"/v1/jobs/{job_id}/resume").status_code == 409
    assert (
        alice.client.patch(
            f"/v1/jobs/{job_id}/review", json={"lines": [{"index": 1, "text": "y"}]}
        ).status_code
        == 409
    )

    # Another worker, another workspace: only the database and storage carry the job over.
    assert _worker(srv).run(job_id) == "done"
    job = alice.client.get(f"/v1/jobs/{job_id}").json()
    stages = job["result"]["info"]["stages"]
    assert stages["extract"]["resumed"] and stages["transcribe"]["resumed"], stages
    assert stages["synthesize:en"]["resumed"] is False
    types = [e.type for e in events(db, job_id)]
    assert types.index("review") < types.index("review_edited") < types.index("resumed") < types.index("done")
    assert [k for k, _ in ledger(db, job_id)] == ["reserve", "settle"]
    arts = {a["name"]: a for a in alice.client.get(f"/v1/jobs/{job_id}/artifacts").json()}
    assert any(n.endswith(".mp4") for n in arts), arts
    srt = next(n for n in arts if n.endswith(".srt"))
    body = alice.client.get(f"/v1/jobs/{job_id}/artifacts/{srt}", follow_redirects=True).text
    said = " ".join(re.sub(r"^\d+$|^[\d:,]+ --> [\d:,]+$", "", body, flags=re.M).split())
    assert EDITED in said, said
    # The lines stay readable after the review, no longer editable.
    done_review = alice.client.get(f"/v1/jobs/{job_id}/review").json()
    assert done_review["editable"] is False and done_review["languages"][0]["lines"][0]["text"] == EDITED


def test_a_job_left_in_review_is_cancelled_and_refunded(env):
    srv, alice, _bob, review_job = env
    db = srv.app.state.db
    start = balance(db, alice.id)
    by_user, left = review_job(), review_job()
    r = alice.client.post(f"/v1/jobs/{by_user}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert [k for k, _ in ledger(db, by_user)] == ["reserve", "refund"]

    assert left not in reap(db, srv.settings, lambda _id: None).cancelled  # 14 days by default
    expired = reap(db, srv.settings.model_copy(update={"review_ttl_s": 0.0}), lambda _id: None)
    assert left in expired.cancelled
    job = alice.client.get(f"/v1/jobs/{left}").json()
    assert job["status"] == "cancelled" and job["finished_at"]
    assert [k for k, _ in ledger(db, left)] == ["reserve", "refund"]
    assert balance(db, alice.id) == start
    assert events(db, left)[-1].data["reason"] == "review_expired"
    assert alice.client.get("/v1/jobs/nope/review").status_code == 404
