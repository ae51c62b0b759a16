"""The CTranslate2 settings Octavia chooses reach CTranslate2, and length-sorted batches keep order.

Real toy Marian models (tests/marian_factory.py) and the real ``ctranslate2.Translator``; the
spies only record the arguments of the real calls and pass them on. No timing is asserted.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from octavia.pipeline import marian
from octavia.pipeline.marian import MarianTranslator
from octavia.pipeline.models import ModelResolver
from tests import marian_factory as mf

pytestmark = pytest.mark.slow


class SpyTranslator:
    """Wraps a real ``ctranslate2.Translator``; records each ``translate_batch`` call."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls: list[tuple[list[list[str]], dict[str, Any]]] = []

    def translate_batch(self, tokens: list[list[str]], **options: Any) -> Any:
        self.calls.append((tokens, options))
        return self.real.translate_batch(tokens, **options)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    mf.install(mf.build("en", "xx")[1], root, "en-xx")
    return root


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments of every real ``ctranslate2.Translator`` construction."""
    import ctranslate2

    real = ctranslate2.Translator
    seen: list[dict[str, Any]] = []

    def spy(path: str, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(path, **kwargs)

    monkeypatch.setattr(ctranslate2, "Translator", spy)
    return seen


def spied(tr: MarianTranslator) -> SpyTranslator:
    """Load the en-xx model for real, then put a spy around its translator."""
    loaded = tr._load(tr.route("en", "xx")[0].path)
    spy = SpyTranslator(loaded.translator)
    loaded.translator = spy
    return spy


def test_threads_follow_the_cores_this_process_may_use(
    models_dir: Path, loads: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An affinity mask of 4 cores (as a container's cpuset gives), whatever the host has.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert marian.usable_cores() == 4
    resolver = ModelResolver(models_dir, offline=True)
    MarianTranslator(resolver, inter_threads=2).translate(["the cat sees a dog ."], source="en", target="xx")
    MarianTranslator(resolver).translate(["the cat sees a dog ."], source="en", target="xx")
    MarianTranslator(resolver, intra_threads=3).translate(["the cat sees a dog ."], source="en", target="xx")
    got = [(k["inter_threads"], k["intra_threads"]) for k in loads]
    # By default a worker of one thread per core; asked-for counts share out the rest of the
    # cores. CTranslate2's own "0" would mean 4 threads per worker.
    assert got == [(2, 2), (4, 1), (1, 3)]
    assert marian.thread_plan("cuda") == (1, 4)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert marian.thread_plan("cpu") == (marian.MAX_AUTO_WORKERS, 4)  # each worker holds a model copy


def test_a_call_gives_every_worker_a_batch(models_dir: Path, loads: list[dict[str, Any]]) -> None:
    # Two workers: a call of 16 texts is cut into two batches of 8 (CTranslate2 runs one per
    # worker), and the outputs are what one worker gives, in order.
    two = MarianTranslator(ModelResolver(models_dir, offline=True), inter_threads=2, max_batch_size=16)
    one = MarianTranslator(ModelResolver(models_dir, offline=True), inter_threads=1, max_batch_size=16)
    spy = spied(two)
    texts = mf.sentences(16, seed=77)
    assert two.texts_per_call == 32 and one.texts_per_call == 16
    out = two.translate(texts, source="en", target="xx")
    assert (
        out == one.translate(texts, source="en", target="xx") == [mf.toy_translate(t, mf.XX) for t in texts]
    )
    [(tokens, options)] = spy.calls
    assert len(tokens) == 16 and options["max_batch_size"] == 8
    assert two.translate(texts[:3], source="en", target="xx") == out[:3]
    assert spy.calls[-1][1]["max_batch_size"] == 2  # ceil(3 / 2): both workers still get one
    two.translate_within(
        texts[:5], source="en", target="xx", max_chars=[1] * 5
    )  # nothing fits: the n-best pass runs
    assert spy.calls[-1][1]["num_hypotheses"] > 1 and spy.calls[-1][1]["max_batch_size"] == 3


def test_translate_texts_hands_marian_a_batch_per_worker(
    models_dir: Path, loads: list[dict[str, Any]]
) -> None:
    from octavia.pipeline.translation import AutoTranslator, translate_texts

    two = MarianTranslator(ModelResolver(models_dir, offline=True), inter_threads=2, max_batch_size=4)
    spy = spied(two)
    texts = mf.sentences(20, seed=78)
    expected = [mf.toy_translate(t, mf.XX) for t in texts]
    assert translate_texts(texts, two, source="en", target="xx") == expected
    assert [len(tokens) for tokens, _ in spy.calls] == [8, 8, 4]  # texts_per_call = 4 × 2
    spy.calls.clear()
    auto = AutoTranslator([("marian", lambda: two)])
    assert translate_texts(texts, auto, source="en", target="xx") == expected
    assert [len(tokens) for tokens, _ in spy.calls] == [8, 8, 4]


def test_batch_options_reach_translate_batch(models_dir: Path, loads: list[dict[str, Any]]) -> None:
    tr = MarianTranslator(ModelResolver(models_dir, offline=True), beam_size=2, max_batch_size=64,
                          batch_type="tokens", inter_threads=1)  # fmt: skip
    spy = spied(tr)
    texts = mf.sentences(5, seed=11)
    assert tr.translate(texts, source="en", target="xx") == [mf.toy_translate(t, mf.XX) for t in texts]
    [(_, options)] = spy.calls
    assert options["beam_size"] == 2
    assert options["max_batch_size"] == 64 and options["batch_type"] == "tokens"
    assert options["return_scores"] is False


@pytest.mark.parametrize(
    ("max_batch_size", "batch_type"), [(3, "examples"), (40, "tokens"), (32, "examples")]
)
def test_order_is_kept_when_batches_are_sorted_by_length(
    models_dir: Path, loads: list[dict[str, Any]], max_batch_size: int, batch_type: Any
) -> None:
    # Small batches make CTranslate2 sort the sentences by length and cut them into batches;
    # the translations must still come back in the order of the input.
    tr = MarianTranslator(ModelResolver(models_dir, offline=True), compute_type="float32",
                          max_batch_size=max_batch_size, batch_type=batch_type, inter_threads=1)  # fmt: skip
    spy = spied(tr)
    texts = mf.sentences(14, seed=5150)
    # Blank lines in between are not sent, and stay where they were.
    texts[3:3] = [""]
    texts[9:9] = ["  "]
    lengths = [len(t.split()) for t in texts if t.strip()]
    assert lengths != sorted(lengths, reverse=True), "the sample must not already be sorted"
    out = tr.translate(texts, source="en", target="xx")
    assert out == [mf.toy_translate(t, mf.XX) if t.strip() else t for t in texts]
    [(tokens, options)] = spy.calls
    assert len(tokens) == len(lengths)
    assert (options["max_batch_size"], options["batch_type"]) == (max_batch_size, batch_type)
