"""``dub --burn-subtitles``: the dubbed video with one language's subtitles in the picture.

The dub is muxed as usual (dub track, original track, soft subtitles), then its picture is
re-encoded with the subtitles burned in (:func:`octavia.pipeline.burn.burn`); the audio and
soft subtitle tracks are copied. What libass reported goes into ``ctx.info["burned"]``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from octavia import formats
from octavia.errors import InputError
from octavia.pipeline import burn, media
from octavia.pipeline.jobs import JobContext
from octavia.types import Transcript


def burn_dub(ctx: JobContext, muxed: Path, out: Path, transcript: Transcript | None, language: str) -> None:
    from octavia.formats.layout import segments_to_cues

    if transcript is None:
        raise InputError(f"No {language} subtitles were made for this dub.")
    opts = ctx.spec.options
    cues = segments_to_cues(
        [s for s in transcript.segments if s.text.strip()],
        opts.layout.rules(),
        media_end=transcript.duration or None,
    ).cues
    ff = getattr(ctx.engines.settings, "ffmpeg", None)
    target = out.name
    with tempfile.TemporaryDirectory(prefix="octavia-burn-") as tmp:
        subs = Path(tmp) / f"burn.{language}.ass"
        subs.write_text(formats.dumps(cues, "ass", ass_style=opts.ass_style.style()), encoding="utf-8")
        ctx.report("burn", 0, 1, target)
        report = burn.burn(muxed, subs, out, ffmpeg=media.FFmpeg(ff),
                           on_progress=lambda done, total: ctx.report("burn", done, total, target))  # fmt: skip
    ctx.info.setdefault("burned", {})[out.name] = {"language": language, **report.to_dict()}
    if report.warning:
        ctx.info.setdefault("warnings", []).append(report.warning)
