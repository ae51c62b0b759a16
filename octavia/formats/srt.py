"""SubRip (.srt): the format every player reads, so the reader forgives what real files get wrong.

Accepted: a BOM, CRLF or CR line ends, a missing final blank line, a dot instead of the comma
before the milliseconds, one-digit time fields, cue numbers with gaps or missing altogether, no
blank line between cues, and stray text lines after a blank line (appended to the cue before).
A cue that ends before it starts gets a new end and a warning (``Document.warnings``). Rejected
with the line number: a timing line that does not parse, a cue number not followed by a timing line.
The writer numbers cues from 1 and always uses ``HH:MM:SS,mmm``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NoReturn

from octavia.formats._common import (
    Document,
    format_ms,
    input_error,
    normalize,
    parse_timestamp,
    parse_timing,
    repair_backwards,
    text_lines,
)
from octavia.formats._markup import for_srt
from octavia.types import Cue

_TIMING = re.compile(r"\s*(\S+)\s*-->\s*(\S+)\s*(.*)")
_INDEX = re.compile(r"\s*[0-9]+\s*")
_HINT = "SRT timing lines look like '00:01:02,500 --> 00:01:04,000'."


def _timing(line: str, line_no: int) -> tuple[float, float, str]:
    return parse_timing("SRT", line, line_no, _TIMING, "HH:MM:SS,mmm", _HINT)


def _is_timing(line: str) -> bool:
    m = _TIMING.fullmatch(line)
    return (
        m is not None and parse_timestamp(m.group(1)) is not None and parse_timestamp(m.group(2)) is not None
    )


def _only_blank(lines: list[str]) -> bool:
    return not "".join(lines).strip()


def _missing_timing(lines: list[str], i: int) -> NoReturn:
    """Raise for cue number ``lines[i]`` not followed by its timing line."""
    if i + 1 < len(lines) and lines[i + 1].strip():
        found, line_no = repr(lines[i + 1].strip()[:60]), i + 2
    else:
        found, line_no = "the end of the file", i + 1
    number = lines[i].strip()
    raise input_error(
        "SRT", line_no, f"expected a timing line after cue number {number}, found {found}", _HINT
    )


def parse(text: str) -> Document:
    """Parse SRT text into a Document (no header); see the module docstring for what is forgiven."""
    lines = normalize(text).split("\n")
    n = len(lines)
    cues: list[Cue] = []
    bodies: list[list[str]] = []
    line_nos: list[int] = []
    i = 0
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if "-->" in line:
            at = i
        elif _INDEX.fullmatch(line) and i + 1 < n and "-->" in lines[i + 1]:
            at = i + 1
        elif _INDEX.fullmatch(line) and ((i + 1 < n and lines[i + 1].strip()) or _only_blank(lines[i + 1 :])):
            _missing_timing(lines, i)
        elif bodies:  # a stray line after a blank line inside a cue: keep it with that cue
            bodies[-1].append(line.strip())
            i += 1
            continue
        else:
            raise input_error(
                "SRT", i + 1, f"expected a cue number or a timing line, found {line.strip()[:60]!r}", _HINT
            )
        start, end, position = _timing(lines[at], at + 1)
        i = at + 1
        body: list[str] = []
        while i < n and lines[i].strip():
            if _is_timing(lines[i]) or (
                _INDEX.fullmatch(lines[i]) and i + 1 < n and _is_timing(lines[i + 1])
            ):
                break  # the next cue begins without a blank line before it
            body.append(lines[i].strip())
            i += 1
        cues.append(Cue(start, end, "", extra={"position": position} if position else {}))
        bodies.append(body)
        line_nos.append(at + 1)
    out = [Cue(c.start, c.end, "\n".join(b), extra=c.extra) for c, b in zip(cues, bodies, strict=True)]
    out, warnings = repair_backwards("SRT", out, line_nos)
    return Document("srt", out, warnings=warnings)


def read(text: str) -> list[Cue]:
    """The cues of an SRT file's text."""
    return parse(text).cues


#: How a cue's speaker is shown in SRT, which has no markup for it: not at all; "Speaker 1: "
#: before every cue's text; or the dash convention, "- " before the text when the speaker
#: differs from the previous cue's.
SPEAKER_LABELS = ("none", "name", "dash")


def _mark(cue: Cue, previous: str | None, labels: str) -> str:
    if not cue.speaker or labels == "none":
        return ""
    if labels == "name":
        return f"{cue.speaker}: "
    return "- " if cue.speaker != previous else ""


def write(cues: Iterable[Cue], *, speaker_labels: str = "none") -> str:
    """SRT text for ``cues``, numbered from 1; VTT-only tags are dropped, blank lines removed.

    ``speaker_labels`` (:data:`SPEAKER_LABELS`) marks who speaks on the cue's first line.
    """
    if speaker_labels not in SPEAKER_LABELS:
        raise ValueError(f"speaker_labels must be one of {SPEAKER_LABELS}, not {speaker_labels!r}")
    blocks = []
    previous: str | None = None
    for number, cue in enumerate(cues, 1):
        timing = f"{format_ms(cue.start, ',')} --> {format_ms(cue.end, ',')}"
        if cue.extra.get("position"):
            timing += " " + cue.extra["position"]
        body = "\n".join(text_lines(for_srt(cue.text)))
        if body:
            body = _mark(cue, previous, speaker_labels) + body
        previous = cue.speaker
        blocks.append(f"{number}\n{timing}\n{body}\n" if body else f"{number}\n{timing}\n")
    return "\n".join(blocks)
