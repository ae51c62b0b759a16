"""Sliding-window rate limits keyed by client IP + route, in process or shared through Redis;
and the per-account login throttle, shared through Redis or the database.

Use as a route dependency: ``dependencies=[Depends(rate_limit("auth:login", "rate_limit_auth"))]``
where the second argument names a ServerSettings field such as ``"10/minute"``. A denied
request gets 429 with ``Retry-After``. In-process by default; with ``redis_url`` set, every API
process shares one window per key (a sorted set of hit times, updated atomically in Lua).

The per-IP limit alone let a botnet guess one account's password from many addresses. The
:class:`AccountThrottle` counts login attempts per account (keyed by a digest of the
normalised address, existing or not, so it reveals nothing) across every process: in Redis
when ``redis_url`` is set, else in the ``login_attempts`` table. An attempt is recorded before
the password is checked (so parallel guesses cannot all slip under the limit) and removed
again when it succeeds, so only failures fill the window.
"""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import cache
from typing import Any, Protocol

import sqlalchemy as sa
from fastapi import Request

from octavia.errors import InputError
from octavia.server import tables as t
from octavia.server.db import Database, new_id, utcnow
from octavia.server.loop_local import LoopLocal
from octavia.server.problems import ApiError, raises

_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


@cache  # pure, and read on every rate-limited request
def parse_rate(rate: str) -> tuple[int, float]:
    """``"10/minute"`` → (10, 60.0); ``"100/5 minutes"`` → (100, 300.0)."""
    m = _RATE.match(rate)
    if not m:
        raise InputError(f"Bad rate limit {rate!r}.", "Write it like '10/minute' or '100/5 minutes'.")
    return int(m.group(1)), float(m.group(2) or 1) * _UNITS[m.group(3)]


class Limiter(Protocol):
    def hit(self, key: str, limit: int, window_s: float) -> float:
        """Record a hit; return 0 if allowed, else the seconds until one would be. May block on
        I/O (Redis): on an event loop, call :meth:`hit_async` instead."""
        ...

    async def hit_async(self, key: str, limit: int, window_s: float) -> float:
        """:meth:`hit` for the event loop, without blocking it (what the dependency calls)."""
        ...


class MemoryLimiter:
    """This process's own windows: with ``serve --workers N`` each process counts apart, so a
    client gets up to N times the limit. Set ``redis_url`` to share them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hit(self, key: str, limit: int, window_s: float) -> float:
        now = self._clock()
        with self._lock:
            q = self._hits.setdefault(key, deque())
            while q and q[0] <= now - window_s:
                q.popleft()
            if len(q) >= limit:
                return q[0] + window_s - now
            q.append(now)
            if len(self._hits) > 100_000:  # bound memory under a flood of distinct IPs
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - window_s}
            return 0.0

    async def hit_async(self, key: str, limit: int, window_s: float) -> float:
        return self.hit(key, limit, window_s)  # no I/O: answered on the loop


# The script reads Redis's own clock (TIME), so several API machines with skewed clocks agree,
# in the same round trip as the update. Redis ≥ 5 replicates a script's effects rather than the
# script, which is what makes the non-deterministic TIME before a write allowed.
_NOW_MS = (
    "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
)
# KEYS[1]=zset; ARGV: window_ms, limit, member. Returns 0 (allowed) or ms to wait.
_LUA = (
    _NOW_MS
    + """
local window = tonumber(ARGV[1]); local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""
)


class RedisLimiter:
    def __init__(self, url: str, prefix: str = "octavia:rl:") -> None:
        import redis

        self.url = url
        self._redis: Any = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self.prefix = prefix
        # redis.asyncio connections belong to the event loop that opened them (loop_local.py).
        self._async: LoopLocal[Any] = LoopLocal(self._async_script)

    def _args(self, key: str, limit: int, window_s: float) -> dict[str, Any]:
        return {"keys": [self.prefix + key], "args": [int(window_s * 1000), limit, uuid.uuid4().hex]}

    def hit(self, key: str, limit: int, window_s: float) -> float:
        return int(self._script(**self._args(key, limit, window_s))) / 1000.0

    async def hit_async(self, key: str, limit: int, window_s: float) -> float:
        # Measured per hit: 0.19 ms of CPU, where the blocking client in the thread pool took
        # 0.47 ms (0.12 ms for the call, the rest the hand-off to a thread and back).
        script = self._async.get()
        return int(await script(**self._args(key, limit, window_s))) / 1000.0

    def _async_script(self) -> Any:
        import redis.asyncio

        return redis.asyncio.Redis.from_url(self.url).register_script(_LUA)


