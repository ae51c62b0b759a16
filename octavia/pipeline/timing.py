"""Fitting synthesized clips into their segments' windows, placing them, and ducking the original.

The rules, per segment (in order):

1. A clip that fits before the segment ends is placed as it is, at the segment's start.
2. A longer clip may run on into the free gap after the segment, up to the next placed
   clip's start minus ``margin`` (or the end of the media).
3. Still too long: it is sped up, pitch preserved (Rubber Band), by at most ``max_speed``.
4. Still too long at the cap: it is **truncated** at the limit with a short fade-out, and the
   cut time is reported as ``overflow_s``. Truncation (rather than letting it spill) is what
   keeps the guarantee that the dub never overlaps the next line and never drifts: every
   clip starts at its own segment's start, sample-accurately.

Clips are never slowed down: a short clip leaves silence, which sounds natural; stretching
speech to fill a window does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from octavia.errors import OctaviaError
from octavia.pipeline import media
from octavia.types import Segment

MIX_RATE = 48_000
#: The one place of these defaults: the job options (octavia.pipeline.options) and the CLI read them.
DEFAULT_MAX_SPEED = 1.25  # faster than this, sped-up speech starts to sound rushed
DEFAULT_DUCK_DB = -14.0  # the original stays audible under the dub without competing with it
FADE_S = 0.03


class TimingOverflow(OctaviaError):
    """Some clips did not fit their windows by more than the user's ``--max-overflow``."""

    code = "timing_overflow"


@dataclass(frozen=True, slots=True)
class Fit:
    """How one segment's clip was fitted (the per-segment ``--json`` report)."""

    index: int
    start: float
    end: float
    limit: float  # the latest time the clip may end (next clip's start - margin, or media end)
    clip_duration: float
    factor: float
    fitted_duration: float
    overflow_s: float

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def plan_fit(
    segments: Sequence[Segment],
    durations: Sequence[float | None],
    *,
    media_end: float,
    max_speed: float = DEFAULT_MAX_SPEED,
    margin: float = 0.05,
) -> list[Fit]:
    """Decide, for each segment with a clip, where it may end and how much to speed it up."""
    if max_speed < 1.0:
        raise ValueError("max_speed must be at least 1.0")
    with_clip = [i for i, d in enumerate(durations) if d]
    fits = []
    for pos, i in enumerate(with_clip):
        seg, dur = segments[i], float(durations[i] or 0.0)
        nxt = segments[with_clip[pos + 1]].start - margin if pos + 1 < len(with_clip) else media_end
        limit = max(seg.start, min(nxt, media_end))
        available = limit - seg.start
        factor = 1.0 if dur <= available else min(dur / max(available, 1e-6), max_speed)
        fitted = dur / factor
        fits.append(Fit(i, seg.start, seg.end, limit, dur, factor, fitted, max(0.0, fitted - available)))
    return fits


def trim_silence(samples: Any, sample_rate: int, *, threshold_db: float = -45.0, pad_s: float = 0.02) -> Any:
    """Drop leading and trailing silence (TTS voices pad clips), keeping a short pad."""
    import numpy as np

    if samples.size == 0:
        return samples
    loud = np.flatnonzero(np.abs(samples) > 10 ** (threshold_db / 20))
    if loud.size == 0:
        return samples[:0]
    pad = int(pad_s * sample_rate)
    return samples[max(0, loud[0] - pad) : min(samples.size, loud[-1] + pad + 1)]


