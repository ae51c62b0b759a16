"""Splitting one transcript segment into as few cues as fit, at the most natural places.

A segment is a sequence of units: its words when it has word timestamps (cue times then come
from the words), otherwise its text tokens (times are shared out in proportion to the
visible characters before each split). A dynamic programme over the units picks the
partition with the lowest total cost, where every part must fit ``max_lines`` lines of
``max_chars_per_line`` and last at most ``max_duration`` (a single unit always "fits": it
cannot be split further). Costs, in order of weight:

* each cue costs ``_PER_CUE``, so a segment is split no more often than needed;
* each split costs by its boundary: sentence end 0 < clause mark 1 < before a conjunction 2 <
  elsewhere 3-3.5, less up to ``_PAUSE`` for the pause between the words there (the longest
  pause decides among otherwise equal places, and never outranks a better boundary);
* a part's fill ``(chars / capacity)²`` makes parts of similar size cheaper than one full and
  one nearly empty part; very short parts (a few characters, under ``min_duration``) cost extra.
"""

from __future__ import annotations

from dataclasses import dataclass

from octavia.formats._markup import visible
from octavia.formats._text import Boundary, Token, boundary, dangles, join, tokenize
from octavia.formats.rules import LayoutRules
from octavia.types import Segment

_PER_CUE = 4.0
_BOUNDARY = {Boundary.SENTENCE: 0.0, Boundary.CLAUSE: 1.0, Boundary.CONJUNCTION: 2.0,
             Boundary.PREPOSITION: 3.0, Boundary.NONE: 3.5}  # fmt: skip
_PAUSE = 0.8  # per second of pause, counted up to 1 s: less than the step between boundary ranks
_DANGLING = 1.0
_FILL = 2.0
_SHORT = 3.0


@dataclass(frozen=True, slots=True)
class Part:
    start: float
    end: float
    text: str


def _squash(text: str) -> str:
    return "".join(visible(text).split()).casefold()


def _spaces(words: list[str], text: str) -> list[bool]:
    """Whether a space stands before each word: read from the segment text, because engines
    differ (faster-whisper puts it in the word, others strip words; CJK has none)."""
    flags, pos = [], 0
    for word in words:
        at = text.find(word, pos)
        if at < 0:  # the words do not align with the text: fall back to the words themselves
            return [True] * len(words) if " " in text.strip() else [False] * len(words)
        flags.append(at > pos and text[pos:at].isspace())
        pos = at + len(word)
    return flags


def _units(seg: Segment) -> tuple[list[Token], list[tuple[float, float]] | None]:
    """Units and, when the words match the text, their times."""
    words = [w for w in seg.words if w.text.strip()]
    if words and _squash("".join(w.text for w in words)) == _squash(seg.text):
        texts = [w.text.strip() for w in words]
        spaced = [w.text[:1].isspace() for w in words]
        if not any(spaced[1:]):
            spaced = _spaces(texts, seg.text)
        units = [Token(t, sp, len(visible(t))) for t, sp in zip(texts, spaced, strict=True)]
        return units, [(w.start, w.end) for w in words]
    return tokenize(seg.text), None


class _Lines:
    """Greedy line filling, extended one unit at a time (so fitting is checked in O(1) per unit)."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars, self.lines, self.current, self.overflow = max_chars, 0, -1, False

    def add(self, t: Token) -> None:
        step = (1 if t.space else 0) + t.width
        if self.current >= 0 and self.current + step <= self.max_chars:
            self.current += step
        else:
            self.lines, self.current = self.lines + 1, t.width
            self.overflow = self.overflow or t.width > self.max_chars


def split_segment(seg: Segment, rules: LayoutRules) -> list[Part]:
    """The segment as one or more parts with text (one line, unbroken) and times."""
    units, times = _units(seg)
    n = len(units)
    if n == 0:
        return []
    offsets = [0]  # visible characters before unit k, counting the space before it
    for k, u in enumerate(units):
        offsets.append(offsets[-1] + u.width + (1 if k + 1 < n and units[k + 1].space else 0))
    total = max(offsets[-1], 1)

    def start_of(i: int) -> float:
        if times is not None:
            return times[i][0]
        return seg.start if i == 0 else seg.start + seg.duration * offsets[i] / total

    def end_of(j: int) -> float:
        if times is not None:
            return times[j - 1][1]
        return seg.end if j == n else seg.start + seg.duration * offsets[j] / total

    whole = _Lines(rules.max_chars_per_line)
    for u in units:
        whole.add(u)
    if (
        n == 1 or (whole.lines <= rules.max_lines and not whole.overflow)
    ) and seg.duration <= rules.max_duration:
        return [Part(seg.start, seg.end, join(units))]

    capacity = rules.max_lines * rules.max_chars_per_line
    short = rules.max_chars_per_line / 3

    def split_cost(j: int) -> float:
        cost = _BOUNDARY[boundary(units[j - 1].text, units[j].text)]
        cost += _DANGLING if dangles(units[j - 1].text) else 0.0
        if times is not None:
            cost -= _PAUSE * min(max(times[j][0] - times[j - 1][1], 0.0), 1.0)
        return cost

    def part_cost(i: int, j: int) -> float:
        chars = offsets[j] - offsets[i]
        cost = _PER_CUE + _FILL * (chars / capacity) ** 2 + _SHORT * max(0.0, 1 - chars / short)
        if times is not None and rules.min_duration > 0:
            cost += max(0.0, 1 - (end_of(j) - start_of(i)) / rules.min_duration)
        return cost

    inf = float("inf")
    best, back = [0.0] + [inf] * n, [0] * (n + 1)
    for i in range(n):
        if best[i] == inf:
            continue
        lines = _Lines(rules.max_chars_per_line)
        for j in range(i + 1, n + 1):
            lines.add(units[j - 1])
            too_big = lines.lines > rules.max_lines or lines.overflow
            if j - i > 1 and (too_big or end_of(j) - start_of(i) > rules.max_duration):
                break
            cost = best[i] + part_cost(i, j) + (split_cost(j) if j < n else 0.0)
            if cost < best[j]:
                best[j], back[j] = cost, i
    parts: list[Part] = []
    j = n
    while j > 0:
        i = back[j]
        parts.append(Part(start_of(i), end_of(j), join(units[i:j])))
        j = i
    return parts[::-1]
