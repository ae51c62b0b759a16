"""The voices a synthesizer offers for a language, and each voice's pitch, measured once.

A voice's pitch is measured by speaking a reference sentence with it and taking the median
F0 (:mod:`.pitch`); the figure is cached in the model cache dir (``casting/voice-pitch.json``)
keyed by the synthesizer's ``engine_id`` for that voice, which changes whenever the voice's
output could (another model file, another speaker), so a stale figure is never reused.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from octavia.errors import EngineError
from octavia.pipeline.casting.pitch import RATE, median_pitch
from octavia.pipeline.engines import Synthesizer, VoiceListing
from octavia.pipeline.workspace import atomic_path

CACHE_FILE = "voice-pitch.json"
#: What each voice says to be measured: ordinary sentences, mostly voiced sounds.
REFERENCE = {  # short (each voice speaks it once), but a second or two of voiced speech
    "en": "Many people were waiting in the warm room.",
    "es": "Muchas personas esperaban en la sala.",
    "fr": "Beaucoup de gens attendaient dans la salle.",
    "de": "Viele Leute warteten in dem warmen Raum.",
    "it": "Molte persone aspettavano nella sala.",
    "pt": "Muitas pessoas esperavam na sala.",
}
_lock = threading.Lock()


def candidate_voices(synth: Synthesizer, language: str) -> list[str]:
    """The synthesizer's voices for ``language`` (empty when it cannot list them)."""
    if isinstance(synth, VoiceListing):
        return list(dict.fromkeys(synth.voices(language)))
    return []


class PitchCache:
    """Measured voice pitch (Hz, or None when the voice gave too few voiced frames) by engine id."""

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / "casting" / CACHE_FILE

    def _read(self) -> dict[str, float | None]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # none yet, or a torn/hand-edited file: measure again
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> tuple[bool, float | None]:
        data = self._read()
        return key in data, data.get(key)

    def put(self, key: str, value: float | None) -> None:
        with _lock:
            data = self._read()
            data[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as tmp:
                tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def measure_voice(synth: Synthesizer, language: str, voice: str | None) -> float | None:
    """Speak the reference sentence with ``voice`` and return its median pitch."""
    from octavia.pipeline import media

    with tempfile.TemporaryDirectory(prefix="octavia-cast-") as tmp:
        out = Path(tmp) / "reference.wav"
        synth.synthesize(REFERENCE.get(language, REFERENCE["en"]), out, language=language, voice=voice)
        samples = media.decode_audio(out, sample_rate=RATE, channels=1)[:, 0]
    return median_pitch(samples)


def voice_pitches(
    synth: Synthesizer, language: str, voices: Sequence[str | None], cache: PitchCache
) -> dict[str | None, float | None]:
    """Each voice's pitch, from the cache or measured now (and cached)."""
    found: dict[str | None, float | None] = {}
    for voice in voices:
        key = f"{language}|{synth.engine_id(language, voice)}"
        known, value = cache.get(key)
        if not known:
            try:
                value = measure_voice(synth, language, voice)
            except EngineError:  # a voice that cannot speak the sentence still gets a place
                value = None
            cache.put(key, value)
        found[voice] = value
    return found
