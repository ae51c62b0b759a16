"""Cue timing: no overlaps, then enough time to read, then a report of what could not be met.

Starts are where speech starts, so they only move when cues would otherwise overlap or run
backwards (overlapping input); ends move: trimmed to leave ``min_gap`` before the next cue,
extended toward ``min_duration`` and the time ``max_cps`` needs, but never into the next
cue, past ``max_duration``, or past ``media_end``.
"""

from __future__ import annotations

from dataclasses import replace

from octavia.formats._markup import is_ass_drawing, visible, visible_len
from octavia.formats._text import tokenize
from octavia.formats.rules import LayoutRules, LayoutWarning
from octavia.types import Cue

EPS = 0.01  # the shortest cue we create: one ASS centisecond, so every format can show it
_TOL = 1e-6


def reading_time(cue: Cue, rules: LayoutRules) -> float:
    """Seconds the cue should stay up: min_duration, or its characters at max_cps, capped."""
    return min(rules.max_duration, max(rules.min_duration, visible_len(cue.text) / rules.max_cps))


def settle(cues: list[Cue], rules: LayoutRules, media_end: float) -> tuple[list[Cue], list[LayoutWarning]]:
    """The cues (in the given order, which is the speech order) timed, and warnings for starts that moved."""
    n = len(cues)
    starts = [max(c.start, 0.0) for c in cues]
    ends = [min(c.end, starts[i] + rules.max_duration, media_end) for i, c in enumerate(cues)]
    moved: list[LayoutWarning] = []
    for i in range(n):
        if i and starts[i] < ends[i - 1] + rules.min_gap - _TOL:
            new = ends[i - 1] + rules.min_gap
            moved.append(LayoutWarning(i, new, new, "overlap",
                                       f"started at {starts[i]:.3f} s, inside the cue before; moved to {new:.3f} s"))  # fmt: skip
            starts[i] = new
        ends[i] = max(ends[i], starts[i] + EPS)
        if i + 1 < n:
            ends[i] = max(min(ends[i], starts[i + 1] - rules.min_gap), starts[i] + EPS)
    for i in range(n):
        limit = starts[i + 1] - rules.min_gap if i + 1 < n else media_end
        want = starts[i] + reading_time(cues[i], rules)
        if ends[i] < want:
            ends[i] = max(ends[i], min(want, limit))
    timed = [
        replace(c, start=s, end=e, extra=dict(c.extra)) for c, s, e in zip(cues, starts, ends, strict=True)
    ]
    moved = [replace(w, start=timed[w.index].start, end=timed[w.index].end) for w in moved]
    return timed, moved


def _lines_report(index: int, cue: Cue, rules: LayoutRules, kept: bool) -> list[LayoutWarning]:
    out = []
    lines = cue.text.split("\n")
    if len(lines) > rules.max_lines:
        why = (
            "times are kept from the source, so it was not split" if kept else "it could not be split further"
        )
        out.append(LayoutWarning(index, cue.start, cue.end, "max_lines",
                                 f"{len(lines)} lines (limit {rules.max_lines}): {why}"))  # fmt: skip
    for number, line in enumerate(lines, 1):
        size = len(visible(line))
        if size > rules.max_chars_per_line:
            tokens = tokenize(line)
            if len(tokens) == 1:
                detail = f"the word {visible(line)!r} alone is {size} characters (limit {rules.max_chars_per_line})"
            else:
                detail = f"line {number} has {size} characters (limit {rules.max_chars_per_line})"
            out.append(LayoutWarning(index, cue.start, cue.end, "max_chars_per_line", detail))
    return out


def report(
    cues: list[Cue], rules: LayoutRules, *, kept: bool, media_end: float | None = None
) -> list[LayoutWarning]:
    """Every rule each cue breaks, with the reason (``kept``: times came from the source)."""
    out: list[LayoutWarning] = []
    for i, cue in enumerate(cues):
        if is_ass_drawing(cue.text):
            continue  # a vector shape, not words: nothing to read
        out += _lines_report(i, cue, rules, kept)
        dur = cue.end - cue.start
        nxt = cues[i + 1].start if i + 1 < len(cues) else None
        if kept:
            why = "times are kept from the source"
        elif nxt is not None and cue.end >= nxt - rules.min_gap - _TOL:
            why = f"the next cue starts at {nxt:.3f} s"
        elif nxt is None and media_end is not None and cue.end >= media_end - _TOL:
            why = f"the media ends at {media_end:.3f} s"
        else:
            why = f"max_duration is {rules.max_duration:g} s"
        if dur < rules.min_duration - _TOL:
            out.append(LayoutWarning(i, cue.start, cue.end, "min_duration",
                                     f"on screen {dur:.3f} s (minimum {rules.min_duration:g} s): {why}"))  # fmt: skip
        chars = visible_len(cue.text)
        if chars and (dur <= 0 or chars / dur > rules.max_cps + _TOL):
            need = chars / rules.max_cps
            rate = f"{chars / dur:.1f}" if dur > 0 else "unlimited"
            if need > rules.max_duration and not kept:
                why_cps = f"reading {chars} characters needs {need:.2f} s, more than max_duration"
            else:
                why_cps = f"{chars} characters need {need:.2f} s at {rules.max_cps:g} cps: {why}"
            out.append(LayoutWarning(i, cue.start, cue.end, "max_cps", f"{rate} characters/s; {why_cps}"))
        if dur > rules.max_duration + _TOL:
            out.append(LayoutWarning(i, cue.start, cue.end, "max_duration",
                                     f"on screen {dur:.3f} s (maximum {rules.max_duration:g} s): {why}"))  # fmt: skip
    return out
