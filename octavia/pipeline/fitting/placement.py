"""Placing whole clips on the timeline: borrow gaps, speed up to a cap, shift neighbours.

Speech is never cut. Given each segment's window and its clip's natural length, every clip
gets a start and a speed-up factor such that

- clips keep their order and never overlap (at least ``margin`` apart);
- a clip starts on time whenever it fits; a long one runs on into the free gap after its
  window, or starts early into the gap before it, or pushes its neighbours later, as far as
  the gaps further on give slack — the shifts are shared out so that the sum of squared
  shifts is smallest (an isotonic regression, solved exactly by pool-adjacent-violators);
- no clip starts more than ``max_drift`` seconds early, nor (unless it must) more than
  ``max_drift`` late; and no clip ends past the media end (unless it must);
- where those bounds cannot be kept, the clips of the crowded stretch are sped up a little at
  a time (pitch-preserving, at mix time): up to ``gentle_speed`` first, then up to the cap
  ``max_speed``; at each level first those most over their own room (window + gap after);
- what still cannot be kept is *overflow*: the clip is placed whole, late (or past the media
  end, which extends the dub), and the excess is reported per segment.

Only lengths and times are computed here; :mod:`octavia.pipeline.fitting.mixing` stretches
and mixes the audio.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from octavia.pipeline.fitting.records import FitRecord

#: Defaults, stated once (job options and the CLI read them).
DEFAULT_GENTLE_SPEED = 1.15  # up to here a speed-up is hard to hear; past it a shorter rendering is asked for
DEFAULT_MAX_DRIFT = 0.75  # seconds a line may start before or after the original line
DEFAULT_MARGIN = 0.05  # silence kept between two clips
_STEP = 1.01  # factor growth per round in a crowded stretch: ~1 % at a time keeps speed-ups even
_EPS = 1e-6
_MAX_ROUNDS = 4000  # each round speeds some clips up by _STEP (~23 rounds reach 1.25x): a guard


@dataclass(frozen=True, slots=True)
class Window:
    """A segment's time span on the timeline, and the index of the segment it belongs to."""

    index: int
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Placement:
    """The plan: per clip (in timeline order) its record, and which clips the cap could not help."""

    records: list[FitRecord]
    crowded: list[int]  # positions (in ``records``) of clips in stretches that still overflow

    @property
    def max_overflow(self) -> float:
        return max((r.overflow_s for r in self.records), default=0.0)

    @property
    def total_overflow(self) -> float:
        return sum(r.overflow_s for r in self.records)


def place(
    windows: Sequence[Window],
    durations: Sequence[float],
    *,
    media_end: float,
    max_speed: float,
    max_drift: float = DEFAULT_MAX_DRIFT,
    margin: float = DEFAULT_MARGIN,
    gentle_speed: float = DEFAULT_GENTLE_SPEED,
) -> Placement:
    """Place clips of natural lengths ``durations`` (one per window, windows in timeline order)."""
    if max_speed < 1.0:
        raise ValueError("max_speed must be at least 1.0")
    if max_drift < 0:
        raise ValueError("max_drift must not be negative")
    n = len(windows)
    if len(durations) != n:
        raise ValueError("one duration per window")
    order = sorted(range(n), key=lambda k: (windows[k].start, k))
    if order != list(range(n)):
        raise ValueError("windows must be in timeline order")
    factors = [1.0] * n
    gentle = min(gentle_speed, max_speed)
    rooms = [
        max(w.end, (windows[k + 1].start - margin) if k + 1 < n else media_end, w.start + 0.01) - w.start
        for k, w in enumerate(windows)
    ]
    for _ in range(_MAX_ROUNDS):
        lengths = [d / f for d, f in zip(durations, factors, strict=True)]
        starts = _positions(windows, lengths, media_end=media_end, max_drift=max_drift, margin=margin)
        late = _violations(windows, starts, lengths, media_end=media_end, max_drift=max_drift)
        grown = False
        for block in _blocks(starts, lengths, margin, late):
            chosen: list[int] = []
            level = max_speed
            # Up to the gentle speed first, then the cap. At each level the clips most over their
            # own room (window + gap after) go first, until they are no more over it than the
            # next ones (water-filling): a short line keeps its pace while long ones can give,
            # and no clip passes the gentle speed while another could still take some.
            for level in (gentle, max_speed):
                slower = [k for k in block if factors[k] < level - _EPS]
                if slower:
                    top = max(lengths[k] / rooms[k] for k in slower)
                    chosen = [k for k in slower if lengths[k] / rooms[k] >= top / _STEP]
                    break
            for k in chosen:
                factors[k] = min(level, factors[k] * _STEP)
                grown = True
        if not grown:
            break
    crowded = sorted({k for block in _blocks(starts, lengths, margin, late) for k in block})
    records = [
        _record(w, d, f, p, length, late[k])
        for k, (w, d, f, p, length) in enumerate(
            zip(windows, durations, factors, starts, lengths, strict=True)
        )
    ]
    return Placement(records, crowded)


