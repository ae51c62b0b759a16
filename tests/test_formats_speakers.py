"""Speakers in subtitle files: VTT voice spans, an ASS style per speaker, SRT labels, the JSON transcript."""

from __future__ import annotations

import json

import pytest

from octavia import formats
from octavia.formats import ass, srt, vtt
from octavia.formats.layout import segments_to_cues
from octavia.formats.transcript import dumps_transcript, loads_transcript
from octavia.types import Cue, Segment, Transcript, Word

CUES = [
    Cue(1.0, 2.5, "Good morning.", speaker="Speaker 1"),
    Cue(3.0, 4.0, "Morning! Tea?", speaker="Speaker 2"),
    Cue(4.2, 5.0, "Yes, please.", speaker="Speaker 1"),
    Cue(5.2, 6.0, "Yes & no <3", speaker="Speaker 1"),
    Cue(6.5, 7.0, "(music)"),
]


def test_vtt_voice_spans_are_written_and_read_back() -> None:
    text = vtt.write(CUES)
    assert "00:00:01.000 --> 00:00:02.500\n<v Speaker 1>Good morning." in text
    assert "<v Speaker 2>Morning! Tea?" in text
    assert "<v Speaker 1>Yes &amp; no &lt;3" in text
    assert "\n(music)\n" in text  # no speaker, no voice span
    back = vtt.read(text)
    assert [c.speaker for c in back] == [c.speaker for c in CUES]
    assert [formats._markup.visible(c.text) for c in back] == [c.text for c in CUES]
    again = vtt.write(back)  # the span is in the text now: not doubled
    assert again == text


def test_vtt_voice_span_of_a_hand_made_file_names_the_speaker() -> None:
    doc = vtt.parse("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v.loud Mary Ann>Hello</v>\n\n"
                    "00:00:03.000 --> 00:00:04.000\nNobody\n")  # fmt: skip
    assert [c.speaker for c in doc.cues] == ["Mary Ann", None]


def test_ass_has_a_style_per_speaker_in_distinct_colours() -> None:
    text = ass.write(CUES)
    styles = [ln for ln in text.splitlines() if ln.startswith("Style:")]
    names = [ln.split(":", 1)[1].split(",")[0].strip() for ln in styles]
    assert names == ["Default", "Speaker 1", "Speaker 2"]
    colours = [ln.split(",")[3] for ln in styles[1:]]
    assert len(set(colours)) == 2
    events = [ln for ln in text.splitlines() if ln.startswith("Dialogue:")]
    assert events[0].split(",")[3:5] == ["Speaker 1", "Speaker 1"]  # style and Name
    assert events[1].split(",")[3:5] == ["Speaker 2", "Speaker 2"]
    assert events[4].split(",")[3:5] == ["Default", ""]
    doc = ass.parse(text)
    assert [c.speaker for c in doc.cues] == [c.speaker for c in CUES]
    assert [c.style for c in doc.cues] == ["Speaker 1", "Speaker 2", "Speaker 1", "Speaker 1", "Default"]
    assert ass.write(doc.cues, header=doc.header) == text  # read → write keeps styles and names


def test_ass_with_a_given_header_keeps_its_styles() -> None:
    header = ass.parse(ass.write([Cue(0, 1, "x")])).header
    text = ass.write(CUES[:2], header=header)
    styles = [ln for ln in text.splitlines() if ln.startswith("Style:")]
    assert len(styles) == 1 and styles[0].startswith("Style: Default,")
    assert "Dialogue: 0,0:00:01.00,0:00:02.50,Default,Speaker 1," in text


def test_srt_speaker_labels() -> None:
    assert srt.write(CUES) == srt.write([Cue(c.start, c.end, c.text) for c in CUES])  # default: none
    named = srt.read(srt.write(CUES, speaker_labels="name"))
    assert [c.text for c in named] == ["Speaker 1: Good morning.", "Speaker 2: Morning! Tea?",
                                       "Speaker 1: Yes, please.", "Speaker 1: Yes & no <3", "(music)"]  # fmt: skip
    dashed = srt.read(formats.dumps(CUES, "srt", speaker_labels="dash"))
    assert [c.text for c in dashed] == ["- Good morning.", "- Morning! Tea?", "- Yes, please.", "Yes & no <3",
                                        "(music)"]  # fmt: skip
    with pytest.raises(ValueError, match="speaker_labels"):
        srt.write(CUES, speaker_labels="loud")


def test_layout_carries_the_speaker_into_every_cue_of_a_segment() -> None:
    long = "This sentence is long enough that the layout has to split it. " * 3
    segs = [
        Segment(0.0, 9.0, long.strip(), speaker="Speaker 2"),
        Segment(9.5, 10.5, "Short.", speaker="Speaker 1"),
    ]
    cues = segments_to_cues(segs).cues
    assert len(cues) > 2
    assert [c.speaker for c in cues] == ["Speaker 2"] * (len(cues) - 1) + ["Speaker 1"]


def test_json_transcript_round_trip() -> None:
    t = Transcript("en", (
        Segment(0.5, 1.25, "Hello there.", (Word(0.5, 0.8, "Hello", 0.9), Word(0.85, 1.25, "there.", 0.8)), "Speaker 1"),
        Segment(1.5, 2.0, "Hi.", (Word(1.5, 2.0, "Hi.", 0.99),), "Speaker 2"),
        Segment(2.5, 3.0, "(no speaker)"),
    ), duration=3.2)  # fmt: skip
    text = dumps_transcript(t)
    data = json.loads(text)
    assert data["speakers"] == ["Speaker 1", "Speaker 2"]
    assert data["segments"][0] == {
        "start": 0.5, "end": 1.25, "text": "Hello there.", "speaker": "Speaker 1",
        "words": [{"start": 0.5, "end": 0.8, "text": "Hello", "probability": 0.9},
                  {"start": 0.85, "end": 1.25, "text": "there.", "probability": 0.8}],
    }  # fmt: skip
    assert data["segments"][2]["speaker"] is None
    back = loads_transcript(text)
    assert back.segments == t.segments and back.language == "en" and back.duration == 3.2
    assert "json" in formats.OUTPUT_FORMATS and "json" not in formats.FORMATS
