"""Files written by other tools and used by players' test suites (tests/data/subtitles/README.md): read as players read them."""

from __future__ import annotations

from pathlib import Path

import pytest
import webvtt

from octavia import formats
from octavia.errors import InputError

DATA = Path(__file__).parent / "data" / "subtitles"


def _doc(name: str, **kwargs: str) -> formats.Document:
    return formats.read_document(DATA / name, **kwargs)


def test_wpt_arrows_a_line_with_an_arrow_is_never_an_id() -> None:
    # The browser test expects 6 cues: "-->", "foo-->"... are timing lines that fail, each
    # dropping its block, and the next timing line starts a cue of its own.
    doc = _doc("wpt-arrows.vtt")
    assert [c.text for c in doc.cues] == [f"text{k}" for k in range(1, 7)]
    assert all("id" not in c.extra for c in doc.cues)
    skipped = [w for w in doc.warnings if w.rule == "skipped"]
    assert [w.detail.split(":")[0] for w in skipped] == [
        f"WebVTT line {n}" for n in (3, 6, 9, 12, 15, 21, 23, 25, 27)
    ]
    assert "'foo-->'" in skipped[1].detail and skipped[1].index == 1
    cues = _doc("wpt-ids.vtt").cues  # ids with spaces and dashes are still ids
    assert [c.extra.get("id") for c in cues] == ["leading space", "trailing space", "-- >", "->", None]


def test_wpt_old_region_lines_are_skipped_not_fatal() -> None:
    doc = _doc("wpt-regions-old.vtt")
    assert [(c.text, c.extra["settings"]) for c in doc.cues] == [
        ("text1", "region:foo"),
        ("text2", "region:bar"),
    ]
    assert [(w.rule, w.index) for w in doc.warnings] == [("skipped", 0), ("skipped", 0)]
    assert "line 3:" in doc.warnings[0].detail and "REGION: id=foo" in doc.warnings[0].detail


def test_wpt_cues_that_end_before_they_start_are_repaired() -> None:
    doc = _doc("wpt-timings-negative.vtt")
    assert [c.text for c in doc.cues] == ["text1", "text2", "text3", "text4"]
    assert [c.start for c in doc.cues] == [0.0, 1.0, 60.0, 3600.0]
    assert all(c.end >= c.start for c in doc.cues)
    assert doc.cues[0].end == 0.0  # zero length is allowed, and left alone
    assert [(w.index, w.rule) for w in doc.warnings] == [(i, "end_before_start") for i in (1, 2, 3)]
    assert "line 6:" in doc.warnings[0].detail and "0.999" in doc.warnings[0].detail


def test_wpt_omitted_hours_and_player_accepted_one_digit_fields() -> None:
    assert [(c.start, c.end) for c in _doc("wpt-timings-omitted-hours.vtt").cues] == [(0.0, 1.0)] * 3
    cues = formats.loads("WEBVTT\n\n0:0:0.04 --> 0:0:1.5\nshort\n", "vtt")
    assert [(c.start, c.end) for c in cues] == [(0.04, 1.5)]
    srt = formats.loads("1\n00:00:0,000 --> 00:00:2,5\nHi\n", "srt")
    assert [(c.start, c.end) for c in srt] == [(0.0, 2.5)]


def test_headers_styles_regions_and_notes_written_by_three_tools() -> None:
    doc = _doc("pysubs2-vtt_example.vtt")
    assert not doc.warnings
    assert doc.header is not None
    assert doc.header.count("STYLE") == 5 and "STYLE ::cue(#id\\ a) {" in doc.header
    assert doc.header.count("REGION\nid:") == 2 and "NOTE" not in doc.header
    assert len(doc.cues) == 11
    assert [c.extra.get("id") for c in doc.cues[:5]] == ["id a", "id b", "1", "2 Title Crawl", "3 Some Text"]
    assert doc.cues[5].text == ""  # a cue with no text is still a cue
    assert doc.cues[-1].text.startswith("{\n") and doc.cues[-1].text.endswith("\n}")
    # What Octavia writes back, browsers' reference parser reads: same cues, same times.
    text = formats.dumps(doc.cues, "vtt", vtt_header=doc.header)
    again = formats.parse(text, "vtt")
    assert again.cues == doc.cues and again.header == doc.header
    ref = webvtt.WebVTT.from_string(text).captions
    assert [(c.start_in_seconds, c.identifier) for c in ref][:2] == [(8, "id a"), (16, "id b")]
    assert len(ref) == len(doc.cues)
    styles = _doc("webvtt-py-styles.vtt")
    assert styles.header is not None and styles.header.count("STYLE\n::cue") == 2
    assert [c.text for c in styles.cues] == ["- Hello <b>world</b>."]
    yt = _doc("webvtt-py-youtube_dl.vtt")
    assert yt.header is not None and yt.header.endswith(
        "::cue(c.colorE5E5E5) { color: rgb(229,229,229);\n }\n##"
    )
    assert [c.start for c in yt.cues] == [286.07, 286.47, 304.08, 305.069]
    assert yt.cues[2].text.startswith("this<00:05:04.199><c> will</c>")
    as_srt = formats.dumps(yt.cues, "srt")  # SRT players would print VTT's <c> and timestamp tags
    assert "<" not in as_srt and as_srt.count("\nthis will happen is I'm telling\n") == 2


def test_aspasia_gbk_srt_is_detected_and_reported() -> None:
    doc = _doc("aspasia-gbk.srt")
    assert [c.text for c in doc.cues] == ["这是中文", "还有更多的中文", "再见"]
    (warning,) = doc.warnings
    assert (warning.rule, warning.index) == ("encoding", -1)
    assert "gb18030" in warning.detail and "--encoding" in warning.detail
    given = _doc("aspasia-gbk.srt", encoding="gbk")
    assert given.cues == doc.cues and not given.warnings
    with pytest.raises(InputError, match=r"aspasia-gbk\.srt is not valid utf-8 \(as given\)") as err:
        _doc("aspasia-gbk.srt", encoding="utf-8")
    assert err.value.hint and "--encoding" in err.value.hint
