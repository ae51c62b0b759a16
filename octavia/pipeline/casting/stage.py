"""Casting inside a dub job: measure each speaker, pick their voices, record and save the cast.

Which voice a speaker gets, strongest first: the review file's cast section, the ``cast``
option, the ``--cast`` file, then the automatic choice (:mod:`.assign`) among the
synthesizer's voices for the language (``voices(language)``), matched by pitch. With
``--clone-voice`` each speaker is cloned (XTTS) from a reference clip of their own speech
instead. Segments without a speaker label keep the run's single voice, as before casting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia.pipeline import media
from octavia.pipeline.casting.assign import assign
from octavia.pipeline.casting.castfile import read_cast, write_cast
from octavia.pipeline.casting.catalogue import PitchCache, candidate_voices, voice_pitches
from octavia.pipeline.casting.pitch import RATE, median_pitch
from octavia.pipeline.engines import Synthesizer
from octavia.pipeline.workspace import atomic_path
from octavia.types import Segment

if TYPE_CHECKING:
    from octavia.pipeline.jobs import JobContext

CAST_FILE = "cast.json"
PITCH_SECONDS = 30.0  # of each speaker's speech, longest segments first
CLONE_SECONDS = 12.0


def speakers_of(segments: Sequence[Segment]) -> dict[str, float]:
    """Speaker label → seconds of speech, in order of first appearance."""
    talk: dict[str, float] = {}
    for seg in segments:
        if seg.speaker:
            talk[seg.speaker] = talk.get(seg.speaker, 0.0) + seg.duration
    return talk


def speaker_pitches(
    audio: Path, segments: Sequence[Segment], labels: Sequence[str]
) -> dict[str, float | None]:
    """Each speaker's median pitch over (up to) their longest 30 s of speech in ``audio`` (16 kHz)."""
    import numpy as np

    samples = media.decode_audio(audio, sample_rate=RATE, channels=1)[:, 0]
    pitches: dict[str, float | None] = {}
    for label in labels:
        own = sorted((s for s in segments if s.speaker == label), key=lambda s: -s.duration)
        parts, total = [], 0.0
        for seg in own:
            if total >= PITCH_SECONDS:
                break
            parts.append(samples[int(seg.start * RATE) : int(seg.end * RATE)])
            total += seg.duration
        pitches[label] = median_pitch(np.concatenate(parts)) if parts else None
    return pitches


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower() or "speaker"


def clone_references(ctx: JobContext, audio: Path, segments: Sequence[Segment]) -> dict[str, str]:
    """Per speaker, a reference clip of their longest segment (up to 12 s) for XTTS cloning."""
    refs: dict[str, str] = {}
    for label in speakers_of(segments):
        seg = max((s for s in segments if s.speaker == label), key=lambda s: s.duration)
        ref = ctx.workspace.path(f"voice-reference.{_slug(label)}.wav")
        if not ref.exists():
            with atomic_path(ref) as tmp:
                media.cut_audio(audio, tmp, start=seg.start, duration=min(seg.duration, CLONE_SECONDS),
                                ffmpeg=media.FFmpeg(ctx.engines.settings.ffmpeg))  # fmt: skip
        refs[label] = str(ref)
    return refs


def choose_cast(
    ctx: JobContext, synth: Synthesizer, target: str, audio: Path, segments: Sequence[Segment], *,
    voice: str | None, review_voices: Mapping[str, str] | None = None,
) -> dict[str, str | None]:  # fmt: skip
    """Speaker label → voice for ``segments`` (empty when no segment names a speaker).

    ``voice`` is the run's single voice (``--voice``, or a clone reference). The cast and its
    figures go into ``ctx.info["cast"][target]``; the cast is saved as ``cast.json`` in the
    work dir and beside the outputs.
    """
    opts: Any = ctx.spec.options
    talk = speakers_of(segments)
    if not talk:
        return {}
    fixed: dict[str, tuple[str, str]] = {}  # label → (voice, where it came from), weakest first
    if getattr(opts, "cast_file", None):
        fixed.update({k: (v, "cast file") for k, v in read_cast(Path(opts.cast_file), target).items()})
    fixed.update({k: (v, "cast option") for k, v in (getattr(opts, "cast", None) or {}).items()})
    fixed.update({k: (v, "review") for k, v in (review_voices or {}).items()})
    fixed = {k: v for k, v in fixed.items() if k in talk}
    labels = list(talk)
    pitches = speaker_pitches(audio, segments, labels)
    notes: list[str] = []
    if getattr(opts, "clone_voice", False):
        refs = clone_references(ctx, audio, segments)
        voices: dict[str, str | None] = {k: fixed[k][0] if k in fixed else refs[k] for k in labels}
        voice_hz: dict[str | None, float | None] = {}
        source = "cloned"
    else:
        listed = [] if opts.voice else candidate_voices(synth, target)
        catalogue: list[str | None] = list(listed) or [voice]
        voice_hz = voice_pitches(synth, target, catalogue, PitchCache(ctx.engines.settings.cache_dir))
        priority = sorted(labels, key=lambda k: -talk[k])
        chosen = assign(pitches, voice_hz, fixed={k: v for k, (v, _) in fixed.items()}, priority=priority)
        voices, notes = {k: chosen.voices[k] for k in labels}, chosen.notes
        source = "pitch match"
        if len(catalogue) == 1 and len(labels) > 1 and not opts.voice:
            notes.append(f"Only one voice speaks {target!r} here: every speaker uses it.")
    record = {
        label: {
            "voice": _shown(voices[label]),
            "source": fixed[label][1] if label in fixed else source,
            "pitch_hz": _round(pitches[label]),
            "voice_pitch_hz": _round(voice_hz.get(voices[label])),
            "speech_s": round(talk[label], 2),
        }
        for label in labels
    }
    ctx.info.setdefault("cast", {})[target] = {"speakers": record, "notes": notes}
    warnings = ctx.info.setdefault("warnings", [])
    warnings.extend(n for n in notes if n not in warnings)
    named = {k: v for k, v in voices.items() if not (v and Path(v).suffix == ".wav")}  # not clone clips
    for path in (ctx.workspace.path(CAST_FILE), ctx.output_path(f".{CAST_FILE}")):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_cast(path, target, named, pitches)
    ctx.outputs["cast"] = ctx.output_path(f".{CAST_FILE}")
    return voices


def segment_voices(
    segments: Sequence[Segment], cast: Mapping[str, str | None], voice: str | None
) -> list[str | None]:
    """One voice per segment: its speaker's, or the run's single voice."""
    return [cast.get(s.speaker, voice) if s.speaker else voice for s in segments]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _shown(voice: str | None) -> str:
    if voice and Path(voice).suffix == ".wav":
        return "cloned from the speaker"
    return voice or "default"