def _record(
    w: Window, duration: float, factor: float, start: float, length: float, overflow: float
) -> FitRecord:
    end = start + length
    return FitRecord(
        index=w.index, start=w.start, end=w.end, placed_start=start, placed_end=end, factor=factor,
        shift_s=start - w.start, borrowed_before_s=max(0.0, w.start - start),
        borrowed_after_s=max(0.0, end - w.end), overflow_s=overflow, clip_duration=duration,
    )  # fmt: skip


def _positions(
    windows: Sequence[Window], lengths: Sequence[float], *, media_end: float, max_drift: float, margin: float
) -> list[float]:
    """Starts as close to the windows' starts as non-overlap allows (least squares), then bounded.

    With ``c_k`` the room the clips before ``k`` need (their lengths plus margins), start
    ``p_k = q_k + c_k`` never overlaps its predecessor exactly when ``q`` is non-decreasing,
    so the closest starts are the isotonic regression of ``start_k - c_k``.
    """
    n = len(windows)
    if n == 0:
        return []
    offsets = list(itertools.accumulate((lengths[k] + margin for k in range(n - 1)), initial=0.0))
    q = _isotonic([w.start - c for w, c in zip(windows, offsets, strict=True)])
    starts = [qk + c for qk, c in zip(q, offsets, strict=True)]
    # The media end: pull the tail back (this can only start clips earlier) ...
    latest = media_end - lengths[-1]
    for k in range(n - 1, -1, -1):
        starts[k] = min(starts[k], latest)
        if k:
            latest = starts[k] - margin - lengths[k - 1]
    # ... then the hard rules, front to back: never before 0 or more than max_drift early, never
    # overlapping. These only move clips later; what ends up too late is overflow.
    earliest = 0.0
    for k in range(n):
        starts[k] = max(starts[k], earliest, windows[k].start - max_drift, 0.0)
        earliest = starts[k] + lengths[k] + margin
    return starts


def _isotonic(values: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to ``values`` in least squares (pool adjacent violators)."""
    blocks: list[tuple[float, int]] = []  # (mean, count)
    for v in values:
        mean, count = v, 1
        while blocks and blocks[-1][0] > mean:
            m, c = blocks.pop()
            mean, count = (m * c + mean * count) / (c + count), c + count
        blocks.append((mean, count))
    return [m for m, c in blocks for _ in range(c)]


def _violations(
    windows: Sequence[Window], starts: Sequence[float], lengths: Sequence[float], *, media_end: float,
    max_drift: float,
) -> list[float]:  # fmt: skip
    """Per clip, how far it is outside its bounds: started later than ``max_drift``, or ended
    past the media end (the larger of the two)."""
    return [
        max(0.0, p - w.start - max_drift, p + length - media_end)
        for w, p, length in zip(windows, starts, lengths, strict=True)
    ]


def _blocks(
    starts: Sequence[float], lengths: Sequence[float], margin: float, late: Sequence[float]
) -> list[list[int]]:
    """The runs of back-to-back clips (each starting right after the previous one) that hold a
    clip out of bounds: speeding any clip of such a run up gives the late one room."""
    runs: list[list[int]] = []
    for k in range(len(starts)):
        if runs and abs(starts[k] - (starts[k - 1] + lengths[k - 1] + margin)) < 1e-4:
            runs[-1].append(k)
        else:
            runs.append([k])
    return [run for run in runs if any(late[k] > _EPS for k in run)]


def needing_shorter(placement: Placement, *, gentle_speed: float) -> list[int]:
    """Positions of clips that need more than a gentle speed-up, or sit in a stretch that still
    overflows: the candidates for a shorter rendering."""
    crowded = set(placement.crowded)
    return [k for k, r in enumerate(placement.records) if r.factor > gentle_speed + 1e-3 or k in crowded]
