"""The global placement of dubbed clips: properties on random timelines, and worked examples.

Speech is never cut: every clip is placed whole (its played length is its natural length over
its speed-up), clips never overlap and keep their order, the speed-up stays within
[1, max_speed], no clip starts more than max_drift early, and a clip late by more than
max_drift or ending past the media end is always reported as overflow (never silently)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octavia.pipeline.fitting.placement import Window, needing_shorter, place
from octavia.pipeline.fitting.records import RECORD_KEYS

TOL = 1e-6


@st.composite
def timelines(draw: st.DrawFn) -> tuple[list[Window], list[float], float]:
    n = draw(st.integers(1, 25))
    gaps = draw(st.lists(st.floats(0.0, 3.0), min_size=n, max_size=n))
    lengths = draw(st.lists(st.floats(0.05, 5.0), min_size=n, max_size=n))
    windows, t = [], draw(st.floats(0.0, 2.0))
    for k, (gap, length) in enumerate(zip(gaps, lengths, strict=True)):
        t += gap
        windows.append(Window(k * 2, t, t + length))  # segment indices need not be contiguous
        t += length
    # Clip lengths from "fits easily" to "three times its window".
    durations = [draw(st.floats(0.1, 1.0)) * w_len * draw(st.floats(0.3, 3.0)) + 0.05 for w_len in lengths]
    media_end = t + draw(st.floats(0.0, 2.0))
    return windows, durations, media_end


@settings(max_examples=150, deadline=None)
@given(timelines(), st.floats(1.0, 1.6), st.floats(0.0, 1.5))
def test_placement_properties(
    case: tuple[list[Window], list[float], float], max_speed: float, drift: float
) -> None:
    windows, durations, media_end = case
    margin = 0.05
    plan = place(windows, durations, media_end=media_end, max_speed=max_speed, max_drift=drift, margin=margin)
    recs = plan.records
    assert [r.index for r in recs] == [w.index for w in windows]  # one record per clip, in order
    for r, w, d in zip(recs, windows, durations, strict=True):
        assert set(RECORD_KEYS) <= set(r.to_dict())
        assert 1.0 - TOL <= r.factor <= max_speed + TOL
        assert r.placed_end - r.placed_start == pytest.approx(d / r.factor, abs=TOL)  # placed whole
        assert r.clip_duration == d and (r.start, r.end) == (w.start, w.end)
        assert r.placed_start >= -TOL and r.placed_start >= w.start - drift - TOL  # never too early
        assert r.shift_s == pytest.approx(r.placed_start - w.start, abs=TOL)
        assert r.borrowed_before_s == pytest.approx(max(0.0, -r.shift_s), abs=TOL)
        assert r.borrowed_after_s == pytest.approx(max(0.0, r.placed_end - w.end), abs=TOL)
        # Out of bounds only as reported overflow.
        assert r.overflow_s >= r.shift_s - drift - TOL and r.overflow_s >= r.placed_end - media_end - TOL
        assert r.overflow_s >= 0.0
    for a, b in itertools.pairwise(recs):
        assert b.placed_start >= a.placed_end + margin - TOL  # no overlap, order kept
    # Overflow happens only once its crowded stretch is at the cap.
    for k in plan.crowded:
        assert recs[k].factor == pytest.approx(max_speed, abs=1e-6)
    assert plan.max_overflow == max((r.overflow_s for r in recs), default=0.0)


@settings(max_examples=100, deadline=None)
@given(timelines())
def test_clips_that_fit_play_on_time_untouched(case: tuple[list[Window], list[float], float]) -> None:
    windows, _, media_end = case
    # Every clip shorter than its own window: no shift, no speed-up, no overflow.
    durations = [max(0.01, (w.end - w.start) * 0.9) for w in windows]
    plan = place(windows, durations, media_end=media_end, max_speed=1.25, max_drift=0.5, margin=0.0)
    for r in plan.records:
        assert (r.factor, r.overflow_s) == (1.0, 0.0)
        assert r.placed_start == pytest.approx(r.start, abs=1e-9)


def test_gap_first_then_neighbours_then_speed_then_overflow() -> None:
    w = [Window(0, 0.0, 2.0), Window(1, 2.5, 3.5), Window(2, 3.6, 5.0)]
    # 3 s clip into a 2 s window: runs on into the gap, pushes the next two within the drift.
    easy = place(w, [3.0, 1.0, 1.0], media_end=6.0, max_speed=1.25, max_drift=0.75)
    a, b, c = easy.records
    assert (a.factor, a.placed_start, a.borrowed_after_s) == (1.0, 0.0, 1.0)
    assert b.shift_s == pytest.approx(0.55) and c.shift_s == pytest.approx(0.5)
    assert easy.max_overflow == 0.0 and needing_shorter(easy, gentle_speed=1.15) == []
    # Too much for the drift: the crowded stretch is sped up together, to the cap, and what is
    # left is overflow (the last clip placed whole, late and past the media end), never a cut.
    hard = place(w, [3.0, 3.0, 3.0], media_end=6.0, max_speed=1.25, max_drift=0.75)
    assert [r.factor for r in hard.records] == pytest.approx([1.25] * 3)
    last = hard.records[-1]
    assert last.placed_end - last.placed_start == pytest.approx(3.0 / 1.25)
    assert last.overflow_s == pytest.approx(last.placed_end - 6.0) and last.overflow_s > 1.0
    assert needing_shorter(hard, gentle_speed=1.15) == [0, 1, 2]


def test_a_long_clip_borrows_the_gap_before_when_the_next_line_is_close() -> None:
    w = [Window(0, 0.0, 1.0), Window(1, 3.0, 4.0), Window(2, 4.05, 6.0)]
    plan = place(w, [0.5, 1.6, 1.5], media_end=6.0, max_speed=1.25, max_drift=0.5)
    _, mid, last = plan.records
    assert mid.borrowed_before_s > 0.2 and mid.factor == 1.0  # started early instead of speeding up
    assert last.placed_start >= mid.placed_end + 0.05 - TOL and plan.max_overflow == 0.0


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        place([Window(0, 0, 1)], [1.0], media_end=2, max_speed=0.9)
    with pytest.raises(ValueError):
        place([Window(0, 1, 2), Window(1, 0, 1)], [1.0, 1.0], media_end=2, max_speed=1.2)
    assert place([], [], media_end=1.0, max_speed=1.2).records == []
