"""Malformed input over real HTTP answers 4xx (problem+json), never 500 — on SQLite and PostgreSQL.

Numbers past 64 bits, NUL characters and lone surrogates are what the databases refuse; the
webhook cases are signed exactly as Polar signs, so only the payload is odd.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from octavia.server.tables import webhook_events
from tests.server import conftest
from tests.server.conftest import LiveServer, upload_file
from tests.server.fixtures_billing import PRODUCT_SMALL, BillingServer, order_event, sign_headers
from tests.server.fixtures_jobs import fund, read_sse

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, f"{r.request.method} {r.request.url} → {r.status_code} {r.text[:300]}"
    assert r.headers["content-type"].startswith(PROBLEM)
    body = dict(r.json())
    if code is not None:
        assert body["code"] == code, body
    return body


# ---------------------------------------------------------------- numbers past 64 bits


@pytest.mark.parametrize("path", ["/v1/jobs?offset={n}", "/v1/uploads?offset={n}", "/v1/billing?before={n}"])
def test_paging_past_64_bits_is_422_and_the_largest_page_is_empty(
    user_factory: Callable[..., conftest.TestUser], path: str
) -> None:
    user = user_factory()
    for n in (2**63, 10**20):
        body = assert_problem(user.client.get(path.format(n=n)), 422, "validation_error")
        assert body["errors"][0]["loc"][0] == "query"
    r = user.client.get(path.format(n=2**63 - 1))
    assert r.status_code == 200, r.text
    if "offset" in path:
        assert r.json() == []  # past every row
    else:  # before the largest id: every entry (the welcome grant)
        assert r.json()["entries"] == user.client.get("/v1/billing").json()["entries"] != []


def test_event_stream_resume_points_are_bounded_integers(
    server_factory: Callable[..., LiveServer],
    user_factory: Callable[..., conftest.TestUser],
    media_files: Any,
) -> None:
    srv = server_factory(queue="sqlite")  # no consumer: the job stays queued until cancelled
    user = user_factory(server=srv)
    fund(srv.app.state.db, user.id, 10)
    up = upload_file(user.client, media_files.wav, "audio/wav")
    r = user.client.post("/v1/jobs", json={"kind": "subtitle", "upload_id": up["id"]})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    assert user.client.post(f"/v1/jobs/{job_id}/cancel").json()["status"] == "cancelled"
    path = f"/v1/jobs/{job_id}/events"

    for params, headers in (
        ({"after": str(10**20)}, {}),
        ({"after": str(2**63)}, {}),
        ({}, {"Last-Event-ID": str(10**20)}),
        ({}, {"Last-Event-ID": b"\xb2"}),  # "²" in latin-1: str.isdigit() says yes, int() says no
        ({}, {"Last-Event-ID": "-1"}),
    ):
        body = assert_problem(user.client.get(path, params=params, headers=headers), 422, "validation_error")
        assert body["errors"][0]["loc"][0] in ("query", "header")
    # The bounds themselves: the largest id resumes after everything; 0 replays the whole stream.
    assert read_sse(user.client, path, headers={"Last-Event-ID": str(2**63 - 1)}) == []
    assert [e["event"] for e in read_sse(user.client, path + "?after=0")] == ["queued", "cancelled"]


# ---------------------------------------------------------------- NUL and lone surrogates


def _job(upload: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "subtitle", "upload_id": upload, "languages": ["fr"], **extra}


# (method, path, json body or raw text); {upload} is a ready upload of the user.
UNSTORABLE: list[tuple[str, str, Any]] = [
    ("POST", "/v1/projects", {"name": "a\x00b"}),
    ("POST", "/v1/projects", '{"name": "lone \\ud800 surrogate"}'),
    ("POST", "/v1/account/api-keys", {"name": "key\x00"}),
    ("POST", "/v1/uploads", {"filename": "a.wav", "content_type": "audio/wav\x00", "size": 100}),
    (
        "POST",
        "/v1/uploads",
        {"filename": "a.wav", "content_type": "audio/wav", "size": 9, "project_id": "p\x00"},
    ),
    ("POST", "/v1/jobs", _job("upl_\x00")),
    ("POST", "/v1/jobs", _job("{upload}", languages=["fr\x00"])),
    ("POST", "/v1/jobs", _job("{upload}", source_language="e\x00")),
    ("POST", "/v1/jobs", _job("{upload}", options={"voice": "a\x00"})),
    ("POST", "/v1/jobs", _job("{upload}", options={"layout\x00": 1})),
    # jsonb has no NaN; 1e400 parses as Infinity
    (
        "POST",
        "/v1/jobs",
        '{"kind": "subtitle", "upload_id": "{upload}", "options": {"layout": {"cps": NaN}}}',
    ),
    (
        "POST",
        "/v1/jobs",
        '{"kind": "subtitle", "upload_id": "{upload}", "options": {"layout": {"cps": 1e400}}}',
    ),
    ("GET", "/v1/jobs/job_%00x", None),
    ("GET", "/v1/jobs?kind=sub%00title", None),
    ("GET", "/v1/uploads/upl_%00", None),
    ("GET", "/v1/uploads?project_id=prj%00", None),
    ("POST", "/v1/uploads/upl_%00/complete", None),
    ("DELETE", "/v1/projects/prj_%00", None),
    ("DELETE", "/v1/account/api-keys/key_%00", None),
    ("GET", "/v1/jobs/job_%00/events", None),
]


@pytest.mark.parametrize(("method", "path", "body"), UNSTORABLE, ids=[f"{m} {p}" for m, p, _ in UNSTORABLE])
def test_unstorable_text_is_422_everywhere(
    user_factory: Callable[..., conftest.TestUser], media_files: Any, method: str, path: str, body: Any
) -> None:
    user = user_factory()
    if isinstance(body, dict):
        body = json.dumps(body)  # "\x00" becomes the JSON escape \u0000, as clients send it
    if body is not None and "{upload}" in body:
        body = body.replace("{upload}", upload_file(user.client, media_files.wav, "audio/wav")["id"])
    kwargs: dict[str, Any] = {}
    if body is not None:
        kwargs = {"content": body.encode(), "headers": {"Content-Type": "application/json"}}
    problem = assert_problem(user.client.request(method, path, **kwargs), 422, "validation_error")
    assert problem["errors"][0]["type"] in ("string_nul", "string_surrogate", "number_out_of_range")
    # The server is fine afterwards, and text that only looks like NUL (an escaped backslash,
    # which the guard's byte scan sees as "\u0000") or is far from ASCII passes the guard.
    fine = "Große Ünïcode 🎬 \\u0000 as text"
    r = user.client.post("/v1/projects", json={"name": fine})
    assert r.status_code == 201 and r.json()["name"] == fine, r.text


# ---------------------------------------------------------------- signed webhooks with odd payloads


def _event(bs: BillingServer, event_id: str) -> Any:
    with bs.db.read() as conn:
        return conn.execute(sa.select(webhook_events).where(webhook_events.c.id == event_id)).first()


def _paid(user_id: str, **order: Any) -> bytes:
    return order_event("order.paid", order_id=str(uuid.uuid4()), user_id=user_id, **order)


@pytest.mark.parametrize(
    "case", ["net_amount_1e30", "net_amount_1e400", "refunded_1e30", "order_id_nul", "customer_id_nul"]
)
def test_signed_order_with_out_of_range_facts_is_ignored_and_logged(
    billing_server: BillingServer, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    bs = billing_server
    u = bs.user()
    if case == "net_amount_1e30":
        body = _paid(u.id, net_amount=10**30)
    elif case == "net_amount_1e400":
        body = _paid(u.id, net_amount=123456789).replace(b'"net_amount": 123456789', b'"net_amount": 1e400')
        assert b"1e400" in body
    elif case == "refunded_1e30":
        oid = str(uuid.uuid4())
        paid = order_event("order.paid", order_id=oid, user_id=u.id)
        assert bs.post_webhook(paid).json() == {"status": "processed"}
        body = order_event("order.refunded", order_id=oid, user_id=u.id, refunded_amount=10**30)
    elif case == "order_id_nul":
        body = order_event("order.paid", order_id="ord_\x00" + uuid.uuid4().hex, user_id=u.id)
    else:
        body = _paid(u.id).replace(f'"external_id": "{u.id}"'.encode(), b'"external_id": "usr_\\u0000"')
        body = body.replace(f'"octavia_user_id": "{u.id}"'.encode(), b'"octavia_user_id": "usr_\\u0000x"')
    before = bs.balance(u.id)
    headers = sign_headers(body)
    with caplog.at_level(logging.WARNING, logger="octavia.server.billing"):
        r = bs.post_webhook(body, headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ignored"}
    assert bs.balance(u.id) == before
    row = _event(bs, headers["webhook-id"])
    assert row is not None and row.processed_at is None  # kept: redelivery re-applies it
    assert any("unusable" in rec.getMessage() for rec in caplog.records), caplog.text


def test_signed_order_with_nul_in_other_text_is_processed_and_stored_storably(
    billing_server: BillingServer,
) -> None:
    bs = billing_server
    u = bs.user()
    body = _paid(u.id, description="Credit\x00pack", metadata={"octavia_user_id": u.id, "note": "x\x00"})
    headers = sign_headers(body)
    r = bs.post_webhook(body, headers)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "processed"}
    assert bs.balance(u.id) == 100  # PRODUCT_SMALL
    row = _event(bs, headers["webhook-id"])
    assert row.payload["data"]["description"] == "Credit\ufffdpack"
    assert row.payload["data"]["metadata"]["note"] == "x\ufffd"
    assert row.payload["data"]["product_id"] == PRODUCT_SMALL


def test_signed_webhook_nested_5000_deep_is_acknowledged_and_ignored(
    billing_server: BillingServer, caplog: pytest.LogCaptureFixture
) -> None:
    bs = billing_server
    u = bs.user()
    event = json.loads(_paid(u.id))
    body = json.dumps(event).encode()[:-1] + b', "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    headers = sign_headers(body)
    with caplog.at_level(logging.WARNING, logger="octavia.server.billing"):
        r = bs.post_webhook(body, headers)
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "ignored"}
    assert bs.balance(u.id) == 0
    assert _event(bs, headers["webhook-id"]) is None
    assert any("deeper" in rec.getMessage() for rec in caplog.records), caplog.text


def test_webhook_id_longer_than_the_column_is_400_and_changes_nothing(billing_server: BillingServer) -> None:
    bs = billing_server
    u = bs.user()
    body = _paid(u.id)
    long_id = "msg_" + "x" * 300
    r = bs.post_webhook(body, sign_headers(body, msg_id=long_id))
    assert_problem(r, 400, "invalid_webhook_id")
    assert bs.balance(u.id) == 0
    with bs.db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_events)).scalar_one() >= 0
        assert conn.execute(sa.select(webhook_events).where(webhook_events.c.id == long_id)).first() is None
    # 255 characters is the bound, and is fine.
    ok_id = "msg_" + "y" * 251
    r = bs.post_webhook(body, sign_headers(body, msg_id=ok_id))
    assert r.status_code == 200 and r.json() == {"status": "processed"}, r.text
    assert bs.balance(u.id) == 100


# ---------------------------------------------------------------- the OpenAPI tells the truth


def test_openapi_describes_errors_as_problem_json(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    ops = {(m.upper(), p): op for p, item in spec["paths"].items() for m, op in item.items()}
    for (method, path), op in ops.items():
        answers = op["responses"]
        assert "422" in answers, (method, path)
        for status, answer in answers.items():
            if int(status) >= 400 and not (path == "/readyz" and status == "503"):
                assert list(answer.get("content", {})) == [PROBLEM], (method, path, status)
        if op.get("security"):
            assert answers["401"]["headers"]["WWW-Authenticate"]["required"] is True, (method, path)
        if op.get("requestBody"):
            assert {"400", "413"} <= set(answers), (method, path)
    assert {"413", "415", "404"} <= set(ops[("POST", "/v1/uploads")]["responses"])
    assert {"402", "404", "429"} <= set(ops[("POST", "/v1/jobs")]["responses"])
    assert {"400", "401", "413", "503"} <= set(ops[("POST", "/v1/webhooks/polar")]["responses"])
    assert "Retry-After" in ops[("POST", "/v1/auth/login")]["responses"]["429"]["headers"]
    assert {"409", "404"} <= set(ops[("POST", "/v1/jobs/{job_id}/cancel")]["responses"])
