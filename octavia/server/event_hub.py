"""The event hub: one poller per server process for every open job event stream.

Each open ``GET /v1/jobs/{id}/events`` subscribes here (job id, last event id sent) instead of
polling the database itself: at two queries per stream every 0.5 s, 1,000 open streams made
~4,000 queries a second and starved every other request. The hub's task reads, for all due
subscriptions at once, the jobs' statuses and then every event past each job's position (two
statements in one read transaction, in a thread) and puts each subscriber's new rows on its
own asyncio queue. With no subscribers it waits and reads nothing.

*When* a job is read: a new subscription at once (batched with any others that came
meanwhile); then on the grid of its stream's ``poll`` interval, rounded to a multiple of
:data:`QUANTUM_S` and aligned to the clock, so that streams with the same interval share one
read and the hub reads at most ``1 / QUANTUM_S`` times a second whatever the streams ask for.
On PostgreSQL :func:`octavia.server.jobs.event` also sends ``pg_notify`` (committed with the
row); the hub LISTENs on one dedicated connection (:mod:`octavia.server.event_listen`), reads a
notified job at once and otherwise only every ``safety_s``, in case a notification was lost.
While that connection is down the hub reads on the poll grid again, and after each
(re)connection it reads every subscribed job once.

The stream's end is decided here: the statuses are read *before* the events, so the events
read include everything written up to that status (a terminal status comes with its terminal
event, written in the same transaction); a job gone, finished or waiting in review ends its
streams once they have been given those events.
"""

from __future__ import annotations

import asyncio
import logging
import math
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy.exc import SQLAlchemyError

from octavia.server import jobs as J
from octavia.server.event_reads import events_for, job_statuses

if TYPE_CHECKING:
    from octavia.server.db import Database

log = logging.getLogger("octavia.server")
QUANTUM_S = 0.05  # the smallest poll interval a stream may ask for (the route's bound)
MIN_GAP_S = 0.01  # between two reads: notifications that arrive together share one read
RETRY_S = 1.0  # after a failed read (the database restarting, say)
MAX_JOBS_PER_READ = 2000  # bound parameters per statement: 2 per job, well under SQLite's 32766
MAX_ROWS_PER_READ = 2000
_ENDING = J.TERMINAL | {"review"}


@dataclass(frozen=True, slots=True)
class Update:
    """New rows of the subscriber's job, in id order; ``end``: the stream ends after them."""

    rows: tuple[Any, ...] = ()
    end: bool = False


class Subscription:
    """One open stream: its job, the last event id it was given, its poll interval in quanta."""

    __slots__ = ("after", "job_id", "queue", "steps")

    def __init__(self, job_id: str, after: int, steps: int) -> None:
        self.job_id, self.after, self.steps = job_id, after, steps
        self.queue: asyncio.Queue[Update] = asyncio.Queue()


@dataclass
class HubStats:
    """Counters for tests and operators; written on the event loop only."""

    reads: int = 0  # read transactions, each the statuses then the events of many jobs
    scheduled_reads: int = 0  # those that included a job because its interval came round
    jobs_read: int = 0
    notifications: int = 0  # NOTIFYs received for a subscribed job
    listener_connects: int = 0
    read_errors: int = 0


@dataclass(eq=False)
class _Group:
    """The subscriptions with one poll interval, read together on that interval's grid."""

    steps: int
    next_due: float
    subs: set[Subscription] = field(default_factory=set)


