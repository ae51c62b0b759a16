"""The per-account login throttle, shared by every API process: through real Redis (db 15)
when configured, through the database otherwise (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.server.conftest import LiveServer, unique_email

REDIS = "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["redis", "database"])
def two_servers(
    request: pytest.FixtureRequest, server_factory: Callable[..., LiveServer]
) -> list[LiveServer]:
    """Two app instances (as two API processes would be) sharing one throttle store."""
    extra: dict[str, Any] = {"redis_url": REDIS} if request.param == "redis" else {}
    servers = [server_factory(login_throttle="3/minute", **extra) for _ in range(2)]
    if request.param == "redis":
        prefix = f"octavia-test-{uuid.uuid4().hex}:"
        for srv in servers:  # isolate this test's keys
            srv.app.state.login_throttle.prefix = prefix + "login:"
            srv.app.state.rate_limiter.prefix = prefix + "rl:"
    return servers


def login(srv: LiveServer, addr: str, password: str) -> Any:
    return srv.client().post("/v1/auth/login", json={"email": addr, "password": password})


def test_failures_on_one_process_throttle_the_account_on_the_other(two_servers, user_factory):
    a, b = two_servers
    user = user_factory(server=a)
    bystander = user_factory(server=a)
    assert [login(s, user.email, "wrong guess").status_code for s in (a, b, a)] == [401, 401, 401]
    blocked = login(b, user.email, user.password)  # even the right password waits now
    assert blocked.status_code == 429 and blocked.json()["code"] == "rate_limited"
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert login(a, user.email.upper(), user.password).status_code == 429  # same account, any spelling
    # Per account, not per IP: the same client still logs in to another account.
    assert login(a, bystander.email, bystander.password).status_code == 200


def test_an_unknown_address_is_throttled_alike(two_servers, user_factory):
    a, b = two_servers
    user = user_factory(server=a)
    unknown = unique_email("nobody")
    answers = {}
    for addr in (user.email, unknown):
        for srv in (a, b, a):
            login(srv, addr, "wrong guess")
        answers[addr] = login(b, addr, "wrong guess")
    known_r, unknown_r = answers[user.email], answers[unknown]
    assert known_r.status_code == unknown_r.status_code == 429
    assert known_r.json() == unknown_r.json()  # the throttle reveals no account


def test_successful_logins_do_not_fill_the_window(two_servers, user_factory):
    a, b = two_servers
    user = user_factory(server=a)
    for srv in (a, b, a, b, a):
        assert login(srv, user.email, user.password).status_code == 200
    assert login(b, user.email, "wrong guess").status_code == 401


def test_database_throttle_prunes_attempts_that_left_the_window(settings):
    from datetime import timedelta

    import sqlalchemy as sa

    from octavia.server import tables as t
    from octavia.server.db import Database, utcnow
    from octavia.server.ratelimit import DbAccountThrottle

    db = Database(settings.db_url)
    try:
        stale, key = uuid.uuid4().hex, uuid.uuid4().hex
        with db.begin() as conn:
            conn.execute(sa.insert(t.login_attempts).values(id="att_" + stale[:20], account_key=stale,
                                                            at=utcnow() - timedelta(hours=1)))  # fmt: skip
        throttle = DbAccountThrottle(db, prune_every_s=0)
        assert [throttle.attempt(key, 2, 60)[0] for _ in range(3)][:2] == [0.0, 0.0]
        assert 59 <= throttle.attempt(key, 2, 60)[0] <= 60
        with db.read() as conn:
            left = conn.execute(sa.select(t.login_attempts.c.account_key).where(t.login_attempts.c.account_key.in_([stale, key]))).scalars().all()  # fmt: skip
        assert left == [key, key]  # the other account's old attempt went; blocked ones were not kept
    finally:
        db.dispose()
