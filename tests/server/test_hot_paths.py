"""The request hot paths' shortcuts keep their guarantees: the auth cache forgets a revoked
credential at once in its process, the Redis limiter limits in one round trip, and SQLite
writers of different processes exclude each other through the writer lock."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.authcache import NEUTRAL, AuthCache
from octavia.server.db import Database, migrate, utcnow
from octavia.server.deps import AuthUser
from octavia.server.ratelimit import RedisLimiter

ROOT = Path(__file__).resolve().parents[2]


def _user(uid: str = "usr_a") -> AuthUser:
    return AuthUser(uid, f"{uid}@example.com", False, True, "session", "ses_x")


def test_revoked_api_key_and_logged_out_session_are_refused_at_once(
    live_server: Any, user_factory: Any
) -> None:
    u = user_factory()
    r = u.client.post("/v1/account/api-keys", json={"name": "hot"})
    assert r.status_code == 201, r.text
    key, key_id = r.json()["key"], r.json()["id"]
    with live_server.client() as c:
        c.headers["Authorization"] = f"Bearer {key}"
        assert c.get("/v1/jobs").status_code == 200  # now cached
        assert c.get("/v1/jobs").status_code == 200
        assert u.client.delete(f"/v1/account/api-keys/{key_id}").status_code == 204
        assert c.get("/v1/jobs").status_code == 401
    assert u.client.get("/v1/jobs").status_code == 200  # the session, cached too
    assert u.client.post("/v1/auth/logout").status_code == 204
    assert u.client.get("/v1/jobs").status_code == 401


def test_cache_expires_and_skips_lookups_that_raced_a_change() -> None:
    now = [0.0]
    cache = AuthCache(ttl_s=2.0, clock=lambda: now[0])
    cache.put("d", _user(), cache.generation)
    assert cache.get("d") == _user()
    now[0] = 2.0
    assert cache.get("d") is None  # the TTL bounds what another process's revoke may take
    started = cache.generation
    cache.invalidate()  # a credential changed while that lookup ran
    cache.put("d", _user(), started)
    assert cache.get("d") is None
    cache.put("s", _user(), cache.generation, valid_for_s=0.5)  # a session expiring sooner
    now[0] = 2.6
    assert cache.get("s") is None


def test_updates_of_credential_tables_invalidate_neutral_ones_do_not(db_url: str) -> None:
    db = Database(db_url)
    cache = AuthCache()
    cache.watch(db.engine)
    try:
        cache.put("d", _user(), cache.generation)
        with db.begin() as conn:  # the SQLite user lock and last_used_at: no credential changes
            conn.execute(sa.update(t.users).where(t.users.c.id == "nobody").values(is_admin=False),
                         execution_options=NEUTRAL)  # fmt: skip
        assert cache.get("d") == _user()
        with db.begin() as conn:
            conn.execute(sa.update(t.sessions).where(t.sessions.c.id == "nobody").values(revoked_at=utcnow()))
        assert cache.get("d") is None
        cache.put("d", _user(), cache.generation)
        with db.begin() as conn:
            conn.execute(sa.delete(t.api_keys).where(t.api_keys.c.id == "nobody"))
        assert cache.get("d") is None
    finally:
        db.dispose()


@pytest.mark.redis
def test_redis_limiter_is_one_round_trip_and_still_limits() -> None:
    lim = RedisLimiter("redis://127.0.0.1:6379/15", prefix=f"octavia-test-{uuid.uuid4().hex}:")
    assert lim.hit("k", 2, 60) == 0  # loads the script
    calls: list[Any] = []
    real: Callable[..., Any] = lim._redis.execute_command

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    lim._redis.execute_command = counting
    assert lim.hit("k", 2, 60) == 0
    assert 59 <= lim.hit("k", 2, 60) <= 60  # the third hit in the window waits for the first
    assert calls == ["EVALSHA", "EVALSHA"]


@pytest.mark.redis
def test_redis_limiter_on_the_event_loop_shares_the_window_and_its_client_per_loop() -> None:
    import asyncio

    lim = RedisLimiter("redis://127.0.0.1:6379/15", prefix=f"octavia-test-{uuid.uuid4().hex}:")
    assert lim.hit("k", 2, 60) == 0  # the blocking path counts in the same window

    async def two() -> list[float]:
        return [await lim.hit_async("k", 2, 60), await lim.hit_async("k", 2, 60)]

    first = asyncio.run(two())  # a new loop each time (as tests' servers have): a client each
    assert first[0] == 0 and 59 <= first[1] <= 60
    assert 59 <= asyncio.run(lim.hit_async("k", 2, 60)) <= 60
    assert len(lim._async) <= 2  # held weakly: a finished loop's client goes with it


_HOLDER = """
import sys, time
from octavia.server.db import Database
db = Database(sys.argv[1])
with db.begin() as conn:
    print("holding", flush=True)
    sys.stdin.readline()
"""

_WRITER = """
import sys
import sqlalchemy as sa
from octavia.server.db import Database
db = Database(sys.argv[1])
for _ in range(int(sys.argv[2])):
    with db.begin() as conn:  # read, then write: only safe when writers exclude each other
        n = conn.execute(sa.text("SELECT n FROM counter")).scalar_one()
        conn.execute(sa.text("UPDATE counter SET n = :n"), {"n": n + 1})
"""


def _py(code: str, *args: str, **kwargs: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, text=True, **kwargs)


def test_sqlite_writer_lock_excludes_other_processes(tmp_path: Path) -> None:
    path = tmp_path / "octavia.db"
    url = f"sqlite:///{path}"
    migrate(url)
    holder = _py(_HOLDER, url, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with open(f"{path}-writelock", "rb") as f:
            with pytest.raises(BlockingIOError):  # held by the other process's transaction
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.wait(30) == 0
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released with its commit
    finally:
        holder.kill()
        holder.wait()


def test_sqlite_writers_in_two_processes_lose_no_update(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'octavia.db'}"
    migrate(url)
    db = Database(url)
    with db.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    procs = [_py(_WRITER, url, "150") for _ in range(2)]
    assert [p.wait(120) for p in procs] == [0, 0]
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 300
    db.dispose()
