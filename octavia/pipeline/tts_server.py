"""A remote Coqui ``tts-server`` (``tts-server --model_name ...``) as a Synthesizer.

The server's API: ``GET /api/tts?text=...&speaker_id=...&language_id=...&style_wav=`` answers
a WAV file. Timeouts, retries on 429/5xx and error mapping come from the shared
:class:`~octavia.pipeline.http_engine.HttpEngine`.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from octavia.errors import EngineError, InputError, OctaviaError
from octavia.pipeline.http_engine import HttpEngine, _excerpt


class TtsServerSynthesizer(HttpEngine):
    service = "The Coqui TTS server"
    token_setting = "OCTAVIA_TTS_SERVER_URL (the server does not use tokens)"

    def engine_id(self, language: str, voice: str | None) -> str:
        return f"tts-server:{self.base_url}:{voice or ''}:{language}"

    def describe(self, language: str, voice: str | None) -> dict[str, str]:
        return {"engine": "tts-server", "model": self.base_url, "voice": voice or "", "source": "remote"}

    def error_for(self, response: httpx.Response) -> OctaviaError:
        if response.status_code in (400, 404, 422):
            return InputError(
                f"{self.service} rejected the request (HTTP {response.status_code}): {_excerpt(response)}",
                "Check --voice (a speaker id the server's model has) and the server's model language.",
            )
        return super().error_for(response)

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path:
        # A monolingual server model ignores language_id; a multilingual one needs it.
        params = {"text": text, "speaker_id": voice or "", "language_id": language, "style_wav": ""}
        response = self.request("GET", "/api/tts", params=params)
        body = response.content
        if not (body[:4] == b"RIFF" and body[8:12] == b"WAVE"):
            kind = response.headers.get("content-type", "unknown")
            raise EngineError(f"{self.service} answered {len(body)} bytes of {kind}, not a WAV file.")
        out.write_bytes(body)
        return out
