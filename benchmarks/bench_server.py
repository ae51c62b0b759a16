"""Server throughput on loopback: job submissions/s and status-read latency, SQLite vs PostgreSQL;
and the queue's own overhead per job (enqueue → a consumer runs a no-op) for SqliteHuey, Redis
and PostgresHuey.

    .venv/bin/python benchmarks/bench_server.py [--clients 8] [--seconds 5] [--queue-jobs 50]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres) and Redis at 127.0.0.1:6379, as the tests do.
Each API phase runs ``create_app`` under one uvicorn process (in a thread, like the tests) with
the Redis queue; clients are threads with their own httpx.Client, each bounded by time and a
request count. Submissions go through everything a real one does: auth, rate limit, the
idempotency check, the upload lookup, the credit reservation and the enqueue.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def seed(db: Any) -> tuple[str, str]:
    """A funded user with an API key and a ready upload, written straight to the database."""
    from octavia.server import credits
    from octavia.server import tables as t
    from octavia.server.db import new_id, utcnow
    from octavia.server.security import API_KEY_PREFIX, sha256_hex

    uid, upl, token = new_id("usr"), new_id("upl"), API_KEY_PREFIX + secrets.token_urlsafe(24)
    with db.begin() as conn:
        conn.execute(t.users.insert().values(id=uid, email=f"bench-{uid}@example.com", password_hash="!",
                                             email_verified_at=utcnow(), is_admin=False, created_at=utcnow()))  # fmt: skip
        conn.execute(t.api_keys.insert().values(id=new_id("key"), user_id=uid, name="bench", prefix=token[:12],
                                                key_hash=sha256_hex(token), created_at=utcnow()))  # fmt: skip
        conn.execute(t.uploads.insert().values(id=upl, user_id=uid, filename="a.wav", content_type="audio/wav",
                                               size=1000, storage_key=f"uploads/{uid}/{upl}/source.wav",
                                               status="ready", duration=3.0, created_at=utcnow()))  # fmt: skip
        credits.grant(conn, user_id=uid, amount=10_000_000, note="bench")
    return token, upl


def load(
    url: str, token: str, clients: int, seconds: float, max_per_client: int, make_req: Any
) -> dict[str, Any]:
    import httpx

    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(i: int) -> None:
        mine: list[float] = []
        bad = 0
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
            end = time.perf_counter() + seconds
            for n in range(max_per_client):
                if time.perf_counter() > end:
                    break
                t0 = time.perf_counter()
                r = make_req(c, i, n)
                mine.append(time.perf_counter() - t0)
                bad += r.status_code >= 300
        with lock:
            lat.extend(mine)
            errors[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - started
    return {"n": len(lat), "rps": len(lat) / wall, "p50": pct(lat, 50) * 1000, "p99": pct(lat, 99) * 1000,
            "errors": errors[0]}  # fmt: skip


def bench_api(label: str, db_url: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    import socket

    import uvicorn

    from octavia.server.app import create_app
    from octavia.server.db import Database, migrate
    from octavia.server.settings import ServerSettings
    from octavia.server.tasks import make_huey

    migrate(db_url)
    from octavia.server import polar

    polar.warm_up()  # ~3 s of CPU once per process; the app's startup would run it during the first phase
    qname = f"octavia-bench-{uuid.uuid4().hex[:6]}"
    os.environ["OCTAVIA_QUEUE_NAME"] = qname
    settings = ServerSettings(data_dir=tmp / label, database_url=db_url, auto_migrate=False, queue="redis",
                              redis_url=REDIS, secret_key="bench", rate_limit_jobs="1000000/minute")  # fmt: skip
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", access_log=False))
    th = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    while not server.started:
        time.sleep(0.01)
    db = Database(db_url)
    token, upl = seed(db)
    body = {"kind": "subtitle", "upload_id": upl, "options": {"whisper_model": "tiny.en"}}
    ids: list[str] = []

    def submit(c: Any, i: int, n: int) -> Any:
        r = c.post("/v1/jobs", json=body, headers={"Idempotency-Key": f"{i}-{n}"})
        if r.status_code == 201:
            ids.append(r.json()["id"])
        return r

    sub = load(url, token, args.clients, args.seconds, args.max_requests, submit)
    read = load(url, token, args.clients, args.seconds, args.max_requests,
                lambda c, i, n: c.get(f"/v1/jobs/{ids[(i * 7919 + n) % len(ids)]}"))  # fmt: skip
    server.should_exit = True
    th.join(10)
    make_huey(settings, name=qname).flush()
    db.dispose()
    return [{"db": label, "what": "POST /v1/jobs", **sub}, {"db": label, "what": "GET /v1/jobs/{id}", **read}]


# ------------------------------------------------------------------ queue overhead


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


def bench_queue(backend: str, pg_dsn: str, jobs: int) -> dict[str, Any]:
    tmp = tempfile.mkdtemp(prefix="octavia-qbench-")
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
        h.flush()
    return {"backend": backend, "p50": pct(idle, 50) * 1000, "p99": pct(idle, 99) * 1000,
            "burst_per_job": burst / jobs * 1000}  # fmt: skip


def main() -> None:
    import logging

    import psycopg

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--max-requests", type=int, default=2000, help="per client and phase")
    ap.add_argument("--queue-jobs", type=int, default=50)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    pg_name = f"octavia_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{pg_name}"')
    pg_dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + pg_name
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="octavia-bench-") as d:
            tmp = Path(d)
            rows += bench_api("sqlite", f"sqlite:///{tmp / 'bench.db'}", args, tmp)
            rows += bench_api("postgres", pg_dsn.replace("postgresql://", "postgresql+psycopg://"), args, tmp)
        queue = [bench_queue(b, pg_dsn, args.queue_jobs) for b in ("sqlite", "redis", "postgres")]
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    print(
        f"\nAPI on loopback, {args.clients} concurrent clients, {args.seconds:g} s per phase, one uvicorn process"
    )
    print(
        f"{'database':<10} {'request':<20} {'requests':>8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
    )
    for r in rows:
        print(
            f"{r['db']:<10} {r['what']:<20} {r['n']:>8} {r['rps']:>8.1f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['errors']:>6}"
        )
    print(f"\nQueue overhead, no-op job, one consumer (max_delay 1 s), {args.queue_jobs} jobs")
    print(f"{'backend':<10} {'idle enqueue→run p50 ms':>24} {'p99 ms':>8} {'burst ms/job':>13}")
    for q in queue:
        print(f"{q['backend']:<10} {q['p50']:>24.2f} {q['p99']:>8.2f} {q['burst_per_job']:>13.2f}")


if __name__ == "__main__":
    main()
