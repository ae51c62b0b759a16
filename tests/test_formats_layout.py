"""Layout: line breaking, splitting segments (with and without word times), timing and its report."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest

from octavia.errors import InputError
from octavia.formats.layout import LayoutRules, break_lines, relayout, segments_to_cues
from octavia.types import Cue, Segment, Word

RULES = LayoutRules()


def timed_words(
    text: str, start: float, step: float = 0.3, pauses: dict[int, float] | None = None
) -> tuple[Word, ...]:
    """Words of ``text`` every ``step`` s, each spoken for 80% of it; ``pauses[k]`` is extra silence before word k."""
    out, t = [], start
    for k, word in enumerate(text.split()):
        t += (pauses or {}).get(k, 0.0)
        out.append(Word(round(t, 3), round(t + step * 0.8, 3), " " + word))
        t += step
    return tuple(out)


def segment(text: str, start: float, **kw: object) -> Segment:
    words = timed_words(text, start, **kw)  # type: ignore[arg-type]
    return Segment(words[0].start, words[-1].end, text, words)


# ---- break_lines ----------------------------------------------------------------------------------


def test_short_text_stays_on_one_line() -> None:
    assert break_lines("Hello\nthere,   world.") == "Hello there, world."
    assert break_lines("x" * 42) == "x" * 42


def test_two_balanced_lines_break_before_conjunction() -> None:
    out = break_lines("I went to the store yesterday and I bought some apples for the party.")
    assert out == "I went to the store yesterday\nand I bought some apples for the party."


def test_break_after_comma_wins_over_even_split() -> None:
    out = break_lines("Well, if you want to know the truth, I was at the library all day long.")
    assert out == "Well, if you want to know the truth,\nI was at the library all day long."


def test_sentence_end_is_preferred() -> None:
    out = break_lines("No, not really. The neighbours played loud music.")
    assert out == "No, not really.\nThe neighbours played loud music."


def test_no_function_word_at_line_end() -> None:
    for text in [
        "She finally opened the heavy wooden door of the old house on the hill",
        "They were talking about the weather in the morning with a friend of mine",
        "Er öffnete langsam die schwere Tür des alten Hauses auf dem Hügel heute",
    ]:
        first = break_lines(text).split("\n")[0]
        assert first.split()[-1].lower() not in {
            "the",
            "a",
            "of",
            "with",
            "in",
            "on",
            "die",
            "des",
            "dem",
            "auf",
        }


def test_ties_go_bottom_heavy() -> None:
    out = break_lines(" ".join(["abcd"] * 9), LayoutRules(max_chars_per_line=25))
    top, bottom = out.split("\n")
    assert (len(top), len(bottom)) == (19, 24)


def test_markup_does_not_count() -> None:
    text = "{\\i1}" + "word " * 7 + "last{\\i0}"  # 39 visible characters
    assert "\n" not in break_lines(text)
    assert "\n" not in break_lines("<i>" + "x" * 40 + "</i>")


def test_long_word_gets_its_own_line_and_words_are_never_split() -> None:
    word = "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"
    out = break_lines(f"I visited {word} last summer")
    assert word in out.split("\n")
    assert out.replace("\n", " ").split() == f"I visited {word} last summer".split()


def test_more_lines_when_text_is_too_long() -> None:
    text = "This is a considerably longer text that will certainly not fit into two lines of forty-two characters."
    lines = break_lines(text).split("\n")
    assert len(lines) == 3 and all(len(line) <= 42 for line in lines)


def test_japanese_breaks_between_characters_not_before_closing_marks() -> None:
    text = "今日はとても良い天気ですね。散歩に行きましょうか、それとも家でゆっくり休みますか？"
    lines = break_lines(text, LayoutRules(max_chars_per_line=16)).split("\n")
    assert "".join(lines) == text
    assert len(lines) == 3 and all(len(line) <= 16 for line in lines)
    assert not any(line[0] in "。、？" for line in lines)
    assert lines[0].endswith("。")  # the sentence end is the natural break


# ---- segments_to_cues -----------------------------------------------------------------------------


def test_short_segment_is_one_cue_with_its_times() -> None:
    result = segments_to_cues([Segment(1.0, 3.0, " Hello there. "), Segment(5.0, 7.5, "Bye.")])
    assert [(c.start, c.end, c.text) for c in result.cues] == [(1.0, 3.0, "Hello there."), (5.0, 7.5, "Bye.")]
    assert result.warnings == []


def test_word_times_split_at_sentence_end_not_at_longest_pause() -> None:
    text = "Hello there, my old friend. How have you been doing all these years since we last met in Paris?"
    seg = segment(text, 1.0, pauses={12: 0.9})  # the longest pause is before "years"
    cues = segments_to_cues([seg]).cues
    assert [c.text.replace("\n", " ") for c in cues] == [
        "Hello there, my old friend.", "How have you been doing all these years since we last met in Paris?",
    ]  # fmt: skip
    assert cues[0].start == seg.words[0].start and cues[1].start == seg.words[5].start
    assert seg.words[4].end <= cues[0].end <= cues[1].start - RULES.min_gap + 1e-9
    assert cues[1].end == seg.words[-1].end  # nothing follows: media end = segment end


def test_stripped_and_cjk_words_take_spacing_from_the_text() -> None:
    text = (
        "And Mr. John Dashwood had then leisure to consider how much there might be prudently in his power."
    )
    words = tuple(
        Word(w.start, w.end, w.text.strip()) for w in timed_words(text, 0.0)
    )  # as our engine gives them
    cues = segments_to_cues([Segment(0.0, words[-1].end, text, words)]).cues
    assert len(cues) == 2
    assert " ".join(c.text.replace("\n", " ") for c in cues) == text
    zh = ["我们", "明天", "去", "北京", "。", "你", "想", "一起", "去", "吗", "？"]
    zh_words = tuple(Word(k * 0.4, k * 0.4 + 0.3, w) for k, w in enumerate(zh))
    seg = Segment(0.0, 4.4, "".join(zh), zh_words)
    cues = segments_to_cues([seg], LayoutRules(max_chars_per_line=8, max_lines=1)).cues
    assert [c.text for c in cues] == ["我们明天去北京。", "你想一起去吗？"]
    assert cues[1].start == zh_words[5].start


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("I told him about the plan we made last night, but he did not want to listen to any of it today",
         "I told him about the plan we made last night,"),
        ("I told him about the plan that we made over the weekend but he did not want to listen to a word",
         "I told him about the plan that we made over the weekend"),
    ],
)  # fmt: skip
def test_clause_then_conjunction_boundaries(text: str, first: str) -> None:
    cues = segments_to_cues([segment(text, 0.0)]).cues
    assert cues[0].text.replace("\n", " ") == first
    assert " ".join(c.text.replace("\n", " ") for c in cues) == text


def test_longest_pause_decides_when_nothing_else_does() -> None:
    text = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen"
    seg = segment(text, 0.0, step=0.2, pauses={7: 0.6})
    cues = segments_to_cues([seg]).cues
    assert len(cues) == 2 and cues[1].text.startswith("eight")
    assert cues[1].start == seg.words[7].start


def test_long_duration_is_split_even_when_text_fits() -> None:
    seg = segment("Wait. Did you hear that? Someone is there.", 0.0, step=1.5)
    result = segments_to_cues([seg])
    assert len(result.cues) >= 2
    assert all(c.duration <= RULES.max_duration for c in result.cues)
    assert [c.start for c in result.cues][1] in {w.start for w in seg.words}


def test_text_only_split_shares_time_by_characters() -> None:
    text = ("The committee met on Tuesday to discuss the budget. "
            "After a long debate, they agreed to postpone the decision until next month.")  # fmt: skip
    result = segments_to_cues([Segment(10.0, 20.0, text)], LayoutRules(min_gap=0.0))
    a, b = result.cues
    assert a.text.replace("\n", " ") == "The committee met on Tuesday to discuss the budget."
    assert a.start == 10.0 and b.end == 20.0
    assert b.start == pytest.approx(10.0 + 10.0 * 52 / len(text), abs=1e-6)  # 52 characters come before
    assert a.end == pytest.approx(b.start)


def test_words_that_do_not_match_the_text_are_ignored() -> None:
    seg = Segment(0.0, 10.0, "A completely different translated sentence, much longer than the original words were.",
                  words=timed_words("short words", 0.0))  # fmt: skip
    cues = segments_to_cues([seg], LayoutRules(min_gap=0)).cues
    assert cues[0].start == 0.0 and cues[-1].end == 10.0 and len(cues) == 2


def test_min_duration_and_cps_extend_into_the_gap() -> None:
    segs = [Segment(1.0, 1.3, "Yes."), Segment(5.0, 6.0, "This sentence has forty characters in it"),
            Segment(10.0, 20.0, "End.")]  # fmt: skip
    result = segments_to_cues(segs)
    yes, long, end = result.cues
    assert yes.end == pytest.approx(1.0 + 0.83)
    assert long.end == pytest.approx(5.0 + 40 / 17)
    assert end.end == 17.0  # clamped to max_duration
    assert result.warnings == []


def test_unavoidable_problems_are_reported_with_reasons() -> None:
    segs = [Segment(1.0, 1.2, "Yes."), Segment(1.3, 2.2, "This sentence has forty characters in it")]
    result = segments_to_cues(segs)
    first, second = result.cues
    assert first.end == pytest.approx(1.3 - RULES.min_gap)
    assert second.end == 2.2  # the media end is unknown: not past the last segment
    rules = {(w.index, w.rule) for w in result.warnings}
    assert rules == {(0, "min_duration"), (1, "max_cps")}
    details = {w.rule: w.detail for w in result.warnings}
    assert "next cue starts at 1.300" in details["min_duration"]
    assert "media ends at 2.200" in details["max_cps"]
    assert json.loads(json.dumps(result.to_dict()))["warnings"][0]["rule"] == "min_duration"


def test_media_end_allows_reading_time_after_the_last_segment() -> None:
    result = segments_to_cues([Segment(1.3, 2.0, "This sentence has forty characters in it")], media_end=10)
    assert result.cues[0].end == pytest.approx(1.3 + 40 / 17) and result.warnings == []


def test_overlapping_segments_never_overlap_as_cues() -> None:
    segs = [Segment(0.0, 3.0, "First one."), Segment(2.0, 4.0, "Second one."), Segment(2.0, 2.5, "Third.")]
    result = segments_to_cues(segs)
    cues = result.cues
    assert all(a.end <= b.start - RULES.min_gap + 1e-9 for a, b in pairwise(cues))
    assert all(c.end > c.start for c in cues)
    assert [c.text for c in cues] == ["First one.", "Second one.", "Third."]
    assert [w.rule for w in result.warnings if w.rule == "overlap"] == ["overlap"]  # the third had to move


def test_overlong_word_is_reported() -> None:
    word = "Donaudampfschifffahrtsgesellschaftskapitänsmütze"
    result = segments_to_cues([Segment(0.0, 5.0, f"Ein {word} ist teuer")])
    long_lines = [w for w in result.warnings if w.rule == "max_chars_per_line"]
    assert len(long_lines) == 1 and word in long_lines[0].detail
    assert any(c.text == word for c in result.cues)


def test_empty_segments_are_skipped() -> None:
    assert segments_to_cues([]).cues == []
    result = segments_to_cues([Segment(0, 1, "  "), Segment(1, 2, "Hi.")])
    assert [c.text for c in result.cues] == ["Hi."]


# ---- relayout and rules ---------------------------------------------------------------------------


def test_relayout_keeps_times_style_and_extra() -> None:
    cues = [
        Cue(1.0, 3.0, "Ich bin gestern in den Laden gegangen und habe Äpfel für die Party gekauft.",
            style="Default", extra={"layer": "0", "name": "Tom"}),
        Cue(3.0, 3.5, "{\\p1}m 0 0 l 100 0 100 100 0 100 0 0 l 200 200 300 300 400 400 500 500{\\p0}", style="Sign"),
        Cue(4.0, 4.5, "Ja."),
    ]  # fmt: skip
    result = relayout(cues)
    a, b, _ = result.cues
    assert (a.start, a.end, a.style, a.extra) == (1.0, 3.0, "Default", {"layer": "0", "name": "Tom"})
    assert a.text == "Ich bin gestern in den Laden gegangen\nund habe Äpfel für die Party gekauft."
    assert b == cues[1] and b.text == cues[1].text  # drawings are shapes, not words
    assert [(w.index, w.rule) for w in result.warnings] == [(0, "max_cps"), (2, "min_duration")]
    assert all("kept from the source" in w.detail for w in result.warnings)


def test_relayout_reports_too_many_lines() -> None:
    long = "Das ist ein ziemlich langer übersetzter Text, der auf keinen Fall in zwei Zeilen mit je zweiundvierzig Zeichen passt."
    result = relayout([Cue(0, 7, long)])
    assert result.cues[0].text.count("\n") == 2
    assert [w.rule for w in result.warnings] == ["max_lines"]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_chars_per_line": 0}, {"max_lines": 0}, {"max_cps": 0}, {"min_duration": -1}, {"min_gap": -0.1},
     {"max_duration": 0.5, "min_duration": 1.0}, {"max_cps": float("nan")}],
)  # fmt: skip
def test_bad_rules_are_input_errors(kwargs: dict[str, float]) -> None:
    with pytest.raises(InputError):
        LayoutRules(**kwargs)  # type: ignore[arg-type]


def test_rules_from_dict() -> None:
    assert LayoutRules.from_dict({"max_cps": 20}).max_cps == 20
    with pytest.raises(InputError, match="max_chars"):
        LayoutRules.from_dict({"max_chars": 30})
    assert LayoutRules().to_dict()["max_chars_per_line"] == 42
