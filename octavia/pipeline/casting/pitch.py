"""Median voice pitch (F0) of speech, with YIN (de Cheveigné & Kawahara, 2002) in numpy.

Per 10 ms frame: the cumulative-mean-normalised difference function over lags for 60-400 Hz;
a frame is voiced when its dip goes under the threshold and it is loud enough (relative to the
loudest frames, so silence and breath do not vote). The median over voiced frames is robust to
octave slips in a few frames, which is all casting needs: ranking speakers and voices by pitch.
"""

from __future__ import annotations

from typing import Any

RATE = 16_000
FMIN, FMAX = 60.0, 400.0
WINDOW = 480  # 30 ms: two periods of the lowest pitch
HOP = 160
THRESHOLD = 0.2
MIN_VOICED_FRAMES = 10


def frame_pitches(samples: Any, rate: int = RATE) -> Any:
    """F0 in Hz per frame (NaN where unvoiced) of mono float ``samples`` at ``rate``."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float64).reshape(-1)
    tau_min, tau_max = int(rate / FMAX), int(rate / FMIN) + 1
    span = WINDOW + tau_max
    if x.size < span:
        return np.full(0, np.nan)
    starts = np.arange(0, x.size - span + 1, HOP)
    frames = np.stack([x[s : s + span] for s in starts])
    frames -= frames.mean(axis=1, keepdims=True)
    n_fft = 1 << (2 * span - 1).bit_length()
    spec_full = np.fft.rfft(frames, n_fft)
    spec_win = np.fft.rfft(frames[:, :WINDOW], n_fft)
    corr = np.fft.irfft(spec_full * np.conj(spec_win), n_fft)[:, : tau_max + 1]  # r(tau)
    energy = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), axis=1)
    e0 = energy[:, WINDOW]
    lags = np.arange(tau_max + 1)
    e_tau = energy[:, lags + WINDOW] - energy[:, lags]
    diff = np.maximum(e0[:, None] + e_tau - 2 * corr, 0.0)
    cum = np.cumsum(diff[:, 1:], axis=1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(cum, 1e-12)
    pitches = np.full(len(starts), np.nan)
    rms = np.sqrt(e0 / WINDOW)
    loud = rms > 0.1 * np.percentile(rms, 95) if rms.size else rms
    for i in np.flatnonzero(loud):
        row = cmnd[i]
        below = np.flatnonzero(row[tau_min:] < THRESHOLD)
        if below.size == 0:
            continue
        tau = tau_min + int(below[0])
        while tau + 1 <= tau_max and row[tau + 1] < row[tau]:  # walk down to the dip's bottom
            tau += 1
        if tau >= tau_max:
            continue
        a, b, c = row[tau - 1], row[tau], row[tau + 1]  # parabolic refinement of the lag
        shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c > 1e-12 else 0.0
        pitches[i] = rate / (tau + shift)
    return pitches


def median_pitch(samples: Any, rate: int = RATE) -> float | None:
    """The median F0 (Hz) of the voiced frames, or None with too few of them."""
    import numpy as np

    pitches = frame_pitches(samples, rate)
    voiced = pitches[np.isfinite(pitches)]
    if voiced.size < MIN_VOICED_FRAMES:
        return None
    return float(np.median(voiced))
