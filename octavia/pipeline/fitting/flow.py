"""The fitting steps of a dub job (called from :mod:`octavia.pipeline.dubbing`).

1. Before translation: the chosen voice's speaking rate (measured once, cached in the model
   cache) and the gentle speed-up give each sentence a character budget
   (:func:`length_budget`), which length-aware translators aim at.
2. After synthesis: clips needing more than the gentle speed-up get shorter renderings
   (:func:`shorten`, bounded retries, remembered in the workspace so a re-run asks nothing).
3. The subtitles of the dub follow where the clips were placed (:func:`placed_segments`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from octavia.errors import MissingDependency, ModelNotAvailable
from octavia.pipeline import media
from octavia.pipeline.engines import LengthAwareTranslator, Synthesizer
from octavia.pipeline.fitting.budget import LengthBudget
from octavia.pipeline.fitting.rate import speaking_rate
from octavia.pipeline.fitting.retry import Retranslate, Shortened, shorten_long_clips, source_texts
from octavia.pipeline.jobs import JobContext
from octavia.pipeline.options import SpeechOptions
from octavia.pipeline.workspace import atomic_path, read_json
from octavia.types import Segment, Transcript

log = logging.getLogger(__name__)


def _opts(ctx: JobContext) -> SpeechOptions:
    opts = ctx.spec.options
    assert isinstance(opts, SpeechOptions)  # the dub kinds validate this first
    return opts


def length_budget(ctx: JobContext, synth: Synthesizer, voice: str | None, target: str) -> LengthBudget:
    """The character budget maker for ``target``: the voice's rate at the gentle speed-up."""
    opts = _opts(ctx)
    rate = speaking_rate(synth, language=target, voice=voice, cache_dir=ctx.engines.settings.models_dir,
                         ffmpeg=media.FFmpeg(ctx.engines.settings.ffmpeg))  # fmt: skip
    ctx.info.setdefault("timing", {}).setdefault(target, {})["chars_per_second"] = round(rate, 3)
    return LengthBudget(rate, min(opts.gentle_speed, opts.max_speed))


def _retranslator(ctx: JobContext, source: str, target: str) -> LengthAwareTranslator | None:
    """The job's text translator when it can aim at a length (not Whisper speech translation)."""
    name = str(_opts(ctx).translator or ctx.engines.settings.translator)
    if name == "whisper" or source == target:
        return None
    try:
        translator = ctx.engines.translator(name)
        translator.engine_id(source, target)
    except (ModelNotAvailable, MissingDependency) as exc:
        log.info("no shorter renderings for %s→%s: %s", source, target, exc.message)
        return None
    return translator if isinstance(translator, LengthAwareTranslator) else None


def shorten(
    ctx: JobContext, *, synth: Synthesizer, voice: str | None, original: Transcript, translated: Transcript,
    spoken: Transcript, clips: Sequence[Any], media_end: float, sample_rate: int,
    voices: Sequence[str | None] | None = None,
) -> Shortened:  # fmt: skip
    """Plan the clips, asking for shorter renderings where they need more than a gentle speed-up."""
    opts = _opts(ctx)
    target = spoken.language
    translator = _retranslator(ctx, original.language, target)
    memo_path = ctx.workspace.path(f"shorter.{target}.json")
    retranslate = None
    if translator is not None:
        memo = read_json(memo_path) if memo_path.exists() else {}
        sources = source_texts(original.segments, translated.segments, spoken.segments)
        retranslate = Retranslate(translator, original.language, target, sources, memo)
    result = shorten_long_clips(
        spoken.segments, list(clips), retranslate=retranslate, synth=synth, voice=voice, voices=voices,
        clip_dir=ctx.workspace.path("clips"), sample_rate=sample_rate, media_end=media_end,
        max_speed=opts.max_speed, gentle_speed=opts.gentle_speed, max_drift=opts.max_drift,
        ffmpeg=media.FFmpeg(ctx.engines.settings.ffmpeg),
        on_round=lambda attempt, n: ctx.report("shorten", attempt, None, f"{target}: {n} lines"),
    )  # fmt: skip
    if retranslate is not None and retranslate.memo:
        import json

        with atomic_path(memo_path) as tmp:
            tmp.write_text(json.dumps(retranslate.memo, ensure_ascii=False, indent=1), encoding="utf-8")
    ctx.info.setdefault("timing", {}).setdefault(target, {})["shortened"] = sum(
        1 for a, b in zip(spoken.segments, result.segments, strict=True) if a.text != b.text
    )
    return result


def placed_segments(segments: Sequence[Segment], records: Sequence[dict[str, Any]]) -> list[Segment]:
    """``segments`` on the times their clips play (the dub's subtitle cues follow the voice)."""
    placed = {int(r["index"]): (float(r["placed_start"]), float(r["placed_end"])) for r in records}
    out = []
    for i, seg in enumerate(segments):
        if i in placed:
            start, end = placed[i]
            seg = dataclasses.replace(seg, start=start, end=max(end, start + 0.01))
        out.append(seg)
    return out
