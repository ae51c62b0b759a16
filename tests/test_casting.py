"""Casting: the pitch estimator (synthetic tones, real voices), pitch-matched assignment, cast
files, and per-segment voices through the clip cache (a real multi-speaker Coqui VITS)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from octavia.config import Settings
from octavia.errors import InputError
from octavia.pipeline import media
from octavia.pipeline.casting.assign import assign
from octavia.pipeline.casting.castfile import read_cast, write_cast
from octavia.pipeline.casting.catalogue import PitchCache, candidate_voices, voice_pitches
from octavia.pipeline.casting.pitch import RATE, frame_pitches, median_pitch
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.packs import default_packs
from octavia.pipeline.synthesis import make_synthesizer, synthesize_segments
from octavia.types import Segment
from tests.conftest import SHORT_SPEECH, SPEECH
from tests.tts_factory import SPEAKERS, build_vits

SENTENCE = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


def tone(hz: float, seconds: float = 1.5, *, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    harmonics = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 6))
    return harmonics + noise * np.random.default_rng(seed).standard_normal(t.size)


@pytest.mark.parametrize("hz", [70.0, 110.0, 165.0, 240.0, 360.0])
def test_pitch_of_harmonic_tones(hz: float) -> None:
    found = median_pitch(tone(hz))
    assert found is not None and abs(found - hz) / hz < 0.01


def test_silence_and_noise_have_no_pitch() -> None:
    assert median_pitch(np.zeros(RATE)) is None
    assert median_pitch(np.random.default_rng(1).standard_normal(RATE)) is None
    assert frame_pitches(np.zeros(100)).size == 0  # shorter than one frame


def test_pitch_ignores_the_silence_between_words() -> None:
    gap = np.zeros(RATE // 2)
    found = median_pitch(np.concatenate([tone(130.0, 0.6), gap, tone(130.0, 0.6, seed=2), gap]))
    assert found is not None and abs(found - 130.0) < 2.0


def espeak(tmp_path: Path, voice: str, pitch: int) -> np.ndarray:
    out = tmp_path / f"{voice}-{pitch}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-p", str(pitch), "-w", str(out), SENTENCE], check=True)
    return media.decode_audio(out, sample_rate=RATE, channels=1)[:, 0]


def test_real_voices_order_male_below_female(tmp_path: Path) -> None:
    reader = [
        median_pitch(media.decode_audio(p, sample_rate=RATE, channels=1)[:, 0])
        for p in (SPEECH, SHORT_SPEECH)
    ]
    low, high = median_pitch(espeak(tmp_path, "en", 30)), median_pitch(espeak(tmp_path, "en+f3", 60))
    assert all(r is not None and 70 < r < 140 for r in reader), reader  # the LibriVox reader: a man
    assert low is not None and high is not None and 70 < low < 130 and 180 < high < 300
    assert high / low > 1.6


def test_assignment_is_distinct_pitch_matched_and_stable() -> None:
    voices = {"deep": 95.0, "mid": 140.0, "high": 220.0, "higher": 260.0}
    speakers = {"Speaker 1": 210.0, "Speaker 2": 100.0, "Speaker 3": 150.0}
    first = assign(speakers, voices)
    assert first.voices == {"Speaker 1": "high", "Speaker 2": "deep", "Speaker 3": "mid"}
    assert not first.shared and not first.notes
    again = assign(dict(reversed(speakers.items())), dict(reversed(voices.items())))
    assert again.voices == first.voices  # the same cast whatever order things were listed in
    # Distinct beats nearest: two low speakers, one low voice → the second gets the next one up.
    both_low = assign({"A": 100.0, "B": 105.0}, {"deep": 95.0, "high": 220.0})
    assert both_low.voices == {"A": "deep", "B": "high"}


def test_fixed_voices_win_and_the_rest_avoid_them() -> None:
    voices = {"deep": 95.0, "high": 220.0}
    chosen = assign({"Ana": 100.0, "Luis": 230.0}, voices, fixed={"Ana": "high"})
    assert chosen.voices == {"Ana": "high", "Luis": "deep"}


def test_more_speakers_than_voices_reuse_away_from_pitch_neighbours() -> None:
    speakers = {"S1": 100.0, "S2": 150.0, "S3": 220.0, "S4": 105.0}
    voices = {"deep": 100.0, "mid": 150.0, "high": 220.0}
    chosen = assign(speakers, voices, priority=["S1", "S2", "S3", "S4"])
    assert [chosen.voices[s] for s in ("S1", "S2", "S3")] == ["deep", "mid", "high"]
    # S4's pitch neighbours (S1 below, S2 above) hold deep and mid: S4 reuses S3's voice.
    assert chosen.voices["S4"] == "high" and chosen.shared == {"S4": "S3"}
    assert chosen.notes == ["S4 shares the voice high with S3 (more speakers than voices)."]
    # When every voice is held by a neighbour, the nearest in pitch is reused.
    two = assign({"A": 100.0, "B": 110.0, "C": 200.0}, {"deep": 100.0, "high": 205.0}, priority=["A", "C"])
    assert two.voices == {"A": "deep", "C": "high", "B": "deep"}
    unknown = assign({"X": None, "Y": 120.0}, {"a": None, "b": 118.0})
    assert unknown.voices == {"Y": "b", "X": "a"}


def test_cast_file_round_trip_and_forms(tmp_path: Path) -> None:
    path = tmp_path / "cast.json"
    write_cast(path, "es", {"Speaker 1": "jm_kumo", "Speaker 2": None}, {"Speaker 1": 101.26})
    write_cast(path, "fr", {"Speaker 1": "ff_siwis"}, {})
    data = json.loads(path.read_text())
    assert data["voices"] == {"es": {"Speaker 1": "jm_kumo"}, "fr": {"Speaker 1": "ff_siwis"}}
    assert data["pitch_hz"] == {"Speaker 1": 101.3}
    assert read_cast(path, "es") == {"Speaker 1": "jm_kumo"} and read_cast(path, "de") == {}
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps({"Ana": "jf_alpha"}))
    assert read_cast(flat, "es") == {"Ana": "jf_alpha"}
    flat.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a cast"):
        read_cast(flat, "es")
    with pytest.raises(InputError, match="Cannot read"):
        read_cast(tmp_path / "missing.json", "es")


@pytest.fixture(scope="module")
def cast_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("cast-cache")
    return Settings(cache_dir=root, data_dir=root / "data", offline=True, device="cpu")


@pytest.mark.slow
def test_piper_lists_its_installed_voices_and_their_pitch_is_cached(cast_settings: Settings) -> None:
    resolver = ModelResolver(cast_settings.models_dir, offline=True, packs=default_packs())
    synth = make_synthesizer("piper", "en", cast_settings, resolver)
    assert candidate_voices(synth, "en") == ["en_US-joe-medium"] and candidate_voices(synth, "es") == []
    cache = PitchCache(cast_settings.cache_dir)
    pitch = voice_pitches(synth, "en", ["en_US-joe-medium"], cache)["en_US-joe-medium"]
    assert pitch is not None and 70 < pitch < 160  # joe is a man
    stored = json.loads(cache.path.read_text())
    assert list(stored.values()) == [pitch] and next(iter(stored)).startswith("en|piper:")
    cache.put(next(iter(stored)), 999.0)  # the cached figure is what a second run uses
    assert voice_pitches(synth, "en", ["en_US-joe-medium"], cache) == {"en_US-joe-medium": 999.0}


class Counting:
    """A real synthesizer that counts what it speaks, and with which voice."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.calls = inner, []  # type: ignore[var-annotated]

    def engine_id(self, language: str, voice: str | None) -> str:
        return self.inner.engine_id(language, voice)  # type: ignore[no-any-return]

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path:
        self.calls.append((text, voice))
        return self.inner.synthesize(text, out, language=language, voice=voice)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_per_segment_voices_with_a_multi_speaker_model(tmp_path: Path, cast_settings: Settings) -> None:
    from octavia.pipeline.coqui import CoquiSynthesizer, choose_model

    resolver = ModelResolver(cast_settings.models_dir, offline=True, packs=())
    model = build_vits(tmp_path / "vits-multi", speakers=SPEAKERS)
    inner = CoquiSynthesizer(choose_model(resolver, str(model), "es"), device="cpu")
    assert candidate_voices(inner, "es") == list(SPEAKERS)
    synth = Counting(inner)
    segs = [Segment(0, 1, "hola amigo"), Segment(1, 2, "buenos dias"), Segment(2, 3, "hola amigo")]
    clips = tmp_path / "clips"
    first = synthesize_segments(
        segs, synth, language="es", voice=None, clip_dir=clips, voices=["ana", "luis", "luis"]
    )
    assert (first.synthesized, first.cached) == (3, 0)  # the same text in two voices: two clips
    assert [v for _, v in synth.calls] == ["ana", "luis", "luis"]
    assert len({c.name for c in first.clips if c}) == 3
    synth.calls.clear()
    moved = synthesize_segments(
        segs, synth, language="es", voice=None, clip_dir=clips, voices=["ana", "luis", "ana"]
    )
    assert (moved.synthesized, moved.cached, synth.calls) == (0, 3, [])  # "hola amigo" by ana exists
    assert moved.clips[2] == first.clips[0]
    recast = synthesize_segments(
        segs, synth, language="es", voice=None, clip_dir=clips, voices=["luis", "ana", "luis"]
    )
    assert (recast.synthesized, recast.cached, synth.calls) == (1, 2, [("buenos dias", "ana")])
    with pytest.raises(InputError, match="2 voices were given for 3 segments"):
        synthesize_segments(segs, synth, language="es", voice=None, clip_dir=clips, voices=["ana", "luis"])
