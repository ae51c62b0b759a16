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
from dataclasses import dataclass

from octavia.formats._common import (
    Document,
    format_ms,
    input_error,
    normalize,
    read_timing,
    repair_backwards,
    skipped,
    text_lines,
)
from octavia.formats._markup import for_vtt
from octavia.formats.rules import LayoutWarning
from octavia.types import Cue

_TIMING = re.compile(r"\s*(\S+)\s*-->\s*(\S+)(?:\s+(.*))?")
_TAG = re.compile(r"</?(?:c|i|b|u|v|lang|ruby|rt)(?:[.\s][^<>\n]*)?>|<\d[\d:.]*>")
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?[ \t]+([^>\n]+)>")
_HINT = "WebVTT timing lines look like '00:01:02.500 --> 00:01:04.000', optionally followed by settings."


def _is_block(line: str, keyword: str) -> bool:
    return line == keyword or line.startswith((keyword + " ", keyword + "\t"))


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


@dataclass(slots=True)
class _Block:
    """One block as the WebVTT parser collects it: the lines up to a blank line or a second timing line."""

    first: int  # index of its first line
    lines: list[str]
    timing: tuple[float, float, str] | str | None = None  # parsed timing, a problem, or no arrow line
    timing_at: int = 0  # index of the timing line
    cue_id: str = ""


def _collect(lines: list[str], i: int) -> tuple[_Block, int]:
    """The block starting at ``lines[i]`` and the index after it, per "collect a WebVTT block".

    A line with "-->" is the block's timing line when it is the first line, or the second after
    an identifier; any later one starts the next block even without a blank line before it.
    """
    block = _Block(i, [])
    while i < len(lines) and lines[i] != "":
        line = lines[i]
        if "-->" in line:
            if block.timing is not None or len(block.lines) > 1:
                break
            block.timing, block.timing_at = read_timing(line, _TIMING, "HH:MM:SS.mmm"), i
            block.cue_id, block.lines = "\n".join(block.lines).strip(), []
        else:
            block.lines.append(line)
        i += 1
    return block, i


def _is_header_block(block: _Block) -> bool:
    """STYLE and REGION blocks: the keyword alone on the first line, then their CSS or settings."""
    first = block.lines[0].rstrip() if block.lines else ""
    return (
        block.timing is None
        and len(block.lines) > 1
        and (_is_block(first, "STYLE") or _is_block(first, "REGION"))
    )


def parse(text: str) -> Document:
    """Parse WebVTT as the specification's parser does: what is not a cue is skipped, and reported.

    The header (with the STYLE/REGION blocks before the first cue) is kept in ``Document.header``;
    NOTE blocks are dropped silently (comments); other blocks that are not cues (text after a blank
    line inside a cue, a timing line that does not parse, an old ``Region:`` line, a STYLE block
    after the first cue) become ``Document.warnings``. A
    file where nothing at all is a cue is refused with the first problem.
    """
    lines = normalize(text).replace("\0", "\ufffd").split("\n")
    if not _is_block(lines[0].rstrip(), "WEBVTT"):
        raise input_error(
            "WebVTT", 1, f"expected the 'WEBVTT' header, found {lines[0].strip()[:60]!r}",
            "A WebVTT file starts with the line WEBVTT; if this is an SRT file, name it .srt.",
        )  # fmt: skip
    i = 1
    while i < len(lines) and lines[i] != "" and "-->" not in lines[i]:
        i += 1
    header_blocks = ["\n".join(line.rstrip() for line in lines[:i])]
    cues: list[Cue] = []
    line_nos: list[int] = []
    warnings: list[LayoutWarning] = []
    problems: list[tuple[int, str]] = []
    while i < len(lines):
        if lines[i] == "":
            i += 1
            continue
        block, i = _collect(lines, i)
        if isinstance(block.timing, tuple):
            start, end, settings = block.timing
            extra = {"id": block.cue_id} if block.cue_id else {}
            if settings:
                extra["settings"] = settings
            body = [line.strip() for line in block.lines]
            text = _decode("\n".join(b for b in body if b))
            cues.append(Cue(start, end, text, extra=extra, speaker=_speaker(text)))
            line_nos.append(block.timing_at + 1)
        elif _is_header_block(block) and not cues:
            header_blocks.append("\n".join(line.rstrip() for line in block.lines))
        elif _is_header_block(block):  # browsers ignore these: their CSS would restyle earlier cues
            problem = f"a {block.lines[0].split()[0]} block after the first cue is ignored by players"
            warnings.append(skipped("WebVTT", len(cues), cues[-1].end, block.first + 1, problem))
        elif block.timing is None and _is_block(block.lines[0].strip(), "NOTE"):
            continue
        else:
            at = block.timing_at if block.timing is not None else block.first
            problem = block.timing if isinstance(block.timing, str) else (
                f"expected a cue timing line, found {block.lines[0].strip()[:60]!r}")  # fmt: skip
            problems.append((at + 1, problem))
            warnings.append(skipped("WebVTT", len(cues), cues[-1].end if cues else 0.0, at + 1, problem))
    if problems and not cues:
        raise input_error("WebVTT", problems[0][0], problems[0][1], _HINT)
    cues, repaired = repair_backwards("WebVTT", cues, line_nos)
    warnings = sorted(warnings + repaired, key=lambda w: w.index)
    return Document("vtt", cues, "\n\n".join(header_blocks), warnings)


def _speaker(text: str) -> str | None:
    """The voice of a cue that starts with a ``<v Name>`` span (the span stays in the text)."""
    m = _VOICE.match(text.lstrip())
    return (" ".join(m.group(1).split()) or None) if m else None


def _voice_tag(speaker: str) -> str:
    name = " ".join(speaker.replace("<", "").replace(">", "").replace("&", "and").split())
    return f"<v {name}>" if name else ""


def read(text: str) -> list[Cue]:
    """The cues of a WebVTT file's text."""
    return parse(text).cues


def write(cues: Iterable[Cue], *, header: str | None = None) -> str:
    """WebVTT text for ``cues``; ``header`` (from :func:`parse`) restores the title, STYLE and REGION blocks.

    ASS override blocks and ``<font>`` tags are dropped: browsers would print them. A cue with a
    ``speaker`` and no voice span of its own starts with ``<v Speaker>`` (the reader gives it back).
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
        body = for_vtt(cue.text)
        if cue.speaker and not _VOICE.search(body):  # a speaker's cue is one voice span
            body = _voice_tag(cue.speaker) + body
        lines += text_lines(_encode(body))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
