"""Property-style layout tests: many random transcripts and rule sets (fixed seeds, so failures replay).

For every case: cues never overlap, keep every word in order, stay within max_duration, and
every other rule is either met or reported; a report is never spurious, and a reading-time
report only appears when the next cue, the media end or max_duration left no room.
"""

from __future__ import annotations

import random

import pytest

from octavia.formats._markup import visible_len
from octavia.formats._text import tokenize
from octavia.formats.layout import LayoutResult, LayoutRules, break_lines, relayout, segments_to_cues
from octavia.formats.linebreak import lines_needed
from octavia.types import Cue, Segment, Word

VOCAB = ["the", "a", "and", "but", "so", "because", "I", "you", "we", "they", "it", "is", "was", "have", "had", "going", "to", "of", "in", "on", "at", "with", "for", "from", "really", "never", "always", "house", "river", "morning", "yesterday", "tomorrow", "beautiful", "understand", "conversation", "extraordinary", "responsibility", "international", "Oh", "okay", "well"]  # fmt: skip
PUNCT = ["", "", "", "", ",", ".", "?", "!", ";", ":"]
TOL = 1e-6


def _rules(rng: random.Random) -> LayoutRules:
    min_duration = rng.uniform(0.3, 1.5)
    return LayoutRules(
        max_chars_per_line=rng.randint(16, 50), max_lines=rng.randint(1, 3), max_cps=rng.uniform(8, 25),
        min_duration=min_duration, max_duration=rng.uniform(max(min_duration, 2.0), 9.0),
        min_gap=rng.choice([0.0, 0.04, 0.1]),
    )  # fmt: skip


def _text(rng: random.Random, n: int) -> str:
    words = [rng.choice(VOCAB) + rng.choice(PUNCT) for _ in range(n)]
    if rng.random() < 0.1:
        words.insert(rng.randrange(len(words) + 1), "Pneumonoultramicroscopicsilicovolcanoconiosis")
    return " ".join(words)


def _segments(rng: random.Random) -> list[Segment]:
    segs, t = [], rng.uniform(0, 3)
    for _ in range(rng.randint(1, 12)):
        text = _text(rng, rng.randint(1, 40))
        start = max(0.0, t + rng.uniform(-0.5, 1.5))  # sometimes overlapping the segment before
        if rng.random() < 0.6:
            words, w_t, lead = [], start, rng.choice(["", " "])  # engines strip words, or keep the space
            for word in text.split():
                w_t += rng.choice([0.0, 0.0, 0.05, 0.3, 1.2])
                dur = rng.uniform(0.1, 0.6)
                words.append(Word(w_t, w_t + dur, lead + word))
                w_t += dur
            segs.append(Segment(start, words[-1].end, text, tuple(words)))
        else:
            segs.append(Segment(start, start + rng.uniform(0.05, 12.0), text))
        t = segs[-1].end
    return sorted(segs, key=lambda s: s.start)


def _check(result: LayoutResult, rules: LayoutRules, media_end: float) -> None:
    cues = result.cues
    flagged = {(w.index, w.rule) for w in result.warnings}
    for i, c in enumerate(cues):
        assert 0 <= c.start < c.end, c
        assert c.duration <= rules.max_duration + TOL  # a hard limit: never reported, always held
        nxt = cues[i + 1] if i + 1 < len(cues) else None
        if nxt is not None:
            assert c.end <= nxt.start - rules.min_gap + TOL, (c, nxt)
        lines = c.text.split("\n")
        assert all(line == line.strip() and line for line in lines)
        assert (len(lines) > rules.max_lines) == ((i, "max_lines") in flagged)
        too_long = any(visible_len(line) > rules.max_chars_per_line for line in lines)
        assert too_long == ((i, "max_chars_per_line") in flagged)
        if too_long:  # only a word that cannot be split may be too long
            assert all(
                len(tokenize(line)) == 1 for line in lines if visible_len(line) > rules.max_chars_per_line
            )
        chars = visible_len(c.text)
        slow_enough = chars / c.duration <= rules.max_cps + TOL
        assert slow_enough != ((i, "max_cps") in flagged)
        long_enough = c.duration >= rules.min_duration - TOL
        assert long_enough != ((i, "min_duration") in flagged)
        if not slow_enough or not long_enough:  # reported only when there was no room to extend
            limit = nxt.start - rules.min_gap if nxt is not None else media_end
            assert c.end >= limit - TOL or c.duration >= rules.max_duration - TOL, (c, limit)


@pytest.mark.parametrize("seed", range(150))
def test_random_transcripts(seed: int) -> None:
    rng = random.Random(seed)
    rules, segs = _rules(rng), _segments(rng)
    media_end = max(s.end for s in segs) + rng.choice([0.0, 0.0, 5.0])
    result = segments_to_cues(segs, rules, media_end=media_end)
    _check(result, rules, media_end)
    assert (
        " ".join(c.text.replace("\n", " ") for c in result.cues).split()
        == " ".join(s.text for s in segs).split()
    )
    # Only a segment that does not fit is split: the number of cues is at least the number of segments.
    assert len(result.cues) >= len(segs)
    assert all(w.index < len(result.cues) for w in result.warnings)


@pytest.mark.parametrize("seed", range(100))
def test_random_line_breaking(seed: int) -> None:
    rng = random.Random(1000 + seed)
    rules = _rules(rng)
    text = _text(rng, rng.randint(1, 30))
    out = break_lines(text, rules)
    lines = out.split("\n")
    assert out.replace("\n", " ").split() == text.split()  # no word split, lost or moved
    assert len(lines) == lines_needed(tokenize(text), rules.max_chars_per_line)  # as few lines as fit
    for line in lines:
        assert len(line) <= rules.max_chars_per_line or len(line.split()) == 1
    if len(text) <= rules.max_chars_per_line:
        assert out == text


@pytest.mark.parametrize("seed", range(50))
def test_random_relayout_keeps_times(seed: int) -> None:
    rng = random.Random(5000 + seed)
    rules = _rules(rng)
    cues, t = [], 0.0
    for _ in range(rng.randint(1, 10)):
        start = t + rng.uniform(-1, 2)
        cues.append(Cue(max(start, 0), max(start, 0) + rng.uniform(0.1, 10), _text(rng, rng.randint(1, 25))))
        t = cues[-1].end
    result = relayout(cues, rules)
    assert [(c.start, c.end) for c in result.cues] == [(c.start, c.end) for c in cues]
    assert [c.text.replace("\n", " ") for c in result.cues] == [c.text for c in cues]
    flagged = {(w.index, w.rule) for w in result.warnings}
    for i, c in enumerate(result.cues):
        assert (c.text.count("\n") + 1 > rules.max_lines) == ((i, "max_lines") in flagged)
        assert (c.duration > rules.max_duration + TOL) == ((i, "max_duration") in flagged)
