"""``GET /v1/offerings`` lists what is installed here; ``POST /v1/jobs/estimate`` prices a job as
creation does (the same reservation appears when the job is created)."""

from __future__ import annotations

from pathlib import Path

import pytest

from octavia.pipeline.media import FFmpeg
from tests.server.conftest import assert_hidden, upload_file
from tests.server.fixtures_jobs import fund, ledger


@pytest.fixture(scope="module")
def tone_61s(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Just over a minute: two started minutes."""
    out = tmp_path_factory.mktemp("media") / "tone.wav"
    FFmpeg().run(["-f", "lavfi", "-i", "sine=frequency=440:duration=61", "-ar", "16000", str(out)],
                 what="make wav")  # fmt: skip
    return out


def test_offerings_list_installed_models_voices_and_limits(server_factory, user_factory, pipeline_overrides):
    srv = server_factory(**pipeline_overrides)
    user = user_factory(server=srv)
    got = user.client.get("/v1/offerings").json()
    assert {"subtitle", "translate-audio", "dub"} <= set(got["kinds"])
    assert got["formats"] == ["srt", "vtt", "ass"] and got["review_kinds"] == ["dub", "translate-audio"]
    assert got["max_upload_bytes"] == srv.settings.max_upload_bytes
    assert got["prices_per_minute"]["dub"] == srv.settings.prices_per_minute["dub"]
    assert "tiny.en" in got["whisper_models"]  # from the offline packs
    english = [v for v in got["voices"] if v["language"] == "en"]
    assert english and all(v["engine"] == "piper" for v in english)
    assert srv.client().get("/v1/offerings").status_code == 401


def test_estimate_is_what_creation_reserves(server_factory, user_factory, pipeline_overrides, tone_61s):
    srv = server_factory(queue="sqlite", **pipeline_overrides)  # nothing runs
    alice, bob = user_factory(server=srv), user_factory(server=srv)
    up = upload_file(alice.client, tone_61s, "audio/wav")
    voice = next(
        v["name"] for v in alice.client.get("/v1/offerings").json()["voices"] if v["language"] == "en"
    )
    body = {
        "kind": "dub",
        "upload_id": up["id"],
        "source_language": "es",
        "languages": ["en", "fr", "es", "EN"],
    }
    est = alice.client.post("/v1/jobs/estimate", json=body).json()
    price = srv.settings.prices_per_minute["dub"]
    assert est["minutes"] == 2 and est["languages"] == ["en", "fr"] and est["cost"] == price * 2 * 2
    signup = srv.settings.signup_credits
    assert est["balance"] == signup and est["shortfall"] == max(0, est["cost"] - signup)
    fund(srv.app.state.db, alice.id, est["shortfall"])
    r = alice.client.post("/v1/jobs", json={**body, "options": {"voice": voice}})
    assert r.status_code == 201, r.text  # an offered voice is accepted
    assert ledger(srv.app.state.db, r.json()["id"]) == [("reserve", -est["cost"])]
    again = alice.client.post("/v1/jobs/estimate", json=body).json()
    assert again["balance"] == signup + est["shortfall"] - est["cost"]
    assert_hidden(bob.client, "POST", "/v1/jobs/estimate", json=body)
    assert alice.client.post("/v1/jobs/estimate", json={**body, "kind": "karaoke"}).status_code == 422
