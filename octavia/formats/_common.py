"""Plumbing shared by the SRT, VTT and ASS readers and writers.

Timestamps are converted through integer ticks (milliseconds or centiseconds) so that
rounding happens once, before splitting into fields: 59.9996 s becomes ``00:01:00,000``,
never ``00:00:59,1000`` or ``00:00:60,000``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from octavia.errors import InputError
from octavia.types import Cue


@dataclass(slots=True)
class Document:
    """A parsed subtitle file: its cues plus what a writer needs to reproduce the file around them.

    ``header`` is format-specific text kept verbatim so a translated file keeps its look:
    VTT: the WEBVTT line, metadata, STYLE and REGION blocks; ASS: every section but [Events]
    (script info, styles, fonts). None for SRT, which has no header.
    """

    fmt: str
    cues: list[Cue]
    header: str | None = None


def normalize(text: str) -> str:
    """Drop a byte-order mark and turn CRLF/CR into LF, so readers only ever see "\\n"."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def input_error(fmt: str, line_no: int, problem: str, hint: str) -> InputError:
    """An InputError that names the format and the 1-based line, so a user can open the file there."""
    return InputError(f"{fmt} line {line_no}: {problem}.", hint)


# Hours optional (VTT allows MM:SS.mmm); comma or dot before the fraction (SRT files in the wild
# use both); a fraction of any length is read as a decimal fraction (ASS uses two digits).
_TIMESTAMP = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})(?:[.,](\d+))?")


def parse_timestamp(value: str) -> float | None:
    """Seconds for ``[H:]MM:SS[.fff]``, or None when ``value`` is not a timestamp."""
    m = _TIMESTAMP.fullmatch(value.strip())
    if not m:
        return None
    hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
    if minutes >= 60 or seconds >= 60:
        return None
    frac = m.group(4) or "0"
    scale: int = 10 ** len(frac)  # int ** int is typed Any (a negative exponent gives a float)
    millis = (int(frac) * 2000 + scale) // (2 * scale)  # half up, in integers
    return (((hours * 60 + minutes) * 60 + seconds) * 1000 + millis) / 1000


def parse_timing(
    fmt: str, line: str, line_no: int, pattern: re.Pattern[str], expected: str, hint: str
) -> tuple[float, float, str]:
    """(start, end, rest) of a ``start --> end [rest]`` line, or an InputError naming the line.

    ``pattern`` captures start, end and the rest (SRT position, VTT settings); ``expected``
    names the timestamp form in the message.
    """
    m = pattern.fullmatch(line)
    if not m:
        found = line.strip()[:60]
        raise input_error(
            fmt, line_no, f"expected a timing line '{expected} --> {expected}', found {found!r}", hint
        )
    start, end = parse_timestamp(m.group(1)), parse_timestamp(m.group(2))
    if start is None or end is None:
        bad = m.group(1) if start is None else m.group(2)
        raise input_error(fmt, line_no, f"bad timestamp {bad!r}, expected {expected}", hint)
    if end < start:
        raise input_error(fmt, line_no, f"the cue ends ({m.group(2)}) before it starts ({m.group(1)})", hint)
    return start, end, " ".join((m.group(3) or "").split())


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
