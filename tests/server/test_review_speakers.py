"""Review over HTTP, speakers and voices: a line moved to another speaker and a voice chosen for
a speaker (a name this server has installed) reach the resumed dub through the review file's
speaker labels and [cast] section, as the CLI's review does."""

from __future__ import annotations

import pytest

from octavia.pipeline import review as review_file
from octavia.server import review as R
from tests.server.test_review import _worker, env  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow
JOE = "en_US-joe-medium"  # the Piper pack's voice: installed on every test machine


def test_speaker_and_voice_edits_reach_the_resumed_dub(env, tmp_path):  # noqa: F811
    srv, alice, _bob, review_job = env
    job_id = review_job()
    lines = alice.client.get(f"/v1/jobs/{job_id}/review").json()["languages"][0]["lines"]
    assert lines[0]["speaker"] == "Speaker 1" and lines[0]["voice"] is None  # diarized by default

    bad = [({"lines": [{"index": 1}]}, "text"), ({"voices": {"Speaker 1": "/etc/passwd.onnx"}}, "cast"),
           ({"voices": {"Speaker 1": "en_US-nobody-medium"}}, "not a piper model"),
           ({"lines": [{"index": 1, "speaker": "../x"}]}, "speaker")]  # fmt: skip
    for body, words in bad:
        r = alice.client.patch(f"/v1/jobs/{job_id}/review", json=body)
        assert r.status_code == 422 and words in r.text, r.text

    r = alice.client.patch(f"/v1/jobs/{job_id}/review", json={
        "lines": [{"index": 1, "speaker": "Ana"}], "voices": {"Ana": JOE},
    })  # fmt: skip
    assert r.status_code == 200, r.text
    first = r.json()["languages"][0]["lines"][0]
    assert first["speaker"] == "Ana" and first["voice"] == JOE and first["edited"]

    # What the resumed run reads: the review file with the label and the cast.
    R.write_review_files(srv.app.state.db, job_id, tmp_path)
    text = (tmp_path / "review.en.txt").read_text()
    assert "[cast]" in text and f"Ana = {JOE}" in text and "| Ana" in text
    assert alice.client.post(f"/v1/jobs/{job_id}/resume").status_code == 200
    assert _worker(srv).run(job_id) == "done"
    cast = alice.client.get(f"/v1/jobs/{job_id}").json()["result"]["info"]["cast"]["en"]["speakers"]
    assert cast["Ana"]["voice"] == JOE and cast["Ana"]["source"] != "pitch match", cast
    edits = review_file.load_edits(tmp_path / "review.en.txt", count=len(lines))
    assert edits.cast() == {"Ana": JOE}
