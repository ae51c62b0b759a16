"""What players read, Octavia reads: encodings, blocks that are not cues, backwards cues, ASS text escapes."""

from __future__ import annotations

from pathlib import Path

import pysubs2
import pytest

from octavia import formats
from octavia.errors import InputError
from octavia.formats import ass, srt, vtt
from octavia.types import Cue

SRT = "1\r\n00:00:01,000 --> 00:00:02,000\r\n{text}\r\n"


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-be", "utf-16", "utf-16-be", "utf-8-sig"])
def test_every_unicode_bom_decides(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / "bom.srt"
    data = SRT.format(text="Grüße, 世界 🙂").encode(encoding)
    if encoding == "utf-32-be":  # Python writes no BOM for the explicit-endian codecs
        data = b"\x00\x00\xfe\xff" + data
    elif encoding == "utf-16-be":
        data = b"\xfe\xff" + data
    path.write_bytes(data)
    doc = formats.read_document(path)
    assert [c.text for c in doc.cues] == ["Grüße, 世界 🙂"] and not doc.warnings


def test_a_bom_that_lies_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "liar.srt"
    path.write_bytes(b"\xef\xbb\xbf" + SRT.format(text="caf\xe9").encode("latin-1"))
    with pytest.raises(
        InputError, match=r"liar\.srt is not valid utf-8 \(it starts with its byte-order mark\)"
    ) as err:
        formats.read(path)
    assert err.value.hint and "--encoding" in err.value.hint


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1252", "Ça va? Très bien, merci. À demain!"),  # the detector alone says cp932 (Japanese)
        ("cp1251", "Привет, как дела? Всё хорошо."),
        ("gb2312", "你好，世界。我们今天去北京。"),
    ],
)
def test_legacy_code_pages_are_detected_and_reported(encoding: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "legacy.srt"
    path.write_bytes(SRT.format(text=text).encode(encoding))
    doc = formats.read_document(path)
    assert [c.text for c in doc.cues] == [text]
    (warning,) = doc.warnings
    assert warning.rule == "encoding" and "detected" in warning.detail and "--encoding" in warning.detail
    assert formats.read_document(path, encoding=encoding).cues == doc.cues


def test_encoding_option_overrides_and_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "x.srt"
    path.write_bytes(SRT.format(text="naïve").encode("cp1252"))
    assert formats.read(path, encoding="latin-1")[0].text == "naïve"
    with pytest.raises(InputError, match="Unknown text encoding 'klingon'"):
        formats.read(path, encoding="klingon")
    with pytest.raises(InputError, match=r"not valid utf-8 \(as given\): byte 0xef at offset"):
        formats.read(path, encoding="utf-8")


def test_utf16_without_bom_is_not_read_as_utf8(tmp_path: Path) -> None:
    path = tmp_path / "nobom.srt"
    path.write_bytes((SRT.format(text="Hello there, how are you doing today?") * 3).encode("utf-16-le"))
    doc = formats.read_document(path)
    assert [c.text for c in doc.cues] == ["Hello there, how are you doing today?"] * 3
    assert doc.warnings[0].rule == "encoding" and "utf_16" in doc.warnings[0].detail


@pytest.mark.parametrize(
    ("text", "kept", "line"),
    [
        ("STYLE\n::cue {\n\n  color: red }\n\n00:01.000 --> 00:02.000\nHi\n", ["Hi"], 7),  # blank line in CSS
        (
            "00:01.000 --> 00:02.000\nHello\n\nWorld\n\n00:03.000 --> 00:04.000\nAgain\n",
            ["Hello", "Again"],
            7,
        ),
        ("a --> b\n00:01.000 --> 00:02.000\nHi\n", ["Hi"], 4),  # an id with an arrow is a bad timing line
        ("00:01.000 --> 00:02.000\nHi\n\n00:0x.000 --> 00:03.000\nlost\n", ["Hi"], 7),
        ("00:01.000 --> 00:02.000\nHi\n\nSTYLE\n::cue { color: red }\n", ["Hi"], 7),  # too late for CSS
    ],
)
def test_vtt_blocks_that_are_not_cues_are_skipped_and_reported(text: str, kept: list[str], line: int) -> None:
    doc = vtt.parse("WEBVTT\nRegion: id=r1 width=40%\n\n" + text)
    assert [c.text for c in doc.cues] == kept
    (warning,) = doc.warnings
    assert warning.rule == "skipped" and warning.detail.startswith(f"WebVTT line {line}:")
    assert doc.header is not None and doc.header.startswith("WEBVTT\nRegion: id=r1")


@pytest.mark.parametrize("fmt", ["srt", "vtt", "ass"])
def test_a_backwards_cue_is_repaired_and_the_rest_read(fmt: str) -> None:
    rows = [("00:00:01,000", "00:00:03,000", "one"), ("00:00:05,000", "00:00:04,000", "two words here"),
            ("00:00:05,500", "00:00:07,000", "three")]  # fmt: skip
    if fmt == "srt":
        text = "\n".join(f"{k}\n{a} --> {b}\n{t}\n" for k, (a, b, t) in enumerate(rows, 1))
    elif fmt == "vtt":
        text = "WEBVTT\n\n" + "\n".join(f"{a} --> {b}\n{t}\n".replace(",", ".") for a, b, t in rows)
    else:
        text = "[Script Info]\n\n[Events]\n" + "".join(
            f"Dialogue: 0,{a[1:-1].replace(',', '.')},{b[1:-1].replace(',', '.')},Default,,0,0,0,,{t}\n"
            for a, b, t in rows
        )
    doc = formats.parse(text, fmt)
    assert [c.text for c in doc.cues] == ["one", "two words here", "three"]
    assert [(c.start, c.end) for c in doc.cues] == [(1.0, 3.0), (5.0, 5.5), (5.5, 7.0)]  # up to the next cue
    (warning,) = doc.warnings
    assert (warning.index, warning.rule, warning.end) == (1, "end_before_start", 5.5)


def test_the_last_backwards_cue_gets_its_reading_time() -> None:
    (cue,) = srt.read("1\n00:00:10,000 --> 00:00:09,000\n" + "x" * 34 + "\n")
    assert (cue.start, cue.end) == (10.0, 12.0)  # 34 characters at 17 per second


def test_ass_escapes_become_plain_text_and_comments_stay_out_of_srt_and_vtt() -> None:
    text = ("[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, "
            "MarginR, MarginV, Effect, Text\nDialogue: 0,0:00:01.00,0:00:02.00,Default,,0,0,0,,"
            "{TL: pun}{\\i1}Hello\\nworld\\Nsee\\hyou{\\i0}\n")  # fmt: skip
    (cue,) = ass.read(text)
    assert cue.text == "{TL: pun}{\\i1}Hello world\nsee\u00a0you{\\i0}"
    assert srt.write([cue]).split("\n")[2:4] == ["{\\i1}Hello world", "see\u00a0you{\\i0}"]
    assert vtt.write([cue]).endswith("\nHello world\nsee\u00a0you\n")
    assert "{TL: pun}{\\i1}Hello world\\Nsee\\hyou{\\i0}" in ass.write([cue])
    wrapped = ass.read(text.replace("ScriptType: v4.00+", "ScriptType: v4.00+\nWrapStyle: 2"))
    assert wrapped[0].text.startswith("{TL: pun}{\\i1}Hello\nworld\n")  # \n is a hard break in WrapStyle 2


def test_tags_the_target_lacks_are_dropped_not_printed() -> None:
    cue = Cue(0, 1, "<s>gone</s> <span>a</span> <lang en>b</lang> <ruby>漢<rt>kan</rt></ruby> <I>c</I>")
    assert vtt.write([cue]).endswith("\ngone a <lang en>b</lang> <ruby>漢<rt>kan</rt></ruby> <i>c</i>\n")
    assert srt.write([cue]).endswith("\n<s>gone</s> a b 漢kan <I>c</I>\n")
    assert ass.write([cue]).endswith(",{\\s1}gone{\\s0} a b 漢kan {\\i1}c{\\i0}\n")


def test_ass_rewrite_keeps_comment_events() -> None:
    text = ("[Script Info]\nScriptType: v4.00+\n\n[Events]\nFormat: Start, End, Style, Layer, Text\n"
            "Comment: 0:00:00.00,0:00:01.00,Default,1,TL note: keep the pun, a\n"
            "Dialogue: 0:00:01.00,0:00:02.00,Default,0,Hi\n")  # fmt: skip
    doc = ass.parse(text)
    assert [c.text for c in doc.cues] == ["Hi"]
    written = ass.write(doc.cues, header=doc.header)
    assert "Comment: 1,0:00:00.00,0:00:01.00,Default,,0,0,0,,TL note: keep the pun, a\n" in written
    again = ass.parse(written)
    assert again.cues == doc.cues and again.header == doc.header
    ref = pysubs2.SSAFile.from_string(written, format_="ass")
    assert [(e.type, e.text) for e in ref.events] == [
        ("Comment", "TL note: keep the pun, a"),
        ("Dialogue", "Hi"),
    ]


def test_ssa_input_is_written_back_as_ssa() -> None:
    text = ("[Script Info]\nScriptType: v4.00\n\n[V4 Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, "
            "SecondaryColour, TertiaryColour, BackColour, Bold, Italic, BorderStyle, Outline, Shadow, Alignment, "
            "MarginL, MarginR, MarginV, AlphaLevel, Encoding\nStyle: Yellow,Arial,28,65535,65535,65535,0,-1,0,1,1,2,"
            "2,30,30,30,0,0\n\n[Events]\nFormat: Marked, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, "
            "Text\nDialogue: Marked=0,0:00:01.00,0:00:02.00,Yellow,,0000,0000,0000,,Old {\\i1}style\n")  # fmt: skip
    doc = ass.parse(text)
    written = ass.write(doc.cues, header=doc.header)
    assert "[V4 Styles]" in written and "[V4+ Styles]" not in written
    assert "\nFormat: Marked, Start, End, Style," in written
    assert "\nDialogue: Marked=0,0:00:01.00,0:00:02.00,Yellow,,0000,0000,0000,,Old {\\i1}style\n" in written
    ref = pysubs2.SSAFile.from_string(written, format_="ssa")
    assert [(e.start, e.end, e.style, e.text) for e in ref.events] == [
        (1000, 2000, "Yellow", "Old {\\i1}style")
    ]
    assert ref.styles["Yellow"].fontsize == 28
