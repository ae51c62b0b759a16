"""Property tests: whatever Octavia writes, Octavia and an independent parser (srt, webvtt-py, pysubs2) read back identically."""

from __future__ import annotations

import html
import re

import pysubs2
import srt as srt_lib
import webvtt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octavia import formats
from octavia.formats._markup import visible
from octavia.types import Cue

# Letters, digits, punctuation and symbols of every script. Left out: markup, which each format
# treats differently on purpose ("{}" ASS blocks, "<>" tags, "\\" ASS escapes), and "-" so that
# no text holds "-->". "&" stays in: WebVTT must escape it and read it back.
_CHARS = st.characters(categories=("L", "N", "P", "S"), exclude_characters="{}<>\\-")
_WORD = st.text(_CHARS, min_size=1, max_size=8)
# Lines in the inline markup SRT files carry; <s> and <font> are not WebVTT's, so browsers would
# print them: the VTT writer must drop them, not escape them into visible text.
_MARKUP = st.sampled_from(["{}", "<i>{}</i>", "<b>{}</b>", "<s>{}</s>", '<font color="#ffff00">{}</font>'])
_LINE = st.tuples(st.lists(_WORD, min_size=1, max_size=5).map(" ".join), _MARKUP).map(
    lambda t: t[1].format(t[0])
)
_TEXT = st.lists(_LINE, min_size=1, max_size=3).map("\n".join)
_SETTINGS = st.sampled_from(["", "align:start", "line:0 position:10%", "size:80% align:end"])
_ID = st.lists(st.from_regex(r"[A-Za-z0-9.:_]{1,5}", fullmatch=True), min_size=1, max_size=3).map(" ".join)


@st.composite
def _cues(draw: st.DrawFn, tick: int) -> list[Cue]:
    """Cues on a ``tick`` ms grid (1 for SRT/VTT, 10 for ASS's centiseconds), overlaps allowed."""
    n = draw(st.integers(1, 8))
    out, t = [], draw(st.integers(0, 10**6))
    for _ in range(n):
        t += draw(st.integers(-2000, 5000))
        start = max(0, t)
        end = start + draw(st.integers(0, 10_000))
        extra = {}
        if tick == 1 and draw(st.booleans()):
            extra["id"] = draw(_ID)
        if tick == 1 and (setting := draw(_SETTINGS)):
            extra["settings"] = setting
        start, end = start // tick * tick, end // tick * tick
        out.append(Cue(start / 1000, end / 1000, draw(_TEXT), extra=extra))
    return out


def _same_in_octavia(cues: list[Cue], fmt: str, expected: list[str]) -> str:
    written = formats.dumps(cues, fmt)
    doc = formats.parse(written, fmt)
    assert not doc.warnings
    assert [(c.start, c.end, c.text) for c in doc.cues] == [
        (c.start, c.end, t) for c, t in zip(cues, expected, strict=True)
    ]
    assert formats.dumps(doc.cues, fmt) == written  # and writing it again changes nothing
    return written


_SETTINGS_KW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_NOT_VTT = re.compile(r"</?(?:s|font)(?: [^>]*)?>")


@_SETTINGS_KW
@given(_cues(1))
def test_srt_is_read_back_by_octavia_and_by_srt(cues: list[Cue]) -> None:
    written = _same_in_octavia(cues, "srt", [c.text for c in cues])
    ref = list(srt_lib.parse(written))
    assert [(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in ref] == [
        (c.start, c.end, c.text) for c in cues
    ]


@_SETTINGS_KW
@given(_cues(1))
def test_vtt_is_read_back_by_octavia_and_by_webvtt_py(cues: list[Cue]) -> None:
    written = _same_in_octavia(cues, "vtt", [_NOT_VTT.sub("", c.text) for c in cues])
    assert [c.extra for c in formats.loads(written, "vtt")] == [c.extra for c in cues]
    ref = webvtt.WebVTT.from_string(written).captions
    assert [(r.start, r.end, html.unescape(r.text), r.identifier) for r in ref] == [
        (_vtt_time(c.start), _vtt_time(c.end), visible(c.text), c.extra.get("id")) for c in cues
    ]


@_SETTINGS_KW
@given(_cues(10))
def test_ass_is_read_back_by_octavia_and_by_pysubs2(cues: list[Cue]) -> None:
    written = formats.dumps(cues, "ass")
    doc = formats.parse(written, "ass")
    assert not doc.warnings and formats.dumps(doc.cues, "ass") == written
    assert [(c.start, c.end, visible(c.text)) for c in doc.cues] == [
        (c.start, c.end, visible(c.text)) for c in cues
    ]
    ref = pysubs2.SSAFile.from_string(written, format_="ass").events
    assert [(e.start, e.end, e.plaintext, e.type) for e in ref] == [
        (round(c.start * 1000), round(c.end * 1000), visible(c.text), "Dialogue") for c in cues
    ]


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"
