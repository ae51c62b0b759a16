"""Sliding-window rate limits keyed by client IP + route, in process or shared through Redis.

Use as a route dependency: ``dependencies=[Depends(rate_limit("auth:login", "rate_limit_auth"))]``
where the second argument names a ServerSettings field such as ``"10/minute"``. A denied
request gets 429 with ``Retry-After``. In-process by default; with ``redis_url`` set, every API
process shares one window per key (a sorted set of hit times, updated atomically in Lua).
"""

from __future__ import annotations

import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import Request

from octavia.errors import InputError
from octavia.server.problems import ApiError, raises

_UNITS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


def parse_rate(rate: str) -> tuple[int, float]:
    """``"10/minute"`` → (10, 60.0); ``"100/5 minutes"`` → (100, 300.0)."""
    m = _RATE.match(rate)
    if not m:
        raise InputError(f"Bad rate limit {rate!r}.", "Write it like '10/minute' or '100/5 minutes'.")
    return int(m.group(1)), float(m.group(2) or 1) * _UNITS[m.group(3)]


class Limiter(Protocol):
    def hit(self, key: str, limit: int, window_s: float) -> float:
        """Record a hit; return 0 if allowed, else the seconds until one would be."""
        ...


class MemoryLimiter:
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


# KEYS[1]=zset; ARGV: now_ms, window_ms, limit, member. Returns 0 (allowed) or ms to wait.
_LUA = """
local now = tonumber(ARGV[1]); local window = tonumber(ARGV[2]); local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return 0
"""


class RedisLimiter:
    def __init__(self, url: str, prefix: str = "octavia:rl:") -> None:
        import redis

        self._redis: Any = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self.prefix = prefix

    def hit(self, key: str, limit: int, window_s: float) -> float:
        # Redis server time, so several API machines with skewed clocks agree.
        sec, usec = self._redis.time()
        now_ms = int(sec) * 1000 + int(usec) // 1000
        wait_ms = self._script(
            keys=[self.prefix + key], args=[now_ms, int(window_s * 1000), limit, uuid.uuid4().hex]
        )
        return int(wait_ms) / 1000.0


def client_ip(request: Request) -> str:
    # Behind a proxy, run uvicorn with --proxy-headers so request.client is the real peer.
    return request.client.host if request.client else "unknown"


def rate_limit(name: str, setting: str) -> Callable[[Request], None]:
    """A dependency enforcing ``settings.<setting>`` per client IP for the bucket ``name``."""

    @raises(429)
    def check(request: Request) -> None:
        rate = getattr(request.app.state.settings, setting)
        limit, window = parse_rate(rate)
        limiter: Limiter = request.app.state.rate_limiter
        wait = limiter.hit(f"{name}:{client_ip(request)}", limit, window)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"Too many requests: at most {rate}.",
                f"Retry in {math.ceil(wait)} s.",
                headers={"Retry-After": str(math.ceil(wait))},
            )

    return check