def client_ip(request: Request) -> str:
    # Behind a proxy, run uvicorn with --proxy-headers so request.client is the real peer.
    return request.client.host if request.client else "unknown"


def rate_limit(name: str, setting: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency enforcing ``settings.<setting>`` per client IP for the bucket ``name``.

    Async, and so is every limiter's ``hit_async``: no thread hop per request."""

    @raises(429)
    async def check(request: Request) -> None:
        rate = getattr(request.app.state.settings, setting)
        limit, window = parse_rate(rate)
        limiter: Limiter = request.app.state.rate_limiter
        key = f"{name}:{client_ip(request)}"
        wait = await limiter.hit_async(key, limit, window)
        if wait > 0:
            raise too_many(f"Too many requests: at most {rate}.", wait)

    return check


def too_many(message: str, wait: float) -> ApiError:
    secs = max(1, math.ceil(wait))
    return ApiError(429, "rate_limited", message, f"Retry in {secs} s.", headers={"Retry-After": str(secs)})


class AccountThrottle(Protocol):
    def attempt(self, key: str, limit: int, window_s: float) -> tuple[float, str]:
        """Record an attempt: ``(0, attempt_id)`` if allowed, else ``(seconds to wait, "")``."""
        ...

    def forget(self, key: str, attempt_id: str) -> None:
        """Drop a recorded attempt (the login succeeded, so it was no failure)."""
        ...


# Like _LUA, but the attempt is added first and taken back when over the limit, and its member
# is kept so a successful login can remove it. Returns 0 (allowed) or ms to wait.
_ATTEMPT_LUA = (
    _NOW_MS
    + """
local window = tonumber(ARGV[1]); local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, ARGV[3])
if redis.call('ZCARD', KEYS[1]) > limit then
  redis.call('ZREM', KEYS[1], ARGV[3])
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""
)


class RedisAccountThrottle:
    def __init__(self, url: str, prefix: str = "octavia:login:") -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_ATTEMPT_LUA)
        self.prefix = prefix

    def attempt(self, key: str, limit: int, window_s: float) -> tuple[float, str]:
        member = uuid.uuid4().hex
        wait_ms = int(self._script(keys=[self.prefix + key], args=[int(window_s * 1000), limit, member]))
        return (wait_ms / 1000.0, "") if wait_ms else (0.0, member)

    def forget(self, key: str, attempt_id: str) -> None:
        self._redis.zrem(self.prefix + key, attempt_id)


class DbAccountThrottle:
    """The throttle in the app database, for deployments without Redis.

    Insert-then-count: each attempt commits its row before counting the window, so of N
    concurrent attempts the later ones see the earlier ones; at worst all are refused, never
    all let through. Clocks are the API machines' own (UTC), which NTP keeps close enough for
    a window of minutes.
    """

    def __init__(self, db: Database, prune_every_s: float = 600.0) -> None:
        self.db = db
        self._prune_every_s = prune_every_s
        self._next_prune = 0.0  # this instance's own schedule, not shared state

    def attempt(self, key: str, limit: int, window_s: float) -> tuple[float, str]:
        la = t.login_attempts
        now = utcnow()
        start = now - timedelta(seconds=window_s)
        attempt_id = new_id("att")
        # Old rows of this account always; every few minutes those of accounts never tried again.
        everyone = time.monotonic() >= self._next_prune
        if everyone:
            self._next_prune = time.monotonic() + self._prune_every_s
        with self.db.begin() as conn:
            old = la.c.at <= start
            conn.execute(sa.delete(la).where(old if everyone else sa.and_(la.c.account_key == key, old)))
            conn.execute(sa.insert(la).values(id=attempt_id, account_key=key, at=now))
        with self.db.read() as conn:
            times = (
                conn.execute(
                    sa.select(la.c.at).where(la.c.account_key == key, la.c.at > start).order_by(la.c.at)
                )
                .scalars()
                .all()
            )
        if len(times) <= limit:
            return 0.0, attempt_id
        self.forget(key, attempt_id)
        return max(1.0, (times[0] + timedelta(seconds=window_s) - now).total_seconds()), ""

    def forget(self, key: str, attempt_id: str) -> None:
        with self.db.begin() as conn:
            conn.execute(sa.delete(t.login_attempts).where(t.login_attempts.c.id == attempt_id))