class EventHub:
    """Per-process; built by ``create_app``, started by its lifespan (or the first stream)."""

    def __init__(self, db: Database, *, safety_s: float = 5.0, listen: bool | None = None) -> None:
        self.db = db
        self.safety_s = safety_s  # with LISTEN up: how often a job is read without a notification
        self._listen = db.dialect == "postgresql" if listen is None else listen
        self.stats = HubStats()
        self.listening = False
        self.subscribers = 0
        self._subs: dict[str, set[Subscription]] = {}
        self._groups: dict[int, _Group] = {}
        self._asap: set[str] = set()  # jobs to read at the next turn: new streams, notifications
        self._wake = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Start the poller on the running loop; idempotent (each subscription calls it too)."""
        if self._poller is None or self._poller.done():
            self._wake = asyncio.Event()  # bound to this loop
            self._poller = asyncio.get_running_loop().create_task(self._run(), name="octavia-event-hub")
            self._poller.add_done_callback(self._poller_ended)

    async def stop(self) -> None:
        tasks = [task for task in (self._listener, self._poller) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        self._listener = self._poller = None
        self._end_all()

    def _poller_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("the event hub stopped; open streams end (clients reconnect)", exc_info=exc)
        self._end_all()

    def _end_all(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                self._finish(sub, Update(end=True))

    # ---------------------------------------------------------------- subscriptions

    def subscribe(self, job_id: str, after: int, poll_s: float) -> Subscription:
        self.start()
        if self._listen and (self._listener is None or self._listener.done()):
            from octavia.server.event_listen import listen

            self._listener = asyncio.get_running_loop().create_task(
                listen(self, self.db.url), name="octavia-event-listen"
            )
        sub = Subscription(job_id, after, max(1, round(poll_s / QUANTUM_S)))
        self._subs.setdefault(job_id, set()).add(sub)
        group = self._groups.get(sub.steps)
        if group is None:
            group = self._groups[sub.steps] = _Group(sub.steps, self._next_due(sub.steps))
        group.subs.add(sub)
        self.subscribers += 1
        self._asap.add(job_id)
        self._wake.set()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Idempotent: the hub drops an ended stream itself, and the stream drops itself on exit."""
        subs = self._subs.get(sub.job_id)
        if subs is None or sub not in subs:
            return
        subs.discard(sub)
        if not subs:
            del self._subs[sub.job_id]
        group = self._groups[sub.steps]
        group.subs.discard(sub)
        if not group.subs:
            del self._groups[sub.steps]
        self.subscribers -= 1

    def _finish(self, sub: Subscription, update: Update) -> None:
        sub.queue.put_nowait(update)
        self.unsubscribe(sub)

    # ---------------------------------------------------------------- the listener's calls

    def notified(self, job_id: str) -> None:
        if job_id in self._subs:
            self.stats.notifications += 1
            self._asap.add(job_id)
            self._wake.set()

    def listener_up(self) -> None:
        """LISTEN is in place: read every job once (what was written before it is not notified)."""
        self.stats.listener_connects += 1
        self._set_listening(True)
        self._asap.update(self._subs)

    def listener_down(self) -> None:
        self._set_listening(False)

    def _set_listening(self, on: bool) -> None:
        self.listening = on
        for group in self._groups.values():
            group.next_due = self._next_due(group.steps)
        self._wake.set()

    # ---------------------------------------------------------------- reading

    def _interval(self, steps: int) -> float:
        every = steps * QUANTUM_S
        return max(every, self.safety_s) if self.listening else every

    def _next_due(self, steps: int) -> float:
        every = self._interval(steps)
        return (math.floor(asyncio.get_running_loop().time() / every) + 1) * every

    def _due(self) -> tuple[set[str], bool]:
        """The jobs to read now, and whether an interval (not only new work) brought any."""
        jobs = self._asap & self._subs.keys()
        now = asyncio.get_running_loop().time()
        scheduled = False
        for group in self._groups.values():
            if group.next_due <= now:
                jobs.update(sub.job_id for sub in group.subs)
                group.next_due = self._next_due(group.steps)
                scheduled = True
        return jobs, scheduled

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            jobs, scheduled = self._due()
            if not jobs:
                self._asap.clear()
                wait = min((g.next_due for g in self._groups.values()), default=None)
                timeout = None if wait is None else max(0.0, wait - loop.time())
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            batch = list(jobs)[:MAX_JOBS_PER_READ]
            self._asap = jobs.difference(batch)  # and whatever arrives while this read runs
            positions = {job: min(sub.after for sub in self._subs[job]) for job in batch}
            try:
                statuses, rows = await anyio.to_thread.run_sync(self._read, positions)
            except SQLAlchemyError:
                self.stats.read_errors += 1
                log.warning("event hub: reading job events failed; retrying", exc_info=True)
                self._asap.update(positions)
                await asyncio.sleep(RETRY_S)
                continue
            self.stats.reads += 1
            self.stats.scheduled_reads += scheduled
            self.stats.jobs_read += len(positions)
            self._deliver(positions, statuses, rows)
            await asyncio.sleep(MIN_GAP_S)

    def _read(self, positions: dict[str, int]) -> tuple[dict[str, str], list[Any]]:
        with self.db.read() as conn:
            statuses = job_statuses(conn, positions)  # first: see the module's docstring
            return statuses, events_for(conn, positions, MAX_ROWS_PER_READ)

    def _deliver(self, positions: dict[str, int], statuses: dict[str, str], rows: list[Any]) -> None:
        cut = len(rows) >= MAX_ROWS_PER_READ  # some jobs may have more: read them all again
        by_job: dict[str, list[Any]] = {}
        for row in rows:
            by_job.setdefault(row.job_id, []).append(row)
        for job_id in positions:
            status = statuses.get(job_id)  # None: the job is gone
            ending = not cut and (status is None or status in _ENDING)
            job_rows = by_job.get(job_id, [])
            for sub in list(self._subs.get(job_id, ())):
                new = tuple(row for row in job_rows if row.id > sub.after)
                if new:
                    sub.after = int(new[-1].id)
                if ending or any(row.type in J.TERMINAL for row in new):
                    # Everything up to the status read is in ``new``: nothing more to send.
                    self._finish(sub, Update(new, end=True))
                elif new:
                    sub.queue.put_nowait(Update(new))
        if cut:
            self._asap.update(positions)


__all__ = ["QUANTUM_S", "EventHub", "HubStats", "Subscription", "Update"]
