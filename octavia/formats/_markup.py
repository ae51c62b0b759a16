"""Inline markup in cue text: what is invisible (for line lengths) and how it converts between formats.

Cue text keeps the markup of the file it came from: ``<i>`` and ``<font>`` (SRT), ``<c.x>`` and
``<v Name>`` (VTT), ``{\\i1}`` override blocks (ASS). Layout must not count it as characters on
screen, and a writer must not emit markup its format's players would print literally.
"""

from __future__ import annotations

import re

#: ASS override block, HTML-like tag (``<i>``, ``</font>``, ``<v Bob>``), VTT timestamp tag.
MARKUP = r"\{[^{}\n]*\}|</?[A-Za-z][^<>\n]*>|<\d[\d:.]*>"
MARKUP_RE = re.compile(MARKUP)

_ASS_OVERRIDE = re.compile(r"\{\\[^{}\n]*\}")
_ASS_DRAWING = re.compile(r"\{[^{}]*\\p[1-9][^{}]*\}")
_VTT_ONLY = re.compile(r"</?(?:c|v|lang|ruby|rt)(?:[.\s][^<>\n]*)?>|<\d[\d:.]*>")
_FONT = re.compile(r"</?font(?:\s[^<>\n]*)?>", re.IGNORECASE)
_SIMPLE_HTML = re.compile(r"<(/?)([ibus])>", re.IGNORECASE)


def visible(text: str) -> str:
    """The text as shown on screen: markup removed, ASS hard spaces as spaces."""
    return MARKUP_RE.sub("", text).replace("\\h", " ")


def visible_len(text: str) -> int:
    """Characters on screen, not counting line breaks (the reading-speed measure)."""
    return len(visible(text).replace("\n", ""))


def is_ass_drawing(text: str) -> bool:
    """True for ASS vector drawings (``{\\p1}m 0 0 l ...``): shapes, not words, never re-broken."""
    return bool(_ASS_DRAWING.search(text))


def for_srt(text: str) -> str:
    """SRT players understand <i>/<b>/<u>/<font> and ASS override blocks, but print VTT-only tags."""
    return _VTT_ONLY.sub("", text)


def for_vtt(text: str) -> str:
    """Browsers print ASS override blocks and <font> literally; drop them (styling lives in CSS)."""
    return _FONT.sub("", _ASS_OVERRIDE.sub("", text))


def for_ass(text: str) -> str:
    """libass ignores HTML tags and prints them: map <i>/<b>/<u>/<s> to overrides, drop the rest."""
    text = _SIMPLE_HTML.sub(lambda m: "{\\" + m.group(2).lower() + ("0" if m.group(1) else "1") + "}", text)
    return _FONT.sub("", _VTT_ONLY.sub("", text))
