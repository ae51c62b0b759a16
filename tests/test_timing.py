"""Timing fit: the rules (gap first, then speed-up to the cap, then truncation), real Rubber Band
stretching with the pitch kept, and sample-exact placement that never overlaps or drifts."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from octavia.pipeline import media
from octavia.pipeline.timing import fit_clips, place_clips, plan_fit, trim_silence
from octavia.types import Segment

SR = 48_000


def tone(seconds: float, freq: float = 440.0, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_clip(path: Path, seconds: float, freq: float = 440.0, sr: int = 22_050, pad: float = 0.2) -> Path:
    """A tone with silence around it, like a TTS clip (at Piper's rate, so it gets resampled)."""
    silence = np.zeros(int(pad * sr), dtype=np.float32)
    return media.write_wav(np.concatenate([silence, tone(seconds, freq, sr), silence]), path, sr)


def dominant_freq(x: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[int(np.argmax(spectrum))])


SEGS = [Segment(0.0, 2.0, "a"), Segment(3.0, 4.0, "b"), Segment(4.5, 6.0, "c"), Segment(8.0, 9.0, "d")]


def test_plan_uses_gap_then_speed_then_reports_overflow() -> None:
    fits = plan_fit(SEGS, [1.5, 1.4, 2.5, 5.0], media_end=10.0, max_speed=1.25, margin=0.05)
    a, b, c, d = fits
    assert (a.factor, a.overflow_s) == (1.0, 0.0)  # fits its own window
    assert b.factor == 1.0 and b.limit == pytest.approx(4.45)  # runs into the gap before "c"
    assert c.limit == pytest.approx(7.95) and c.factor == 1.0  # the gap up to "d" is enough
    assert d.limit == 10.0 and d.factor == 1.25  # media end is 2 s away: capped speed-up …
    assert d.fitted_duration == pytest.approx(4.0) and d.overflow_s == pytest.approx(2.0)  # … still 2 s over
    tight = plan_fit(SEGS, [1.5, 1.6, 0.5, None], media_end=10.0, max_speed=1.25, margin=0.05)[1]
    assert tight.factor == pytest.approx(1.6 / 1.45) and tight.overflow_s == 0.0  # sped up just enough
    assert plan_fit(SEGS, [None, None, None, 0.5], media_end=10.0)[0].index == 3  # silent segments skipped


def test_never_slows_down_and_the_limit_never_passes_the_next_start() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        starts = np.sort(rng.uniform(0, 60, 12))
        segs = [Segment(float(s), float(s + rng.uniform(0.2, 3)), "x") for s in starts]
        durs = [float(rng.uniform(0.1, 6)) for _ in segs]
        fits = plan_fit(segs, durs, media_end=65.0, max_speed=1.3, margin=0.05)
        for f, nxt in itertools.pairwise(fits):
            placed_end = f.start + min(f.fitted_duration, f.limit - f.start)
            assert placed_end <= max(f.start, nxt.start - 0.05) + 1e-9 and placed_end <= nxt.start
        assert all(1.0 <= f.factor <= 1.3 for f in fits)


def test_trim_silence_keeps_a_short_pad() -> None:
    x = np.concatenate([np.zeros(SR), tone(0.5), np.zeros(SR)])
    trimmed = trim_silence(x, SR)
    assert abs(trimmed.size / SR - 0.54) < 0.005


def test_rubberband_speeds_up_with_pitch_kept_and_truncation_fades(tmp_path: Path) -> None:
    segs = [Segment(0.5, 1.5, "long"), Segment(2.0, 3.0, "way too long"), Segment(5.0, 6.0, "short")]
    clips = [write_clip(tmp_path / "a.wav", 1.8, 440), write_clip(tmp_path / "b.wav", 6.0, 330),
             write_clip(tmp_path / "c.wav", 0.6, 550)]  # fmt: skip
    result = fit_clips(clips, segs, media_end=7.0, work_dir=tmp_path / "w", max_speed=1.25, margin=0.05)
    a, b, c = result.fits
    assert result.stretcher == "rubberband"
    # a: 1.84 s of tone+pad into 1.45 s → 1.27x wanted, capped at 1.25x → about 1.47 s, 0.02 s cut.
    assert a.factor == 1.25 and abs(a.fitted_duration - a.clip_duration / 1.25) < 0.03
    assert a.overflow_s < 0.05
    assert b.factor == 1.25 and b.overflow_s == pytest.approx(b.fitted_duration - 2.95, abs=1e-3)
    assert (c.factor, c.overflow_s) == (1.0, 0.0)
    (sa, xa), (sb, xb), (sc, _) = result.clips
    assert (sa, sb, sc) == (0.5, 2.0, 5.0)  # every clip starts at its own segment's start
    assert abs(dominant_freq(xa) - 440) < 5  # Rubber Band kept the pitch; resampling 22.05k→48k too
    assert abs(dominant_freq(xb) - 330) < 5
    assert xb.size == round(2.95 * SR)  # cut exactly at the limit …
    assert (
        np.abs(xb[-10:]).max() < 0.005 and np.abs(xb[-int(0.1 * SR) : -int(0.05 * SR)]).max() > 0.3
    )  # … faded
    assert result.max_overflow == b.overflow_s


def test_placement_is_sample_exact_and_never_overlaps(tmp_path: Path) -> None:
    starts = [0.25, 1.0, 1.9, 3.333]
    segs = [Segment(s, s + 0.5, str(i)) for i, s in enumerate(starts)]
    clips = [write_clip(tmp_path / f"{i}.wav", 1.2, 300 + 100 * i, pad=0.0) for i in range(4)]
    result = fit_clips(clips, segs, media_end=5.0, work_dir=tmp_path / "w", max_speed=1.25, margin=0.05)
    track = place_clips(result.clips, 5 * SR, SR)
    assert track.size == 5 * SR
    for i, start in enumerate(starts):
        onset = round(start * SR)
        assert np.all(track[onset - 10 : onset] == 0.0)  # silence right before the onset
        # Sound starts within 6 ms of the segment start (Rubber Band softens an onset by ~4 ms).
        first = int(np.flatnonzero(np.abs(track[onset:]) > 0.05)[0])
        assert first <= 0.006 * SR
        if i + 1 < len(starts):
            # The tail of a clip never reaches the next onset: silence for at least the margin.
            nxt = round(starts[i + 1] * SR)
            assert np.all(track[nxt - int(0.045 * SR) : nxt] == 0.0)
            freq = dominant_freq(track[onset : onset + int(0.3 * SR)])
            assert abs(freq - (300 + 100 * i)) < 8  # each window holds its own clip: no drift
