"""Server throughput of a real ``octavia serve`` process, loaded by clients in other processes.

    .venv/bin/python benchmarks/bench_server.py [--ref REF] [--tree PATH] [--clients 16]
        [--seconds 3] [--warmup 3] [--workers 1 2] [--db sqlite postgres] [--streams 1000]
        [--phases post get list streams] [--json out.json]

Needs PostgreSQL at 127.0.0.1:5432 (user postgres) and Redis at 127.0.0.1:6379, as the tests
do. For each database × ``--workers`` × server tree it creates a fresh database (migrated by
that tree's code), seeds one funded user with an API key and a ready upload per client
connection, starts ``python -m octavia serve --workers N`` with that tree on PYTHONPATH and its
settings in ``OCTAVIA_*`` variables (Redis queue under a unique name, which nothing consumes,
so jobs stay queued; every per-IP rate limit raised to 1,000,000/minute but still checked),
waits for /healthz and the start-up CPU to settle, and runs the phases:

1. ``POST /v1/jobs``: auth, rate limit, Idempotency-Key, upload lookup, credit reservation,
   the job-creation transaction and the enqueue to Redis, as a user's request does;
2. ``GET /v1/jobs/{id}`` over the jobs each user created; 3. ``GET /v1/jobs?limit=50``;
4. another process opens ``--streams`` SSE streams (``GET /v1/jobs/{id}/events``, one per
   queued job, topping the jobs up first if phase 1 made too few) and holds them while
   ``GET /v1/jobs/{id}`` and ``POST /v1/jobs`` run again; it reports how many streams opened
   and how many were still open at the end.

Load: ``--clients`` keep-alive connections spread over ``--client-procs`` processes
(``_server_load.py``: asyncio, a raw HTTP/1.1 client of 0.03–0.3 ms CPU per request), each a
closed loop for ``--seconds`` after ``--warmup`` untimed requests each. Reported per phase: requests/s, p50/p90/p99/max latency, errors
by status (anything not 2xx), and the CPU the server's processes spent per request (psutil,
the serve process and its workers): on a shared, noisy machine that figure is the steadier one.

Before/after in one run: ``--ref REF`` (a temporary git worktree of REF) and ``--tree PATH``
(another checkout) add server trees; this checkout runs last (``--skip-current`` leaves it
out). With two trees a comparison table with ratios follows. ``--queue-jobs N`` also measures
the queue backends' own overhead (enqueue → a consumer runs a no-op); off by default.
Servers and client processes run in their own process groups, killed at the end (SIGTERM to
the benchmark included); temp dirs, the PostgreSQL database and the Redis keys are removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server_proc import ROOT, ClientProc, Server, Tree, database, ref_tree, seed
from _stats import GET, LIST, POST, STREAMS, Row, comparison, goal_lines, make_row, table

PHASES = ("post", "get", "list", "streams")
JOB_BODY = {"kind": "subtitle", "upload_id": "UPLOAD_ID", "options": {"whisper_model": "tiny.en"}}


def run_phase(server: Server, users: list[dict[str, Any]], kind: str, args: argparse.Namespace,
              *, seconds: float | None = None, limit: int = 0) -> tuple[list[dict[str, Any]], float]:  # fmt: skip
    """One closed-loop phase; returns the client processes' results and the server CPU seconds.
    Connection ``i`` acts as ``users[i % len(users)]``; created job ids go into that user."""
    procs = max(1, min(args.client_procs, args.clients))
    slots = [list(range(p, args.clients, procs)) for p in range(procs)]
    clients = [
        ClientProc(
            {
                "host": "127.0.0.1",
                "port": server.port,
                "kind": kind,
                "job_body": JOB_BODY,
                "seconds": seconds or args.seconds,
                "limit": limit,
                "warmup": 0 if limit else args.warmup,
                "users": [users[i % len(users)] for i in slot],
            }
        )
        for slot in slots
    ]
    try:
        for c in clients:
            c.read()  # ready: connected
        cpu0 = server.cpu_seconds()
        for c in clients:
            c.send("go")
        results = [c.read() for c in clients]
        cpu = server.cpu_seconds() - cpu0
    finally:
        for c in clients:
            c.close()
    for slot, result in zip(slots, results, strict=True):
        for i, ids in zip(slot, result["created"], strict=True):
            users[i % len(users)]["ids"].extend(ids)
    return results, cpu


def bench_config(tree: Tree, db: str, workers: int, args: argparse.Namespace, tmp: Path) -> list[Row]:
    rows: list[Row] = []
    with database(db, tmp) as url:
        seeded = seed(tree, url, args.clients)
        users = [{**u, "ids": []} for u in seeded["users"]]
        extra = dict(kv.split("=", 1) for kv in args.server_env)
        server = Server(tree, url, workers, tmp, seeded["rate_limits"], extra)
        finished = False
        try:
            server.wait_ready()

            def phase(kind: str, label: str) -> Row:
                results, cpu = run_phase(server, users, kind, args)
                row = make_row(tree.label, db, workers, label, results, cpu)
                rows.append(row)
                print(f"  {tree.label} {db} w={workers} {label}: {row.rps:.0f}/s p99 {row.p99:.1f} ms "
                      f"errors {row.error_count} CPU {row.server_ms:.2f} ms/req", file=sys.stderr)  # fmt: skip
                return row

            if "post" in args.phases:
                phase("post", POST)
            if "get" in args.phases:
                ensure_jobs(server, users, args, args.clients)
                phase("get", GET)
            if "list" in args.phases:
                phase("list", LIST)
            if "streams" in args.phases and args.streams:
                streams_phases(server, users, args, phase)
            finished = True
        finally:
            if not finished:
                print(
                    f"server log ({tree.label}, {db}, {workers} workers):\n{server.log_tail()}",
                    file=sys.stderr,
                )
            server.stop()
    return rows


def ensure_jobs(server: Server, users: list[dict[str, Any]], args: argparse.Namespace, want: int) -> None:
    """Create jobs (untimed, through the API) until there are ``want``, at least one per user."""
    have = sum(len(u["ids"]) for u in users)
    if have < want or not all(u["ids"] for u in users):
        per_conn = max(1, math.ceil((want - have) / args.clients))
        run_phase(server, users, "post", args, seconds=600, limit=per_conn)


def streams_phases(server: Server, users: list[dict[str, Any]], args: argparse.Namespace,
                   phase: Any) -> None:  # fmt: skip
    """Hold ``args.streams`` SSE streams open (one per queued job) while GET and POST run."""
    ensure_jobs(server, users, args, args.streams)
    # Round robin over the users, so every user watches some of its jobs.
    most = max(len(u["ids"]) for u in users)
    pairs = [(u["token"], u["ids"][n]) for n in range(most) for u in users if n < len(u["ids"])]
    pairs = pairs[: args.streams]
    holder = ClientProc({"host": "127.0.0.1", "port": server.port, "streams": pairs}, streams=True)
    try:
        opened = holder.read()
        get, post = phase("get", GET + STREAMS), phase("post", POST + STREAMS)
        holder.send("stop")
        held = holder.read()
    finally:
        holder.close()
    info = {"wanted": len(pairs), "opened": opened["opened"], "still_open": held["still_open"],
            "open_s": opened["open_s"], "status": opened["status"]}  # fmt: skip
    for row in (get, post):
        row.extra["streams"] = info
        refused = {k: v for k, v in info["status"].items() if k != "200"}
        row.note = (
            f"{info['opened']}/{info['wanted']} streams opened in {info['open_s']:.1f} s, "
            f"{info['still_open']} open at the end" + (f", refused: {refused}" if refused else "")
        )


def describe(tree: Tree) -> str:
    out = subprocess.run(["git", "-C", str(tree.path), "log", "-1", "--format=%h %s"], capture_output=True,
                         text=True, check=False)  # fmt: skip
    dirty = subprocess.run(["git", "-C", str(tree.path), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    return (
        f"{tree.label}: {tree.path} at {out.stdout.strip()[:70]}{' (+ uncommitted changes)' if dirty else ''}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections")
    ap.add_argument("--client-procs", type=int, default=2, help="client processes they are spread over")
    ap.add_argument("--seconds", type=float, default=3.0, help="per phase")
    ap.add_argument("--warmup", type=int, default=3, help="untimed requests per connection before each phase")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="octavia serve --workers values")
    ap.add_argument("--db", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    ap.add_argument("--streams", type=int, default=1000, help="SSE streams held open (0: skip that part)")
    ap.add_argument("--phases", nargs="+", default=list(PHASES), choices=PHASES,
                    help="which to run; get and streams create the jobs they need")  # fmt: skip
    ap.add_argument("--ref", action="append", default=[], help="also run a git worktree of this ref")
    ap.add_argument("--tree", action="append", default=[], help="also run the server from this checkout")
    ap.add_argument("--skip-current", action="store_true", help="do not run this checkout's server")
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for octavia serve, e.g. OCTAVIA_SOMETHING=1")  # fmt: skip
    ap.add_argument("--json", type=Path, help="also write the rows here")
    ap.add_argument("--queue-jobs", type=int, default=0, help="queue-overhead jobs per backend (0: skip)")
    args = ap.parse_args()
    # A plain SIGTERM would skip the clean-up below (servers, database, worktree): exit instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited: the server holds the streams
    rows: list[Row] = []
    with contextlib.ExitStack() as stack:
        trees = [stack.enter_context(ref_tree(ref)) for ref in args.ref]
        trees += [Tree(Path(p).name, Path(p).resolve()) for p in args.tree]
        if not args.skip_current:
            trees.append(Tree("this tree", ROOT))
        described = [describe(tree) for tree in trees]
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="octavia-bench-")))
        started = time.perf_counter()
        for db in args.db:  # each tree's run of a configuration next to the other's: same noise
            for workers in args.workers:
                for tree in trees:
                    rows += bench_config(tree, db, workers, args, tmp)
        took = time.perf_counter() - started
    print(f"\n## octavia serve on loopback: {args.clients} clients in {args.client_procs} processes, "
          f"{args.seconds:g} s per phase, Redis queue, {args.streams} streams ({took:.0f} s in all)\n")  # fmt: skip
    for line in described:
        print(f"- {line}")
    print()
    print(table(rows))
    if len(trees) >= 2:
        print(f"\n### {trees[-1].label} vs {trees[0].label}\n")
        print(comparison(rows, trees[0].label, trees[-1].label))
    print("\n### Goal (issue 16)\n")
    print("\n".join(goal_lines(rows)))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=1))
    if args.queue_jobs:
        from _queue_overhead import print_queue

        print_queue(args.queue_jobs)


if __name__ == "__main__":
    main()
