"""The review file with speakers and a cast: render → edit → read back, as text and as data."""

from __future__ import annotations

from pathlib import Path

import pytest

from octavia.errors import InputError
from octavia.pipeline import review
from octavia.types import Segment

ORIGINAL = (
    Segment(0.0, 2.0, "Good morning.", speaker="Speaker 1"),
    Segment(2.5, 4.0, "Hello there.", speaker="Speaker 2"),
    Segment(4.5, 6.0, "How are you?", speaker="Speaker 1"),
)
TRANSLATED = tuple(
    s.with_text(t) for s, t in zip(ORIGINAL, ["Buenos días.", "Hola.", "¿Cómo estás?"], strict=True)
)
CAST = {"Speaker 1": "es_ES-davefx-medium", "Speaker 2": "jm_kumo"}


def rendered() -> str:
    return review.render(ORIGINAL, TRANSLATED, source="en", target="es", resume_hint="octavia dub --resume W",
                         cast=CAST)  # fmt: skip


def test_render_shows_speakers_and_cast_and_reads_back_unchanged() -> None:
    text = rendered()
    assert "[cast]" in text and "Speaker 1 = es_ES-davefx-medium" in text and "Speaker 2 = jm_kumo" in text
    assert "[#2] 00:00:02.500 --> 00:00:04.000 | Speaker 2" in text
    edits = review.parse_edits(text, count=3)
    assert edits.texts == {0: "Buenos días.", 1: "Hola.", 2: "¿Cómo estás?"}
    assert edits.speakers == {0: "Speaker 1", 1: "Speaker 2", 2: "Speaker 1"}
    assert edits.cast() == CAST and not edits.renames
    assert review.apply_edits(TRANSLATED, edits) == list(TRANSLATED)


def test_rename_merge_move_and_assign_voice(tmp_path: Path) -> None:
    text = rendered().replace("Speaker 1 = es_ES-davefx-medium", "Speaker 1 -> Ana = jf_alpha")
    text = text.replace("00:00:06.000 | Speaker 1", "00:00:06.000 | Speaker 2")  # move line 3
    segments, cast = review.load_review(_write(text, tmp_path), TRANSLATED)
    assert [s.speaker for s in segments] == ["Ana", "Speaker 2", "Speaker 2"]
    assert cast == {"Ana": "jf_alpha", "Speaker 2": "jm_kumo"}
    merged = rendered().replace("Speaker 2 = jm_kumo", "Speaker 2 -> Speaker 1 = jm_kumo")
    segments, cast = review.load_review(_write(merged, tmp_path), TRANSLATED)
    assert {s.speaker for s in segments} == {"Speaker 1"}
    assert cast == {"Speaker 1": "es_ES-davefx-medium"}  # the merge target keeps its own voice


def test_old_review_files_without_speakers_still_read(tmp_path: Path) -> None:
    old = "# notes\n\n[#1] 00:00:00.000 --> 00:00:02.000\n# Good morning.\nBuenas.\n\n[#3] 00:00:04.500 --> 00:00:06.000\n\n"
    segments, cast = review.load_review(_write(old, tmp_path), TRANSLATED)
    assert [s.text for s in segments] == ["Buenas.", "Hola.", ""] and cast == {}
    assert [s.speaker for s in segments] == ["Speaker 1", "Speaker 2", "Speaker 1"]
    unlabelled = tuple(Segment(s.start, s.end, s.text) for s in TRANSLATED)
    text = review.render(ORIGINAL, unlabelled, source="en", target="es", resume_hint="x")
    assert "[cast]" not in text and "|" not in text
    assert review.parse(text, count=3) == {0: "Buenos días.", 1: "Hola.", 2: "¿Cómo estás?"}


def test_save_edits_round_trips_as_data(tmp_path: Path) -> None:
    path = tmp_path / "review.es.txt"
    edits = review.ReviewEdits(texts={1: "Hola, ¿qué tal?"}, speakers={2: "Speaker 2"},
                               voices={"Speaker 2": "jf_nezumi"}, renames={"Speaker 1": "Ana"})  # fmt: skip
    review.save_edits(path, edits, original=ORIGINAL, translated=TRANSLATED, source="en", target="es",
                      resume_hint="octavia dub --resume W", cast=CAST)  # fmt: skip
    back = review.load_edits(path, count=3)
    assert back.texts == {0: "Buenos días.", 1: "Hola, ¿qué tal?", 2: "¿Cómo estás?"}
    assert back.speakers == {0: "Ana", 1: "Speaker 2", 2: "Speaker 2"}
    assert back.cast() == {"Ana": "es_ES-davefx-medium", "Speaker 2": "jf_nezumi"}
    with pytest.raises(InputError, match="no segment #9"):
        review.save_edits(path, review.ReviewEdits(texts={8: "x"}), original=ORIGINAL, translated=TRANSLATED,
                          source="en", target="es", resume_hint="x")  # fmt: skip


def test_bad_labels_and_ids_are_errors() -> None:
    with pytest.raises(InputError, match="no segment"):
        review.parse_edits("[#4] x\ntext\n", count=3)
    with pytest.raises(InputError, match="speaker label"):
        review.parse_edits("[cast]\nSpeaker 1 -> = voice\n[#1]\nx\n", count=3)
    with pytest.raises(InputError, match="before the first"):
        review.parse_edits("stray text\n[#1]\nx\n", count=3)


def _write(text: str, where: Path) -> Path:
    path = where / "review.es.txt"
    path.write_text(text, encoding="utf-8")
    return path
