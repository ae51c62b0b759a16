"""`--translator llm` and `--glossary` through the CLI process and the server's job check, with a
local chat-completions server (tests/llm_stub.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from octavia import formats
from octavia.config import Settings
from octavia.errors import InputError
from tests.llm_stub import Stub, sentences, serve

SRT = "1\n00:00:01,000 --> 00:00:02,500\nThe cat is sleeping\n\n2\n00:00:02,500 --> 00:00:04,000\non the red sofa.\n\n" \
      "3\n00:00:05,000 --> 00:00:07,000\nThe Widget is new.\n"  # fmt: skip


@pytest.fixture
def stub() -> Iterator[Stub]:
    yield from serve()


def octavia(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, check=False)  # fmt: skip


def test_translate_subtitles_with_llm_and_glossary(stub: Stub, tmp_path: Path) -> None:
    srt = tmp_path / "talk.en.srt"
    srt.write_text(SRT)
    glossary = tmp_path / "terms.json"
    glossary.write_text('{"Widget": "Artilugio"}')
    stub.answer = lambda body: json.dumps({k: "[es] " + v.replace("Widget", "Artilugio")
                                           for k, v in sentences(body).items()})  # fmt: skip
    env = {"OCTAVIA_LLM_BASE_URL": stub.url, "OCTAVIA_LLM_MODEL": "stub-model", "OCTAVIA_LLM_API_KEY": "sk-x",
           "OCTAVIA_CACHE_DIR": str(tmp_path / "cache"), "OCTAVIA_OFFLINE": "1"}  # fmt: skip
    result = octavia("translate", str(srt), "--to", "es", "--translator", "llm", "--glossary", str(glossary),
                     "--json", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)["files"][0]
    model = record["models"]["translator:es"]["model"]
    assert model.startswith("llm:127.0.0.1:") and "/stub-model:" in model and "sk-x" not in result.stdout
    cues = formats.read(tmp_path / "talk.es.srt")
    # The first two cues are one sentence: one numbered item, split back over both cues.
    assert [c.start for c in cues] == [1.0, 2.5, 5.0]
    assert "[es] The cat is sleeping on the red sofa." in " ".join(c.text for c in cues[:2])
    assert cues[2].text == "[es] The Artilugio is new."
    body = stub.requests[0]["body"]
    assert "- Widget → Artilugio" in body["messages"][0]["content"]
    assert stub.requests[0]["auth"] == "Bearer sk-x"


def test_llm_unconfigured_is_a_clear_error(tmp_path: Path) -> None:
    srt = tmp_path / "talk.en.srt"
    srt.write_text(SRT)
    env = {"OCTAVIA_CACHE_DIR": str(tmp_path / "cache"), "OCTAVIA_CONFIG": str(tmp_path / "none.toml")}
    env.update({k: "" for k in ("OCTAVIA_LLM_BASE_URL", "OCTAVIA_LLM_MODEL")})
    result = octavia("translate", str(srt), "--to", "es", "--translator", "llm", env=env)
    assert result.returncode != 0
    assert "not configured" in result.stderr and "OCTAVIA_LLM_BASE_URL" in result.stderr


def test_server_allows_llm_only_when_the_operator_configured_it(tmp_path: Path) -> None:
    from octavia.server.job_options import validate_job_options

    bare = Settings(cache_dir=tmp_path, data_dir=tmp_path, offline=True)
    with pytest.raises(InputError, match="not enabled on this server"):
        validate_job_options("subtitle", {"translator": "llm"}, bare)
    configured = bare.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m"})
    assert validate_job_options("dub", {"translator": "llm", "glossary": {"a": "b"}}, configured) == {
        "translator": "llm", "glossary": {"a": "b"},
    }  # fmt: skip
    with pytest.raises(InputError, match="unknown option"):  # no way for a client to name an endpoint
        validate_job_options("subtitle", {"translator": "llm", "llm_base_url": "http://evil/v1"}, configured)
