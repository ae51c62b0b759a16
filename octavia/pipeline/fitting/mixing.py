"""From synthesized clips to a dub track: trim, plan (:mod:`.placement`), stretch, lay down whole.

Clips are decoded at the mix rate and their TTS padding trimmed; the plan decides each clip's
start and speed-up; sped-up clips are time-stretched with the pitch kept
(:func:`octavia.pipeline.media.time_stretch`). A stretched clip can come out a few
milliseconds longer than planned, so the starts are re-checked on the real lengths (later
clips move on by those milliseconds rather than overlap). Nothing is ever cut: a clip that
ends past the media end makes the track longer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octavia.pipeline import media
from octavia.pipeline.fitting.placement import DEFAULT_GENTLE_SPEED, DEFAULT_MARGIN, Placement, Window, place
from octavia.pipeline.fitting.records import FitRecord
from octavia.pipeline.timing import trim_silence
from octavia.types import Segment

#: How much later than planned a clip may end up after stretching (Rubber Band's output length
#: is off by a few milliseconds) before it counts as overflow.
SETTLE_S = 0.02


def load_clips(
    clips: Sequence[Path | None], *, sample_rate: int, ffmpeg: media.FFmpeg | None = None
) -> list[Any]:
    """Each clip as mono float32 samples at ``sample_rate``, silence trimmed (None: no clip)."""
    return [
        trim_silence(media.decode_audio(c, sample_rate=sample_rate, channels=1, ffmpeg=ffmpeg)[:, 0], sample_rate)
        if c is not None else None
        for c in clips
    ]  # fmt: skip


def plan(
    segments: Sequence[Segment], audio: Sequence[Any], *, sample_rate: int, media_end: float,
    max_speed: float, max_drift: float, margin: float = DEFAULT_MARGIN,
    gentle_speed: float = DEFAULT_GENTLE_SPEED,
) -> Placement:  # fmt: skip
    """The placement of every segment that has a (non-silent) clip."""
    with_clip = [i for i, a in enumerate(audio) if a is not None and a.size]
    windows = [Window(i, segments[i].start, segments[i].end) for i in with_clip]
    durations = [audio[i].size / sample_rate for i in with_clip]
    return place(windows, durations, media_end=media_end, max_speed=max_speed, max_drift=max_drift,
                 margin=margin, gentle_speed=gentle_speed)  # fmt: skip


@dataclass
class Rendered:
    records: list[FitRecord]
    clips: list[tuple[float, Any]]  # (start seconds, mono float32 samples), whole
    sample_rate: int
    stretcher: str | None  # the ffmpeg filter used for speed-ups, if any ran

    @property
    def max_overflow(self) -> float:
        return max((r.overflow_s for r in self.records), default=0.0)

    @property
    def end(self) -> float:
        return max((r.placed_end for r in self.records), default=0.0)

    def report(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.records]


def render(
    placement: Placement, audio: Sequence[Any], *, sample_rate: int, work_dir: Path, media_end: float,
    max_drift: float, margin: float = DEFAULT_MARGIN, ffmpeg: media.FFmpeg | None = None,
) -> Rendered:  # fmt: skip
    """Stretch the clips the plan speeds up and settle the starts on the real lengths."""
    work_dir.mkdir(parents=True, exist_ok=True)
    stretcher: str | None = None
    records: list[FitRecord] = []
    clips: list[tuple[float, Any]] = []
    earliest = 0.0
    for rec in placement.records:
        samples = audio[rec.index]
        if rec.factor > 1.0005:
            src, dest = work_dir / f"{rec.index:05d}.in.wav", work_dir / f"{rec.index:05d}.fast.wav"
            media.write_wav(samples, src, sample_rate)
            stretcher = media.time_stretch(src, dest, rec.factor, ffmpeg=ffmpeg)
            samples = media.decode_audio(dest, sample_rate=sample_rate, channels=1, ffmpeg=ffmpeg)[:, 0]
            src.unlink()
            dest.unlink()
        start = max(rec.placed_start, earliest)
        end = start + samples.size / sample_rate
        earliest = end + margin
        late = max(0.0, start - rec.start - max_drift, end - media_end)
        if rec.overflow_s == 0.0 and late <= SETTLE_S:  # a few ms of stretching error is not overflow
            late = 0.0
        records.append(dataclasses.replace(
            rec, placed_start=start, placed_end=end, shift_s=start - rec.start,
            borrowed_before_s=max(0.0, rec.start - start), borrowed_after_s=max(0.0, end - rec.end),
            overflow_s=late,
        ))  # fmt: skip
        clips.append((start, samples))
    return Rendered(records, clips, sample_rate, stretcher)


def lay_down(clips: Sequence[tuple[float, Any]], total: int, sample_rate: int) -> Any:
    """A mono track of at least ``total`` samples with every clip whole at its sample-exact onset
    (longer when a clip ends past ``total``)."""
    import numpy as np

    onsets = [round(start * sample_rate) for start, _ in clips]
    length = max([total, *(at + samples.size for at, (_, samples) in zip(onsets, clips, strict=True))])
    track = np.zeros(length, dtype=np.float32)
    for at, (_, samples) in zip(onsets, clips, strict=True):
        track[at : at + samples.size] += samples
    return track
