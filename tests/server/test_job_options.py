"""POST /v1/jobs options over real HTTP, on SQLite and PostgreSQL: only the server's subset, only
models and voices it has installed, right types; anything else is a 422 before a job or credit moves."""

from __future__ import annotations

from typing import Any

import pytest

from tests.server.fixtures_jobs import balance, fund, speech_upload, subtitle_body


@pytest.fixture
def queued_server(server_factory):  # type: ignore[no-untyped-def]
    """Jobs stay queued (SQLite Huey, no worker): creation is all that is tested."""
    return server_factory(queue="sqlite", signup_credits=0)


def _body(upload_id: str, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    languages = ["es"] if kind != "subtitle" else []
    return subtitle_body(upload_id, kind=kind, languages=languages, options=options)


PROBES = [
    ("dub", {"voice": "/etc/passwd.onnx"}, "voice"),
    ("translate-audio", {"voice": "/etc/passwd.onnx"}, "voice"),
    ("dub", {"tts": "piper:/etc/passwd"}, "tts"),
    ("dub", {"tts": "coqui:/etc"}, "tts"),
    ("translate-audio", {"tts": "piper", "voice": "etc"}, "voice"),  # a relative path on the worker
    ("subtitle", {"whisper_model": "~"}, "whisper_model"),
    ("subtitle", {"whisper_model": "."}, "whisper_model"),
    ("subtitle", {"whisper_model": "large-v3"}, "whisper_model"),  # a real name, not installed here
    ("subtitle", {"layout": "big"}, "layout"),
    ("subtitle", {"layout": {"max_lines": 0}}, "layout.max_lines"),
    ("subtitle", {"ass_style": 3}, "ass_style"),
    ("subtitle", {"ass_style": {"primary_colour": "file:///etc"}}, "Not a colour"),
    ("subtitle", {"keep_terms": "Octavia"}, "keep_terms"),
    ("subtitle", {"mix": 0.5}, "mix"),  # was allowed, never read
    ("subtitle", {"transcriber": "openai"}, "transcriber"),  # a paid service is the server's choice
    ("dub", {"max_speed": 0}, "max_speed"),
    ("dub", {"tts_model": "/srv/models"}, "tts_model"),
    ("dub", {"tts": "coqui", "voice": "../../etc/passwd"}, "speaker name"),
    ("dub", {"tts": "tts-server:/etc"}, "takes no model"),
    ("dub", {"cast": {"Speaker 1": "/etc/passwd.onnx"}}, "cast"),
    ("dub", {"cast": {"Speaker 1": "es_ES-davefx-medium"}}, "not a piper model"),  # not installed
    ("dub", {"cast_file": "/etc/cast.json"}, "cast_file"),
    ("dub", {"tts": "kokoro:/etc/passwd"}, "not a Kokoro voice"),
    ("dub", {"tts": "kokoro", "voice": "af_nobody"}, "not a Kokoro voice"),
    ("dub", {"burn_subtitles": "es"}, "burn_subtitles"),  # re-encoding is not offered by the server
]


def test_probing_options_are_422_and_move_nothing(queued_server, user_factory) -> None:  # type: ignore[no-untyped-def]
    db = queued_server.app.state.db
    user = user_factory(server=queued_server)
    fund(db, user.id, 50)
    up = speech_upload(user.client)
    for kind, options, named in PROBES:
        r = user.client.post("/v1/jobs", json=_body(up["id"], kind, options))
        assert r.status_code == 422, (kind, options, r.text)
        problem = r.json()
        assert problem["code"] == "input_error" and named in problem["detail"], (options, problem)
        text = r.text
        for leak in (
            str(queued_server.settings.data_dir),
            str(queued_server.settings.cache_dir),
            "site-packages",
        ):
            assert leak not in text, (options, text)
    assert user.client.get("/v1/jobs").json() == [] and balance(db, user.id) == 50


def test_installed_models_and_voices_are_accepted_and_stored_as_sent(queued_server, user_factory) -> None:  # type: ignore[no-untyped-def]
    db = queued_server.app.state.db
    user = user_factory(server=queued_server)
    fund(db, user.id, 50)
    up = speech_upload(user.client)
    options = {
        "whisper_model": "tiny.en",
        "voice": "en_US-joe-medium",
        "max_speed": 1.5,
        "keep_terms": ["GPU"],
    }
    r = user.client.post("/v1/jobs", json=_body(up["id"], "dub", options))
    assert r.status_code == 201, r.text
    assert r.json()["options"] == options
    kokoro = {"tts": "kokoro", "voice": "jm_kumo"}  # a voice of the installed Kokoro pack
    assert user.client.post("/v1/jobs", json=_body(up["id"], "dub", kokoro)).status_code == 201
    assert user.client.post("/v1/jobs", json=_body(up["id"], "dub", {"voice": "jf_alpha"})).status_code == 201
    speaker = {"tts": "coqui", "voice": "Claribel Dervla"}  # a speaker name, for an engine that has speakers
    assert user.client.post("/v1/jobs", json=_body(up["id"], "translate-audio", speaker)).status_code == 201
    r = user.client.post(
        "/v1/jobs", json=_body(up["id"], "subtitle", {"layout": {"max_lines": 1}, "vad": False})
    )
    assert r.status_code == 201 and r.json()["options"] == {"layout": {"max_lines": 1}, "vad": False}, r.text


def test_openapi_documents_the_options_of_each_kind(queued_server) -> None:  # type: ignore[no-untyped-def]
    schema = queued_server.client().get("/openapi.json").json()
    create = schema["components"]["schemas"]["JobCreate"]["properties"]["options"]
    kinds = {s["title"]: s for s in create["anyOf"]}
    assert set(kinds) == {"subtitle options", "translate-audio options", "dub options"}
    dub = kinds["dub options"]["properties"]
    assert dub["max_speed"]["minimum"] == 1.0 and dub["max_speed"]["default"] == 1.25
    assert "max_lines" in dub["layout"]["properties"]  # nested models are inlined, not dangling refs
    assert "audio_format" in kinds["translate-audio options"]["properties"] and "audio_format" not in dub
    assert not {"output_stem", "tts_model", "transcriber"} & set(dub)
    assert (
        "review" in dub and "review" not in kinds["subtitle options"]["properties"]
    )  # over HTTP since issue 15
