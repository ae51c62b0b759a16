"""Issue 8's promise: with no flags and no network, `octavia dub` dubs the example into English.

Real models only: Whisper base (pack) transcribes and translates the Spanish speech, Piper
(pack voice) speaks English, ffmpeg mixes and muxes. The dub's first audio track is then
transcribed back with Whisper and must carry most of the reference content words.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from octavia.pipeline import media
from tests.test_subtitle_cli import octavia

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[1] / "examples"
STOP = set("a an the to of in and we are is it they them then over going our your all at with until".split())


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOP and len(w) > 2}


@pytest.fixture(scope="module")
def dubbed(tmp_path_factory: pytest.TempPathFactory, session_cache: Path) -> tuple[dict, Path]:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("dub")
    proc = octavia("dub", str(EXAMPLES / "tortilla.es.mp4"), "--to", "en", "--out-dir", str(out), "--json",
                   cache=session_cache)  # fmt: skip
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)["files"][0], out


def test_defaults_pick_offline_models_and_say_so(dubbed: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    record, _ = dubbed
    models = record["models"]
    assert models["transcriber"]["model"] == "base" and models["transcriber"]["source"] in {"pack", "cache"}
    assert models["translator:en"]["engine"] == "whisper"
    assert "piper" in json.dumps(models).lower()
    assert record["language"] == "es"


def test_video_has_english_dub_first_original_second_and_soft_subtitles(dubbed: tuple[dict, Path]) -> None:  # type: ignore[type-arg]
    record, _ = dubbed
    video = Path(next(v for k, v in record["outputs"].items() if k.startswith("video")))
    src, out = media.probe(EXAMPLES / "tortilla.es.mp4"), media.probe(video)
    assert [s.kind for s in out.streams] == ["video", "audio", "audio", "subtitle"]
    assert [s.language for s in out.audio_streams] == ["eng", "spa"]
    assert out.subtitle_streams[0].language == "eng"
    assert out.video_streams[0].codec == src.video_streams[0].codec
    assert abs(out.duration - src.duration) <= 0.05


def test_dub_track_speaks_the_translation(dubbed: tuple[dict, Path], engines, tmp_path: Path) -> None:  # type: ignore[no-untyped-def,type-arg]
    record, _ = dubbed
    video = Path(next(v for k, v in record["outputs"].items() if k.startswith("video")))
    track = media.extract_audio(video, tmp_path / "dub.wav")  # first audio track = the dub
    heard = engines.whisper("base").transcribe(track, language="en").text
    reference = words((EXAMPLES / "tortilla.en.txt").read_text())
    got = reference & words(heard)
    assert len(got) >= 0.6 * len(reference), (sorted(reference - got), heard)