def fade_out(samples: Any, sample_rate: int, seconds: float = FADE_S) -> Any:
    import numpy as np

    n = min(samples.size, int(seconds * sample_rate))
    if n:
        samples = samples.copy()
        samples[-n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
    return samples


@dataclass
class FitResult:
    fits: list[Fit]
    clips: list[tuple[float, Any]]  # (start seconds, mono float32 samples at sample_rate)
    sample_rate: int
    stretcher: str | None  # the ffmpeg filter used for speed-ups, if any ran

    @property
    def max_overflow(self) -> float:
        return max((f.overflow_s for f in self.fits), default=0.0)

    def report(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.fits]


def fit_clips(
    clips: Sequence[Path | None],
    segments: Sequence[Segment],
    *,
    media_end: float,
    work_dir: Path,
    max_speed: float = DEFAULT_MAX_SPEED,
    margin: float = 0.05,
    sample_rate: int = MIX_RATE,
    ffmpeg: media.FFmpeg | None = None,
) -> FitResult:
    """Decode (and resample) each clip, trim its silence, then fit it as :func:`plan_fit` decides."""
    work_dir.mkdir(parents=True, exist_ok=True)
    audio = [
        trim_silence(media.decode_audio(c, sample_rate=sample_rate, channels=1, ffmpeg=ffmpeg)[:, 0], sample_rate)
        if c is not None else None
        for c in clips
    ]  # fmt: skip
    durations = [a.size / sample_rate if a is not None and a.size else None for a in audio]
    planned = plan_fit(segments, durations, media_end=media_end, max_speed=max_speed, margin=margin)
    fits, placed, stretcher = [], [], None
    for fit in planned:
        samples: Any = audio[fit.index]
        if fit.factor > 1.0005:
            src, dest = work_dir / f"{fit.index:05d}.in.wav", work_dir / f"{fit.index:05d}.fast.wav"
            media.write_wav(samples, src, sample_rate)
            stretcher = media.time_stretch(src, dest, fit.factor, ffmpeg=ffmpeg)
            samples = media.decode_audio(dest, sample_rate=sample_rate, channels=1, ffmpeg=ffmpeg)[:, 0]
            src.unlink()
            dest.unlink()
        room = round((fit.limit - fit.start) * sample_rate)
        actual = samples.size / sample_rate
        if samples.size > room:
            samples = fade_out(samples[:room], sample_rate)
        overflow = max(0.0, actual - (fit.limit - fit.start))
        fits.append(
            Fit(fit.index, fit.start, fit.end, fit.limit, fit.clip_duration, fit.factor, actual, overflow)
        )
        placed.append((fit.start, samples))
    return FitResult(fits, placed, sample_rate, stretcher)


def place_clips(clips: Sequence[tuple[float, Any]], total: int, sample_rate: int) -> Any:
    """A mono track of ``total`` samples with each clip starting at its sample-exact onset.

    A clip never runs into the next one's onset (a last guard; fitting already ensures it).
    """
    import numpy as np

    track = np.zeros(total, dtype=np.float32)
    ordered = sorted(clips, key=lambda c: c[0])
    for k, (start, samples) in enumerate(ordered):
        at = round(start * sample_rate)
        stop = total if k + 1 == len(ordered) else round(ordered[k + 1][0] * sample_rate)
        n = max(0, min(samples.size, stop - at, total - at))
        track[at : at + n] += samples[:n]
    return track


def duck_envelope(
    intervals: Sequence[tuple[float, float]], total: int, sample_rate: int, *, gain_db: float = DEFAULT_DUCK_DB,
    ramp_s: float = 0.12,
) -> Any:  # fmt: skip
    """Gain per sample for the original audio: ``gain_db`` while a clip plays, 0 dB elsewhere,
    with linear ramps of ``ramp_s`` that start before the clip (so its first word is clear)."""
    import numpy as np

    low = np.float32(10 ** (gain_db / 20))
    duck = np.zeros(total, dtype=np.float32)  # 0 = full level, 1 = fully ducked
    ramp = max(1, int(ramp_s * sample_rate))
    for start, end in intervals:
        a, b = round(start * sample_rate), round(end * sample_rate)
        duck[max(0, a) : min(total, b)] = 1.0
        lo = max(0, a - ramp)
        duck[lo:a] = np.maximum(duck[lo:a], np.linspace(0, 1, ramp, dtype=np.float32)[ramp - (a - lo) :])
        hi = min(total, b + ramp)
        duck[b:hi] = np.maximum(duck[b:hi], np.linspace(1, 0, ramp, dtype=np.float32)[: hi - b])
    return 1.0 - duck * (1.0 - low)


def mix(bed: Any, dub: Any, envelope: Any, *, dub_gain_db: float = 0.0) -> Any:
    """Original (ducked by ``envelope``) + dub on every channel, scaled down only if it would clip."""
    import numpy as np

    out = bed * envelope[:, None] + (dub * np.float32(10 ** (dub_gain_db / 20)))[:, None]
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    return out * np.float32(0.98 / peak) if peak > 0.98 else out
