"""Sentence regrouping, proportional re-splitting and keep-terms (no model needed).

The translators here are small real implementations of the Translator protocol (a word
dictionary), so what is tested is the regroup/split/restore logic, exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest

from octavia.pipeline.sentences import Fragment, group_sentences, join_texts, place, split_proportionally
from octavia.pipeline.translation import protect, restore, translate_segments, translate_texts
from octavia.types import Segment, Word

WORDS = {"the": "el", "cat": "gato", "sleeps": "duerme", "on": "en", "red": "rojo", "sofa": "sofá",
         "we": "nosotros", "cook": "cocinamos", "rice": "arroz", "tomorrow": "mañana", "my": "mi"}  # fmt: skip


class WordTranslator:
    """Word-for-word, keeps numbers and unknown words, records every call."""

    def __init__(self, drop_numbers: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.drop_numbers = drop_numbers

    def engine_id(self, source: str, target: str) -> str:
        return "words"

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            words = []
            for w in text.split():
                core = w.strip(".,!?")
                if self.drop_numbers and core.isdigit():
                    continue
                words.append(w.replace(core, WORDS.get(core.lower(), core)) if core else w)
            out.append(" ".join(words))
        return out


def frags(*items: tuple[str, float, float]) -> list[Fragment]:
    return [Fragment(t, s, e) for t, s, e in items]


def test_groups_until_sentence_end_and_keeps_whole_sentences_apart() -> None:
    f = frags(
        ("The cat sleeps", 0, 1), ("on the red sofa.", 1, 2), ("We cook rice.", 2.2, 3), ("Tomorrow", 3, 4)
    )
    groups = group_sentences(f)
    assert [g.indices for g in groups] == [(0, 1), (2,), (3,)]
    assert groups[0].text == "The cat sleeps on the red sofa."


def test_unpunctuated_speech_is_capped_by_pauses_length_and_count() -> None:
    f = frags(
        ("one two", 0, 1),
        ("three four", 1, 2),
        ("five", 4.0, 5),
        *[(f"w{i}", 5 + i, 6 + i) for i in range(8)],
    )
    groups = group_sentences(f, max_pause=1.5, max_fragments=3)
    assert groups[0].indices == (0, 1)  # the 2 s pause ends it
    assert all(len(g.indices) <= 3 for g in groups)
    assert sorted(i for g in groups for i in g.indices) == list(range(len(f)))
    long = frags(*[("x" * 50, i, i + 1) for i in range(6)])
    assert all(len(g.text) <= 120 for g in group_sentences(long, max_chars=120))


def test_cjk_punctuation_ends_sentences_and_joins_without_spaces() -> None:
    f = frags(("今天天气", 0, 1), ("很好。", 1, 2), ("我们去公园！", 2, 3))
    groups = group_sentences(f)
    assert [g.text for g in groups] == ["今天天气很好。", "我们去公园！"]
    assert join_texts(["Hello", "world"]) == "Hello world"


def test_split_is_proportional_on_word_boundaries_and_never_empty() -> None:
    text = "uno dos tres cuatro cinco seis siete ocho"
    pieces = split_proportionally(text, [10, 30])
    assert " ".join(pieces) == text and all(pieces)
    assert len(pieces[0].split()) == 2  # a quarter of the characters, snapped to a word
    many = split_proportionally("a b c", [1, 1, 1])
    assert many == ["a", "b", "c"]  # enough words: no piece is empty, even if shares say otherwise
    cjk = split_proportionally("今天天气很好，我们去公园。", [1, 1])
    assert "".join(cjk) == "今天天气很好，我们去公园。" and not cjk[1].startswith("，")


def test_placing_keeps_timings_covered_monotonic_and_merges_empty_pieces() -> None:
    f = frags(("The cat sleeps on", 0.0, 1.0), ("the", 1.0, 1.4), ("red sofa.", 1.5, 3.0))
    sentence = group_sentences(f)[0]
    placed = place(f, sentence, "El gato duerme en el sofá rojo.")
    assert [p.indices for p in placed] == [(0,), (1,), (2,)]
    assert placed[0].start == 0.0 and placed[-1].end == 3.0
    assert all(a.end <= b.start for a, b in itertools.pairwise(placed))
    assert " ".join(p.text for p in placed) == "El gato duerme en el sofá rojo."
    short = place(f, sentence, "Duerme bien.")  # 2 words for 3 fragments: one is merged, none empty
    assert all(p.text for p in short) and len(short) == 2
    assert short[0].start == 0.0 and short[-1].end == 3.0
    assert sorted(i for p in short for i in p.indices) == [0, 1, 2]


def test_translate_segments_translates_whole_sentences_and_keeps_speakers() -> None:
    segs = [Segment(0, 1, "The cat sleeps", (Word(0, 1, "The"),), speaker="A"), Segment(1, 2, "on the red sofa.", speaker="A"),
            Segment(2.5, 3, "", speaker="B"), Segment(3, 4, "We cook rice tomorrow.", speaker="B")]  # fmt: skip
    tr = WordTranslator()
    out = translate_segments(segs, tr, source="en", target="es", batch_size=1)
    assert tr.calls == [
        ["The cat sleeps on the red sofa."],
        ["We cook rice tomorrow."],
    ]  # sentences, batched by 1
    assert [s.text for s in out] == [
        "el gato duerme",
        "en el rojo sofá.",
        "",
        "nosotros cocinamos arroz mañana.",
    ]
    assert [(s.start, s.end, s.speaker) for s in out] == [
        (0, 1, "A"),
        (1, 2, "A"),
        (2.5, 3, "B"),
        (3, 4, "B"),
    ]
    assert out[0].words == ()


def test_protect_and_restore_round_trip() -> None:
    text, mapping = protect("Octavia uses CTranslate2, and octavia is 12.", ["Octavia", "CTranslate2"])
    assert "Octavia" not in text and "CTranslate2" not in text and "octavia" in text  # case-sensitive
    assert all(p not in "12" for p in mapping)  # never a number already in the text
    assert restore(text, mapping) == "Octavia uses CTranslate2, and octavia is 12."
    assert restore(text.replace(next(iter(mapping)), ""), mapping) is None  # a lost placeholder is detected


@pytest.mark.parametrize("drop", [False, True])
def test_keep_terms_survive_with_placeholders_or_by_splitting(drop: bool) -> None:
    tr = WordTranslator(drop_numbers=drop)
    out = translate_texts(["My cat Tomorrow sleeps."], tr, source="en", target="es", keep_terms=["Tomorrow"])
    assert out == ["mi gato Tomorrow duerme."]
    # Without numbers surviving, the fallback translated the pieces around the term separately.
    assert len(tr.calls) == (2 if drop else 1)
    assert "Tomorrow" not in " ".join(tr.calls[-1])
