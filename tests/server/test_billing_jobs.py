"""Credits through the jobs API: many job creations at once can never overspend (SQLite + PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from octavia.server import credits
from tests.server.fixtures_billing import make_api_key, make_user
from tests.server.fixtures_jobs import speech_upload, subtitle_body


def test_simultaneous_job_creations_never_overspend(server_factory: Any) -> None:
    """20 POST /v1/jobs at once, each costing 1 credit, for a user holding 7: 7 × 201, 13 × 402."""
    srv = server_factory(queue="sqlite")  # jobs stay queued: no worker consumes this queue
    db = srv.app.state.db
    uid = make_user(db)
    token = make_api_key(db, uid)
    with db.begin() as conn:
        credits.grant(conn, user_id=uid, amount=7, kind="grant", reference=f"seed:{uid}", note="seed")
    upload = speech_upload(srv.client(token))
    body = subtitle_body(upload["id"])
    n = 20
    barrier = threading.Barrier(n)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def post() -> None:
        with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
            barrier.wait()
            r = c.post("/v1/jobs", json=body)
        with lock:
            answers.append(r)

    threads = [threading.Thread(target=post) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 7 + [402] * 13, [r.text for r in answers if r.status_code not in (201, 402)]
    assert all(r.json()["shortfall"] == 1 for r in answers if r.status_code == 402)
    created = {r.json()["id"] for r in answers if r.status_code == 201}
    with db.read() as conn:
        assert credits.balance(conn, uid) == 0
        reserved = {e.job_id for e in credits.history(conn, uid, limit=100) if e.kind == "reserve"}
    assert reserved == created  # one reservation per created job, none for refused ones
    listed = srv.client(token).get("/v1/jobs").json()
    assert {j["id"] for j in listed} == created
