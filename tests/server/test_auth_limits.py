"""Rate limits on auth routes (in-process and shared through real Redis), request size limits,
and the JSON problem documents every error turns into."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from octavia.errors import InputError, InsufficientCredits, MissingDependency, ModelNotAvailable
from octavia.server.problems import octavia_problem
from octavia.server.ratelimit import MemoryLimiter, RedisLimiter, parse_rate
from tests.server.conftest import unique_email


def test_login_rate_limit_per_ip_and_route(server_factory):
    srv = server_factory(rate_limit_auth="3/minute")
    c = srv.client()
    body = {"email": unique_email(), "password": "whatever-password"}
    codes = [c.post("/v1/auth/login", json=body).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    r = c.post("/v1/auth/login", json=body)
    assert r.status_code == 429 and r.json()["code"] == "rate_limited"
    assert 1 <= int(r.headers["retry-after"]) <= 60
    # Another auth route has its own window.
    assert c.post("/v1/auth/password/forgot", json={"email": body["email"]}).status_code == 202


def test_rate_limit_shared_through_redis(server_factory):
    prefix = f"octavia-test-{uuid.uuid4().hex}:"
    url = "redis://127.0.0.1:6379/15"
    a = server_factory(rate_limit_auth="2/minute", redis_url=url)
    b = server_factory(rate_limit_auth="2/minute", redis_url=url)
    for srv in (a, b):  # isolate this test's keys
        srv.app.state.rate_limiter.prefix = prefix
    body = {"email": unique_email(), "password": "whatever-password"}
    assert a.client().post("/v1/auth/login", json=body).status_code == 401
    assert b.client().post("/v1/auth/login", json=body).status_code == 401
    assert a.client().post("/v1/auth/login", json=body).status_code == 429  # two processes, one window
    assert b.client().post("/v1/auth/login", json=body).status_code == 429


def test_memory_limiter_slides():
    now = [0.0]
    lim = MemoryLimiter(clock=lambda: now[0])
    assert [lim.hit("k", 2, 10) for _ in range(3)] == [0, 0, 10]
    now[0] = 5
    assert lim.hit("k", 2, 10) == 5
    now[0] = 10.5  # the first two hits left the window
    assert lim.hit("k", 2, 10) == 0 and lim.hit("other", 2, 10) == 0


def test_redis_limiter_slides():
    lim = RedisLimiter("redis://127.0.0.1:6379/15", prefix=f"octavia-test-{uuid.uuid4().hex}:")
    assert [lim.hit("k", 3, 60) > 0 for _ in range(4)] == [False, False, False, True]
    assert 59 <= lim.hit("k", 3, 60) <= 60
    time.sleep(0.06)
    assert lim.hit("k", 3, 0.05) == 0  # with a 50 ms window, all earlier hits have left it


def test_parse_rate():
    assert parse_rate("10/minute") == (10, 60.0)
    assert parse_rate("100/5 minutes") == (100, 300.0)
    with pytest.raises(InputError):
        parse_rate("lots")


def test_oversized_json_bodies_get_413_early(server_factory):
    srv = server_factory(max_request_bytes=4096)
    c = srv.client()
    big = {"email": unique_email(), "password": "p" * 10_000}
    r = c.post("/v1/auth/signup", json=big)
    assert r.status_code == 413 and r.json()["code"] == "request_too_large"
    assert r.headers["connection"] == "close"

    def chunked():  # no Content-Length: counted while streaming
        yield b'{"email": "a@example.com", "password": "'
        yield b"p" * 10_000
        yield b'"}'

    r = httpx.post(
        f"{srv.url}/v1/auth/signup", content=chunked(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    ok = c.post("/v1/auth/signup", json={"email": unique_email(), "password": "fine-password-42-kiwi"})
    assert ok.status_code == 202


def test_problem_documents_for_core_errors():
    r = octavia_problem(InsufficientCredits("Not enough credits.", "Buy some.", shortfall=42))
    assert r.status_code == 402
    import json

    body = json.loads(bytes(r.body))
    assert body["shortfall"] == 42 and body["code"] == "insufficient_credits" and body["hint"] == "Buy some."
    assert r.media_type == "application/problem+json"
    assert octavia_problem(InputError("bad")).status_code == 422
    assert octavia_problem(ModelNotAvailable("no model")).status_code == 503
    assert octavia_problem(MissingDependency("no ffmpeg")).status_code == 503


def test_openapi_docs_and_versioned_routes(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    paths = [p for p in spec["paths"] if not p.startswith("/metrics") and p not in {"/healthz", "/readyz"}]
    assert paths and all(p.startswith("/v1/") for p in paths), paths
    assert "/v1/uploads/{upload_id}/complete" in paths
