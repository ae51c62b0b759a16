"""Advanced SubStation Alpha (.ass, also read from .ssa): styled subtitles.

A translated ASS file must look like the original, so a read keeps everything outside the
events (``Document.header``: script info, styles, fonts) and every event's style, layer,
margins, effect and actor (``Cue.style``, ``Cue.extra``); override blocks such as ``{\\i1}`` and
comments such as ``{TL note}`` stay in the text (other writers drop them). The text escapes
become plain text, so that translation and other formats see words: ``\\N`` is a line break,
``\\h`` a no-break space, ``\\n`` a space (a line break under ``WrapStyle: 2``, as in libass).
The [Events] ``Format:`` line decides the field order. ``Comment:`` events are not shown on
screen, so they are not cues: they are kept at the end of the header, and written back by
:func:`write`. SSA (v4) input is written back as SSA, under its own headers; a cue that ends
before it starts gets a new end and a warning. Without a header the writer generates one from
an :class:`AssStyle`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from octavia.formats._common import (
    Document,
    input_error,
    normalize,
    parse_timestamp,
    repair_backwards,
    split_time,
)
from octavia.formats._markup import for_ass
from octavia.formats.ass_style import STYLE_FORMAT, AssStyle, ass_colour, speaker_styles
from octavia.types import Cue

__all__ = ["STYLE_FORMAT", "AssStyle", "ass_colour", "format_time", "parse", "read", "write"]

EVENT_FORMAT = ("Layer", "Start", "End", "Style", "Name", "MarginL", "MarginR", "MarginV", "Effect", "Text")
_SSA_EVENT_FORMAT = ("Marked", *EVENT_FORMAT[1:])
#: Event fields kept in Cue.extra, under friendlier keys; unknown fields keep their lowercase name.
_EXTRA_KEYS = {"layer": "layer", "name": "name", "actor": "name", "marginl": "margin_l",
               "marginr": "margin_r", "marginv": "margin_v", "effect": "effect"}  # fmt: skip
_KEY_VALUE = re.compile(r"\s*([A-Za-z]+)\s*:(.*)")
_SECTION = re.compile(r"\s*\[([^\]]+)\]\s*")
_OVERRIDE = re.compile(r"(\{[^{}]*\})")
_WRAP_STYLE = re.compile(r"^\s*WrapStyle\s*:\s*(\d+)", re.IGNORECASE | re.MULTILINE)
_SSA_STYLES = re.compile(r"^\s*\[v4 styles\]\s*$", re.IGNORECASE | re.MULTILINE)
_HINT = "ASS events look like 'Dialogue: 0,0:00:01.00,0:00:03.50,Default,,0,0,0,,Text'."


def format_time(seconds: float) -> str:
    """``H:MM:SS.cc``: ASS stores centiseconds; rounded once, so 59.999 s is 0:01:00.00."""
    h, m, s, cs = split_time(seconds, 100)
    return f"{h:d}:{m:02d}:{s:02d}.{cs:02d}"


def _fields(value: str, fmt: tuple[str, ...], line_no: int) -> dict[str, str]:
    parts = value.split(",", len(fmt) - 1)
    if len(parts) < len(fmt):
        raise input_error(
            "ASS", line_no, f"expected {len(fmt)} comma-separated fields ({', '.join(fmt)}), found {len(parts)}",
            "Each event needs every field named on the [Events] Format line, empty ones included.",
        )  # fmt: skip
    return dict(zip(fmt, parts, strict=True))


def plain_text(text: str, *, wrap_style: int = 0) -> str:
    """Event text with the escapes outside override blocks made plain: ``\\N``, ``\\n``, ``\\h``."""
    soft = "\n" if wrap_style == 2 else " "
    parts = _OVERRIDE.split(text)
    for k in range(0, len(parts), 2):  # even parts are text, odd ones override blocks
        parts[k] = parts[k].replace("\\N", "\n").replace("\\n", soft).replace("\\h", "\u00a0")
    return "".join(parts)


def _event(value: str, fmt: tuple[str, ...], line_no: int, wrap_style: int) -> Cue:
    fields = _fields(value, fmt, line_no)
    times = []
    for key in ("start", "end"):
        t = parse_timestamp(fields[key])
        if t is None:
            raise input_error(
                "ASS", line_no, f"bad {key} timestamp {fields[key].strip()!r}, expected H:MM:SS.cc", _HINT
            )
        times.append(t)
    extra = {
        _EXTRA_KEYS.get(k, k): v.strip()
        for k, v in fields.items()
        if k not in ("start", "end", "style", "text")
    }
    style = fields.get("style", "").strip() or None
    text = plain_text(fields["text"], wrap_style=wrap_style)
    return Cue(times[0], times[1], text, style=style, extra=extra, speaker=extra.get("name") or None)


def _comment_line(value: str, fmt: tuple[str, ...], line_no: int, ssa: bool) -> str:
    """A Comment event re-ordered to the fields :func:`write` uses, its text untouched."""
    fields = _fields(value, fmt, line_no)
    order = _SSA_EVENT_FORMAT if ssa else EVENT_FORMAT
    defaults = {"layer": "0", "marked": "Marked=0", "marginl": "0", "marginr": "0", "marginv": "0"}
    if "actor" in fields and "name" not in fields:
        fields["name"] = fields["actor"]
    out = [fields.get(f.lower(), defaults.get(f.lower(), "")).strip() for f in order[:-1]]
    return "Comment: " + ",".join([*out, fields["text"]])


def _format_line(value: str, line_no: int) -> tuple[str, ...]:
    fmt = tuple(f.strip().lower() for f in value.split(","))
    missing = [f for f in ("start", "end", "text") if f not in fmt]
    if missing:
        raise input_error("ASS", line_no, f"the Format line lacks {', '.join(missing)}", _HINT)
    return fmt


def parse(text: str) -> Document:
    """Parse ASS/SSA text: the cues of its Dialogue events, and every other section as the header."""
    lines = normalize(text).split("\n")
    header: list[str] = []
    comments: list[str] = []
    section: str | None = None
    fmt: tuple[str, ...] | None = None
    ssa = False
    wrap = _WRAP_STYLE.search("\n".join(lines))
    wrap_style = int(wrap.group(1)) if wrap else 0
    cues: list[Cue] = []
    line_nos: list[int] = []
    for no, raw in enumerate(lines, 1):
        line = raw.strip()
        m = _SECTION.fullmatch(raw)
        if m:
            section = m.group(1).strip().lower()
            ssa = ssa or section == "v4 styles"
            if section != "events":
                header.append(line)
            continue
        if section != "events":
            if section is None and line and not line.startswith(";"):
                raise input_error(
                    "ASS", no, f"expected a section header such as [Script Info], found {line[:60]!r}",
                    "An ASS file starts with [Script Info]; check the file is ASS/SSA.",
                )  # fmt: skip
            if section is not None:
                header.append(raw.rstrip())
            continue
        if not line or line.startswith((";", "!:")):
            continue
        kv = _KEY_VALUE.fullmatch(raw)
        if not kv:
            raise input_error(
                "ASS", no, f"expected 'Format:', 'Dialogue:' or 'Comment:', found {line[:60]!r}", _HINT
            )
        key, value = kv.group(1).lower(), kv.group(2)
        default = tuple(f.lower() for f in (_SSA_EVENT_FORMAT if ssa else EVENT_FORMAT))
        if key == "format":
            fmt = _format_line(value, no)
        elif key == "dialogue":
            cues.append(_event(value.lstrip(), fmt or default, no, wrap_style))
            line_nos.append(no)
        elif key == "comment":
            comments.append(_comment_line(value.lstrip(), fmt or default, no, ssa))
        # Picture, Sound, Movie and Command events are not subtitles.
    if "[events]" not in (raw.strip().lower() for raw in lines):
        last = len(text.rstrip("\n").split("\n"))
        raise input_error(
            "ASS", last, "end of file, no [Events] section", "The dialogue of an ASS file is under [Events]."
        )
    head = "\n".join(header).strip("\n")
    if comments:
        head += "\n\n[Events]\n" + "\n".join(comments)
    cues, warnings = repair_backwards("ASS", cues, line_nos)
    return Document("ass", cues, head, warnings)


def read(text: str) -> list[Cue]:
    """The cues of an ASS/SSA file's Dialogue events."""
    return parse(text).cues


