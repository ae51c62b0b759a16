"""The queue's own overhead per job for ``bench_server.py --queue-jobs N``: enqueue → a Huey
consumer (another process) runs a no-op, for SqliteHuey, Redis and PostgresHuey; each backend
in a fresh queue (and for PostgreSQL a fresh database), removed afterwards."""

from __future__ import annotations

import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from _server_proc import REDIS, database
from _stats import pct


def _noop_huey(backend: str, name: str, pg_dsn: str, tmp: str) -> Any:
    import huey

    if backend == "sqlite":
        h: Any = huey.SqliteHuey(name, filename=f"{tmp}/q.db")
    elif backend == "redis":
        h = huey.RedisHuey(name, url=REDIS)
    else:
        h = huey.PostgresHuey(name, dsn=pg_dsn)

    @h.task(name="bench.noop")
    def noop(t0: float) -> float:
        return time.time() - t0  # enqueue → a worker runs it

    return h, noop


def _consume(backend: str, name: str, pg_dsn: str, tmp: str) -> None:
    h, _ = _noop_huey(backend, name, pg_dsn, tmp)
    # max_delay=1.0: what `octavia worker` uses, so a polling backend picks up within ~1 s.
    h.create_consumer(workers=1, periodic=False, max_delay=1.0).run()


def bench_queue(backend: str, jobs: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="octavia-qbench-") as tmp,
        database("postgres" if backend == "postgres" else "sqlite", Path(tmp)) as url,
    ):
        pg_dsn = url.replace("postgresql+psycopg://", "postgresql://")
        name = f"qbench-{uuid.uuid4().hex[:6]}"
        h, noop = _noop_huey(backend, name, pg_dsn, tmp)
        proc = multiprocessing.get_context("fork").Process(target=_consume, args=(backend, name, pg_dsn, tmp))
        proc.start()
        try:
            noop(time.time()).get(blocking=True, timeout=30)  # warm up: the consumer is running
            idle: list[float] = []
            for _ in range(jobs):  # one at a time: the latency a lone job sees
                idle.append(noop(time.time()).get(blocking=True, timeout=30))
                time.sleep(0.05)
            t0 = time.perf_counter()
            results = [noop(time.time()) for _ in range(jobs)]
            for r in results:
                r.get(blocking=True, timeout=60)
            burst = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.join(10)
            h.flush()  # a PostgreSQL database is dropped WITH (FORCE): open connections too
    return {"backend": backend, "p50": pct(idle, 50) * 1000, "p99": pct(idle, 99) * 1000,
            "burst_per_job": burst / jobs * 1000}  # fmt: skip


def print_queue(jobs: int) -> None:
    rows = [bench_queue(b, jobs) for b in ("sqlite", "redis", "postgres")]
    print(f"\nQueue overhead, no-op job, one consumer (max_delay 1 s), {jobs} jobs\n")
    print("| backend | idle enqueue→run p50 ms | p99 ms | burst ms/job |\n|---|---|---|---|")
    for q in rows:
        print(f"| {q['backend']} | {q['p50']:.2f} | {q['p99']:.2f} | {q['burst_per_job']:.2f} |")
