"""Plain data that flows between pipeline stages: frozen dataclasses with JSON round-trips.

Times are seconds (float) from the start of the media.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Word:
        return cls(float(d["start"]), float(d["end"]), str(d["text"]), float(d.get("probability", 1.0)))


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech: what Whisper returns, and what a translation or a dub is aligned to."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    def with_text(self, text: str) -> Segment:
        """The same timing with other text (a translation); word timings no longer apply."""
        return replace(self, text=text, words=())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["words"] = [asdict(w) for w in self.words]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        return cls(
            start=float(d["start"]),
            end=float(d["end"]),
            text=str(d["text"]),
            words=tuple(Word.from_dict(w) for w in d.get("words", ())),
            speaker=d.get("speaker"),
        )


@dataclass(frozen=True, slots=True)
class Transcript:
    """Timed segments in one language, with how they were obtained."""

    language: str
    segments: tuple[Segment, ...]
    duration: float = 0.0
    language_probability: float | None = None
    model: str | None = None

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments).strip()

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "language_probability": self.language_probability,
            "duration": self.duration,
            "model": self.model,
            "segments": [s.to_dict() for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        return cls(
            language=str(d["language"]),
            segments=tuple(Segment.from_dict(s) for s in d["segments"]),
            duration=float(d.get("duration", 0.0)),
            language_probability=d.get("language_probability"),
            model=d.get("model"),
        )


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle on screen. ``text`` may hold line breaks ("\\n") decided by the layout step.

    ``style`` names an ASS style (None = the default style); ``extra`` keeps format-specific
    fields (ASS layer, margins, effect; VTT cue settings) so a read → write round-trip keeps them.
    ``speaker`` is who says it ("Speaker 1", from diarization, a VTT ``<v>`` span or an ASS
    Name field); writers mark it in their format's way.
    """

    start: float
    end: float
    text: str
    style: str | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    speaker: str | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class StreamInfo:
    index: int
    kind: str  # "audio" | "video" | "subtitle" | "data"
    codec: str | None
    language: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None


@dataclass(frozen=True, slots=True)
class MediaInfo:
    path: str
    duration: float
    format_name: str
    streams: tuple[StreamInfo, ...]

    @property
    def audio_streams(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.kind == "audio")

    @property
    def video_streams(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.kind == "video")

    @property
    def subtitle_streams(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.kind == "subtitle")

    @property
    def has_video(self) -> bool:
        return bool(self.video_streams)
