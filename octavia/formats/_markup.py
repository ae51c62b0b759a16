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

_ASS_BLOCK = re.compile(r"\{[^{}\n]*\}")  # an override block {\\i1} or a comment {TL note}
_ASS_COMMENT = re.compile(r"\{[^\\{}\n]*\}")  # a block without a single override tag in it
_ASS_DRAWING = re.compile(r"\{[^{}]*\\p[1-9][^{}]*\}")
_VTT_ONLY = re.compile(r"</?(?:c|v|lang|ruby|rt)(?:[.\s][^<>\n]*)?>|<\d[\d:.]*>")
_SIMPLE_HTML = re.compile(r"<(/?)([ibus])>", re.IGNORECASE)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)[^<>\n]*>")
_SRT_TAGS = frozenset({"i", "b", "u", "s", "font"})  # what SRT players render; they print the rest
_VTT_TAGS = frozenset({"c", "i", "b", "u", "v", "lang", "ruby", "rt"})  # the WebVTT cue tags


def _keep_tags(text: str, names: frozenset[str], *, case: bool) -> str:
    def keep(m: re.Match[str]) -> str:
        name = m.group(1) if case else m.group(1).lower()
        return m.group(0) if name in names else ""

    return _TAG_NAME.sub(keep, text)


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
    """SRT players understand <i>/<b>/<u>/<s>/<font> and ASS override blocks, and print other tags.

    VTT tags (``<c.x>``, ``<v Bob>``) and ASS comments (``{TL note}``) are dropped.
    """
    return _ASS_COMMENT.sub("", _keep_tags(_VTT_ONLY.sub("", text), _SRT_TAGS, case=False))


def for_vtt(text: str) -> str:
    """Browsers print ASS blocks and tags WebVTT lacks (<font>, <s>); drop them (styling lives in CSS)."""
    text = _SIMPLE_HTML.sub(lambda m: f"<{m.group(1)}{m.group(2).lower()}>", text)  # SRT's <I> is VTT's <i>
    return _keep_tags(_ASS_BLOCK.sub("", text), _VTT_TAGS, case=True)


def for_ass(text: str) -> str:
    """libass prints HTML tags: map <i>/<b>/<u>/<s> to overrides, drop the rest; no-break spaces to ``\\h``."""
    text = _SIMPLE_HTML.sub(lambda m: "{\\" + m.group(2).lower() + ("0" if m.group(1) else "1") + "}", text)
    return _TAG_NAME.sub("", _VTT_ONLY.sub("", text)).replace("\u00a0", "\\h")
