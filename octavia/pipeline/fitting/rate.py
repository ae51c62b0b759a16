"""How fast a voice speaks, in characters per second: measured once per engine + voice, cached.

A length-aware translator is told how many characters fit a sentence's time budget; that
needs the chosen voice's speaking rate. It is measured by synthesising a short calibration
text in the target language and dividing its characters (spaces included, as ``max_chars``
counts them) by the clip's speech duration (TTS padding trimmed). The result is cached in the
model cache directory (``speaking-rates.json``), keyed by the synthesizer's ``engine_id`` for
the language and voice, so each voice is measured once per machine.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from octavia.errors import EngineError
from octavia.pipeline import media
from octavia.pipeline.engines import Synthesizer
from octavia.pipeline.workspace import atomic_path

CACHE_FILE = "speaking-rates.json"
_RATE = 16_000  # enough to find speech and silence

#: Everyday sentences of ordinary length, per language; other languages use English's (the
#: rate is then a rougher estimate: the voice still reads them in its own language's rules).
CALIBRATION = {
    "en": "The weather was fine this morning, so we walked to the market and bought bread, "
    "cheese and a few apples before the rain came back.",
    "es": "Esta mañana hacía buen tiempo, así que fuimos andando al mercado y compramos pan, "
    "queso y unas manzanas antes de que volviera la lluvia.",
    "fr": "Il faisait beau ce matin, alors nous sommes allés au marché à pied et nous avons "
    "acheté du pain, du fromage et quelques pommes avant le retour de la pluie.",
    "de": "Heute Morgen war das Wetter schön, also gingen wir zu Fuß zum Markt und kauften Brot, "
    "Käse und ein paar Äpfel, bevor der Regen zurückkam.",
    "it": "Stamattina il tempo era bello, così siamo andati a piedi al mercato e abbiamo comprato "
    "pane, formaggio e qualche mela prima che tornasse la pioggia.",
    "pt": "Esta manhã o tempo estava bom, por isso fomos a pé ao mercado e comprámos pão, "
    "queijo e algumas maçãs antes de a chuva voltar.",
}


def calibration_text(language: str) -> str:
    return CALIBRATION.get(language.split("-")[0].lower(), CALIBRATION["en"])


def cache_key(synth: Synthesizer, language: str, voice: str | None) -> str:
    return f"{synth.engine_id(language, voice)}|{language}|{voice or ''}"


def speaking_rate(
    synth: Synthesizer,
    *,
    language: str,
    voice: str | None,
    cache_dir: Path,
    ffmpeg: media.FFmpeg | None = None,
) -> float:
    """Characters per second the voice speaks (cached in ``cache_dir``)."""
    path = cache_dir / CACHE_FILE
    key = cache_key(synth, language, voice)
    cached = _read(path).get(key)
    if isinstance(cached, int | float) and cached > 0:
        return float(cached)
    rate = measure_rate(synth, language=language, voice=voice, ffmpeg=ffmpeg)
    rates = _read(path)  # re-read: another job may have measured another voice meanwhile
    rates[key] = round(rate, 4)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(rates, indent=1, sort_keys=True), encoding="utf-8")
    return rate


def measure_rate(
    synth: Synthesizer, *, language: str, voice: str | None, ffmpeg: media.FFmpeg | None = None
) -> float:
    """Synthesise the calibration text and time its speech."""
    from octavia.pipeline.timing import trim_silence

    text = calibration_text(language)
    with tempfile.TemporaryDirectory(prefix="octavia-rate-") as tmp:
        clip = Path(tmp) / "calibration.wav"
        synth.synthesize(text, clip, language=language, voice=voice)
        samples = trim_silence(
            media.decode_audio(clip, sample_rate=_RATE, channels=1, ffmpeg=ffmpeg)[:, 0], _RATE
        )
    seconds = samples.size / _RATE
    if seconds < 0.2:
        raise EngineError(
            f"The voice produced no speech for the calibration text ({seconds:.2f} s).",
            "Check the voice with `octavia dub` on a short clip, or choose another --voice.",
        )
    return float(len(text) / seconds)


def chars_within(seconds: float, rate: float, *, speed: float = 1.0) -> int:
    """How many characters a voice speaking ``rate`` chars/s says in ``seconds`` at ``speed``."""
    return max(1, math.floor(max(0.0, seconds) * rate * speed))


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


__all__ = ["CACHE_FILE", "calibration_text", "chars_within", "measure_rate", "speaking_rate"]
