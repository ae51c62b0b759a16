"""The engine protocols. Local and hosted backends implement the same small interface,
so the stages never know which one they drive.

Each engine exposes ``engine_id``: a string that changes whenever its output could change
(backend, model, relevant options). Stage checkpoints use it in their fingerprints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from octavia.pipeline.progress import ProgressCallback
from octavia.types import Transcript


@runtime_checkable
class Transcriber(Protocol):
    """Speech (a 16 kHz mono WAV) → timed segments with words."""

    @property
    def engine_id(self) -> str: ...

    def transcribe(
        self,
        audio: Path,
        *,
        language: str | None = None,
        word_timestamps: bool = True,
        progress: ProgressCallback | None = None,
    ) -> Transcript: ...


@runtime_checkable
class SpeechTranslator(Protocol):
    """Speech → English text with segment timings (Whisper ``task="translate"``)."""

    @property
    def engine_id(self) -> str: ...

    def translate_speech(
        self,
        audio: Path,
        *,
        language: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> Transcript: ...


@runtime_checkable
class Translator(Protocol):
    """Text → text between two languages. Inputs are whole sentences, batched by the caller."""

    def engine_id(self, source: str, target: str) -> str: ...

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]: ...


@runtime_checkable
class LengthAwareTranslator(Translator, Protocol):
    """A translator that can aim at a length: for dubbing, where a sentence's rendering must be
    spoken within its time budget.

    ``max_chars[i]`` is how many characters of target text (spaces included) the chosen voice can
    say within sentence ``i``'s budget; ``None`` means no limit. The translator returns, per
    sentence, its best rendering that fits, or its best one when none fits.
    """

    def translate_within(
        self, texts: Sequence[str], *, source: str, target: str, max_chars: Sequence[int | None]
    ) -> list[str]: ...


@runtime_checkable
class Synthesizer(Protocol):
    """Text → speech, written as a WAV file."""

    def engine_id(self, language: str, voice: str | None) -> str: ...

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path: ...


@runtime_checkable
class VoiceListing(Protocol):
    """A synthesizer that can say which voices speak a language (optional; casting uses it).

    ``voices(language)`` returns valid values of ``synthesize(..., voice=)`` for ``language``,
    installed on this machine (nothing is downloaded to list them), in a stable order.
    """

    def voices(self, language: str) -> list[str]: ...
