"""The speaking rate of a voice: measured by synthesising a calibration text, cached per
engine id + language + voice in the model cache, and turned into character budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octavia.pipeline.fitting.budget import LengthBudget, budget_end, span_budget
from octavia.pipeline.fitting.rate import CACHE_FILE, calibration_text, chars_within, speaking_rate
from octavia.types import Segment
from tests.espeak_synth import EspeakSynthesizer


def test_rate_is_measured_once_per_voice_and_cached(tmp_path: Path) -> None:
    slow, fast = EspeakSynthesizer(140), EspeakSynthesizer(260)
    rate = speaking_rate(slow, language="es", voice=None, cache_dir=tmp_path)
    assert 6.0 < rate < 25.0 and slow.calls == 1  # characters per second of ordinary speech
    assert speaking_rate(slow, language="es", voice=None, cache_dir=tmp_path) == pytest.approx(rate, rel=1e-3)
    assert slow.calls == 1  # the second time it came from the cache
    cached = json.loads((tmp_path / CACHE_FILE).read_text())
    assert list(cached) == ["espeak-ng:es:140wpm|es|"]
    # Another voice (here: a faster one) is measured on its own, and is faster.
    quick = speaking_rate(fast, language="es", voice=None, cache_dir=tmp_path)
    assert (
        fast.calls == 1 and quick > 1.4 * rate and len(json.loads((tmp_path / CACHE_FILE).read_text())) == 2
    )
    # A new process (new synthesizer object) reads the cache too.
    again = EspeakSynthesizer(140)
    speaking_rate(again, language="es", voice=None, cache_dir=tmp_path)
    assert again.calls == 0


def test_calibration_text_per_language() -> None:
    assert calibration_text("es") != calibration_text("en")
    assert calibration_text("es-MX") == calibration_text("es") and calibration_text("xx") == calibration_text(
        "en"
    )


def test_budgets_borrow_the_gap_after_and_stop_at_the_next_line() -> None:
    segs = [Segment(0.0, 1.0, "a"), Segment(1.5, 2.0, "b"), Segment(2.02, 3.0, "c"), Segment(5.0, 6.0, "d")]
    assert budget_end(segs, 0, media_end=7.0) == pytest.approx(1.45)  # up to the next start less the margin
    assert budget_end(segs, 1, media_end=7.0) == pytest.approx(2.0)  # never less than its own window
    assert budget_end(segs, 3, media_end=7.0) == pytest.approx(7.0)  # the last line: the media end
    assert span_budget(segs, [1, 2], media_end=7.0) == pytest.approx(4.95 - 1.5)  # a sentence of two
    budget = LengthBudget(chars_per_second=14.0, speed=1.15)
    assert budget.max_chars(segs, [0], media_end=7.0) == chars_within(1.45, 14.0, speed=1.15) == 23
