"""`--background` in a real dub: speech (LibriVox) over music (synthesised), through the CLI with
Whisper tiny.en, Piper and the real Spleeter weights. The dubbed track is regressed on the two
known stems: with separation the original voice is gone and the music stays; ducking keeps the
voice quietly; keep leaves the original at full level. The three runs share one work directory,
so only the bed and the mix are redone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from octavia.pipeline import media
from tests import separation_media as sm
from tests.test_subtitle_cli import octavia

pytestmark = pytest.mark.slow
MIX_RATE = 48_000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, sm.Stems]:
    folder = tmp_path_factory.mktemp("bg-source")
    _, mix = sm.write_stems(folder, seconds=9.0)
    # The stems again at the mix rate, for the regression against the 48 kHz dub.
    at_mix_rate = sm.stems(seconds=9.0, sample_rate=MIX_RATE)
    talk = mix.rename(folder / "talk.wav")
    return talk, at_mix_rate


@pytest.fixture(scope="module")
def runs(
    source: tuple[Path, sm.Stems], tmp_path_factory: pytest.TempPathFactory, session_cache: Path
) -> dict[str, tuple[dict[str, Any], tuple[float, float]]]:
    talk, known = source
    work = tmp_path_factory.mktemp("bg-work")
    out: dict[str, tuple[dict[str, Any], tuple[float, float]]] = {}
    for mode in ("auto", "duck", "keep"):
        dest = tmp_path_factory.mktemp(f"bg-{mode}")
        proc = octavia("translate-audio", str(talk), "--to", "en", "-m", "tiny.en", "--background", mode,
                       "--out-dir", str(dest), "--work-dir", str(work), "--json", cache=session_cache)  # fmt: skip
        assert proc.returncode == 0, proc.stderr + proc.stdout
        record = json.loads(proc.stdout)["files"][0]
        track = media.decode_audio(Path(record["outputs"]["audio.en"]), sample_rate=MIX_RATE, channels=2)
        out[mode] = record, sm.gains(track, known)
    return out


def test_auto_separates_with_spleeter_and_says_why(runs: dict[str, Any]) -> None:
    record, _ = runs["auto"]
    assert record["background"]["mode"] == "separate" and record["background"]["separator"] == "spleeter"
    assert "installed" in record["background"]["reason"]
    assert record["stages"]["bed"]["resumed"] is False


def test_separation_removes_the_original_voice_and_keeps_the_music(runs: dict[str, Any]) -> None:
    _, (music, voice) = runs["auto"]
    _, (ducked_music, ducked_voice) = runs["duck"]
    seen = {mode: gains for mode, (_, gains) in runs.items()}
    assert voice <= 0.1, seen  # the original voice is gone (the dub's own voice does not correlate)
    # The bed is ducked by only 3 dB under the dub (gain 0.71 under lines, 1 between), not 14.
    assert music >= 0.5 and music > 1.3 * ducked_music, seen
    assert ducked_voice >= 2 * max(voice, 0.05), seen


def test_duck_and_keep_reuse_the_plain_bed_and_keep_the_voice(runs: dict[str, Any]) -> None:
    duck, (duck_music, duck_voice) = runs["duck"]
    keep, (keep_music, keep_voice) = runs["keep"]
    assert duck["background"]["mode"] == "duck" and keep["background"]["mode"] == "keep"
    assert keep["stages"]["bed"]["resumed"] is True  # the same original bed as the duck run
    assert keep["stages"]["transcribe"]["resumed"] is True
    assert keep_voice >= 0.6 and keep_music >= 0.6, (keep_voice, keep_music)  # scaled only if it clips
    assert keep_voice > 2 * duck_voice and keep_music > duck_music
