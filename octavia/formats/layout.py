"""The layout step: from transcript segments (or existing cues) to cues that people can read.

Every writer gets its cues from here. :func:`segments_to_cues` splits segments that do not fit
(:mod:`octavia.formats._split`), breaks lines (:mod:`octavia.formats.linebreak`) and settles the
timing (:mod:`octavia.formats._timing`); :func:`relayout` only re-breaks the lines of cues whose
times must not change (a translated subtitle file). Both report, per cue, each rule that could
not be met and why, instead of failing: a subtitle slightly too fast is better than none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from octavia.formats._markup import is_ass_drawing
from octavia.formats._split import split_segment
from octavia.formats._timing import report, settle
from octavia.formats.linebreak import break_lines
from octavia.formats.rules import LayoutResult, LayoutRules, LayoutWarning
from octavia.types import Cue, Segment

__all__ = ["LayoutResult", "LayoutRules", "LayoutWarning", "break_lines", "relayout", "segments_to_cues"]


def segments_to_cues(
    segments: Sequence[Segment], rules: LayoutRules | None = None, *, media_end: float | None = None
) -> LayoutResult:
    """Cues for transcript segments, laid out by ``rules``.

    Segments too long for ``max_lines`` × ``max_chars_per_line`` or ``max_duration`` become
    several cues, split at sentence ends, then clause marks, then before conjunctions, then at
    the longest pause; with word timestamps the cue times are the words' times. Cues are then
    lengthened for reading where the next cue leaves room, never past ``media_end`` (default:
    the end of the last segment, as the media length is not known here). Each cue keeps its
    segment's ``speaker``.
    """
    rules = rules or LayoutRules()
    cues: list[Cue] = []
    for seg in sorted(segments, key=lambda s: s.start):  # stable: equal starts keep their order
        for part in split_segment(seg, rules):
            cues.append(Cue(part.start, part.end, break_lines(part.text, rules), speaker=seg.speaker))
    if not cues:
        return LayoutResult([], [])
    end = media_end if media_end is not None else max(s.end for s in segments)
    timed, moved = settle(cues, rules, end)
    warnings = sorted(moved + report(timed, rules, kept=False, media_end=end), key=lambda w: w.index)
    return LayoutResult(timed, warnings)


def relayout(cues: Sequence[Cue], rules: LayoutRules | None = None) -> LayoutResult:
    """The same cues (times, order, style, extra) with their text re-broken for ``rules``.

    For translated subtitle files: translations change length, so lines are re-broken, but the
    times stay those of the original. ASS vector drawings are left alone. Rules the new text
    cannot meet (too many lines, too fast to read) are reported, not fixed.
    """
    rules = rules or LayoutRules()
    out = [
        replace(c, text=c.text if is_ass_drawing(c.text) else break_lines(c.text, rules), extra=dict(c.extra))
        for c in cues
    ]
    return LayoutResult(out, report(out, rules, kept=True))
