"""ASS: styles kept through a translation round-trip, the Format line honoured, the styled writer."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from octavia import formats
from octavia.errors import InputError
from octavia.formats import ass
from octavia.formats.ass_style import AssStyle, ass_colour
from octavia.types import Cue

SUBS = Path(__file__).parent / "data" / "subs"


def _events(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("Dialogue:")]


def test_sample_events_styles_and_tags() -> None:
    cues = formats.read(SUBS / "styled.ass")
    assert [c.text for c in cues] == [
        "Hi, Anna. Did you sleep well?",
        "{\\i1}Not really.{\\i0}\nThe neighbours were playing music.",
        "{\\pos(960,120)\\fad(200,200)}BAKERY",
        "Croissants, again? {\\b1}Really{\\b0}?",
    ]  # the Comment event is not a subtitle
    assert [c.style for c in cues] == ["Default", "Default", "Sign", "Default"]
    assert [(c.start, c.end) for c in cues] == [(1.2, 3.4), (3.6, 6.05), (4.0, 8.0), (6.5, 9.0)]
    sign = cues[2].extra
    assert (sign["layer"], sign["margin_l"], sign["margin_r"], sign["margin_v"]) == ("1", "12", "34", "56")
    assert sign["effect"] == "Banner;10;0;0" and cues[0].extra["name"] == "Tom"


def test_translated_file_keeps_styles_and_event_fields() -> None:
    doc = formats.read_document(SUBS / "styled.ass")
    translated = [replace(c, text=c.text.replace("BAKERY", "BÄCKEREI")) for c in doc.cues]
    text = formats.dumps(translated, "ass", ass_header=doc.header)
    assert "Style: Sign,Georgia,44,&H0000E0FF" in text and "Style: Default,Open Sans Semibold,56" in text
    assert "[Aegisub Project Garbage]\nVideo File: morning.mkv" in text
    assert "Title: Morning" in text and text.count("[Events]") == 1
    assert _events(text)[2] == (
        "Dialogue: 1,0:00:04.00,0:00:08.00,Sign,,12,34,56,Banner;10;0;0,{\\pos(960,120)\\fad(200,200)}BÄCKEREI"
    )
    assert _events(text)[1].endswith(
        ",Default,Anna,0,0,0,,{\\i1}Not really.{\\i0}\\NThe neighbours were playing music."
    )
    again = ass.parse(text)
    assert again.cues == translated and again.header == doc.header
    assert [c.extra for c in again.cues] == [c.extra for c in doc.cues]


def test_original_event_lines_survive_unchanged() -> None:
    original = (SUBS / "styled.ass").read_text()
    doc = ass.parse(original)
    written = _events(ass.write(doc.cues, header=doc.header))
    assert written == [line for line in _events(original)]


def test_format_line_in_any_order_and_text_with_commas() -> None:
    text = (
        "[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
        "Format: Start, Style, End, Text\n"
        "Dialogue: 0:00:02.50,Sign,0:00:04.00,One, two\\Nthree\n"
    )
    (cue,) = ass.read(text)
    assert (cue.start, cue.end, cue.style, cue.text) == (2.5, 4.0, "Sign", "One, two\nthree")


def test_ssa_v4_marked_field() -> None:
    text = (
        "[Script Info]\nScriptType: v4.00\n\n[V4 Styles]\nFormat: Name, Fontname\nStyle: Default,Arial\n\n"
        "[Events]\nDialogue: Marked=0,0:00:01.00,0:00:02.00,Default,,0000,0000,0000,,Old style\n"
    )
    (cue,) = ass.read(text)
    assert (cue.start, cue.end, cue.text, cue.extra["marked"]) == (1.0, 2.0, "Old style", "Marked=0")


def test_generated_header_uses_ass_style() -> None:
    style = AssStyle(font_name="Noto Sans", font_size=60, primary_colour="#FFFF00", outline=3, shadow=0,
                     alignment=8, margin_v=30, bold=True)  # fmt: skip
    text = ass.write([Cue(1, 2, "Hi\nthere"), Cue(3, 4.5, "<i>Bye</i>", style="Other")], style=style)
    assert "[Script Info]" in text and "PlayResY: 1080" in text and "[V4+ Styles]" in text
    assert "Style: Default,Noto Sans,60,&H0000FFFF,&H000000FF,&H00000000,&H80000000,-1,0," in text
    assert ",1,3,0,8,80,80,30,1" in text
    assert _events(text) == [
        "Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,Hi\\Nthere",
        "Dialogue: 0,0:00:03.00,0:00:04.50,Other,,0,0,0,,{\\i1}Bye{\\i0}",
    ]


def test_header_without_default_style_uses_its_first_style() -> None:
    header = "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname\nStyle: Main,Arial\n"
    assert _events(ass.write([Cue(0, 1, "x")], header=header))[0].split(",")[3] == "Main"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.0, "0:00:00.00"), (59.999, "0:01:00.00"), (59.994, "0:00:59.99"), (3599.996, "1:00:00.00"),
     (1.006, "0:00:01.01"), (1.004, "0:00:01.00"), (-3.0, "0:00:00.00"), (36000.0, "10:00:00.00")],
)  # fmt: skip
def test_centisecond_rounding(seconds: float, expected: str) -> None:
    assert ass.format_time(seconds) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("#FFFFFF", "&H00FFFFFF"), ("#112233", "&H00332211"), ("#11223380", "&H7F332211"),
     ("&H80000000", "&H80000000"), ("&HFF&", "&H000000FF"), ("&hffeedd", "&H00FFEEDD")],
)  # fmt: skip
def test_colours(value: str, expected: str) -> None:
    assert ass_colour(value) == expected


@pytest.mark.parametrize(
    "kwargs",
    [{"primary_colour": "red"}, {"alignment": 10}, {"font_size": 0}, {"font_name": "A,B"}, {"margin_v": -1},
     {"border_style": 2}, {"name": " "}],
)  # fmt: skip
def test_bad_style_options_are_input_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError):
        AssStyle(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("Dialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,x\n", 1, "expected a section header"),
        ("[Script Info]\nTitle: x\n", 2, "no [Events] section"),
        ("[Script Info]\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
         "Dialogue: 0,0:00:01.00,0:0x:02.00,Default,,0,0,0,,x\n", 5, "bad end timestamp '0:0x:02.00'"),
        ("[Script Info]\n\n[Events]\nDialogue: 0,0:00:01.00,0:00:02.00\n", 4, "expected 10 comma-separated fields"),
        ("[Script Info]\n\n[Events]\nFormat: Layer, Start, Text\n", 4, "lacks end"),
        ("[Script Info]\n\n[Events]\nDialogue 0,0:00:01.00\n", 4, "expected 'Format:', 'Dialogue:'"),
    ],
)  # fmt: skip
def test_malformed_input_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        ass.read(text)
    assert f"ASS line {line}:" in err.value.message
    assert words in err.value.message
    assert err.value.hint
