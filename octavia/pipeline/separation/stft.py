"""Spleeter's spectrogram front end, run chunk by chunk so memory does not grow with the file.

Spleeter frames the waveform after ``frame_length`` zeros (Hann 4096, hop 1024, ``pad_end``),
cuts the STFT into chunks of ``T`` = 512 frames, runs the networks on each chunk's magnitude
(first ``F`` = 1024 bins), turns the stems' estimates into ratio masks, applies them to the
complex STFT and inverts by overlap-add (× 2/3, the Hann² overlap at hop N/4).

Here each chunk is read from the WAV file as ``T·hop + frame − hop`` samples, transformed,
masked, inverted, and overlap-added into a carry of ``frame − hop`` samples; the first
``T·hop`` samples of each chunk's output are then final and written. Chunks are the same as
Spleeter's own partition of the whole file, so the result is the same as separating it at once.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from octavia.errors import InputError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Array = npt.NDArray[np.float32]

SAMPLE_RATE = 44_100
CHANNELS = 2
FRAME = 4096
HOP = 1024
BINS = 1024  # the network sees the first 1024 of 2049 bins (up to ~11 kHz)
CHUNK_FRAMES = 512
WINDOW_COMPENSATION = 2.0 / 3.0
EPSILON = 1e-10

#: Magnitude ``(frames, BINS, 2)`` → one estimate per stem, same shape.
Estimator = Callable[["Array"], "list[Array]"]
#: Called after each chunk with (chunks done, chunks in all); may raise to cancel.
ChunkProgress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class Plan:
    """How a file of ``samples`` samples is cut: Spleeter's frame count, then chunks of frames."""

    samples: int
    chunk_frames: int = CHUNK_FRAMES

    @property
    def frames(self) -> int:
        return -(-(self.samples + FRAME) // HOP)  # tf.signal.frame(pad_end=True) after the lead-in

    @property
    def chunks(self) -> int:
        return max(1, -(-self.frames // self.chunk_frames))

    @property
    def chunk_samples(self) -> int:
        return self.chunk_frames * HOP


def _window() -> Array:
    import numpy as np

    n = np.arange(FRAME, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / FRAME)).astype(np.float32)  # periodic Hann


def ratio_masks(estimates: list[Array], keep: int, *, extend: str = "average") -> Array:
    """Stem ``keep``'s ratio mask over all ``FRAME // 2 + 1`` bins, ``(frames, bins, 2)``.

    ``(e_keep² + ε/n) / (Σ e² + ε)``, Spleeter's ``separation_exponent`` 2. Above bin 1024 the
    network says nothing; Spleeter's released configs fill with zeros (every stem loses the band
    above ~11 kHz). For a background bed we keep that band: ``extend="average"`` fills each frame
    with the mask's mean over the modelled bins (Spleeter's "average" extension).
    """
    import numpy as np

    total = np.sum([e * e for e in estimates], axis=0) + EPSILON
    mask = (estimates[keep] ** 2 + EPSILON / len(estimates)) / total
    extra = FRAME // 2 + 1 - mask.shape[1]
    if extend == "average":
        fill = np.repeat(mask.mean(axis=1, keepdims=True), extra, axis=1)
    else:
        fill = np.zeros((mask.shape[0], extra, mask.shape[2]), dtype=mask.dtype)
    return np.concatenate([mask, fill], axis=1).astype(np.float32)


def separate_chunk(block: Array, estimator: Estimator, keep: int, frames: int) -> Array:
    """Overlap-added output of one chunk: ``block`` (``frames·hop + FRAME − hop``, 2) in, same out."""
    import numpy as np

    window = _window()
    idx = np.arange(frames)[:, None] * HOP + np.arange(FRAME)[None, :]
    framed = block.T[:, idx] * window  # (2, frames, FRAME)
    spectrum = np.fft.rfft(framed, axis=-1).astype(np.complex64)  # (2, frames, 2049)
    magnitude = np.abs(spectrum[:, :, :BINS]).transpose(1, 2, 0)  # (frames, BINS, 2)
    mask = ratio_masks(estimator(np.ascontiguousarray(magnitude)), keep)
    spectrum *= mask.transpose(2, 0, 1)
    frames_out = np.fft.irfft(spectrum, n=FRAME, axis=-1).astype(np.float32) * window
    out = np.zeros((CHANNELS, block.shape[0]), dtype=np.float32)
    for i in range(frames):  # overlap-add
        out[:, i * HOP : i * HOP + FRAME] += frames_out[:, i]
    return (out * WINDOW_COMPENSATION).T


def _read(reader: wave.Wave_read, count: int) -> Array:
    import numpy as np

    raw = reader.readframes(count)
    data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, CHANNELS)


def _write(writer: wave.Wave_write, samples: Array) -> None:
    import numpy as np

    writer.writeframes((np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2").tobytes())


def _check_format(reader: wave.Wave_read, path: Path) -> None:
    got = (reader.getframerate(), reader.getnchannels(), reader.getsampwidth())
    if got != (SAMPLE_RATE, CHANNELS, 2):
        raise InputError(f"{path} must be 44.1 kHz stereo 16-bit PCM for separation, not {got}.")


def separate_file(
    src: Path, dest: Path, estimator: Estimator, *, keep: int, chunk_frames: int = CHUNK_FRAMES,
    progress: ChunkProgress | None = None,
) -> Path:  # fmt: skip
    """Write stem ``keep`` of the 44.1 kHz stereo WAV ``src`` to ``dest`` (same format, length)."""
    import numpy as np

    lead = FRAME - HOP  # what each chunk shares with the next
    with wave.open(str(src), "rb") as reader, wave.open(str(dest), "wb") as writer:
        _check_format(reader, src)
        writer.setnchannels(CHANNELS)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        plan = Plan(reader.getnframes(), chunk_frames)
        # Input is the waveform after FRAME zeros; `window_in` holds the samples chunk c needs.
        window_in = np.concatenate(
            [np.zeros((FRAME, CHANNELS), np.float32), _read(reader, plan.chunk_samples - FRAME + lead)]
        )
        carry = np.zeros((lead, CHANNELS), dtype=np.float32)
        skip, remaining = FRAME, plan.samples  # the lead-in is dropped from the output
        for chunk in range(plan.chunks):
            need = plan.chunk_samples + lead
            block = np.zeros((need, CHANNELS), dtype=np.float32)
            block[: len(window_in)] = window_in[:need]
            out = separate_chunk(block, estimator, keep, chunk_frames)
            out[:lead] += carry
            final, carry = out[: plan.chunk_samples], out[plan.chunk_samples :].copy()
            final = final[skip:][:remaining]
            skip, remaining = 0, remaining - len(final)
            _write(writer, final)
            window_in = np.concatenate([block[plan.chunk_samples :], _read(reader, plan.chunk_samples)])
            if progress is not None:
                progress(chunk + 1, plan.chunks)
        if remaining > 0:  # the samples the last chunk's carry completes
            _write(writer, carry[skip:][:remaining])
    return dest
