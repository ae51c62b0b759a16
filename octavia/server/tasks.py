"""The Huey queue: built from settings at the edge, carrying nothing but job ids.

The jobs table is the truth (see ``worker.py`` and ``reaper.py``); a Huey message only says
"go look at job X". Every storage Huey has removes a message *before* it runs, so a killed
worker loses it: the claim + heartbeat + reaper pattern makes that safe, and it also makes
duplicate messages harmless (the second claim finds the job no longer ``queued``).

Backends (``settings.queue``):

* ``sqlite`` (default): a file ``<data_dir>/queue.db``; one machine, several worker processes.
* ``redis``: ``settings.redis_url``; many machines, ~50 ms pickup (BRPOP).
* ``postgres``: Huey's native PostgresHuey (psycopg 3, LISTEN/NOTIFY + SKIP LOCKED) in the
  same database as the app (``huey_*`` tables); many machines without Redis.
* ``immediate``: tests; a task runs synchronously in the caller, in memory.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from octavia.errors import InputError, MissingDependency
from octavia.server.loop_local import LoopLocal, redis_client

if TYPE_CHECKING:
    from huey import Huey

    from octavia.server.settings import ServerSettings

log = logging.getLogger("octavia.worker")

TASK_NAME = "octavia.run_job"
DEFAULT_QUEUE_NAME = "octavia"
Runner = Callable[[str], None]


def libpq_dsn(database_url: str) -> str:
    """``postgresql+psycopg://u@h:5432/db`` → ``postgresql://u@h:5432/db`` (what psycopg takes)."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or not scheme.startswith("postgres"):
        raise InputError(
            f"OCTAVIA_QUEUE=postgres needs a PostgreSQL database URL, not {scheme or database_url!r}.",
            "Set OCTAVIA_DATABASE_URL=postgresql+psycopg://… or choose OCTAVIA_QUEUE=sqlite|redis.",
        )
    return f"postgresql://{rest}"


def make_huey(settings: ServerSettings, *, name: str | None = None) -> Huey:
    """A Huey instance for ``settings.queue``; ``name`` separates queues sharing one backend."""
    try:
        import huey
    except ImportError as exc:  # pragma: no cover - the server extra brings it
        raise MissingDependency("The job queue needs huey.", "pip install 'octavia-media[server]'") from exc

    # OCTAVIA_QUEUE_NAME lets several deployments (or test runs) share one Redis/PostgreSQL.
    qname = name or os.environ.get("OCTAVIA_QUEUE_NAME") or DEFAULT_QUEUE_NAME
    # results=False: job state lives in the jobs table; Huey results are read destructively.
    if settings.queue == "immediate":
        return huey.MemoryHuey(qname, immediate=True, results=False)
    if settings.queue == "redis":
        if not settings.redis_url:
            raise InputError("OCTAVIA_QUEUE=redis needs OCTAVIA_REDIS_URL.", "e.g. redis://127.0.0.1:6379/0")
        return huey.RedisHuey(qname, url=settings.redis_url, results=False)
    if settings.queue == "postgres":
        return huey.PostgresHuey(qname, dsn=libpq_dsn(settings.db_url), results=False, table_prefix="huey")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return huey.SqliteHuey(qname, filename=str(settings.data_dir / "queue.db"), results=False)


class JobQueue:
    """Enqueue job ids on a Huey instance; in a worker process, also run them.

    The API process builds one without a runner (it only enqueues; in immediate mode it sets
    a runner so jobs run inline). ``octavia worker`` sets the runner to a Worker.
    """

    def __init__(self, huey: Huey, runner: Runner | None = None, *, redis_url: str | None = None) -> None:
        """``redis_url``: where ``huey`` (a RedisHuey) lives, for :meth:`enqueue_async`'s own
        asyncio client (Huey's storage keeps a blocking client and forgets the URL)."""
        self.huey = huey
        self._runner = runner
        self._task = register_tasks(huey, self._run)
        self._redis: LoopLocal[Any] | None = None
        if redis_url is not None and _is_plain_redis_list(huey):
            self._redis = redis_client(redis_url)

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> JobQueue:
        """The API's queue: ``make_huey(settings)``, enqueueing without a runner."""
        return cls(make_huey(settings), redis_url=settings.redis_url if settings.queue == "redis" else None)

    def set_runner(self, runner: Runner) -> None:
        self._runner = runner

    def _run(self, job_id: str) -> None:
        if self._runner is None:
            raise RuntimeError("This process only enqueues jobs; run `octavia worker` to execute them.")
        self._runner(job_id)

    @property
    def immediate(self) -> bool:
        return bool(self.huey.immediate)

    def enqueue(self, job_id: str, *, delay: float = 0.0) -> None:
        if delay > 0:
            self._task.schedule(args=(job_id,), delay=delay)
        else:
            self._task(job_id)

    async def enqueue_async(self, job_id: str) -> None:
        """:meth:`enqueue` for an event loop: on Redis the push is a ``redis.asyncio`` call on
        the loop (the bytes Huey's own enqueue writes); the other backends block (a SQLite file
        lock, a PostgreSQL round trip, an immediate run), so there it runs in a worker thread."""
        if self._redis is None or self.immediate:
            import anyio.to_thread

            await anyio.to_thread.run_sync(self.enqueue, job_id)
            return
        # Huey's enqueue minus what Octavia does not use (signals, result handles; results=False).
        data = self.huey.serialize_task(self._task.s(job_id))
        await self._redis.get().lpush(self.huey.storage.queue_key, data)

    def pending(self) -> int:
        """Messages waiting in the backend (raises if it cannot be reached)."""
        return int(self.huey.pending_count())

    def scheduled(self) -> int:
        return int(self.huey.scheduled_count())


def _is_plain_redis_list(huey: Huey) -> bool:
    from huey.storage import RedisStorage

    # Exactly RedisStorage: its priority and expiring subclasses store messages differently.
    return type(huey.storage) is RedisStorage


def register_tasks(huey: Huey, run: Runner) -> Any:
    """Register the one task, ``octavia.run_job(job_id)``, on ``huey``; returns its TaskWrapper.

    The explicit name makes the API and every worker agree on it whatever module defines them.
    No Huey-level retries: retries are decided by the worker from the error's type and
    recorded in the jobs table, where they survive a crash.
    """

    @huey.task(name=TASK_NAME)
    def run_job(job_id: str) -> None:
        run(job_id)

    return run_job


__all__ = ["DEFAULT_QUEUE_NAME", "TASK_NAME", "JobQueue", "libpq_dsn", "make_huey", "register_tasks"]
