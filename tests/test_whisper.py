"""faster-whisper for real, on real recorded speech, with the packed models."""

from __future__ import annotations

import itertools

import pytest

from octavia.errors import InputError
from octavia.pipeline.whisper import WhisperEngine, choose_model, pick_device, whisper_spec
from tests.conftest import SHORT_SPEECH, SPEECH, SPEECH_TEXT, content_words


def test_device_choice_without_a_gpu() -> None:
    assert pick_device("auto", "default", cuda_devices=0) == ("cpu", "int8")
    assert pick_device("auto", "default", cuda_devices=1) == ("cuda", "float16")
    assert pick_device("cpu", "float32", cuda_devices=1) == ("cpu", "float32")
    with pytest.raises(InputError, match="no CUDA device"):
        pick_device("cuda", "default", cuda_devices=0)


def test_unknown_size_lists_the_known_ones() -> None:
    with pytest.raises(InputError) as info:
        whisper_spec("huge")
    assert "'huge'" in info.value.message and "tiny" in (info.value.hint or "")


def test_auto_prefers_multilingual_base_and_english_models_for_english(engines) -> None:  # type: ignore[no-untyped-def]
    assert choose_model(engines.resolver, "auto", None).spec.name == "base"
    assert choose_model(engines.resolver, "auto", "en").spec.name == "base"  # base outranks tiny.en
    assert choose_model(engines.resolver, "tiny.en", "en").source == "pack"


@pytest.mark.slow
def test_transcribes_real_speech_with_word_timings(engines) -> None:  # type: ignore[no-untyped-def]
    progress: list[float] = []
    transcript = engines.whisper("base").transcribe(SPEECH, progress=lambda e: progress.append(e.completed))
    assert transcript.language == "en" and (transcript.language_probability or 0) > 0.9
    assert len(content_words(SPEECH_TEXT) - content_words(transcript.text)) <= 1
    words = [w for s in transcript.segments for w in s.words]
    assert len(words) >= 15
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert all(0 <= w.start <= w.end <= 7.2 for w in words)
    assert progress[-1] == pytest.approx(7.1, abs=0.01) and progress == sorted(progress)


@pytest.mark.slow
def test_english_only_model(engines) -> None:  # type: ignore[no-untyped-def]
    engine: WhisperEngine = engines.whisper("tiny.en")
    text = engine.transcribe(SPEECH, language="en").text.lower()
    # tiny.en is the weakest model: most, not all, content words.
    assert len(content_words(SPEECH_TEXT) - content_words(text)) <= 2, text
    with pytest.raises(InputError, match="English only"):
        engine.transcribe(SHORT_SPEECH, language="es")
    with pytest.raises(InputError, match="cannot translate"):
        engine.translate_speech(SHORT_SPEECH)


def test_auto_falls_back_to_an_english_only_model_when_nothing_else_is_there(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from octavia.pipeline.models import ModelResolver
    from octavia.pipeline.packs import default_packs

    only_tiny_en = [p for p in default_packs() if p.model == "tiny.en"]
    resolver = ModelResolver(tmp_path, offline=True, packs=only_tiny_en)
    assert choose_model(resolver, "auto", None).spec.name == "tiny.en"
    assert choose_model(resolver, "auto", "en").spec.name == "tiny.en"
    from octavia.errors import ModelNotAvailable

    with pytest.raises(ModelNotAvailable, match="No Whisper model"):
        choose_model(resolver, "auto", "es")  # English-only cannot serve Spanish


@pytest.mark.slow
def test_cuda_failure_at_inference_finishes_on_the_cpu(engines, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """CTranslate2 can load on a GPU and fail at the first kernel (missing libcublas.so.12)."""
    engine = WhisperEngine(engines.whisper_model("tiny.en", "en"), device="cpu")

    class BrokenGpuModel:
        def transcribe(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("Library libcublas.so.12 is not found or cannot be loaded")

    engine._model, engine.device, engine.compute_type = BrokenGpuModel(), "cuda", "float16"
    # Sequential (this fake has only transcribe); test_whisper_batch covers the batched path.
    text = engine.transcribe(SPEECH, language="en", batch_size=None).text
    assert engine.device == "cpu" and engine.compute_type == "int8"
    assert len(content_words(SPEECH_TEXT) - content_words(text)) <= 2
