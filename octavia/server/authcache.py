"""A per-process cache of bearer-token digest → the user it authenticates, for a short TTL.

Every API request authenticates; without this each one is a database query (and a thread
hop, since queries are blocking), usually the same query for the same token as a moment ago.

Revocation semantics (see docs/security.md):

* **In this process, at once.** :meth:`AuthCache.watch` listens on the app's engine: any
  UPDATE or DELETE of ``users``, ``sessions`` or ``api_keys`` (logout, key revocation, a
  password change, account deletion, email verification, admin changes) empties the cache
  when it executes and again when its connection goes back to the pool, i.e. after its
  commit. A lookup that started before the change is stored with the older *generation* and
  is never served, so a revoked token cannot be re-cached from a read that raced the revoke.
* **In other processes** (``--workers N``, other machines, ``octavia admin`` commands): within
  :data:`TTL_S` seconds, when their entry expires. A session past its ``expires_at`` is never
  served from the cache either.

Only successful lookups are cached (an attacker's random tokens cost memory nothing), and the
cache is bounded: when full it is emptied, which only costs queries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from octavia.server.deps import AuthUser

#: How long another process may keep serving a credential that was revoked elsewhere.
TTL_S = 2.0
MAX_ENTRIES = 10_000
_WATCHED = frozenset({"users", "sessions", "api_keys"})
_DIRTY = "octavia_auth_dirty"
#: Execution options of an UPDATE of a watched table that changes no credential (the SQLite
#: user lock, ``last_used_at``): ``conn.execute(stmt, params, execution_options=NEUTRAL)``.
NEUTRAL = {"octavia_auth_neutral": True}


class AuthCache:
    def __init__(self, ttl_s: float = TTL_S, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.ttl_s, self.max_entries, self._clock = ttl_s, max_entries, clock
        self._entries: dict[str, tuple[AuthUser, int, float]] = {}
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def generation(self) -> int:
        """Take this *before* the lookup whose result is then :meth:`put`."""
        return self._generation

    def get(self, digest: str) -> AuthUser | None:
        found = self._entries.get(digest)
        if found is None:
            return None
        user, generation, until = found
        if generation != self._generation or self._clock() >= until:
            return None
        return user

    def put(self, digest: str, user: AuthUser, generation: int, valid_for_s: float | None = None) -> None:
        """Cache ``user`` for the TTL, or less when its credential expires sooner."""
        ttl = self.ttl_s if valid_for_s is None else min(self.ttl_s, valid_for_s)
        if ttl <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return  # something changed credentials while the lookup ran
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[digest] = (user, generation, self._clock() + ttl)

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def watch(self, engine: Engine) -> None:
        """Invalidate on every UPDATE/DELETE of a credential table through ``engine``."""

        @event.listens_for(engine, "after_cursor_execute")
        def _after_execute(
            conn: Any, _cursor: Any, _stmt: str, _params: Any, context: Any, _many: bool
        ) -> None:
            compiled = getattr(context, "compiled", None)
            if compiled is None or not (context.isupdate or context.isdelete):
                return
            if context.execution_options.get("octavia_auth_neutral"):
                return
            table = getattr(compiled.statement, "table", None)
            if getattr(table, "name", None) in _WATCHED:
                conn.info[_DIRTY] = True
                self.invalidate()

        @event.listens_for(engine.pool, "checkin")
        def _after_commit(_dbapi_conn: Any, record: Any) -> None:
            # Checked in = its transaction is over, so a lookup now reads the committed change.
            if record is not None and record.info.pop(_DIRTY, False):
                self.invalidate()


__all__ = ["MAX_ENTRIES", "NEUTRAL", "TTL_S", "AuthCache"]
