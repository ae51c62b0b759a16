"""The worker checks the extracted audio against the reservation before transcribing.

The upload was measured at a few seconds; then its stored bytes are replaced by 125 s of
audio (what a wrong estimate would let through). The worker reserves the extra minutes, or,
when the balance cannot cover them, fails the job and refunds it without transcribing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from octavia.pipeline.media import FFmpeg
from octavia.server import tables as t
from octavia.server.worker import Worker
from tests.server.fixtures_billing import make_api_key, make_user
from tests.server.fixtures_jobs import balance, events, fund, ledger, speech_upload, subtitle_body


@pytest.fixture(scope="session")
def long_quiet_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("long") / "quiet.wav"
    FFmpeg().run(["-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "125", str(out)], what="make wav")
    return out


def _swapped_job(server_factory: Any, pipeline_overrides: dict[str, Any], wav: Path, funds: int) -> Any:
    srv = server_factory(queue="sqlite", **pipeline_overrides)
    db = srv.app.state.db
    uid = make_user(db)
    fund(db, uid, funds)
    client = srv.client(make_api_key(db, uid))
    up = speech_upload(client)
    r = client.post("/v1/jobs", json=subtitle_body(up["id"]))
    assert r.status_code == 201 and r.json()["cost_estimate"] == 1, r.text
    with db.read() as conn:
        key = conn.execute(sa.select(t.uploads.c.storage_key).where(t.uploads.c.id == up["id"])).scalar_one()
    srv.app.state.storage.put_file(key, wav)  # 125 s where 1 minute was paid
    worker = Worker(srv.settings, db=db, storage=srv.app.state.storage)
    return srv, db, uid, str(r.json()["id"]), worker


def _job(db: Any, job_id: str) -> Any:
    with db.read() as conn:
        return conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).one()


def test_unpaid_minutes_fail_the_job_before_transcription(
    server_factory: Any, pipeline_overrides: dict[str, Any], long_quiet_wav: Path
) -> None:
    _srv, db, uid, job_id, worker = _swapped_job(server_factory, pipeline_overrides, long_quiet_wav, funds=2)
    assert worker.run(job_id) == "failed"
    row = _job(db, job_id)
    assert row.error["code"] == "audio_longer_than_paid"
    assert "125 s" in row.error["message"] and "3 credits" in row.error["message"]
    assert ledger(db, job_id) == [("reserve", -1), ("refund", 1)]
    assert balance(db, uid) == 2
    checkpoints = [e.data.get("stage") for e in events(db, job_id) if e.type == "checkpoint"]
    assert checkpoints == []  # not even extract was stored; transcribe never ran


def test_extra_minutes_are_reserved_then_charged(
    server_factory: Any, pipeline_overrides: dict[str, Any], long_quiet_wav: Path
) -> None:
    _srv, db, uid, job_id, worker = _swapped_job(server_factory, pipeline_overrides, long_quiet_wav, funds=10)
    assert worker.run(job_id) == "done", _job(db, job_id).error
    row = _job(db, job_id)
    assert (row.cost_estimate, row.cost_actual) == (3, 3)
    assert ledger(db, job_id) == [("reserve", -1), ("reserve", -2), ("settle", 0)]
    assert balance(db, uid) == 7
    types = [e.type for e in events(db, job_id)]
    assert types.index("reserved") < types.index("checkpoint")  # reserved before extract was stored
