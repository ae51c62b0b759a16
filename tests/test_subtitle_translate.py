"""`subtitle --to` end to end with a real text translator: speech → Whisper → Marian (CTranslate2).

Piper speaks toy-grammar English sentences; Whisper transcribes them; the tiny Marian model
trained by tests/marian_factory.py translates them into the toy language "xx". The translated
subtitles must hold exactly the toy translation of what Whisper heard, on the same timings.
"""

from __future__ import annotations

import itertools
import wave
from pathlib import Path

import numpy as np
import pytest

from octavia import formats
from octavia.api import run
from octavia.config import Settings
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.piper import PiperSynthesizer
from tests import marian_factory as mf

pytestmark = pytest.mark.slow
SENTENCES = [
    "The red cat sees a big dog.",
    "My old car likes the green tree.",
    "A happy girl finds your book.",
]


def _speak(sentences: list[str], out: Path, tmp: Path) -> Path:
    """One WAV: each sentence spoken by Piper, with a second of silence between them."""
    piper = PiperSynthesizer(ModelResolver(tmp / "piper-cache", offline=True, packs=_packs()))
    chunks, rate = [], 22050
    for i, text in enumerate(sentences):
        clip = piper.synthesize(text, tmp / f"s{i}.wav", language="en")
        with wave.open(str(clip)) as w:
            rate = w.getframerate()
            chunks += [np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), np.zeros(rate, np.int16)]
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(np.concatenate(chunks).tobytes())
    return out


def _packs():  # type: ignore[no-untyped-def]
    from octavia.pipeline.packs import default_packs

    return default_packs()


def test_translated_subtitles_follow_the_source_timings(tmp_path: Path) -> None:
    _, ct2 = mf.build("en", "xx")
    settings = Settings(cache_dir=tmp_path / "cache", offline=True, device="cpu")
    mf.install(ct2, settings.models_dir, "en-xx")
    speech = _speak(SENTENCES, tmp_path / "toy.wav", tmp_path)

    result = run("subtitle", speech, to=["xx"], formats=["srt", "ass"], out_dir=tmp_path / "out",
                 settings=settings, options={"translator": "marian", "whisper_model": "base"})  # fmt: skip
    assert set(result.outputs) == {
        "subtitles.en.srt",
        "subtitles.en.ass",
        "subtitles.xx.srt",
        "subtitles.xx.ass",
    }
    assert result.info["models"]["translator:xx"]["engine"] == "marian"

    source = formats.read(result.outputs["subtitles.en.srt"])
    target = formats.read(result.outputs["subtitles.xx.srt"])
    heard = " ".join(c.text.replace("\n", " ") for c in source)
    expected = " ".join(mf.toy_translate(s, mf.XX) for s in heard.replace(".", ".|").split("|") if s.strip())
    got = " ".join(c.text.replace("\n", " ") for c in target)
    assert got.lower().split() == expected.split(), (heard, got)
    # Same span of time; each translated cue lies within the source speech, in order, no overlaps.
    assert target[0].start == pytest.approx(source[0].start, abs=0.05)
    assert target[-1].end == pytest.approx(source[-1].end, abs=0.9)
    assert all(a.end <= b.start for a, b in itertools.pairwise(target))
