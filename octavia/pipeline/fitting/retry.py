"""Shorter renderings for clips that need more than a gentle speed-up.

After synthesis, the clips are planned (:mod:`.placement`). A clip that would need more than
``gentle_speed``, or that sits in a crowded stretch that still overflows, is sent back to the
length-aware translator for a shorter rendering of its source text, with a character limit
from its time budget and its measured speaking rate (tighter on each retry). The new text is
synthesised (cached like any clip) and kept only when its clip really is shorter. At most
``max_retries`` rounds; lines a person edited (``--review``) are never re-translated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from octavia.pipeline import media
from octavia.pipeline.engines import LengthAwareTranslator, Synthesizer
from octavia.pipeline.fitting.budget import span_budget
from octavia.pipeline.fitting.mixing import load_clips, plan
from octavia.pipeline.fitting.placement import DEFAULT_MARGIN, Placement, needing_shorter
from octavia.pipeline.synthesis import synthesize_segments
from octavia.types import Segment

DEFAULT_RETRIES = 2
_TIGHTEN = 0.85  # each further retry asks for 15 % fewer characters than the last


@dataclass
class Shortened:
    segments: list[Segment]  # the texts that are spoken now
    clips: list[Path | None]
    audio: list[Any]  # the clips' samples (trimmed), at the mix rate
    placement: Placement
    retries: dict[int, int] = field(default_factory=dict)  # segment index -> shorter renderings asked for


@dataclass(frozen=True)
class Retranslate:
    """How to ask for a shorter line: the translator and, per segment, its source text
    (None: do not re-translate it, e.g. a person edited it)."""

    translator: LengthAwareTranslator
    source: str
    target: str
    sources: Sequence[str | None]
    memo: dict[str, str] = field(
        default_factory=dict
    )  # (source text, limit) -> rendering, kept by the caller


def source_texts(
    original: Sequence[Segment], translated: Sequence[Segment], spoken: Sequence[Segment]
) -> list[str | None]:
    """Per spoken segment, the source text on its timing, or None where a person changed the
    machine translation (their edit is kept as it is)."""
    machine = {(s.start, s.end): s.text for s in translated}
    out: list[str | None] = []
    for seg in spoken:
        if machine.get((seg.start, seg.end)) != seg.text:
            out.append(None)
            continue
        inside = [o.text.strip() for o in original if o.start >= seg.start - 1e-3 and o.end <= seg.end + 1e-3]
        out.append(" ".join(t for t in inside if t) or None)
    return out


def shorten_long_clips(
    segments: Sequence[Segment], clips: Sequence[Path | None], *, retranslate: Retranslate | None,
    synth: Synthesizer, voice: str | None, clip_dir: Path, sample_rate: int, media_end: float,
    voices: Sequence[str | None] | None = None, max_speed: float, gentle_speed: float, max_drift: float, margin: float = DEFAULT_MARGIN,
    max_retries: int = DEFAULT_RETRIES, ffmpeg: media.FFmpeg | None = None,
    on_round: Callable[[int, int], None] | None = None,
) -> Shortened:  # fmt: skip
    """Plan the clips; ask for shorter renderings where needed (see the module docstring)."""
    segments, clips = list(segments), list(clips)
    audio = load_clips(clips, sample_rate=sample_rate, ffmpeg=ffmpeg)

    def replan() -> Placement:
        return plan(segments, audio, sample_rate=sample_rate, media_end=media_end, max_speed=max_speed,
                    max_drift=max_drift, margin=margin, gentle_speed=gentle_speed)  # fmt: skip

    placement = replan()
    retries: dict[int, int] = {}
    gentle = min(gentle_speed, max_speed)
    for attempt in range(1, max_retries + 1 if retranslate is not None else 1):
        assert retranslate is not None
        todo = [placement.records[k].index for k in needing_shorter(placement, gentle_speed=gentle)]
        todo = [i for i in todo if retranslate.sources[i]]
        if not todo:
            break
        if on_round is not None:
            on_round(attempt, len(todo))
        limits = [_limit(segments, audio, i, attempt, sample_rate=sample_rate, media_end=media_end,
                         gentle=gentle, margin=margin) for i in todo]  # fmt: skip
        renderings = _translate(retranslate, [str(retranslate.sources[i]) for i in todo], limits)
        candidates = {}
        for i, text in zip(todo, renderings, strict=True):
            retries[i] = attempt
            text = " ".join(text.split())
            if text and len(text) < len(" ".join(segments[i].text.split())):
                candidates[i] = replace(segments[i], text=text)
        if not candidates:
            continue
        # Each line keeps its speaker's voice (the cast) in its shorter rendering.
        cast = [voices[i] for i in candidates] if voices else None
        made = synthesize_segments(list(candidates.values()), synth, language=retranslate.target, voice=voice,
                                   clip_dir=clip_dir, voices=cast)  # fmt: skip
        new_audio = load_clips(made.clips, sample_rate=sample_rate, ffmpeg=ffmpeg)
        for (i, seg), clip, samples in zip(candidates.items(), made.clips, new_audio, strict=True):
            if samples is not None and samples.size and samples.size < audio[i].size:  # really shorter
                segments[i], clips[i], audio[i] = seg, clip, samples
        placement = replan()
    if retries:
        placement = Placement(
            [replace(r, retries=retries.get(r.index, 0)) for r in placement.records], placement.crowded
        )
    return Shortened(segments, clips, audio, placement, retries)


def _limit(
    segments: Sequence[Segment], audio: Sequence[Any], i: int, attempt: int, *, sample_rate: int,
    media_end: float, gentle: float, margin: float,
) -> int:  # fmt: skip
    """Characters for segment ``i``'s shorter rendering: what its measured rate says of its
    budget at the gentle speed (never more than its text less one), tighter on each retry."""
    text = " ".join(segments[i].text.split())
    seconds = audio[i].size / sample_rate
    budget = span_budget(segments, [i], media_end=media_end, margin=margin) * gentle
    ratio = min(1.0, budget / seconds) if seconds > 0 else 1.0
    return max(1, min(len(text) - 1, math.floor(len(text) * ratio * _TIGHTEN ** (attempt - 1))))


def _translate(how: Retranslate, texts: list[str], limits: list[int]) -> list[str]:
    keys = [f"{how.source}>{how.target}|{limit}|{text}" for text, limit in zip(texts, limits, strict=True)]
    todo = [k for k, key in enumerate(keys) if key not in how.memo]
    if todo:
        done = how.translator.translate_within([texts[k] for k in todo], source=how.source, target=how.target,
                                               max_chars=[limits[k] for k in todo])  # fmt: skip
        for k, text in zip(todo, done, strict=True):
            how.memo[keys[k]] = text
    return [how.memo[key] for key in keys]
