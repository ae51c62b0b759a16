"""A translate-audio job on the server stores the dub report as artifacts, and no worker path in it."""

from __future__ import annotations

import json

import pytest

from tests.server.fixtures_jobs import fund, speech_upload, subtitle_body


@pytest.mark.slow
def test_translate_audio_job_stores_its_report(server_factory, user_factory, pipeline_overrides):
    srv = server_factory(signup_credits=0, **pipeline_overrides)
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 50)
    up = speech_upload(user.client)
    body = subtitle_body(up["id"], kind="translate-audio", languages=["es"], formats=["srt"])
    r = user.client.post("/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "done", job
    stem = up["filename"].rsplit(".", 1)[0]
    names = [a["name"] for a in user.client.get(f"/v1/jobs/{job['id']}/artifacts").json()]
    assert {f"{stem}.es.report.html", f"{stem}.es.report.json"} <= set(names), names
    got = user.client.get(f"/v1/jobs/{job['id']}/artifacts/{stem}.es.report.json", follow_redirects=True)
    report = json.loads(got.text)
    assert report["segments"] and report["media"] == f"{stem}.es.wav" and report["wer"] <= 0.34
    assert job["result"]["info"]["report"]["es"]["flagged"] == report["flagged"]
    assert str(srv.settings.data_dir) not in got.text + json.dumps(job["result"])
