"""Kokoro with real inference: the pack's int8 model speaks each language Octavia ships offline,
and Whisper base (the offline pack) must read at least 80 % of the words back."""

from __future__ import annotations

import re
import threading
import unicodedata
import wave
from pathlib import Path

import pytest

from octavia.config import Settings
from octavia.errors import InputError
from octavia.pipeline import kokoro, kokoro_text
from octavia.pipeline.kokoro import KokoroSynthesizer
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.packs import default_packs
from octavia.pipeline.synthesis import make_synthesizer

pytestmark = pytest.mark.slow

#: One sentence per language marked ``checked`` in kokoro_text.LANGUAGES.
SENTENCES = {
    "en": "The weather is lovely today, so we are going to walk along the river.",
    "es": "Mi hermano trabaja en un hospital grande de la ciudad.",
    "it": "Domani andiamo al mercato a comprare frutta e verdura fresca.",
    "pt": "Amanhã vamos viajar para a praia com nossos amigos.",
}


def normalised_words(text: str) -> set[str]:
    """Lower case, accents and punctuation dropped: "Amanhã," and "amanha" are one word."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return set(re.findall(r"\w+", plain))


def recall(reference: str, heard: str) -> float:
    words = normalised_words(reference)
    return len(words & normalised_words(heard)) / len(words)


@pytest.fixture(scope="module")
def resolver(settings: Settings) -> ModelResolver:
    return ModelResolver(settings.models_dir, offline=True, packs=default_packs())


@pytest.fixture(scope="module")
def synth(resolver: ModelResolver) -> KokoroSynthesizer:
    return KokoroSynthesizer(resolver)


def test_every_checked_language_has_a_test_sentence() -> None:
    assert set(SENTENCES) == {code for code, lang in kokoro_text.LANGUAGES.items() if lang.checked}


@pytest.mark.parametrize("language", sorted(SENTENCES))
def test_speech_is_understood_by_whisper(synth, engines, language: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = synth.synthesize(SENTENCES[language], tmp_path / f"{language}.wav", language=language)
    with wave.open(str(out)) as w:
        assert w.getframerate() == kokoro.SAMPLE_RATE and 1.5 < w.getnframes() / w.getframerate() < 12
    heard = engines.whisper("base").transcribe(out, language=language).text
    assert recall(SENTENCES[language], heard) >= 0.8, heard


def test_offline_voices_and_engine_ids(synth: KokoroSynthesizer) -> None:
    assert synth.model().source in {"pack", "cache"}
    assert set(synth.voices("es")) == set(kokoro.PACK_VOICES)  # only the pack's voices are here
    assert synth.voices("es")[0] == "jm_kumo" and synth.voices("ja")[0] == "jf_alpha"
    assert synth.voice_for("es", None) == "jm_kumo" and synth.voice_for("es", "jf_nezumi") == "jf_nezumi"
    # The clip cache key changes with the voice and the language's phonemizer.
    ids = {
        synth.engine_id("es", "jf_alpha"),
        synth.engine_id("es", "jm_kumo"),
        synth.engine_id("it", "jm_kumo"),
    }
    assert len(ids) == 3
    assert "Japanese voice" in synth.describe("es", None)["warning"]
    with pytest.raises(InputError, match="no voice 'af_heart'"):
        synth.voice_for("en", "af_heart")
    with pytest.raises(InputError, match="does not speak 'de'"):
        synth.voices("de")


def test_two_threads_share_one_engine(synth: KokoroSynthesizer) -> None:
    """The engine holds no per-job state: concurrent calls give what sequential calls give."""
    texts = [("es", "Hola a todos."), ("it", "Buongiorno a tutti.")]
    alone = [synth.speak(t, language=lang) for lang, t in texts]
    together: list[object] = [None, None]

    def run(i: int) -> None:
        together[i] = synth.speak(texts[i][1], language=texts[i][0])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, together, strict=True):
        assert b is not None and len(a) == len(b)  # type: ignore[arg-type]
        assert abs(a - b).max() < 0.05  # type: ignore[operator]


def test_auto_speaks_spanish_offline_with_kokoro_and_english_with_the_native_piper_voice(
    settings: Settings, resolver: ModelResolver
) -> None:
    assert isinstance(make_synthesizer("auto", "es", settings, resolver), KokoroSynthesizer)
    assert isinstance(make_synthesizer("kokoro:jf_alpha", "en", settings, resolver), KokoroSynthesizer)
    assert type(make_synthesizer("auto", "en", settings, resolver)).__name__ == "PiperSynthesizer"
    with pytest.raises(InputError, match="no voice 'nobody'"):
        make_synthesizer("kokoro:nobody", "es", settings, resolver)
    assert kokoro.installed_voices(resolver) >= set(kokoro.PACK_VOICES)
