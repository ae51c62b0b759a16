"""Each target language is charged once, and the spoken language is not a target."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from octavia.server import credits
from tests.server.conftest import upload_file
from tests.server.fixtures_billing import make_api_key, make_user


@pytest.fixture
def user(server_factory: Any, media_files: Any) -> tuple[httpx.Client, str, Any, str]:
    srv = server_factory(queue="sqlite")  # jobs stay queued: no worker runs them
    db = srv.app.state.db
    uid = make_user(db)
    with db.begin() as conn:
        credits.grant(conn, user_id=uid, amount=100, reference=f"seed:{uid}")
    client = srv.client(make_api_key(db, uid))
    up = upload_file(client, media_files.wav, "audio/wav")
    return client, up["id"], db, uid


def test_duplicate_targets_are_charged_once(user: tuple[httpx.Client, str, Any, str]) -> None:
    client, upload_id, db, uid = user
    r = client.post("/v1/jobs", json={"kind": "subtitle", "upload_id": upload_id, "languages": ["es"] * 4})
    assert r.status_code == 201, r.text
    assert r.json()["languages"] == ["es"] and r.json()["cost_estimate"] == 1
    r = client.post(
        "/v1/jobs",
        json={"kind": "translate-audio", "upload_id": upload_id, "languages": ["es", "ES", "fr", "es"]},
    )
    assert r.status_code == 201, r.text
    assert r.json()["languages"] == ["es", "fr"] and r.json()["cost_estimate"] == 2 * 3
    with db.read() as conn:
        assert credits.balance(conn, uid) == 100 - 1 - 6


def test_the_source_language_is_not_a_target(user: tuple[httpx.Client, str, Any, str]) -> None:
    client, upload_id, _db, _uid = user
    body = {"kind": "subtitle", "upload_id": upload_id, "source_language": "es", "languages": ["es", "en"]}
    r = client.post("/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["languages"] == ["en"] and r.json()["cost_estimate"] == 1
    only_source = {
        "kind": "translate-audio",
        "upload_id": upload_id,
        "source_language": "es",
        "languages": ["es"],
    }
    r = client.post("/v1/jobs", json=only_source)
    assert r.status_code == 422 and "spoken language" in r.json()["detail"]
