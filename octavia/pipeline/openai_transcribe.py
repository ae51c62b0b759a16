"""The OpenAI audio API as a hosted Transcriber and SpeechTranslator.

``POST /audio/transcriptions`` (and ``/audio/translations`` for speech → English) with
``response_format=verbose_json`` returns segments with times, and words when asked with
``timestamp_granularities[]=word``. Retries, timeouts and auth errors come from
:class:`~octavia.pipeline.http_engine.HttpEngine`. The API takes files up to 25 MB, so
audio is sent as compressed Ogg/Opus (about 3 KB per second: over two hours fit).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia.errors import EngineError, InputError
from octavia.pipeline import media
from octavia.pipeline.http_engine import HttpEngine
from octavia.pipeline.progress import ProgressCallback, ProgressEvent
from octavia.types import Segment, Transcript, Word

if TYPE_CHECKING:
    from octavia.config import Settings

MAX_UPLOAD = 25 * 1024 * 1024
#: verbose_json names languages in English ("spanish"); the pipeline speaks ISO 639-1.
LANGUAGE_CODES = {
    "afrikaans": "af", "arabic": "ar", "chinese": "zh", "czech": "cs", "danish": "da", "dutch": "nl",
    "english": "en", "finnish": "fi", "french": "fr", "german": "de", "greek": "el", "hebrew": "he",
    "hindi": "hi", "hungarian": "hu", "indonesian": "id", "italian": "it", "japanese": "ja",
    "korean": "ko", "norwegian": "no", "polish": "pl", "portuguese": "pt", "romanian": "ro",
    "russian": "ru", "spanish": "es", "swedish": "sv", "thai": "th", "turkish": "tr",
    "ukrainian": "uk", "vietnamese": "vi", "catalan": "ca",
}  # fmt: skip


class OpenAITranscriber(HttpEngine):
    service = "The OpenAI audio API"
    token_setting = "OCTAVIA_OPENAI_API_KEY"

    def __init__(self, base_url: str, *, token: str | None, model: str = "whisper-1", **kwargs: Any) -> None:
        super().__init__(base_url, token=token, **kwargs)
        self.model = model

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAITranscriber:
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
        if not key:
            raise InputError(
                "The OpenAI transcriber needs an API key.",
                "Set OCTAVIA_OPENAI_API_KEY, or use --transcriber whisper.",
            )
        return cls(settings.openai_base_url, token=key, model=settings.openai_transcribe_model)

    @property
    def engine_id(self) -> str:
        return f"openai:{self.base_url}:{self.model}"

    def transcribe(
        self,
        audio: Path,
        *,
        language: str | None = None,
        word_timestamps: bool = True,
        progress: ProgressCallback | None = None,
    ) -> Transcript:
        return self._call("audio/transcriptions", audio, language, word_timestamps, progress, "transcribe")

    def translate_speech(
        self, audio: Path, *, language: str | None = None, progress: ProgressCallback | None = None
    ) -> Transcript:
        # The translations endpoint takes no language and gives no word times.
        result = self._call("audio/translations", audio, None, False, progress, "translate")
        return Transcript("en", result.segments, result.duration, None, result.model)

    def _call(
        self,
        path: str,
        audio: Path,
        language: str | None,
        words: bool,
        progress: ProgressCallback | None,
        stage: str,
    ) -> Transcript:
        duration = media.probe(audio).duration
        if progress:
            progress(ProgressEvent(stage, 0, duration, "uploading"))
        data: dict[str, str | list[str]] = {"model": self.model, "response_format": "verbose_json"}
        if language:
            data["language"] = language
        if words:
            data["timestamp_granularities[]"] = ["segment", "word"]
        with tempfile.TemporaryDirectory() as tmp:
            upload = media.encode_speech_for_upload(audio, Path(tmp) / "speech.ogg")
            if upload.stat().st_size > MAX_UPLOAD:
                raise InputError(
                    f"{audio} is too long for the OpenAI API (over 25 MB even compressed).",
                    "Split the media, or use the local Whisper transcriber (--transcriber whisper).",
                )
            with open(upload, "rb") as f:
                response = self.request(
                    "POST", path, data=data, files={"file": ("speech.ogg", f, "audio/ogg")}
                )
        transcript = self._parse(response.json(), duration)
        if progress:
            progress(ProgressEvent(stage, duration, duration))
        return transcript

    def _parse(self, body: dict[str, Any], duration: float) -> Transcript:
        try:
            words = [
                Word(float(w["start"]), float(w["end"]), str(w["word"]).strip())
                for w in body.get("words") or ()
            ]
            segments = []
            for s in body.get("segments") or ():
                start, end = float(s["start"]), float(s["end"])
                inside = tuple(w for w in words if start <= (w.start + w.end) / 2 < end)
                if str(s["text"]).strip():
                    segments.append(Segment(start, end, str(s["text"]).strip(), inside))
            language = str(body.get("language") or "").lower()
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(
                f"{self.service} sent an answer without the expected segments: {exc!r}"
            ) from exc
        if not segments and str(body.get("text", "")).strip():  # models without segment output
            segments = [
                Segment(0.0, float(body.get("duration") or duration), str(body["text"]).strip(), tuple(words))
            ]
        return Transcript(
            language=LANGUAGE_CODES.get(language, language[:2] if len(language) == 2 else language),
            segments=tuple(segments),
            duration=float(body.get("duration") or duration),
            model=self.model,
        )
