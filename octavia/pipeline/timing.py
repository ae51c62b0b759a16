"""Mixing a dub: silence trimming, ducking the original under the dub, and the mix itself.

Where each clip plays, and how much it is sped up, is decided by
:mod:`octavia.pipeline.fitting` (a global placement that never cuts speech: clips borrow the
free gaps around their window, are sped up to ``max_speed`` with the pitch kept, shift their
neighbours within ``max_drift``, and what still cannot fit is reported as overflow).

Clips are never slowed down: a short clip leaves silence, which sounds natural; stretching
speech to fill a window does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from octavia.errors import OctaviaError

MIX_RATE = 48_000
#: The one place of these defaults: the job options (octavia.pipeline.options) and the CLI read them.
DEFAULT_MAX_SPEED = 1.25  # faster than this, sped-up speech starts to sound rushed
DEFAULT_DUCK_DB = -14.0  # the original stays audible under the dub without competing with it


class TimingOverflow(OctaviaError):
    """Some clips did not fit their windows by more than the user's ``--max-overflow``."""

    code = "timing_overflow"


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
