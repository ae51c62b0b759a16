"""A translate-audio job on the server stores the dub report as artifacts, and no worker path in it."""

from __future__ import annotations

import json

import pytest

from octavia.server.worker import Worker
from tests.server.fixtures_jobs import fund, speech_upload, subtitle_body


@pytest.mark.slow
def test_translate_audio_job_stores_its_report(server_factory, user_factory, pipeline_overrides):
    # Queued, then run by a Worker here: a whole dub is longer than an HTTP request should wait.
    srv = server_factory(queue="sqlite", signup_credits=0, **pipeline_overrides)
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 50)
    up = speech_upload(user.client)
    body = subtitle_body(up["id"], kind="translate-audio", languages=["es"], formats=["srt"])
    body["options"] = {**body["options"], "background": "duck", "diarize": False}  # the report is the point
    r = user.client.post("/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    assert Worker(srv.settings, db=srv.app.state.db, storage=srv.app.state.storage).run(job_id) == "done"
    job = user.client.get(f"/v1/jobs/{job_id}").json()
    stem = up["filename"].rsplit(".", 1)[0]
    names = [a["name"] for a in user.client.get(f"/v1/jobs/{job_id}/artifacts").json()]
    assert {f"{stem}.es.report.html", f"{stem}.es.report.json"} <= set(names), names
    got = user.client.get(f"/v1/jobs/{job_id}/artifacts/{stem}.es.report.json", follow_redirects=True)
    report = json.loads(got.text)
    assert report["segments"] and report["media"] == f"{stem}.es.wav" and report["language"] == "es"
    assert all(0 <= row["wer"] <= 2 and row["text"] for row in report["segments"])
    assert job["result"]["info"]["report"]["es"]["flagged"] == report["flagged"]
    assert str(srv.settings.data_dir) not in got.text + json.dumps(job["result"])
