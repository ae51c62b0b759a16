"""WebVTT (.vtt): the browser's subtitle format.

The reader keeps what a rewrite needs: cue identifiers (``Cue.extra["id"]``), cue settings
such as ``align:start line:0`` (``Cue.extra["settings"]``), and the header with STYLE and REGION
blocks (``Document.header``) because settings and ``<c.class>`` tags refer to them. NOTE blocks
are comments and are dropped. Character references (``&amp;``) are decoded so the text is the
same text an SRT or ASS file would hold; the writer escapes ``&``, ``<`` and ``>`` again outside tags.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from octavia.formats._common import Document, format_ms, input_error, normalize, parse_timing, text_lines
from octavia.formats._markup import for_vtt
from octavia.types import Cue

_TIMING = re.compile(r"\s*(\S+)\s*-->\s*(\S+)(?:\s+(.*))?")
_TAG = re.compile(r"</?(?:c|i|b|u|v|lang|ruby|rt)(?:[.\s][^<>\n]*)?>|<\d[\d:.]*>")
_HINT = "WebVTT timing lines look like '00:01:02.500 --> 00:01:04.000', optionally followed by settings."


def _is_block(line: str, keyword: str) -> bool:
    return line == keyword or line.startswith((keyword + " ", keyword + "\t"))


def _timing(line: str, line_no: int) -> tuple[float, float, str]:
    return parse_timing("WebVTT", line, line_no, _TIMING, "HH:MM:SS.mmm", _HINT)


def _decode(text: str) -> str:
    """Decode character references outside tags (``&lt;`` is text, ``<i>`` is markup)."""
    parts = _TAG.split(text)
    tags = _TAG.findall(text)
    out = [html.unescape(parts[0])]
    for tag, part in zip(tags, parts[1:], strict=True):
        out += [tag, html.unescape(part)]
    return "".join(out)


def _encode(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` outside tags, so "a < b" survives and "-->" cannot end a cue."""
    parts = _TAG.split(text)
    tags = _TAG.findall(text)

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    out = [esc(parts[0])]
    for tag, part in zip(tags, parts[1:], strict=True):
        out += [tag, esc(part)]
    return "".join(out)


def _cues_in_block(lines: list[str], first_no: int) -> list[Cue]:
    """The cue(s) of one block; a line with "-->" inside starts another cue (no blank line between)."""
    cues: list[Cue] = []
    j = 0
    while j < len(lines):
        extra: dict[str, str] = {}
        if "-->" not in lines[j]:
            if j + 1 >= len(lines) or "-->" not in lines[j + 1]:
                at = j + 1 if j + 1 < len(lines) else j
                found = lines[at].strip()[:60]
                raise input_error(
                    "WebVTT", first_no + at, f"expected a cue timing line, found {found!r}", _HINT
                )
            extra["id"] = lines[j].strip()
            j += 1
        start, end, settings = _timing(lines[j], first_no + j)
        if settings:
            extra["settings"] = settings
        j += 1
        body: list[str] = []
        while j < len(lines) and "-->" not in lines[j]:
            body.append(lines[j].strip())
            j += 1
        cues.append(Cue(start, end, _decode("\n".join(body)), extra=extra))
    return cues


def parse(text: str) -> Document:
    """Parse WebVTT text; the header (with STYLE/REGION blocks) is kept in ``Document.header``."""
    lines = normalize(text).split("\n")
    if not _is_block(lines[0].rstrip(), "WEBVTT"):
        raise input_error(
            "WebVTT", 1, f"expected the 'WEBVTT' header, found {lines[0].strip()[:60]!r}",
            "A WebVTT file starts with the line WEBVTT; if this is an SRT file, name it .srt.",
        )  # fmt: skip
    i = 1
    while i < len(lines) and lines[i].strip() and "-->" not in lines[i]:
        i += 1
    header_blocks = ["\n".join(line.rstrip() for line in lines[:i])]
    cues: list[Cue] = []
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        start = i
        while i < len(lines) and lines[i].strip():
            i += 1
        block = lines[start:i]
        first = block[0].strip()
        if _is_block(first, "NOTE"):
            continue
        if first in ("STYLE", "REGION") and not any("-->" in line for line in block):
            header_blocks.append("\n".join(line.rstrip() for line in block))
            continue
        cues.extend(_cues_in_block(block, start + 1))
    return Document("vtt", cues, "\n\n".join(header_blocks))


def read(text: str) -> list[Cue]:
    """The cues of a WebVTT file's text."""
    return parse(text).cues


def write(cues: Iterable[Cue], *, header: str | None = None) -> str:
    """WebVTT text for ``cues``; ``header`` (from :func:`parse`) restores the title, STYLE and REGION blocks.

    ASS override blocks and ``<font>`` tags are dropped: browsers would print them.
    """
    head = normalize(header).strip("\n") if header else "WEBVTT"
    if not _is_block(head.split("\n", 1)[0], "WEBVTT"):
        head = "WEBVTT\n\n" + head
    blocks = [head]
    for cue in cues:
        lines = []
        cue_id = " ".join(cue.extra.get("id", "").split())
        if cue_id and "-->" not in cue_id:
            lines.append(cue_id)
        timing = f"{format_ms(cue.start, '.')} --> {format_ms(cue.end, '.')}"
        settings = " ".join(cue.extra.get("settings", "").split())
        lines.append(f"{timing} {settings}" if settings else timing)
        lines += text_lines(_encode(for_vtt(cue.text)))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
