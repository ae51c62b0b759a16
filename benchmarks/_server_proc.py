"""The pieces ``bench_server.py`` runs: server trees, databases, an ``octavia serve`` process,
client processes, and their clean-up (process groups killed, temp dirs, the PostgreSQL
database and the Redis keys removed) even when a phase fails."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# Its own Redis database: the rate-limit windows (keyed by client IP) never meet the tests'.
REDIS = "redis://127.0.0.1:6379/11"
GENEROUS = "1000000/minute"  # per-IP limits raised so the limiter is measured, not hit


@dataclass(frozen=True)
class Tree:
    label: str
    path: Path


@contextlib.contextmanager
def ref_tree(ref: str) -> Iterator[Tree]:
    """A temporary ``git worktree`` of ``ref`` (removed afterwards)."""
    parent = Path(tempfile.mkdtemp(prefix="octavia-bench-ref-"))
    path = parent / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), ref], check=True
    )
    try:
        yield Tree(ref, path)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)
        with contextlib.suppress(OSError):
            parent.rmdir()


@contextlib.contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL database (dropped afterwards); yields its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    import psycopg

    name = f"octavia_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(tree: Tree, db_url: str, users: int) -> dict[str, Any]:
    """Migrate with the tree's own migrations, then seed (``_server_seed.py``)."""
    out = subprocess.run(
        [sys.executable, str(HERE / "_server_seed.py"), db_url, str(users)],
        env={**os.environ, "PYTHONPATH": str(tree.path)}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"seeding failed:\n{out.stderr[-3000:]}")
    seeded: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return seeded


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kill_group(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """SIGTERM the process group (uvicorn's workers too), SIGKILL whatever outlives ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # workers that outlived their parent
    proc.wait()


class Server:
    """``python -m octavia serve`` from ``tree``, its settings in ``OCTAVIA_*`` variables."""

    def __init__(self, tree: Tree, db_url: str, workers: int, tmp: Path, rate_limits: list[str],
                 extra_env: dict[str, str]) -> None:  # fmt: skip
        self.port = free_port()
        # Letters and digits only: Huey's Redis keys keep only those (huey.redis.<name>).
        self.queue_name = f"octaviabench{uuid.uuid4().hex[:8]}"
        self.log_path = tmp / f"serve-{self.port}.log"
        env = {
            **os.environ, "PYTHONPATH": str(tree.path), "OCTAVIA_DATA_DIR": str(tmp / f"data-{self.port}"),
            "OCTAVIA_DATABASE_URL": db_url, "OCTAVIA_AUTO_MIGRATE": "0", "OCTAVIA_QUEUE": "redis",
            "OCTAVIA_REDIS_URL": REDIS, "OCTAVIA_QUEUE_NAME": self.queue_name,
            "OCTAVIA_SECRET_KEY": "bench-" + uuid.uuid4().hex, "OCTAVIA_EMAIL_BACKEND": "console",
        }  # fmt: skip
        for name in rate_limits:
            env[f"OCTAVIA_{name.upper()}"] = GENEROUS
        env.update(extra_env)
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "octavia", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", str(workers), "--log-level", "WARNING", "--plain-logs"],
            env=env, cwd=tmp, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.workers = workers

    def wait_ready(self, timeout: float = 90.0) -> None:
        """/healthz answers in every worker, then the start-up work (Polar's parsers, ~3 s of
        CPU per process) is over: the server's CPU use stays low for a moment."""
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"octavia serve did not start:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.processes()) >= self.workers:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        quiet = 0
        while quiet < 3 and time.monotonic() < deadline:
            c0 = self.cpu_seconds()
            time.sleep(0.3)
            quiet = quiet + 1 if self.cpu_seconds() - c0 < 0.03 else 0

    def processes(self) -> list[Any]:
        import psutil

        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """User + system CPU of the serve process and all its children (uvicorn's workers)."""
        import psutil

        total = 0.0
        for p in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        kill_group(self.proc)
        self._log.close()
        clean_redis(self.queue_name)


def clean_redis(queue_name: str) -> None:
    """The queue's keys and the rate-limit windows the run left in the benchmark's Redis db."""
    import redis

    r: Any = redis.Redis.from_url(REDIS)
    try:
        for pattern in (f"*{queue_name}*", "octavia:rl:*"):
            keys = list(r.scan_iter(match=pattern, count=1000))
            if keys:
                r.delete(*keys)
    finally:
        r.close()


class ClientProc:
    """One ``_server_load.py`` process: spec on stdin, JSON lines back on stdout."""

    def __init__(self, spec: dict[str, Any], streams: bool = False) -> None:
        args = [sys.executable, str(HERE / "_server_load.py"), *(["--streams"] if streams else [])]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     start_new_session=True)  # fmt: skip
        self.send(json.dumps(spec))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"client process {self.proc.pid} exited ({self.proc.wait()})")
        out: dict[str, Any] = json.loads(line)
        return out

    def close(self) -> None:
        kill_group(self.proc, grace=0.0)
