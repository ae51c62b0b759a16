"""Rendering the fit: real Rubber Band stretching with the pitch kept, every clip whole (never
truncated, even at the cap), and sample-exact onsets that never overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from octavia.pipeline import media
from octavia.pipeline.fitting.mixing import Rendered, lay_down, load_clips, plan, render
from octavia.pipeline.timing import trim_silence
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


def fit(
    clips: list[Path], segs: list[Segment], tmp: Path, *, media_end: float, drift: float = 0.0
) -> Rendered:
    audio = load_clips(clips, sample_rate=SR)
    placement = plan(segs, audio, sample_rate=SR, media_end=media_end, max_speed=1.25, max_drift=drift)
    return render(placement, audio, sample_rate=SR, work_dir=tmp / "w", media_end=media_end, max_drift=drift)


def test_trim_silence_keeps_a_short_pad() -> None:
    x = np.concatenate([np.zeros(SR), tone(0.5), np.zeros(SR)])
    trimmed = trim_silence(x, SR)
    assert abs(trimmed.size / SR - 0.54) < 0.005


def test_rubberband_speeds_up_with_pitch_kept_and_nothing_is_cut(tmp_path: Path) -> None:
    segs = [Segment(0.5, 1.5, "long"), Segment(2.0, 3.0, "way too long"), Segment(5.0, 6.0, "short")]
    clips = [write_clip(tmp_path / "a.wav", 1.8, 440), write_clip(tmp_path / "b.wav", 6.0, 330),
             write_clip(tmp_path / "c.wav", 0.6, 550)]  # fmt: skip
    result = fit(clips, segs, tmp_path, media_end=7.0)
    a, b, c = result.records
    assert result.stretcher == "rubberband"
    # a: 1.84 s of tone+pad, 1.45 s to the next start: sped up 1.27x wanted, 1.25x at the cap
    # (b is crowded too); b: 6 s can never fit before the media end: the cap, then overflow.
    assert a.factor == pytest.approx(1.25) and b.factor == pytest.approx(1.25)
    (_, xa), (sb, xb), (sc, xc) = result.clips
    assert abs(dominant_freq(xa) - 440) < 5  # Rubber Band kept the pitch; resampling 22.05k→48k too
    assert abs(dominant_freq(xb) - 330) < 5
    # Nothing is cut: every clip is its whole (sped-up) length, within Rubber Band's few ms.
    for rec, (_, x) in zip(result.records, result.clips, strict=True):
        assert abs(x.size / SR - rec.clip_duration / rec.factor) < 0.03
        assert rec.placed_end - rec.placed_start == pytest.approx(x.size / SR)
    assert np.abs(xb[-int(0.1 * SR) :]).max() > 0.3  # the end of the long tone is there, not faded out
    # The long clip pushes the short one late (sped up with its crowded stretch): past the drift
    # and the media end, so it is reported as overflow — and still played whole.
    assert sc >= sb + xb.size / SR + 0.05 - 1e-9 and c.overflow_s > 0 and c.factor == pytest.approx(1.25)
    assert b.overflow_s > 0 and result.max_overflow == max(a.overflow_s, b.overflow_s, c.overflow_s)
    track = lay_down(result.clips, 7 * SR, SR)
    assert track.size == round(sc * SR) + xc.size > 7 * SR  # the track grows; no clip is shortened


def test_lay_down_is_sample_exact_and_never_overlaps(tmp_path: Path) -> None:
    starts = [0.25, 1.0, 1.9, 3.333]
    segs = [Segment(s, s + 0.5, str(i)) for i, s in enumerate(starts)]
    clips = [write_clip(tmp_path / f"{i}.wav", 0.6, 300 + 100 * i, pad=0.0) for i in range(4)]
    result = fit(clips, segs, tmp_path, media_end=5.0, drift=0.0)
    track = lay_down(result.clips, 5 * SR, SR)
    assert track.size == 5 * SR
    for i, start in enumerate(starts):
        onset = round(start * SR)
        assert result.records[i].placed_start == start  # fits with the gap after it: on time
        assert np.all(track[onset - 10 : onset] == 0.0)  # silence right before the onset
        first = int(np.flatnonzero(np.abs(track[onset:]) > 0.05)[0])
        assert first <= 0.006 * SR
        freq = dominant_freq(track[onset : onset + int(0.3 * SR)])
        assert abs(freq - (300 + 100 * i)) < 8  # each window holds its own clip: no drift
