"""WebVTT: header, NOTE/STYLE/REGION blocks, cue identifiers and settings, escaping."""

from __future__ import annotations

from pathlib import Path

import pytest

from octavia import formats
from octavia.errors import InputError
from octavia.formats import vtt
from octavia.types import Cue

SUBS = Path(__file__).parent / "data" / "subs"


def test_sample_cues_ids_settings_and_entities() -> None:
    doc = formats.read_document(SUBS / "header_notes.vtt")
    cues = doc.cues
    assert [c.text for c in cues] == [
        "Hi, Anna. Did you sleep well?",
        "<i>Not really.</i>\nThe neighbours were playing music.",
        "<v Anna>Tom & Jerry <3</v>",
        "<c.loud>Fine, fine.</c>",
    ]
    assert [(c.start, c.end) for c in cues] == [(1.2, 3.4), (3.6, 6.05), (6.5, 9.0), (9.1, 11.999)]
    assert [c.extra.get("id") for c in cues] == ["intro", None, "cue-3", None]
    assert cues[0].extra["settings"] == "align:start position:10%"
    assert cues[1].extra["settings"] == "line:0 region:bottom"
    assert "settings" not in cues[2].extra


def test_header_keeps_metadata_style_and_region_but_not_notes() -> None:
    doc = vtt.parse((SUBS / "header_notes.vtt").read_text())
    assert doc.header is not None
    assert doc.header.startswith(
        "WEBVTT - Morning scene\nKind: captions\nLanguage: en\n\nSTYLE\n::cue(.loud)"
    )
    assert "REGION\nid:bottom" in doc.header
    assert "NOTE" not in doc.header and "hand-edited" not in doc.header


def test_read_write_read_round_trip_of_sample() -> None:
    doc = vtt.parse((SUBS / "header_notes.vtt").read_text())
    text = vtt.write(doc.cues, header=doc.header)
    assert "intro\n00:00:01.200 --> 00:00:03.400 align:start position:10%\nHi, Anna." in text
    assert "<v Anna>Tom &amp; Jerry &lt;3</v>" in text  # entities escaped again, tags kept
    assert "::cue(.loud)" in text
    again = vtt.parse(text)
    assert again.cues == doc.cues and again.header == doc.header
    assert [c.extra for c in again.cues] == [c.extra for c in doc.cues]


def test_plain_write_has_bare_header_and_escapes_arrows() -> None:
    text = vtt.write([Cue(0.5, 1.25, "a --> b & <3"), Cue(2, 3, "second\n\nline")])
    assert text == (
        "WEBVTT\n\n00:00:00.500 --> 00:00:01.250\na --&gt; b &amp; &lt;3\n\n"
        "00:00:02.000 --> 00:00:03.000\nsecond\nline\n"
    )
    assert [c.text for c in vtt.read(text)] == ["a --> b & <3", "second\nline"]


def test_ass_overrides_comments_and_tags_unknown_to_webvtt_are_dropped() -> None:
    text = vtt.write(
        [Cue(0, 1, '{\\an8}<font color="red">Hi</font> {TL note}<s>old</s> <I>new</I> <b>x</b>')]
    )
    assert text.endswith("\nHi old <i>new</i> <b>x</b>\n")


def test_crlf_bom_and_cue_without_blank_line() -> None:
    text = "\ufeffWEBVTT\r\n\r\n00:01.000 --> 00:02.000\r\nOne\r\n00:03.000 --> 00:04.000\r\nTwo"
    cues = vtt.read(text)
    assert [(c.start, c.text) for c in cues] == [(1.0, "One"), (3.0, "Two")]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("1\n00:00:01.000 --> 00:00:02.000\nHi\n", 1, "expected the 'WEBVTT' header"),
        ("WEBVTTX\n\n00:01.000 --> 00:02.000\nHi\n", 1, "expected the 'WEBVTT' header"),
        ("WEBVTT\n\n00:01.000 --> 00:0x.000\nHi\n", 3, "bad timestamp '00:0x.000'"),
        ("WEBVTT\n\nid\nnot a timing\n", 3, "expected a cue timing line, found 'id'"),
        ("WEBVTT\n\n\njust text\n", 4, "expected a cue timing line"),
    ],
)
def test_a_file_without_a_single_cue_is_refused_with_its_first_problem(
    text: str, line: int, words: str
) -> None:
    with pytest.raises(InputError) as err:
        vtt.read(text)
    assert f"WebVTT line {line}:" in err.value.message
    assert words in err.value.message
    assert err.value.hint
