"""An outside fuzzer against the real server: Schemathesis (its CLI, in its own process) reads
/openapi.json from a live uvicorn and sends generated requests, NUL bytes included, with a
verified user's API key. Its checks: no 5xx, and every status, content type and documented
header is what the OpenAPI says. Bounded in time (FUZZ_SECONDS per database) and seeded, so a
failure reproduces; set OCTAVIA_FUZZ_SECONDS for a longer hunt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.server import conftest

FUZZ_SECONDS = int(os.environ.get("OCTAVIA_FUZZ_SECONDS", "30"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance"


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'")
    return found


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    live_server: conftest.LiveServer, user_factory: Callable[..., conftest.TestUser], tmp_path: Path
) -> None:
    user = user_factory()
    r = user.client.post("/v1/account/api-keys", json={"name": "fuzz"})
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    spec = live_server.client().get("/openapi.json").json()
    operations = sum(len(item) for item in spec["paths"].values())
    junit = tmp_path / "junit.xml"
    cmd = [
        _st(), "run", f"{live_server.url}/openapi.json",
        "--header", f"Authorization: Bearer {key}",
        # The key stays on every request; credentials are not what is fuzzed here.
        "--generation-with-security-parameters", "false",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", "25", "--max-time", str(FUZZ_SECONDS),
        "--workers", "2", "--seed", "20261202", "--generation-database", "none",
        "--request-timeout", "20", "--max-redirects", "0",
        "--report", "junit", "--report-junit-path", str(junit),
        "--no-color", "--output-truncate", "false",
    ]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=FUZZ_SECONDS + 90, cwd=tmp_path, check=False
    )
    report = done.stdout[-20000:] + done.stderr[-5000:]
    assert done.returncode == 0, report
    cases = ET.parse(junit).getroot().iter("testcase")
    tested = {c.get("name") for c in cases}
    # Every operation was exercised, not only the first few before the time ran out.
    assert len(tested) >= operations, (len(tested), operations, report)
