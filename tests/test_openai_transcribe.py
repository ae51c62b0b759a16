"""The hosted OpenAI transcriber against a local server that speaks the audio API.

The server checks what a real one would: bearer auth, multipart fields, and that the
uploaded file is real compressed audio of the right length (probed with PyAV).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from octavia.errors import EngineError, TransientEngineError
from octavia.pipeline import media
from octavia.pipeline.openai_transcribe import OpenAITranscriber
from tests.conftest import SPEECH

KEY = "sk-test-123"


class FakeOpenAI(BaseHTTPRequestHandler):
    script: ClassVar[list[int]] = []
    seen: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.headers.get("authorization") != f"Bearer {KEY}":
            return self._send(401, {"error": {"message": "Incorrect API key provided"}})
        status = self.script.pop(0) if self.script else 200
        if status != 200:
            return self._send(status, {"error": {"message": "slow down"}}, {"retry-after": "0"})
        msg = BytesParser(policy=HTTP).parsebytes(
            b"content-type: " + self.headers["content-type"].encode() + b"\r\n\r\n" + body
        )
        fields: dict[str, list[Any]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            fields.setdefault(name, []).append(part.get_payload(decode=True))
        upload = Path(self.server.tmp) / "upload.ogg"  # type: ignore[attr-defined]
        upload.write_bytes(fields["file"][0])
        info = media.probe(upload)
        self.seen.append({"path": self.path, "fields": {k: v for k, v in fields.items() if k != "file"},
                          "format": info.format_name, "codec": info.audio_streams[0].codec,
                          "duration": info.duration, "size": upload.stat().st_size})  # fmt: skip
        words = [
            {"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4}
            for i, w in enumerate("he was not ill".split())
        ]
        self._send(200, {"task": "transcribe", "language": "english", "duration": info.duration,
                         "text": "He was not ill.",
                         "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": " He was not ill."}],
                         "words": words})  # fmt: skip

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    FakeOpenAI.script, FakeOpenAI.seen = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    httpd.tmp = tmp_path  # type: ignore[attr-defined]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_transcribes_with_segments_words_and_iso_language(server: str) -> None:
    engine = OpenAITranscriber(server, token=KEY, backoff=0)
    t = engine.transcribe(SPEECH, language="en")
    assert t.language == "en" and t.segments[0].text == "He was not ill."
    assert [w.text for w in t.segments[0].words] == ["he", "was", "not", "ill"]
    (req,) = FakeOpenAI.seen
    assert req["path"] == "/v1/audio/transcriptions"
    assert req["fields"]["model"] == [b"whisper-1"] and req["fields"]["language"] == [b"en"]
    assert req["fields"]["response_format"] == [b"verbose_json"]
    assert b"word" in req["fields"]["timestamp_granularities[]"]
    assert req["format"] == "ogg" and req["codec"] == "opus"
    assert req["duration"] == pytest.approx(7.1, abs=0.1)
    assert req["size"] < SPEECH.stat().st_size / 5  # compressed for the 25 MB limit


def test_speech_translation_uses_the_translations_endpoint(server: str) -> None:
    t = OpenAITranscriber(server, token=KEY, backoff=0).translate_speech(SPEECH, language="es")
    assert t.language == "en" and FakeOpenAI.seen[0]["path"] == "/v1/audio/translations"
    assert "language" not in FakeOpenAI.seen[0]["fields"]


def test_rate_limits_are_retried_then_reported(server: str) -> None:
    FakeOpenAI.script = [429, 503]
    assert OpenAITranscriber(server, token=KEY, backoff=0).transcribe(SPEECH).segments
    FakeOpenAI.script = [429] * 10
    with pytest.raises(TransientEngineError, match="429"):
        OpenAITranscriber(server, token=KEY, backoff=0, retries=2).transcribe(SPEECH)


def test_bad_key_names_the_setting(server: str) -> None:
    with pytest.raises(EngineError) as info:
        OpenAITranscriber(server, token="wrong", backoff=0).transcribe(SPEECH)
    assert "OCTAVIA_OPENAI_API_KEY" in (info.value.hint or "")


def test_subtitle_job_runs_on_the_hosted_transcriber(server: str, tmp_path: Path, settings: Any) -> None:
    from octavia import formats
    from octavia.api import run

    hosted = settings.model_copy(update={"transcriber": "openai", "openai_base_url": server,
                                         "openai_api_key": SecretStr(KEY)})  # fmt: skip
    result = run("subtitle", SPEECH, out_dir=tmp_path, settings=hosted)
    assert result.info["models"]["transcriber"] == {
        "engine": "openai",
        "model": "whisper-1",
        "source": "hosted",
    }
    assert [c.text for c in formats.read(result.outputs["subtitles.en.srt"])] == ["He was not ill."]
    again = run("subtitle", SPEECH, out_dir=tmp_path, settings=hosted)
    assert again.info["stages"]["transcribe"]["resumed"] is True and len(FakeOpenAI.seen) == 1
