"""Length-aware translation with a real (tiny) Marian model: the n-best choice, its cost only
where a sentence is over budget, sentence budgets from segment timings, and the
shorter-rendering retry after synthesis (real espeak-ng clips)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from octavia.pipeline.engines import LengthAwareTranslator
from octavia.pipeline.fitting.budget import LengthBudget
from octavia.pipeline.fitting.mixing import load_clips
from octavia.pipeline.fitting.retry import Retranslate, shorten_long_clips, source_texts
from octavia.pipeline.marian import N_BEST, MarianTranslator
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.synthesis import synthesize_segments
from octavia.pipeline.translation import AutoTranslator, translate_segments
from octavia.types import Segment
from tests.espeak_synth import EspeakSynthesizer
from tests.marian_factory import build, sentences

SR = 48_000


class CountingTranslator:
    """Wraps a CTranslate2 translator (the real one) and records each call's options."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, []  # type: ignore[var-annotated]

    def translate_batch(self, tokens: list[list[str]], **kw: Any) -> Any:
        self.calls.append((len(tokens), kw.get("num_hypotheses", 1)))
        return self.inner.translate_batch(tokens, **kw)


@pytest.fixture(scope="module")
def marian() -> MarianTranslator:
    _, ct2 = build("en", "xx")
    return MarianTranslator(ModelResolver(ct2, offline=True), model_dir=ct2)


def spy(tr: MarianTranslator) -> CountingTranslator:
    loaded = tr._load(tr.route("en", "xx")[0].path)
    counting = loaded.translator if isinstance(loaded.translator, CountingTranslator) else None
    if counting is None:
        counting = CountingTranslator(loaded.translator)
        loaded.translator = counting
    counting.calls.clear()
    return counting


def test_marian_is_length_aware_and_picks_the_best_fitting_hypothesis(marian: MarianTranslator) -> None:
    assert isinstance(marian, LengthAwareTranslator)
    texts = sentences(12, seed=5)
    top = marian.translate(texts, source="en", target="xx")
    loaded = marian._load(marian.route("en", "xx")[0].path)
    nbest = marian._hypotheses(loaded, texts, "xx", N_BEST)
    limits: list[int | None] = [len(t) - 2 for t in top]
    got = marian.translate_within(texts, source="en", target="xx", max_chars=limits)
    chose_other = 0
    for text, best, ranked, limit in zip(got, top, nbest, limits, strict=True):
        assert limit is not None
        fitting = [h for h in ranked if len(h) <= limit]
        if fitting:  # the best-scoring hypothesis that fits, in score order
            assert text == fitting[0] and len(text) <= limit
            assert all(len(h) > limit for h in ranked[: ranked.index(text)])
            chose_other += 1
        else:  # none fits: the top one stays
            assert text == best
    assert chose_other >= 3  # the toy model's 8-best lists do hold shorter renderings


def test_no_extra_cost_when_everything_fits(marian: MarianTranslator) -> None:
    texts = sentences(6, seed=9)
    counting = spy(marian)
    top = marian.translate(texts, source="en", target="xx")
    counting.calls.clear()
    same = marian.translate_within(texts, source="en", target="xx", max_chars=[len(t) for t in top])
    assert same == top and counting.calls == [(6, 1)]  # one plain pass, no n-best decoding
    counting.calls.clear()
    marian.translate_within(texts, source="en", target="xx", max_chars=[None, 3, None, None, None, 1])
    assert counting.calls == [(6, 1), (2, N_BEST)]  # n-best only for the two over budget


class Recording:
    """The real Marian translator, recording what ``translate_within`` was asked."""

    def __init__(self, inner: MarianTranslator) -> None:
        self.inner, self.asked = inner, []  # type: ignore[var-annotated]

    def engine_id(self, source: str, target: str) -> str:
        return self.inner.engine_id(source, target)

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        return self.inner.translate(texts, source=source, target=target)

    def translate_within(
        self, texts: Sequence[str], *, source: str, target: str, max_chars: Sequence[int | None]
    ) -> list[str]:
        self.asked.append((list(texts), list(max_chars)))
        return self.inner.translate_within(texts, source=source, target=target, max_chars=max_chars)


