"""Time budgets: how long a segment's (or a sentence's) dubbed speech may last.

A segment may speak through its own window and on into the free gap after it, up to the next
segment's start (less the margin kept between clips) or the media end. A sentence made of
consecutive segments gets the span from its first segment's start to its last segment's
budget end. With the voice's speaking rate (:mod:`.rate`) and the gentle speed-up the dub
allows anyway, a budget becomes ``max_chars`` for a length-aware translator.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from octavia.pipeline.fitting.placement import DEFAULT_MARGIN
from octavia.pipeline.fitting.rate import chars_within


class Timed(Protocol):
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...


def budget_end(
    spans: Sequence[Timed], k: int, *, media_end: float | None, margin: float = DEFAULT_MARGIN
) -> float:
    """The latest time segment ``k``'s speech may end without touching the next segment."""
    span = spans[k]
    limit = spans[k + 1].start - margin if k + 1 < len(spans) else (media_end or span.end)
    if media_end:
        limit = min(limit, media_end)
    return max(span.end, limit)


def span_budget(
    spans: Sequence[Timed], indices: Sequence[int], *, media_end: float | None, margin: float = DEFAULT_MARGIN
) -> float:
    """Seconds of speech the consecutive segments ``indices`` may take together."""
    return budget_end(spans, indices[-1], media_end=media_end, margin=margin) - spans[indices[0]].start


@dataclass(frozen=True, slots=True)
class LengthBudget:
    """What turns a time budget into characters: the voice's rate and the speed-up allowed."""

    chars_per_second: float
    speed: float  # the gentle speed-up: a rendering that fits at this speed needs no shorter one
    margin: float = DEFAULT_MARGIN

    def max_chars(self, spans: Sequence[Timed], indices: Sequence[int], *, media_end: float | None) -> int:
        seconds = span_budget(spans, indices, media_end=media_end, margin=self.margin)
        return chars_within(seconds, self.chars_per_second, speed=self.speed)

    def fingerprint(self) -> tuple[float, float, float]:
        return (round(self.chars_per_second, 3), self.speed, self.margin)
