"""Typed job options, one model per job kind, shared by the CLI, the Python API and the server.

Every option is validated when the job is built (:func:`parse_options`), before any stage
runs: an unknown name, a wrong type or an out-of-range value is an :class:`InputError` naming
the option, not a ``TypeError`` deep inside a stage after minutes of transcription. Each
default is stated once: here, or (for layout, ASS style and mixing) in the dataclass or module
that uses it, which these models read. ``None`` means "the engine settings decide"
(``OCTAVIA_WHISPER_MODEL``, ``OCTAVIA_TRANSLATOR``, ``OCTAVIA_TTS``).

The server accepts a subset (:data:`SERVER_OPTIONS`) that names no file or directory; see
:mod:`octavia.server.jobs` for the check of model and voice names against what it has installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from octavia.errors import InputError
from octavia.formats.ass_style import AssStyle
from octavia.formats.rules import LayoutRules
from octavia.pipeline import timing
from octavia.pipeline.dubreport.metrics import DEFAULT_MAX_ERROR
from octavia.pipeline.fitting import placement
from octavia.pipeline.whisper import BATCHED_BEAM_SIZE, DEFAULT_BATCH_SIZE, SEQUENTIAL_BEAM_SIZE

_LAYOUT = LayoutRules()
_STYLE = AssStyle()
Translator = Literal["auto", "marian", "hf", "apertium", "llm", "whisper"]
TTS_ENGINES = ("auto", "coqui", "kokoro", "piper", "tts-server")
AudioFormat = Literal["wav", "flac", "mp3", "m4a", "ogg", "opus"]  # media.AUDIO_CODECS, without the dot
AUDIO_FORMATS: tuple[str, ...] = get_args(AudioFormat)
#: The dub's bed (see octavia.pipeline.separation): auto = separate when a separator is available, else duck.
Background = Literal["auto", "separate", "duck", "keep", "none"]
Separator = Literal["auto", "spleeter", "demucs"]
SpeakerLabels = Literal["none", "name", "dash"]  # formats.srt.SPEAKER_LABELS
MAX_SPEAKERS = 32


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Layout(_Model):
    """:class:`~octavia.formats.rules.LayoutRules` as options; its defaults and checks apply."""

    max_chars_per_line: int = Field(_LAYOUT.max_chars_per_line, ge=1, le=500)
    max_lines: int = Field(_LAYOUT.max_lines, ge=1, le=20)
    max_cps: float = Field(_LAYOUT.max_cps, gt=0, allow_inf_nan=False)
    min_duration: float = Field(_LAYOUT.min_duration, ge=0, allow_inf_nan=False)
    max_duration: float = Field(_LAYOUT.max_duration, gt=0, allow_inf_nan=False)
    min_gap: float = Field(_LAYOUT.min_gap, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _rules_accept(self) -> Layout:
        self.rules()  # the cross-field checks (max ≥ min duration) live in LayoutRules
        return self

    def rules(self) -> LayoutRules:
        try:
            return LayoutRules(**self.model_dump())
        except InputError as exc:
            raise ValueError(exc.message) from exc


class Style(_Model):
    """:class:`~octavia.formats.ass_style.AssStyle` as options; its defaults and checks apply."""

    name: str = Field(_STYLE.name, max_length=64)
    font_name: str = Field(_STYLE.font_name, max_length=64)
    font_size: float = Field(_STYLE.font_size, gt=0, le=1000, allow_inf_nan=False)
    primary_colour: str = Field(_STYLE.primary_colour, max_length=16)
    secondary_colour: str = Field(_STYLE.secondary_colour, max_length=16)
    outline_colour: str = Field(_STYLE.outline_colour, max_length=16)
    back_colour: str = Field(_STYLE.back_colour, max_length=16)
    bold: bool = _STYLE.bold
    italic: bool = _STYLE.italic
    border_style: Literal[1, 3] = _STYLE.border_style  # type: ignore[assignment]
    outline: float = Field(_STYLE.outline, ge=0, le=100, allow_inf_nan=False)
    shadow: float = Field(_STYLE.shadow, ge=0, le=100, allow_inf_nan=False)
    alignment: int = Field(_STYLE.alignment, ge=1, le=9)
    margin_l: int = Field(_STYLE.margin_l, ge=0)
    margin_r: int = Field(_STYLE.margin_r, ge=0)
    margin_v: int = Field(_STYLE.margin_v, ge=0)
    play_res_x: int = Field(_STYLE.play_res_x, gt=0)
    play_res_y: int = Field(_STYLE.play_res_y, gt=0)

    @model_validator(mode="after")
    def _style_accepts(self) -> Style:
        self.style()  # colours and names are checked where they are written
        return self

    def style(self) -> AssStyle:
        try:
            return AssStyle(**self.model_dump())
        except InputError as exc:
            raise ValueError(exc.message) from exc


class SubtitleOptions(_Model):
    """Options of the ``subtitle`` kind, and the speech and text stages every kind shares."""

    whisper_model: str | None = Field(
        None, min_length=1, max_length=200, description="Whisper size (tiny, base, ...) or auto."
    )
    transcriber: Literal["whisper", "openai"] | None = None
    translator: Translator | None = None
    keep_terms: tuple[str, ...] = Field((), max_length=200, description="Terms kept untranslated.")
    glossary: dict[str, str] = Field(
        default_factory=dict, max_length=1000, description="Source term → how to render it in the target."
    )
    vad: bool = Field(True, description="Skip silence with Silero VAD before transcribing.")
    batch: bool = Field(
        True, description="Decode VAD chunks in batches (faster); false: Whisper's sequential decoder."
    )
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=64, description="Chunks decoded at once.")
    beam_size: int | None = Field(
        None,
        ge=1,
        le=10,
        description=f"Whisper beam width (default {BATCHED_BEAM_SIZE} for batched transcription, "
        f"{SEQUENTIAL_BEAM_SIZE} sequential and for speech translation).",
    )
    layout: Layout = Field(default_factory=Layout)
    ass_style: Style = Field(default_factory=Style)
    diarize: bool | None = Field(
        None, description="Label speakers (default: on for translate-audio and dub, off for subtitle)."
    )
    diarizer: Literal["d-vector", "pyannote"] = Field("d-vector", description="Diarization engine.")
    speakers: int | None = Field(
        None, ge=1, le=MAX_SPEAKERS, description="How many speakers (default: found)."
    )
    min_speakers: int | None = Field(None, ge=1, le=MAX_SPEAKERS)
    max_speakers: int | None = Field(None, ge=1, le=MAX_SPEAKERS)
    speaker_labels: SpeakerLabels = Field(
        "none", description="SRT speaker marks: none, name ('Speaker 1: ...') or dash ('- ' at each change)."
    )
    #: Output files are named STEM.LANG.EXT; the server sets it to the upload's name.
    output_stem: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("keep_terms")
    @classmethod
    def _terms(cls, terms: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(t.strip() for t in terms if t.strip())

    @model_validator(mode="after")
    def _speaker_bounds(self) -> SubtitleOptions:
        low, high = self.min_speakers or 1, self.max_speakers or MAX_SPEAKERS
        if low > high:
            raise ValueError(f"min_speakers ({low}) is more than max_speakers ({high})")
        if self.speakers is not None and not low <= self.speakers <= high:
            raise ValueError(
                f"speakers ({self.speakers}) is outside min_speakers..max_speakers ({low}..{high})"
            )
        return self

    @field_validator("glossary")
    @classmethod
    def _glossary(cls, glossary: dict[str, str]) -> dict[str, str]:
        from octavia.pipeline.glossary import check_glossary

        try:
            return check_glossary(glossary)
        except InputError as exc:
            raise ValueError(exc.message) from exc

    @property
    def whisper_batch_size(self) -> int | None:
        """The batch size a Whisper call takes: None selects the sequential decoder."""
        return self.batch_size if self.batch else None


class SpeechOptions(SubtitleOptions):
    """What both re-speaking kinds add: the voice, the fit to the original timing, the mix."""

    tts: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="auto, coqui[:MODEL], kokoro[:VOICE], piper[:VOICE] or tts-server.",
    )
    tts_model: str | None = Field(None, min_length=1, max_length=500)
    voice: str | None = Field(None, min_length=1, max_length=500)
    clone_voice: bool = False
    cast: dict[str, str] = Field(
        default_factory=dict, max_length=64, description="Speaker label → voice name (a voice per speaker)."
    )
    cast_file: str | None = Field(None, min_length=1, max_length=500, description="A cast.json to reuse.")
    max_speed: float = Field(
        timing.DEFAULT_MAX_SPEED, ge=1.0, le=4.0, description="Most a clip is sped up to fit its window."
    )
    gentle_speed: float = Field(
        placement.DEFAULT_GENTLE_SPEED, ge=1.0, le=4.0,
        description="Speed-up past which a shorter translation is asked for first.",
    )  # fmt: skip
    max_drift: float = Field(
        placement.DEFAULT_MAX_DRIFT, ge=0.0, le=10.0, allow_inf_nan=False,
        description="Seconds a dubbed line may start before or after the original line.",
    )  # fmt: skip
    max_overflow: float | None = Field(None, ge=0, allow_inf_nan=False)
    duck_db: float = Field(
        timing.DEFAULT_DUCK_DB, ge=-60.0, le=0.0, description="Original audio gain under speech."
    )
    background: Background = Field(
        "auto",
        description="The bed under the dub: separate (voice removed), duck (original ducked by duck_db), "
        "keep (original at full level), none (dub alone); auto = separate when a separator is available, else duck.",
    )
    separator: Separator | None = Field(None, description="Separation engine: auto (Spleeter, else Demucs).")
    review: bool = False
    verify: bool = Field(True, description="Hear every dubbed line back with Whisper and report it.")
    max_error: float = Field(
        DEFAULT_MAX_ERROR,
        ge=0,
        le=10,
        allow_inf_nan=False,
        description="Flag a dubbed line whose back-transcription error (WER; CER under 3 words) is above this.",
    )
    strict: bool = Field(False, description="Fail the run (outputs kept) when any dubbed line is flagged.")

    @model_validator(mode="before")
    @classmethod
    def _legacy_background(cls, data: Any) -> Any:
        """Jobs saved by earlier versions stored ``background: bool`` and ``separate_vocals: bool``."""
        if not isinstance(data, Mapping) or not (
            {"separate_vocals"} & data.keys() or isinstance(data.get("background"), bool)
        ):
            return data
        data = dict(data)
        separate = bool(data.pop("separate_vocals", False))
        if isinstance(data.get("background"), bool):
            data["background"] = "duck" if data["background"] else "none"
        if separate and data.get("background", "auto") != "none":
            data["background"] = "separate"
        return data

    @field_validator("cast")
    @classmethod
    def _cast(cls, cast: dict[str, str]) -> dict[str, str]:
        cleaned = {" ".join(k.split()): v.strip() for k, v in cast.items()}
        if any(not k or len(k) > 80 or not v or len(v) > 500 for k, v in cleaned.items()):
            raise ValueError("each cast entry maps a speaker label (1-80 characters) to a voice name")
        return cleaned

    @field_validator("tts")
    @classmethod
    def _engine(cls, tts: str | None) -> str | None:
        if tts is not None and tts.partition(":")[0] not in TTS_ENGINES:
            raise ValueError(f"the engine must be one of {', '.join(TTS_ENGINES)} (optionally ENGINE:MODEL)")
        return tts


class TranslateAudioOptions(SpeechOptions):
    audio_format: AudioFormat | None = Field(
        None, description="Output audio format (default: as the input, else wav)."
    )


class DubOptions(SpeechOptions):
    burn_subtitles: str | None = Field(
        None,
        min_length=2,
        max_length=16,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$|^target$",
        description="Burn the subtitles of this language into the picture ('target': each dub's own).",
    )


JobOptions = SubtitleOptions  # every kind's model is a SubtitleOptions
OPTIONS: dict[str, type[SubtitleOptions]] = {
    "subtitle": SubtitleOptions,
    "translate-audio": TranslateAudioOptions,
    "dub": DubOptions,
}

#: Options a server client may set, per kind: none names a path (model dirs, voice files) or
#: starts a paid hosted service. Model and voice *names* are further checked against what the
#: server has installed. ``review`` stops the job for edits over HTTP (octavia/server/review.py).
_SERVER_COMMON = ("whisper_model", "translator", "keep_terms", "glossary", "vad", "layout", "ass_style",
                  "diarize", "speakers", "min_speakers", "max_speakers", "speaker_labels")  # fmt: skip
_SERVER_SPEECH = (*_SERVER_COMMON, "tts", "voice", "cast", "max_speed", "duck_db", "background", "separator",
                  "verify", "max_error", "gentle_speed", "max_drift", "review")  # fmt: skip


def _subset(model: type[SubtitleOptions], names: tuple[str, ...]) -> type[BaseModel]:
    """A model with some of ``model``'s fields: the same types, constraints and defaults.

    Field validators are not copied; :func:`parse_server_options` runs the full model too.
    """
    picked: dict[str, Any] = {n: (model.model_fields[n].annotation, model.model_fields[n]) for n in names}
    return create_model(
        f"Server{model.__name__}", __config__=ConfigDict(extra="forbid", frozen=True), **picked
    )


SERVER_OPTIONS: dict[str, type[BaseModel]] = {
    "subtitle": _subset(SubtitleOptions, _SERVER_COMMON),
    "translate-audio": _subset(TranslateAudioOptions, (*_SERVER_SPEECH, "audio_format")),
    "dub": _subset(DubOptions, _SERVER_SPEECH),
}


def describe_errors(exc: ValidationError) -> str:
    """``max_speed: Input should be greater than or equal to 1 (got 0)``; one line per error."""
    parts = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"]) or "options"
        got = "" if e["type"] == "extra_forbidden" else f" (got {e.get('input')!r:.60})"
        msg = "unknown option" if e["type"] == "extra_forbidden" else e["msg"]
        parts.append(f"{where}: {msg}{got}")
    return "; ".join(parts)


def _validate(model: type[BaseModel], kind: str, data: Mapping[str, Any]) -> BaseModel:
    if not isinstance(data, Mapping):
        raise InputError(f"The {kind} job options must be an object, not {type(data).__name__}.")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        allowed = ", ".join(model.model_fields)
        raise InputError(
            f"Invalid {kind} job options: {describe_errors(exc)}.", f"Options: {allowed}."
        ) from exc


def model_for(kind: str) -> type[SubtitleOptions]:
    model = OPTIONS.get(kind)
    if model is None:
        raise InputError(f"Job kind {kind!r} is not available.", f"Available kinds: {', '.join(OPTIONS)}.")
    return model


def parse_options(kind: str, data: Mapping[str, Any] | SubtitleOptions | None = None) -> SubtitleOptions:
    """The typed options of a ``kind`` job; :class:`InputError` naming each bad option."""
    model = model_for(kind)
    if isinstance(data, SubtitleOptions):
        if type(data) is model:
            return data
        data = data.model_dump(exclude_unset=True)
    parsed = _validate(model, kind, data or {})
    assert isinstance(parsed, model)
    return parsed


def parse_server_options(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What a server client sent, validated: the JSON to store (only the options it set)."""
    model = SERVER_OPTIONS.get(kind)
    if model is None:
        raise InputError(f"Job kind {kind!r} is not available.")
    subset = _validate(model, kind, data)
    stored = subset.model_dump(mode="json", exclude_unset=True)
    parse_options(kind, stored)  # the full model's validators (e.g. the tts engine) apply too
    return stored


def default(model: type[BaseModel], name: str) -> Any:
    """The default of one option, for CLI flags and help texts (stated once, in the model)."""
    return model.model_fields[name].get_default(call_default_factory=True)


__all__ = [
    "AUDIO_FORMATS",
    "OPTIONS",
    "SERVER_OPTIONS",
    "TTS_ENGINES",
    "DubOptions",
    "JobOptions",
    "Layout",
    "SpeechOptions",
    "Style",
    "SubtitleOptions",
    "TranslateAudioOptions",
    "default",
    "describe_errors",
    "model_for",
    "parse_options",
    "parse_server_options",
]
