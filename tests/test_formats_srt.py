"""SRT reading (what real files get wrong) and writing; shared timestamp rounding."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from octavia import formats
from octavia.errors import InputError
from octavia.formats import srt
from octavia.formats._common import format_ms, parse_timestamp
from octavia.types import Cue

SUBS = Path(__file__).parent / "data" / "subs"


def test_sample_with_bom_crlf_gaps_and_no_final_blank_line() -> None:
    raw = (SUBS / "crlf_bom.srt").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the sample really is what it claims
    cues = formats.read(SUBS / "crlf_bom.srt")
    assert [c.text for c in cues] == [
        "Hi, Anna. Did you sleep well?",
        "<i>Not really.</i>\nThe neighbours were playing music.",
        "Café crème & croissants — again?",
        "- Yes.\n- Fine, fine.",
        "Last line, no blank line after it",
    ]
    assert [(c.start, c.end) for c in cues] == [
        (1.2, 3.4), (3.6, 6.05), (6.5, 9.0), (9.1, 11.999), (3599.999, 3602.0),
    ]  # fmt: skip
    assert not cues[0].text.startswith("\ufeff")


def test_read_write_read_keeps_everything() -> None:
    first = formats.read(SUBS / "crlf_bom.srt")
    text = srt.write(first)
    assert text.startswith("1\n00:00:01,200 --> 00:00:03,400\nHi, Anna.")
    assert "\r" not in text and "5\n00:59:59,999 --> 01:00:02,000\n" in text  # renumbered, no gaps
    again = srt.read(text)
    assert again == first


def test_no_blank_line_between_cues_and_dot_separator() -> None:
    text = "1\n00:00:01.000 --> 00:00:02.000\nOne\n2\n00:00:02,500 --> 00:00:03,000\nTwo\n00:00:04,000 --> 00:00:05,000\nThree"
    cues = srt.read(text)
    assert [(c.start, c.end, c.text) for c in cues] == [(1, 2, "One"), (2.5, 3, "Two"), (4, 5, "Three")]


def test_numbers_and_arrows_inside_text_are_text() -> None:
    text = "1\n00:00:01,000 --> 00:00:02,000\n42\nA --> B\n\n2\n00:00:03,000 --> 00:00:04,000\n7\n"
    cues = srt.read(text)
    assert [c.text for c in cues] == ["42\nA --> B", "7"]


def test_stray_line_after_blank_line_joins_previous_cue() -> None:
    cues = srt.read(
        "1\n00:00:01,000 --> 00:00:02,000\nHello\n\nworld\n\n2\n00:00:03,000 --> 00:00:04,000\nNext\n"
    )
    assert [c.text for c in cues] == ["Hello\nworld", "Next"]


def test_position_coordinates_survive() -> None:
    cues = srt.read("1\n00:00:01,000 --> 00:00:02,000  X1:100 X2:600 Y1:10 Y2:50\nHi\n")
    assert cues[0].extra["position"] == "X1:100 X2:600 Y1:10 Y2:50"
    assert "00:00:02,000 X1:100 X2:600 Y1:10 Y2:50\n" in srt.write(cues)


def test_empty_file_and_empty_cue() -> None:
    assert srt.read("") == [] and srt.read("\ufeff\r\n\r\n") == []
    cues = srt.read("1\n00:00:01,000 --> 00:00:02,000\n\n2\n00:00:03,000 --> 00:00:04,000\nB\n")
    assert [c.text for c in cues] == ["", "B"]
    assert srt.read(srt.write(cues)) == cues


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("1\n00:00:01,000 --> 00:00:0x,000\nHi\n", 2, "bad timestamp '00:00:0x,000'"),
        ("\n\n1\n00:00:01,000 -> 00:00:02,000\nHi\n", 4, "expected a timing line after cue number 1"),
        ("1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\nNo timing\n", 6, "expected a timing line"),
        ("1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n\n", 5, "after cue number 2, found the end of the file"),
        ("Hello there\n00:00:01,000 --> 00:00:02,000\n", 1, "expected a cue number or a timing line"),
        ("1\n00:61:00,000 --> 00:62:00,000\nHi\n", 2, "bad timestamp '00:61:00,000'"),
    ],
)
def test_malformed_input_names_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(InputError) as err:
        srt.read(text)
    assert f"SRT line {line}:" in err.value.message
    assert words in err.value.message
    assert err.value.hint and "-->" in err.value.hint


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0.0, "00:00:00,000"),
        (59.9996, "00:01:00,000"),
        (59.9994, "00:00:59,999"),
        (3599.9999, "01:00:00,000"),
        (1.0005, "00:00:01,001"),
        (-0.2, "00:00:00,000"),
        (360000.0, "100:00:00,000"),
    ],
)
def test_millisecond_rounding_carries(seconds: float, expected: str) -> None:
    assert format_ms(seconds, ",") == expected


def test_non_finite_time_is_an_input_error() -> None:
    with pytest.raises(InputError, match="finite"):
        srt.write([Cue(math.nan, 1.0, "x")])


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("00:00:01,5", 1.5), ("1:02:03.004", 3723.004), ("02:03.250", 123.25), ("0:00:01.2345", 1.235)],
)
def test_timestamp_forms(value: str, seconds: float) -> None:
    assert parse_timestamp(value) == seconds


@pytest.mark.parametrize("value", ["", "1:2", "00:60:00,000", "aa:bb:cc,ddd", "00:00:01,000x"])
def test_not_timestamps(value: str) -> None:
    assert parse_timestamp(value) is None


def test_vtt_only_markup_is_dropped_and_blank_lines_removed() -> None:
    out = srt.write([Cue(1, 2, "<v Anna><c.loud>Hi</c></v>\n\n<i>there</i>")])
    assert out == "1\n00:00:01,000 --> 00:00:02,000\nHi\n<i>there</i>\n"