def test_sentence_budgets_come_from_segment_windows_and_gaps(marian: MarianTranslator) -> None:
    # "the old cat" + "eats." is one sentence over two segments; then a sentence with a long gap after.
    segs = [Segment(0.0, 0.8, "the old cat"), Segment(0.9, 1.5, "eats."), Segment(2.0, 3.0, "your car finds."),
            Segment(6.0, 7.0, "a dog sees.")]  # fmt: skip
    rec = Recording(marian)
    auto = AutoTranslator([("marian", lambda: rec)])
    budget = LengthBudget(chars_per_second=10.0, speed=1.0)
    out = translate_segments(segs, auto, source="en", target="xx", budget=budget, media_end=8.0)
    ((texts, limits),) = rec.asked
    assert texts == ["the old cat eats.", "your car finds.", "a dog sees."]
    # 0.0 → 1.95 (next start less 50 ms margin), 2.0 → 5.95, 6.0 → 8.0 (media end), at 10 chars/s.
    assert limits == [19, 39, 20]
    assert [s.text for s in out][2:] == ["tu coche encuentra.", "una perro ve."]
    plain = translate_segments(segs, marian, source="en", target="xx")  # no budget: plain translate
    assert [s.text for s in plain] == [s.text for s in out]  # every top hypothesis fit here


class WordDropping:
    """Marian's top translation, cut word by word from the end to each limit. The retry test
    below needs shorter renderings that exist on every CPU: the toy model's lower-ranked
    hypotheses are near-ties whose order differs between CPUs (AVX2 vs AVX-512 rounding), so
    whether one of them fits is not the same everywhere. The n-best choice itself is tested
    above on the top hypotheses, which are exact."""

    def __init__(self, inner: MarianTranslator) -> None:
        self.inner = inner

    def engine_id(self, source: str, target: str) -> str:
        return "word-dropping:" + self.inner.engine_id(source, target)

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        return self.inner.translate(texts, source=source, target=target)

    def translate_within(
        self, texts: Sequence[str], *, source: str, target: str, max_chars: Sequence[int | None]
    ) -> list[str]:
        out = []
        for text, limit in zip(self.translate(texts, source=source, target=target), max_chars, strict=True):
            words = text.rstrip(".").split()
            while limit is not None and len(words) > 1 and len(" ".join(words)) + 1 > limit:
                words.pop()
            out.append(" ".join(words) + ".")
        return out


@pytest.mark.slow
def test_clips_needing_more_than_a_gentle_speed_up_get_shorter_renderings(
    marian: MarianTranslator, tmp_path: Path
) -> None:
    english = sentences(12, seed=11)
    top = marian.translate(english, source="en", target="xx")
    synth = EspeakSynthesizer(175)
    natural = synthesize_segments([Segment(0, 1, t) for t in top], synth, language="xx", voice="es",
                                  clip_dir=tmp_path)  # fmt: skip
    lengths = [a.size / SR for a in load_clips(natural.clips, sample_rate=SR)]
    # Windows 1.4x too short, back to back: the cap alone cannot place them in time.
    spoken, t = [], 0.0
    for text, length in zip(top, lengths, strict=True):
        spoken.append(Segment(t, t + length / 1.4, text))
        t += length / 1.4 + 0.05
    original = [Segment(s.start, s.end, e) for s, e in zip(spoken, english, strict=True)]
    edited = list(spoken)
    edited[0] = Segment(spoken[0].start, spoken[0].end, "tu gato.")  # a person's edit: never re-translated
    sources = source_texts(original, spoken, edited)
    assert sources[0] is None and sources[1:] == english[1:]
    how = Retranslate(WordDropping(marian), "en", "xx", sources)
    result = shorten_long_clips(edited, natural.clips, retranslate=how,
                                synth=synth, voice="es", clip_dir=tmp_path, sample_rate=SR, media_end=t,
                                max_speed=1.25, gentle_speed=1.15, max_drift=0.2)  # fmt: skip
    assert result.segments[0].text == "tu gato."
    changed = [i for i, (a, b) in enumerate(zip(edited, result.segments, strict=True)) if a.text != b.text]
    assert changed, "no line got a shorter rendering"
    for i in changed:
        assert len(result.segments[i].text) < len(edited[i].text)
        assert result.audio[i].size < load_clips([natural.clips[i]], sample_rate=SR)[0].size  # really shorter
        assert (
            result.clips[i] != natural.clips[i] and result.clips[i].exists()
        )  # re-synthesised into the cache
    assert all(1 <= n <= 2 for n in result.retries.values()) and 0 not in result.retries
    assert {r.index: r.retries for r in result.placement.records if r.retries} == result.retries
    assert how.memo  # remembered: asking again costs no translation
    again = shorten_long_clips(edited, natural.clips, retranslate=how, synth=synth, voice="es", clip_dir=tmp_path,
                               sample_rate=SR, media_end=t, max_speed=1.25, gentle_speed=1.15, max_drift=0.2)  # fmt: skip
    assert [s.text for s in again.segments] == [s.text for s in result.segments]
