"""The hosted Hugging Face translator against a local HTTP server that speaks the Inference API."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from octavia.config import Settings
from octavia.errors import EngineError, ModelNotAvailable, TransientEngineError
from octavia.pipeline.hf_translate import HFTranslator
from octavia.pipeline.translation import make_translator, translate_texts

TOKEN = "hf_good"
HOSTED = {"en-es", "de-en", "en-fr"}


class FakeInferenceAPI(BaseHTTPRequestHandler):
    script: ClassVar[list[tuple[int, dict[str, str], Any]]] = []  # answers to give first, in order
    requests: ClassVar[list[dict[str, Any]]] = []
    delay = 0.0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        if self.delay:
            time.sleep(self.delay)
        if self.script:
            status, headers, payload = self.script.pop(0)
            return self._send(status, payload, headers)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"error": "Invalid credentials in Authorization header"})
        pair = self.path.rsplit("opus-mt-", 1)[-1]
        if not self.path.startswith("/models/Helsinki-NLP/opus-mt-") or pair not in HOSTED:
            return self._send(404, {"error": f"Model Helsinki-NLP/opus-mt-{pair} does not exist"})
        inputs = body["inputs"] if isinstance(body["inputs"], list) else [body["inputs"]]
        self._send(200, [{"translation_text": f"[{pair}] {t}"} for t in inputs])

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    FakeInferenceAPI.script, FakeInferenceAPI.requests, FakeInferenceAPI.delay = [], [], 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeInferenceAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/models"
    server.shutdown()
    server.server_close()


def client(url: str, token: str | None = TOKEN, **kwargs: Any) -> tuple[HFTranslator, list[float]]:
    slept: list[float] = []
    settings = Settings(hf_api_url=url, hf_token=token)  # type: ignore[arg-type]
    return HFTranslator.from_settings(settings, sleep=slept.append, **kwargs), slept


def test_translates_batches_with_bearer_token(api: str) -> None:
    tr, _ = client(api)
    texts = [f"sentence {i}." for i in range(20)] + [""]
    out = tr.translate(texts, source="en", target="es")
    assert out[:2] == ["[en-es] sentence 0.", "[en-es] sentence 1."] and out[-1] == ""
    reqs = FakeInferenceAPI.requests
    assert [len(r["body"]["inputs"]) for r in reqs] == [16, 4]  # batched, empty text not sent
    assert all(
        r["auth"] == f"Bearer {TOKEN}" and r["path"] == "/models/Helsinki-NLP/opus-mt-en-es" for r in reqs
    )
    assert tr.engine_id("en", "es") == f"hf:{api}/Helsinki-NLP/opus-mt-en-es"


def test_429_then_200_honours_retry_after(api: str) -> None:
    FakeInferenceAPI.script = [(429, {"Retry-After": "3"}, {"error": "Rate limit reached"}),
                               (502, {}, {"error": "bad gateway"})]  # fmt: skip
    tr, slept = client(api, backoff=0.5)
    assert tr.translate(["hi"], source="en", target="es") == ["[en-es] hi"]
    assert slept == [3.0, 1.0]  # Retry-After, then exponential backoff (0.5 * 2**1)


def test_503_model_loading_waits_as_told(api: str) -> None:
    loading = {"error": "Model Helsinki-NLP/opus-mt-en-es is currently loading", "estimated_time": 12.5}
    FakeInferenceAPI.script = [(503, {}, loading), (503, {}, loading)]
    tr, slept = client(api, retries=0)  # loading is not a failure: it does not use up retries
    assert tr.translate(["hi"], source="en", target="es") == ["[en-es] hi"]
    assert slept == [12.5, 12.5]


def test_retries_exhausted_is_transient(api: str) -> None:
    FakeInferenceAPI.script = [(500, {}, {"error": "boom"})] * 3
    tr, slept = client(api, retries=2, backoff=1.0)
    with pytest.raises(TransientEngineError) as err:
        tr.translate(["hi"], source="en", target="es")
    assert "HTTP 500 3 times" in err.value.message and slept == [1.0, 2.0]


def test_bad_or_missing_token_names_the_setting(api: str) -> None:
    for token in ("hf_wrong", None):
        tr, slept = client(api, token=token)
        with pytest.raises(EngineError) as err:
            tr.translate(["hi"], source="en", target="es")
        assert not isinstance(err.value, TransientEngineError) and slept == []
        assert "HTTP 401" in err.value.message and "OCTAVIA_HF_TOKEN" in (err.value.hint or "")


def test_timeouts_are_retried_then_transient(api: str) -> None:
    FakeInferenceAPI.delay = 0.5
    tr, slept = client(api, timeout=0.1, retries=1)
    with pytest.raises(TransientEngineError) as err:
        tr.translate(["hi"], source="en", target="es")
    assert "Timeout" in err.value.message and len(slept) == 1
    assert len(FakeInferenceAPI.requests) == 2


def test_unhosted_pair_pivots_through_english(api: str) -> None:
    tr, _ = client(api)
    assert tr.translate(["hallo"], source="de", target="fr") == ["[en-fr] [de-en] hallo"]
    with pytest.raises(ModelNotAvailable):
        tr.translate(["hi"], source="en", target="zz")


def test_selected_by_name_and_keeps_terms(api: str) -> None:
    settings = Settings(hf_api_url=api, hf_token=TOKEN)  # type: ignore[arg-type]
    tr = make_translator("hf", settings, resolver=None)
    assert translate_texts(["Octavia rocks."], tr, source="en", target="es", keep_terms=["Octavia"]) == [
        "[en-es] Octavia rocks."
    ]
    assert "Octavia" not in json.dumps(FakeInferenceAPI.requests[-1]["body"])  # a placeholder was sent
