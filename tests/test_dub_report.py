"""The verified dub report: each placed line heard back by Whisper and checked.

Metrics and the page are checked on hand-made data; the numbers on real dubs whose lines are
known: Piper speaks Whisper's own transcript of recorded speech, so the report must hear it
back nearly word for word, and a line replaced by words no voice can say right is flagged.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from octavia.pipeline.dubreport.html import render
from octavia.pipeline.dubreport.metrics import errors, normalise
from octavia.pipeline.dubreport.verify import hearing_model, placed_interval
from tests.conftest import SHORT_SPEECH, SPEECH, ffmpeg
from tests.test_dub import edit, run_json

NONSENSE = "Zyxqvbrt plorkinsk vrummel stazzik"


def test_normalise_drops_case_punctuation_and_spacing() -> None:
    assert normalise("¡Hola,   Mundo!  ¿Qué tal?") == "hola mundo qué tal"
    assert normalise("It's a dog's life.") == "it's a dog's life"
    assert normalise("'quoted'") == "quoted"


def test_error_rates_on_known_pairs() -> None:
    same = errors("The cat sat on the mat.", "the cat sat on the mat")
    assert (same.wer, same.cer) == (0.0, 0.0)
    one_sub = errors("a b c d", "a x c d")
    assert one_sub.wer == 0.25 and one_sub.error == 0.25
    dropped = errors("one two three four", "one four")
    assert dropped.word_edits == 2 and dropped.wer == 0.5
    inserted = errors("hello there friend", "hello out there my friend")
    assert inserted.word_edits == 2
    assert errors("hello", "").wer == 1.0 and errors("", "").wer == 0.0
    # Short lines and unspaced scripts are judged by characters: one letter off is not 100 %.
    short = errors("Gracias", "gracia")
    assert short.wer == 1.0 and short.error == pytest.approx(1 / 7)
    chinese = errors("我喜欢猫", "我喜欢狗")
    assert chinese.error == pytest.approx(0.25)
    total = errors("a b", "a b") + errors("c d e f", "c")
    assert total.wer == pytest.approx(3 / 6)


def test_placed_interval_reads_placement_and_truncation_records() -> None:
    assert placed_interval({"start": 1.0, "end": 2.0, "placed_start": 0.8, "placed_end": 2.4}) == (0.8, 2.4)
    # Records of a truncating fit: the clip starts at the segment and is cut at the limit.
    old = {"start": 1.0, "end": 2.0, "limit": 2.5, "fitted_duration": 2.0}
    assert placed_interval(old) == (1.0, 2.5)


def test_collage_spaces_clips_and_words_go_back_to_their_clip() -> None:
    import numpy as np

    from octavia.pipeline.dubreport.verify import GAP_S, PAD_S, SAMPLE_RATE, _collage, _heard_per_clip
    from octavia.types import Segment, Transcript, Word

    track = np.ones(10 * SAMPLE_RATE, dtype=np.float32)
    collage, starts = _collage(track, [(1.0, 2.0), (5.0, 5.5), (9.9, 10.0)])
    first, second = 1.0 + 2 * PAD_S, 0.5 + 2 * PAD_S
    assert starts == pytest.approx([0.0, first + GAP_S, first + second + 2 * GAP_S], abs=1e-3)
    assert collage.size == pytest.approx(SAMPLE_RATE * (first + second + 0.1 + PAD_S + 3 * GAP_S), abs=2)
    gap = collage[round((first + 0.1) * SAMPLE_RATE) : round((first + GAP_S - 0.1) * SAMPLE_RATE)]
    assert not gap.any()  # silence between clips

    def word(t: float, text: str) -> Word:
        return Word(t, t + 0.3, text)

    heard = Transcript("en", (Segment(0, 9, "", (word(0.1, "one"), word(1.2, "two"), word(starts[1] + 0.2, "three"),
                                                  word(starts[1] + second + 0.05, "four"), word(starts[2] + 0.05, "five"))),))  # fmt: skip
    assert _heard_per_clip(heard, starts) == ["one two", "three four", "five"]


def test_hearing_model_is_multilingual_for_other_targets() -> None:
    assert hearing_model("tiny.en", "en") == "tiny.en"
    assert hearing_model("tiny.en", "es") is None and hearing_model("base", "es") == "base"


def _row(index: int, text: str, *, flagged: bool, **extra: Any) -> dict[str, Any]:
    row = {"index": index, "start": index * 2.0, "end": index * 2.0 + 1.5, "placed_start": index * 2.0,
           "placed_end": index * 2.0 + 1.6, "factor": 1.0, "shift_s": 0.0, "borrowed_before_s": 0.0,
           "borrowed_after_s": 0.1, "overflow_s": 0.0, "text": text, "heard": text, "wer": 0.0, "cer": 0.0,
           "error": 0.0, "cps": 10.0, "speaker": "Speaker 1", "voice": "joe", "flagged": flagged, "warnings": []}  # fmt: skip
    return {**row, **extra}


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, str]] = []  # (class, first cell text)
        self.scripts: list[str] = []
        self._in: str | None = None
        self._cell = ""
        self._script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._in, self._cell = dict(attrs).get("class") or "", ""
        self._script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._in is not None and self._cell:
            self.rows.append((self._in, self._cell))
            self._in = None
        self._script = False

    def handle_data(self, data: str) -> None:
        if self._script:
            self.scripts.append(data)
        elif self._in is not None and data.strip().startswith("#"):
            self._cell = self._cell or data.strip()


def test_page_lists_flagged_lines_first_and_escapes_text() -> None:
    rows = [_row(0, "Fine line.", flagged=False),
            _row(1, "<script>alert(1)</script> & co", flagged=True, heard="nope", wer=1.0, error=1.0),
            _row(2, "Another fine line.", flagged=False, factor=1.2)]  # fmt: skip
    report = {"segments": rows, "flagged": [1], "max_error": 0.5, "wer": 0.3, "cer": 0.2, "model": "base"}
    page = render(report, title="Dub report: talk (es)", media_name="talk.es.mp4", duration=7.0)
    parser = _Rows()
    parser.feed(page)
    assert [cls for cls, _ in parser.rows] == ["flagged", "", ""]
    assert parser.rows[0][1].startswith("#2")
    assert (
        "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    )
    assert len(parser.scripts) == 1 and "alert" not in parser.scripts[0]
    assert '<video id="player"' in page and 'src="talk.es.mp4"' in page
    assert page.count('data-start="') == 3
    assert "flagged or overflowing" in page and 'class="box adjusted"' in page  # line 3 was sped up


@pytest.mark.slow
def test_real_dub_report_hears_its_lines(speech_video: Path, tmp_path: Path, session_cache: Path) -> None:
    record = run_json("dub", str(speech_video), "--to", "en", "-m", "tiny.en", "--out-dir",
                      str(tmp_path), "--work-dir", str(tmp_path / "work"), cache=session_cache)["files"][0]  # fmt: skip
    report = record["report"]["en"]
    fits = record["timing"]["en"]["segments"]
    assert [r["index"] for r in report["segments"]] == [f["index"] for f in fits]
    # Piper reads Whisper's transcript of clear speech: heard back nearly word for word. tiny.en
    # mishears a few words of its 22 ("Dash would head", "and is power": 5 of 22 on one CPU, 6 on
    # another), so the bound leaves room for two more; a dub heard wrong is far above it.
    assert report["wer"] <= 0.35, report
    assert report["flagged"] == [] and all(r["error"] <= 0.5 for r in report["segments"])
    assert report["seconds"] > 0 and report["model"] == "tiny.en"
    for row in report["segments"]:
        assert row["placed_end"] > row["placed_start"] >= 0 and row["cps"] > 0 and row["voice"]
    page = Path(record["outputs"]["report.en.html"])
    data = json.loads(Path(record["outputs"]["report.en.json"]).read_text())
    assert page.parent == tmp_path and data["media"] == Path(record["outputs"]["video.en"]).name
    assert data["segments"] == report["segments"] and 'src="talk.en.mp4"' in page.read_text()


@pytest.mark.slow
def test_a_line_not_heard_as_written_is_flagged_and_strict_fails(tmp_path: Path, session_cache: Path) -> None:
    # Two recorded sentences with a pause: two lines, one of which the test then spoils.
    source = tmp_path / "two.wav"
    ffmpeg("-i", str(SPEECH), "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono:d=1.2", "-i", str(SHORT_SPEECH),
           "-filter_complex", "[0:a][1:a][2:a]concat=n=3:v=0:a=1", str(source))  # fmt: skip
    work = tmp_path / "work"
    first = run_json("translate-audio", str(source), "--to", "en", "-m", "tiny.en", "--review", "--strict",
                     "--out-dir", str(tmp_path), "--work-dir", str(work), cache=session_cache)["files"][0]  # fmt: skip
    review = Path(first["outputs"]["review.en"])
    assert review.read_text().count("[#") >= 2
    edit(review, 1, NONSENSE)  # words no voice says so that Whisper writes them back
    failed = run_json("translate-audio", "--resume", str(review.parent), cache=session_cache, code=1)[
        "files"
    ][0]
    assert failed["error"]["error"] == "dub_check_failed" and "#1" in failed["error"]["message"]
    assert "report.html" in failed["error"]["hint"]
    # The outputs were written before the check failed the run; the page shows the line first.
    (page,) = tmp_path.glob("two.en.report.html")
    data = json.loads((tmp_path / "two.en.report.json").read_text())
    assert (tmp_path / "two.en.wav").exists() and data["flagged"] == [0] and data["media"] == "two.en.wav"
    spoiled, *rest = data["segments"]
    assert spoiled["text"] == NONSENSE and spoiled["wer"] >= 0.75 and spoiled["flagged"]
    assert rest and all(not r["flagged"] and r["wer"] <= 0.34 for r in rest), rest
    html = page.read_text()
    assert html.index(NONSENSE) < html.index(rest[-1]["text"]) and '<audio id="player"' in html


@pytest.mark.slow
def test_no_verify_writes_no_report(tmp_path: Path, session_cache: Path) -> None:
    record = run_json("translate-audio", str(SHORT_SPEECH), "--to", "en", "-m", "tiny.en", "--no-verify",
                      "--out-dir", str(tmp_path), cache=session_cache)["files"][0]  # fmt: skip
    assert "report" not in record and not list(tmp_path.glob("*report*"))
    assert "verify:en" not in record["stages"]
