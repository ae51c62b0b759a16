"""Known stems for separation checks: real LibriVox speech over music synthesised here.

The music is stereo: a plucked arpeggio of four chords (nine decaying harmonics per note) panned
across the field, a kick, a snare and a hi-hat. The dialogue is high-passed at 90 Hz, as every
dialogue track is before a mix (Spleeter, trained on music, gives sub-bass rumble to the
accompaniment), and centred; the music sits ``MUSIC_LEVEL`` (RMS) under it, a film's dialogue
level. ``gains`` regresses a separated signal on the two stems (least squares).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from octavia.pipeline import media

SR = 44_100
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
SPEECH_FILES = ("0870", "0880", "0890", "0920", "0930")
MUSIC_LEVEL = 0.6  # music RMS ÷ speech RMS (−4.4 dB)
CHORDS = ((220.0, 277.18, 329.63), (196.0, 246.94, 293.66), (174.61, 220.0, 261.63), (164.81, 207.65, 246.94))


@dataclass(frozen=True)
class Stems:
    speech: np.ndarray  # (n, 2), the same centred voice on both channels
    music: np.ndarray  # (n, 2)

    @property
    def mix(self) -> np.ndarray:
        return self.speech + self.music


def speech(seconds: float | None = None, sample_rate: int = SR) -> np.ndarray:
    """LibriVox sentences (pocketsphinx-testdata), high-passed, peak 0.4, mono ``(n,)``."""
    from scipy.signal import butter, sosfiltfilt

    parts = [media.decode_audio(LIBRIVOX / f"sense_and_sensibility_01_austen_64kb-{n}.wav", sample_rate=sample_rate,
                                channels=1)[:, 0] for n in SPEECH_FILES]  # fmt: skip
    voice = np.concatenate(parts)
    if seconds is not None:
        voice = np.resize(voice, int(seconds * sample_rate))
    voice = sosfiltfilt(butter(4, 90, btype="high", fs=sample_rate, output="sos"), voice)
    return (voice / np.abs(voice).max() * 0.4).astype(np.float32)


def music(n: int, sample_rate: int = SR, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 2))
    beat, step = 0.5, 0.25
    for k in range(int(n / sample_rate / step)):
        at = int(k * step * sample_rate)
        length = min(n - at, sample_rate)
        t = np.arange(length) / sample_rate
        chord = CHORDS[int(k * step / (4 * beat)) % 4]
        for j, f in enumerate(chord):
            pan = (0.2, 0.5, 0.8)[j]
            note = sum(
                (0.3 / h) * np.sin(2 * np.pi * f * h * t) * np.exp(-t * 8 * h**0.5) for h in range(1, 10)
            )
            note = note * (1.0 if k % 2 == j % 2 else 0.4)
            out[at : at + length, 0] += note * (1 - pan)
            out[at : at + length, 1] += note * pan
    for k in range(int(n / sample_rate / beat)):
        at = int(k * beat * sample_rate)
        length = min(n - at, int(0.2 * sample_rate))
        t = np.arange(length) / sample_rate
        env = np.exp(-t * 25)
        out[at : at + length] += (0.8 * np.sin(2 * np.pi * (50 + 80 * env) * t) * env)[:, None]
        if k % 2:
            out[at : at + length] += 0.3 * rng.standard_normal((length, 2)) * np.exp(-t * 40)[:, None]
        hat = at + int(0.25 * sample_rate)
        if hat + 2000 < n:
            out[hat : hat + 2000, 1] += 0.1 * rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    return out


def stems(seconds: float | None = None, sample_rate: int = SR) -> Stems:
    voice = speech(seconds, sample_rate)
    centred = np.stack([voice, voice], axis=1)
    bed = music(len(voice), sample_rate)
    bed *= MUSIC_LEVEL * np.sqrt(np.sum(centred**2) / np.sum(bed**2))
    return Stems(centred, bed.astype(np.float32))


def write_stems(folder: Path, seconds: float | None = None) -> tuple[Stems, Path]:
    """The stems and their mix as ``folder/mix.wav`` (44.1 kHz stereo)."""
    s = stems(seconds)
    return s, media.write_wav(s.mix, folder / "mix.wav", SR)


def gains(separated: np.ndarray, known: Stems) -> tuple[float, float]:
    """(music gain, voice gain): least squares of ``separated`` on the two stems, both channels."""
    n = min(len(separated), len(known.music))
    basis = np.stack([known.music[:n].reshape(-1), known.speech[:n].reshape(-1)], axis=1)
    solution, *_ = np.linalg.lstsq(basis, separated[:n].reshape(-1), rcond=None)
    return float(solution[0]), float(solution[1])
