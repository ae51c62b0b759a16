"""Plumbing shared by the SRT, VTT and ASS readers and writers.

Timestamps are converted through integer ticks (milliseconds or centiseconds) so that
rounding happens once, before splitting into fields: 59.9996 s becomes ``00:01:00,000``,
never ``00:00:59,1000`` or ``00:00:60,000``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

from octavia.errors import InputError
from octavia.formats.rules import LayoutRules, LayoutWarning
from octavia.types import Cue


@dataclass(slots=True)
class Document:
    """A parsed subtitle file: its cues plus what a writer needs to reproduce the file around them.

    ``header`` is format-specific text kept verbatim so a translated file keeps its look:
    VTT: the WEBVTT line, metadata, STYLE and REGION blocks; ASS: every section but [Events]
    (script info, styles, fonts). None for SRT, which has no header.

    ``warnings`` says what the reader skipped or repaired instead of refusing the file (a block
    that is not a cue, a cue that ends before it starts, a detected encoding), in the same form
    as the layout's per-cue warnings so that callers report both the same way.
    """

    fmt: str
    cues: list[Cue]
    header: str | None = None
    warnings: list[LayoutWarning] = field(default_factory=list)


def normalize(text: str) -> str:
    """Drop a byte-order mark and turn CRLF/CR into LF, so readers only ever see "\\n"."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def input_error(fmt: str, line_no: int, problem: str, hint: str) -> InputError:
    """An InputError that names the format and the 1-based line, so a user can open the file there."""
    return InputError(f"{fmt} line {line_no}: {problem}.", hint)


# What players accept, not only what the specifications allow: one-digit fields after an hours
# field ("0:0:0.04", "00:00:0,000"), hours optional (VTT's MM:SS.mmm; then seconds need two digits,
# so "1:2" stays text), comma or dot before the fraction (SRT files in the wild use both), and a
# fraction of any length read as a decimal fraction (ASS uses two digits).
_TIMESTAMP = re.compile(r"(?:(\d+):(\d{1,2}):(\d{1,2})|(\d{1,2}):(\d{2}))(?:[.,](\d+))?")


def parse_timestamp(value: str) -> float | None:
    """Seconds for ``[H:]MM:SS[.fff]``, or None when ``value`` is not a timestamp."""
    m = _TIMESTAMP.fullmatch(value.strip())
    if not m:
        return None
    if m.group(1) is not None:
        hours, minutes, seconds = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        hours, minutes, seconds = 0, int(m.group(4)), int(m.group(5))
    if minutes >= 60 or seconds >= 60:
        return None
    frac = m.group(6) or "0"
    scale: int = 10 ** len(frac)  # int ** int is typed Any (a negative exponent gives a float)
    millis = (int(frac) * 2000 + scale) // (2 * scale)  # half up, in integers
    return (((hours * 60 + minutes) * 60 + seconds) * 1000 + millis) / 1000


def read_timing(line: str, pattern: re.Pattern[str], expected: str) -> tuple[float, float, str] | str:
    """(start, end, rest) of a ``start --> end [rest]`` line, or what is wrong with it.

    ``pattern`` captures start, end and the rest (SRT position, VTT settings); ``expected``
    names the timestamp form in the problem. An end before the start is returned as read:
    :func:`repair_backwards` fixes such cues once the next cue is known.
    """
    m = pattern.fullmatch(line)
    if not m:
        return f"expected a timing line '{expected} --> {expected}', found {line.strip()[:60]!r}"
    start, end = parse_timestamp(m.group(1)), parse_timestamp(m.group(2))
    if start is None or end is None:
        bad = m.group(1) if start is None else m.group(2)
        return f"bad timestamp {bad!r}, expected {expected}"
    return start, end, " ".join((m.group(3) or "").split())


def parse_timing(
    fmt: str, line: str, line_no: int, pattern: re.Pattern[str], expected: str, hint: str
) -> tuple[float, float, str]:
    """:func:`read_timing`, with an InputError naming the line when the line is not a timing line."""
    timing = read_timing(line, pattern, expected)
    if isinstance(timing, str):
        raise input_error(fmt, line_no, timing, hint)
    return timing


def repair_backwards(fmt: str, cues: list[Cue], line_nos: list[int]) -> tuple[list[Cue], list[LayoutWarning]]:
    """Cues that end before they start get an end, with a warning each; the other cues are unchanged.

    Players either hide such a cue or refuse the file; a typo in one timestamp should not cost
    the whole file. The new end gives the text the layout's reading time (at default rules),
    cut at the next cue's start when that comes later than this cue's start.
    """
    # Imported here: the layout's tokenizer compiles large patterns (~60 ms at CLI start), and only
    # a file with a backwards cue needs it.
    from octavia.formats._timing import reading_time

    rules = LayoutRules()
    out, warnings = list(cues), []
    for i, cue in enumerate(cues):
        if cue.end >= cue.start:
            continue
        end = cue.start + reading_time(cue, rules)
        if i + 1 < len(cues) and cues[i + 1].start > cue.start:
            end = min(end, cues[i + 1].start)
        out[i] = replace(cue, end=end, extra=dict(cue.extra))
        detail = (f"{fmt} line {line_nos[i]}: the cue ends ({cue.end:.3f} s) before it starts "
                  f"({cue.start:.3f} s); its end was set to {end:.3f} s")  # fmt: skip
        warnings.append(LayoutWarning(i, cue.start, end, "end_before_start", detail))
    return out, warnings


def skipped(fmt: str, index: int, at: float, line_no: int, problem: str) -> LayoutWarning:
    """A warning for a part of the file that was not read as a cue; ``index`` is the next cue's."""
    return LayoutWarning(index, at, at, "skipped", f"{fmt} line {line_no}: {problem}; skipped")


def split_time(seconds: float, unit: int) -> tuple[int, int, int, int]:
    """(hours, minutes, seconds, ticks) with ``unit`` ticks per second; negative times become 0."""
    if not math.isfinite(seconds):
        raise InputError(
            f"A cue time is not a finite number ({seconds!r}).", "Check the cue times given to the writer."
        )
    ticks = max(0, math.floor(seconds * unit + 0.5))
    rest, frac = divmod(ticks, unit)
    rest, secs = divmod(rest, 60)
    hours, minutes = divmod(rest, 60)
    return hours, minutes, secs, frac


def format_ms(seconds: float, sep: str) -> str:
    """``HH:MM:SS<sep>mmm`` (SRT uses ",", VTT uses ".")."""
    h, m, s, ms = split_time(seconds, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def text_lines(text: str) -> list[str]:
    """The non-blank lines of a cue's text: a blank line would end the cue in SRT and VTT."""
    return [line.strip() for line in text.split("\n") if line.strip()]
