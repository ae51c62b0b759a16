"""Objects that belong to one event loop, such as ``redis.asyncio`` clients.

An asyncio connection is bound to the loop that opened it: reused from another loop it fails
("attached to a different loop"). A server process runs one loop, but tests, the CLI and
benchmarks start several, one after another or side by side. :class:`LoopLocal` keeps one
object per running loop, built on first use and held weakly, so it goes with its loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class LoopLocal(Generic[T]):
    """``get()`` answers this loop's object, calling ``build()`` the first time on each loop."""

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None:
            found = self._build()
            self._by_loop[loop] = found
        return found

    def pop(self) -> T | None:
        """Forget this loop's object and answer it (None if none was built here)."""
        return self._by_loop.pop(asyncio.get_running_loop(), None)

    def __len__(self) -> int:
        return len(self._by_loop)


def redis_client(url: str) -> LoopLocal[Any]:
    """A ``redis.asyncio.Redis`` for ``url`` per loop (redis imported on first use)."""

    def build() -> Any:
        import redis.asyncio

        return redis.asyncio.Redis.from_url(url)

    return LoopLocal(build)


__all__ = ["LoopLocal", "redis_client"]
