"""Engines built once per process from settings, lazily, and shared across jobs.

The CLI builds one :class:`Engines` per run, a server worker one per process; loading a
Whisper model takes seconds, so a batch of files or a stream of jobs reuses it. Worker
threads share one :class:`Engines`: each cache entry is built once, under a lock of its own
(two threads asking for one model wait for one load; different models load in parallel).
Engines hold no per-job state; per-job options travel with each call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from octavia.config import Settings
from octavia.pipeline.engines import Synthesizer, Translator
from octavia.pipeline.models import ModelResolver, ResolvedModel

log = logging.getLogger(__name__)
V = TypeVar("V")


class Engines:
    def __init__(self, settings: Settings, resolver: ModelResolver | None = None) -> None:
        self.settings = settings
        self.resolver = resolver or ModelResolver.from_settings(settings)
        self._whisper: dict[str, Any] = {}  # by resolved model path
        self._hosted: dict[str, Any] = {}
        self._translators: dict[str, Translator] = {}
        self._synthesizers: dict[tuple[str, str], Synthesizer] = {}
        self._diarizers: dict[str, Any] = {}
        self._lock = threading.Lock()  # guards the caches and _loading, never held while loading
        self._loading: dict[tuple[str, Hashable], threading.Lock] = {}

    def _cached(self, cache: dict[Any, V], name: str, key: Hashable, build: Callable[[], V]) -> V:
        """``cache[key]``, built by ``build`` once even when threads race for it."""
        with self._lock:
            if key in cache:
                return cache[key]
            loading = self._loading.setdefault((name, key), threading.Lock())
        with loading:  # the losers of the race wait here for the winner's load
            with self._lock:
                if key in cache:
                    return cache[key]
            value = build()  # a failure is not cached: the next job tries again
            with self._lock:
                cache[key] = value
                self._loading.pop((name, key), None)
            return value

    def whisper_model(self, requested: str | None, language: str | None) -> ResolvedModel:
        from octavia.pipeline.whisper import choose_model

        return choose_model(self.resolver, requested or self.settings.whisper_model, language)

    def whisper(self, requested: str | None = None, language: str | None = None) -> Any:
        """A loaded :class:`~octavia.pipeline.whisper.WhisperEngine` (Transcriber + SpeechTranslator)."""
        from octavia.pipeline.whisper import WhisperEngine

        model = self.whisper_model(requested, language)

        def load() -> Any:
            log.info("Loading %s", model.describe())
            return WhisperEngine(model, device=self.settings.device, compute_type=self.settings.compute_type)

        return self._cached(self._whisper, "whisper", str(model.path), load)

    def hosted_transcriber(self) -> Any:
        """The OpenAI audio API engine (a Transcriber and SpeechTranslator), built once."""
        from octavia.pipeline.openai_transcribe import OpenAITranscriber

        return self._cached(
            self._hosted, "hosted", "openai", lambda: OpenAITranscriber.from_settings(self.settings)
        )

    def translator(self, name: str | None = None) -> Translator:
        from octavia.pipeline.translation import make_translator

        chosen = name or self.settings.translator
        return self._cached(self._translators, "translator", chosen,
                            lambda: make_translator(chosen, self.settings, self.resolver))  # fmt: skip

    def synthesizer(self, name: str | None, language: str) -> Synthesizer:
        from octavia.pipeline.synthesis import make_synthesizer

        chosen = name or self.settings.tts
        return self._cached(self._synthesizers, "synthesizer", (chosen, language),
                            lambda: make_synthesizer(chosen, language, self.settings, self.resolver))  # fmt: skip

    def diarizer(self, name: str = "d-vector") -> Any:
        """A loaded speaker diarizer (:mod:`octavia.pipeline.diarization`), built once."""
        from octavia.pipeline.diarization import make_diarizer

        device = "cpu" if self.settings.device == "auto" else self.settings.device
        return self._cached(self._diarizers, "diarizer", name,
                            lambda: make_diarizer(name, self.resolver, device=device))  # fmt: skip


def build_engines(settings: Settings) -> Engines:
    return Engines(settings)
