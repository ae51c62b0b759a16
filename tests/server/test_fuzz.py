"""An outside fuzzer against the real server: Schemathesis (its CLI, in its own process) reads
/openapi.json from a live uvicorn and sends generated requests, NUL bytes included, with a
verified user's API key; billing runs against the local Polar rig and the path ids name real
objects. Its checks: no 5xx, and every status, content type, documented header and body is
what the OpenAPI says. Bounded in time (FUZZ_SECONDS per database) and seeded; set
OCTAVIA_FUZZ_SECONDS for a longer hunt, OCTAVIA_FUZZ_CHECKS for other checks.
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
from pydantic import SecretStr

from tests.server import conftest, fake_polar
from tests.server.fixtures_billing import PRODUCTS, STANDARD_SECRET
from tests.server.fixtures_jobs import fund

FUZZ_SECONDS = int(os.environ.get("OCTAVIA_FUZZ_SECONDS", "30"))
CHECKS = os.environ.get(
    "OCTAVIA_FUZZ_CHECKS",
    "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
    "response_schema_conformance",
)


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("schemathesis is not installed: pip install -e '.[dev]'")
    return found


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    server_factory: Callable[..., conftest.LiveServer],
    polar_api: fake_polar.FakePolar,
    user_factory: Callable[..., conftest.TestUser],
    media_files: conftest.MediaFiles,
    tmp_path: Path,
) -> None:
    # Billing against the local Polar rig, so checkouts and webhooks do real work instead of
    # answering 503 "not configured"; a queue without a consumer, so jobs stay queued.
    live_server = server_factory(
        queue="sqlite",
        polar_access_token=SecretStr("polar_oat_test_token"),
        polar_base_url=polar_api.url,
        polar_webhook_secret=SecretStr(STANDARD_SECRET),
        polar_products=PRODUCTS,
    )
    user = user_factory(server=live_server)
    fund(live_server.app.state.db, user.id, 1_000_000)
    c = user.client
    key = c.post("/v1/account/api-keys", json={"name": "fuzz"}).json()["key"]
    # Real objects for the path (and job body) ids, so those operations get past their 404.
    spare_key = c.post("/v1/account/api-keys", json={"name": "to revoke"}).json()["id"]
    project = c.post("/v1/projects", json={"name": "fuzz"}).json()["id"]
    upload = conftest.upload_file(c, media_files.wav, "audio/wav")["id"]
    source = conftest.upload_file(c, media_files.wav, "audio/wav")["id"]
    job = c.post("/v1/jobs", json={"kind": "subtitle", "upload_id": source}).json()["id"]
    assert c.post(f"/v1/jobs/{job}/cancel").json()["status"] == "cancelled"  # its stream ends
    (tmp_path / "schemathesis.toml").write_text(
        "[parameters]\n"
        f'"path.upload_id" = "{upload}"\n"path.job_id" = "{job}"\n"path.project_id" = "{project}"\n'
        f'"path.key_id" = "{spare_key}"\n"body.upload_id" = "{source}"\n'
    )
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
        # One worker: with two, Hypothesis' lambda-source cache races in Python 3.11's ast
        # ("AST constructor recursion depth mismatch", a Runtime Error of the fuzzer itself).
        "--workers", "1", "--seed", os.environ.get("OCTAVIA_FUZZ_SEED", "20261202"), "--generation-database", "none",
        "--request-timeout", "20", "--max-redirects", "0",
        "--report", "junit", "--report-junit-path", str(junit),
        "--no-color", "--output-truncate", "false",
    ]  # fmt: skip
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=FUZZ_SECONDS + 90, cwd=tmp_path, check=False
    )
    (tmp_path / "st.out").write_text(done.stdout + done.stderr)
    report = done.stdout[-20000:] + done.stderr[-5000:]
    assert done.returncode == 0, report
    cases = ET.parse(junit).getroot().iter("testcase")
    tested = {c.get("name") for c in cases}
    # Every operation was exercised, not only the first few before the time ran out.
    assert len(tested) >= operations, (len(tested), operations, report)