def _first_style(header: str) -> str | None:
    for line in header.split("\n"):
        if line.strip().lower().startswith("style:"):
            return line.split(":", 1)[1].split(",", 1)[0].strip() or None
    return None


def _field(value: str) -> str:
    return " ".join(value.replace(",", " ").split())


def write(cues: Iterable[Cue], *, style: AssStyle | None = None, header: str | None = None) -> str:
    """ASS text for ``cues``.

    ``header`` (from :func:`parse`) is written verbatim so translated text keeps the original
    styles, with the ``Comment:`` events :func:`parse` kept in it; an SSA header ([V4 Styles])
    gets SSA events (``Marked`` instead of ``Layer``), as its renderers expect. Without a header,
    one with one style is generated from ``style`` (default :class:`AssStyle`). Cues without a
    style use the header's first style; a generated header also has one style per speaker of
    the cues (the same look in a colour of its own, named after the speaker, who is also the
    event's Name). SRT-style ``<i>`` tags become ``{\\i1}``; other
    HTML-like tags are dropped because libass would print them.
    """
    comments: list[str] = []
    if header and header.strip():
        head = normalize(header)
        cut = re.search(r"^\s*\[events\]\s*$", head, re.IGNORECASE | re.MULTILINE)
        if cut:
            comments = [
                ln.strip()
                for ln in head[cut.end() :].split("\n")
                if ln.strip().lower().startswith("comment:")
            ]
            head = head[: cut.start()]
        head = head.strip("\n")
        default = _first_style(head) or "Default"
    else:
        generated = style or AssStyle()
        cues = list(cues)
        voices = speaker_styles(generated, [c.speaker for c in cues if c.speaker and not c.style])
        head, default = generated.header(), generated.name
        head += "".join("\n" + s.style_line() for s in voices.values())
        cues = [replace(c, style=voices[c.speaker].name) if c.speaker in voices and not c.style else c
                for c in cues]  # fmt: skip
    ssa = bool(_SSA_STYLES.search(head))
    out = [
        head,
        "",
        "[Events]",
        "Format: " + ", ".join(_SSA_EVENT_FORMAT if ssa else EVENT_FORMAT),
        *comments,
    ]
    for cue in cues:
        e = cue.extra
        first = (_field(e.get("marked", "")) or "Marked=0") if ssa else (_field(e.get("layer", "")) or "0")
        fields = [
            first, format_time(cue.start), format_time(cue.end),
            _field(cue.style or "") or default, _field(e.get("name", "") or cue.speaker or ""),
            _field(e.get("margin_l", "")) or "0", _field(e.get("margin_r", "")) or "0",
            _field(e.get("margin_v", "")) or "0", _field(e.get("effect", "")),
            for_ass(cue.text).replace("\n", "\\N"),
        ]  # fmt: skip
        out.append("Dialogue: " + ",".join(fields))
    return "\n".join(out) + "\n"
