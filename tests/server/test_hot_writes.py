"""Writes and enqueues from the event loop keep their guarantees: a job-creation transaction
runs on the loop only while SQLite's writer lock is free (else a thread waits for it, and the
loop stays free), the no-wait flag stays with its task, and the asyncio push to Redis is a
message a real Huey consumer runs."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

from octavia.server.db import Database, migrate
from octavia.server.deps import run_write
from octavia.server.loop_local import LoopLocal
from octavia.server.sqlite_lock import WriterBusy
from octavia.server.tasks import JobQueue
from tests.server.test_hot_paths import _HOLDER, _py


def _counter_db(tmp_path: Path) -> tuple[str, Database]:
    url = f"sqlite:///{tmp_path / 'octavia.db'}"
    migrate(url)
    db = Database(url)
    with db.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE written (tag TEXT NOT NULL)")
    return url, db


def _tags(db: Database) -> list[str]:
    with db.read() as conn:
        return [r[0] for r in conn.exec_driver_sql("SELECT tag FROM written ORDER BY rowid")]


def test_loop_writes_run_inline_when_the_lock_is_free_and_wait_in_a_thread_when_not(tmp_path: Path) -> None:
    url, db = _counter_db(tmp_path)
    assert db.writes_inline

    def write(tag: str) -> int:
        with db.begin() as conn:
            conn.exec_driver_sql("INSERT INTO written VALUES (?)", (tag,))
        return threading.get_ident()

    async def main() -> None:
        loop_thread = threading.get_ident()
        assert await run_write(db, write, "free") == loop_thread
        holder = _py(_HOLDER, url, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            busy = asyncio.create_task(run_write(db, write, "busy"))
            await asyncio.sleep(0.3)
            assert not busy.done()  # waiting for the other process, in a thread: the loop runs on
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert await asyncio.wait_for(busy, 30) != loop_thread
        finally:
            holder.kill()
            holder.wait()

    asyncio.run(main())
    assert _tags(db) == ["free", "busy"]  # each written once: the busy try wrote nothing
    db.dispose()


def test_while_one_loop_write_waits_in_a_thread_the_others_queue_without_threads(tmp_path: Path) -> None:
    url, db = _counter_db(tmp_path)
    entered: list[tuple[str, bool]] = []  # (tag, on the loop's thread)

    def write(tag: str) -> None:
        entered.append((tag, threading.get_ident() == loop_thread))
        with db.begin() as conn:
            conn.exec_driver_sql("INSERT INTO written VALUES (?)", (tag,))

    async def main() -> None:
        holder = _py(_HOLDER, url, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            tasks = [asyncio.create_task(run_write(db, write, f"w{i}")) for i in range(5)]
            await asyncio.sleep(0.3)
            # w0 tried on the loop, found the lock busy and waits in a thread; w1..w4 wait their
            # turn on the loop (a cascade of threads each waiting for the lock cost 30 % of the
            # throughput of two server processes)
            assert entered == [("w0", True), ("w0", False)]
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        finally:
            holder.kill()
            holder.wait()

    loop_thread = threading.get_ident()
    asyncio.run(main())
    assert entered[2:] == [(f"w{i}", True) for i in range(1, 5)]  # then on the loop, in order
    assert _tags(db) == [f"w{i}" for i in range(5)]
    db.dispose()


def test_not_waiting_is_refused_while_another_thread_writes_and_stays_in_its_block(tmp_path: Path) -> None:
    _url, db = _counter_db(tmp_path)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.begin() as conn:
            conn.exec_driver_sql("INSERT INTO written VALUES ('thread')")
            held.set()
            release.wait(30)

    th = threading.Thread(target=hold)
    th.start()
    try:
        assert held.wait(30)
        with db.without_waiting(), pytest.raises(WriterBusy), db.begin() as conn:
            conn.exec_driver_sql("INSERT INTO written VALUES ('refused')")
    finally:
        release.set()
        th.join(30)
    with db.begin() as conn:  # outside the block, begin() waits (and here gets the lock)
        conn.exec_driver_sql("INSERT INTO written VALUES ('after')")
    assert _tags(db) == ["thread", "after"]
    db.dispose()


def test_loop_local_builds_one_object_per_loop_and_drops_it_with_the_loop() -> None:
    built: list[object] = []

    def build() -> object:
        built.append(object())
        return built[-1]

    local: LoopLocal[object] = LoopLocal(build)

    async def twice() -> bool:
        return local.get() is local.get()

    assert asyncio.run(twice()) and asyncio.run(twice())
    assert len(built) == 2  # a new loop, a new object
    assert len(local) <= 1  # the finished loops' objects are not kept alive


@pytest.mark.redis
def test_the_async_enqueue_on_redis_is_a_message_a_huey_consumer_runs() -> None:
    from huey import RedisHuey

    url = "redis://127.0.0.1:6379/15"
    ran: list[str] = []
    huey = RedisHuey(f"octavia-test-{uuid.uuid4().hex}", url=url, results=False)
    queue = JobQueue(huey, ran.append, redis_url=url)
    try:
        assert queue._redis is not None  # the asyncio path, not a thread around enqueue()
        asyncio.run(queue.enqueue_async("job_a"))
        queue.enqueue("job_b")  # Huey's own enqueue, into the same list
        assert queue.pending() == 2
        for _ in range(2):  # what `octavia worker`'s consumer does with each message
            task = huey.dequeue()
            assert task is not None
            huey.execute(task)
        assert ran == ["job_a", "job_b"] and queue.pending() == 0
    finally:
        huey.storage.flush_all()


def test_the_async_enqueue_on_other_backends_goes_through_huey(tmp_path: Path) -> None:
    from huey import SqliteHuey

    ran: list[str] = []
    huey = SqliteHuey("octavia-test", filename=str(tmp_path / "queue.db"), results=False)
    queue = JobQueue(huey, ran.append, redis_url="redis://127.0.0.1:6379/15")  # ignored: not Redis
    assert queue._redis is None
    asyncio.run(queue.enqueue_async("job_a"))
    task = huey.dequeue()
    assert task is not None
    huey.execute(task)
    assert ran == ["job_a"]
