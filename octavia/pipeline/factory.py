"""Engines built once per process from settings, lazily, and shared across jobs.

The CLI builds one :class:`Engines` per run, a server worker one per process; loading a
Whisper model takes seconds, so a batch of files or a stream of jobs reuses it.
"""

from __future__ import annotations

import logging
from typing import Any

from octavia.config import Settings
from octavia.pipeline.engines import Synthesizer, Translator
from octavia.pipeline.models import ModelResolver, ResolvedModel

log = logging.getLogger(__name__)


class Engines:
    def __init__(self, settings: Settings, resolver: ModelResolver | None = None) -> None:
        self.settings = settings
        self.resolver = resolver or ModelResolver.from_settings(settings)
        self._whisper: dict[str, Any] = {}  # by resolved model path
        self._hosted: Any = None
        self._translators: dict[str, Translator] = {}
        self._synthesizers: dict[tuple[str, str], Synthesizer] = {}

    def whisper_model(self, requested: str | None, language: str | None) -> ResolvedModel:
        from octavia.pipeline.whisper import choose_model

        return choose_model(self.resolver, requested or self.settings.whisper_model, language)

    def whisper(self, requested: str | None = None, language: str | None = None) -> Any:
        """A loaded :class:`~octavia.pipeline.whisper.WhisperEngine` (Transcriber + SpeechTranslator)."""
        from octavia.pipeline.whisper import WhisperEngine

        model = self.whisper_model(requested, language)
        key = str(model.path)
        if key not in self._whisper:
            log.info("Loading %s", model.describe())
            self._whisper[key] = WhisperEngine(
                model, device=self.settings.device, compute_type=self.settings.compute_type
            )
        return self._whisper[key]

    def hosted_transcriber(self) -> Any:
        """The OpenAI audio API engine (a Transcriber and SpeechTranslator), built once."""
        from octavia.pipeline.openai_transcribe import OpenAITranscriber

        if self._hosted is None:
            self._hosted = OpenAITranscriber.from_settings(self.settings)
        return self._hosted

    def translator(self, name: str | None = None) -> Translator:
        from octavia.pipeline.translation import make_translator

        name = name or self.settings.translator
        if name not in self._translators:
            self._translators[name] = make_translator(name, self.settings, self.resolver)
        return self._translators[name]

    def synthesizer(self, name: str | None, language: str) -> Synthesizer:
        from octavia.pipeline.synthesis import make_synthesizer

        name = name or self.settings.tts
        key = (name, language)
        if key not in self._synthesizers:
            self._synthesizers[key] = make_synthesizer(name, language, self.settings, self.resolver)
        return self._synthesizers[key]


def build_engines(settings: Settings) -> Engines:
    return Engines(settings)
