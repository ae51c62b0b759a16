"""The server benchmark's own machinery: its HTTP client's parser, its statistics, and one short
run of ``benchmarks/bench_server.py`` against a real ``octavia serve`` (SQLite, Redis queue,
20 held SSE streams). Nothing here times anything: the speed figures live in the benchmark."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _server_load import read_response  # noqa: E402
from _stats import GET, POST, STREAMS, comparison, goal_lines, make_row, pct  # noqa: E402


def _parse(raw: bytes) -> tuple[int, bytes, bool]:
    async def go() -> tuple[int, bytes, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(raw)
        reader.feed_eof()
        return await read_response(reader)

    # In a thread of its own: Playwright's sync API (tests/web) leaves an event loop running in
    # the main thread when the browser tests ran first in this process.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_client_reads_sized_chunked_and_closing_responses() -> None:
    sized = b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"j"}\nNEXT'
    assert _parse(sized) == (201, b'{"id":"j"}\n', True)
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=1\r\n world\r\n0\r\n\r\n"
    )
    assert _parse(chunked) == (200, b"hello world", True)
    closing = b"HTTP/1.1 429 Too Many Requests\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}"
    assert _parse(closing) == (429, b"{}", False)
    unsized = b"HTTP/1.1 200 OK\r\n\r\nuntil the end"
    assert _parse(unsized) == (200, b"until the end", False)


def test_stats_percentiles_rows_and_ratios() -> None:
    assert pct([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert pct([float(i) for i in range(1, 101)], 99) == 99.0
    results = [
        {"lat": [0.001, 0.002], "errors": {"429": 1}, "wall": 2.0, "cpu": 0.01},
        {"lat": [0.003, 0.004], "errors": {}, "wall": 1.0, "cpu": 0.01},
    ]
    row = make_row("main", "sqlite", 1, POST, results, server_cpu=0.04)
    assert (row.n, row.rps, row.error_count, row.max) == (4, 2.0, 1, 4.0)
    assert row.server_ms == pytest.approx(10.0) and row.client_ms == pytest.approx(5.0)
    fast = make_row("new", "sqlite", 1, POST, [{**results[1], "wall": 0.5}], server_cpu=0.01)
    assert "2 → 4 | 2.00× |" in comparison([row, fast], "main", "new")
    get = make_row("new", "sqlite", 1, GET, [{"lat": [0.005], "errors": {}, "wall": 1.0, "cpu": 0.0}], 0.0)
    (line,) = goal_lines([fast, get])
    assert "new, sqlite, 1 worker(s)" in line and "NOT MET" in line and "GET p99 5.0 ms" in line
    (alone,) = goal_lines([fast])  # a POST-only run says nothing either way
    assert "not measured" in alone and "MET" not in alone


@pytest.mark.redis
def test_short_run_against_a_real_server(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "bench_server.py"), "--db", "sqlite", "--workers", "1",
           "--seconds", "1", "--clients", "4", "--streams", "20", "--json", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = {r["phase"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {POST, GET, "GET /v1/jobs?limit=50", GET + STREAMS, POST + STREAMS}
    for phase, r in rows.items():
        assert r["n"] > 0 and r["error_count"] == 0, (phase, r["errors"])
        assert r["server_ms"] > 0 and r["p50"] <= r["p99"] <= r["max"]
    streams = rows[GET + STREAMS]["extra"]["streams"]
    assert streams["wanted"] == streams["opened"] == streams["still_open"] == 20
    for phase in rows:  # the markdown table has a line per phase, and the goal line follows
        assert f"| this tree | sqlite | 1 | {phase} |" in run.stdout
    assert "- this tree, sqlite, 1 worker(s): goal ≥ 500 creates/s" in run.stdout
