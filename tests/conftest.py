"""Shared fixtures: real speech, real ffmpeg, real models from the offline packs.

Models come from the PyPI model packs installed by the ``offline`` extra (see docs/models.md):
Whisper base (multilingual, assembled once per test session into a session cache) and tiny.en.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from octavia.config import Settings

# Fixture modules of the server suites; pytest only honours pytest_plugins in the top conftest.
pytest_plugins = [
    f"tests.server.{p.stem}" for p in sorted((Path(__file__).parent / "server").glob("fixtures_*.py"))
]

DATA = Path(__file__).parent / "data"
SPEECH = DATA / "speech" / "sense_and_sensibility_01_austen_64kb-0870.wav"
SPEECH_TEXT = "and mister john dashwood had then leisure to consider how much there might be prudently in his power to do for them"
SHORT_SPEECH = DATA / "speech" / "sense_and_sensibility_01_austen_64kb-0880.wav"
SHORT_SPEECH_TEXT = "he was not an ill disposed young man"


def repeated_speech(dest: Path, times: int, src: Path = SPEECH) -> Path:
    """``src`` (a WAV) ``times`` over in one WAV: real speech long enough that Whisper reports
    several segments before it finishes (the cancellation tests stop it in between)."""
    import wave

    with wave.open(str(src)) as w:
        params, frames = w.getparams(), w.readframes(w.getnframes())
    with wave.open(str(dest), "wb") as out:
        out.setparams(params)
        for _ in range(times):
            out.writeframes(frames)
    return dest


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("octavia-cache")


@pytest.fixture(scope="session")
def settings(session_cache: Path) -> Settings:
    """Offline settings with a per-session model cache (packs are assembled into it once)."""
    return Settings(cache_dir=session_cache, data_dir=session_cache / "data", offline=True, device="cpu")


@pytest.fixture(scope="session")
def engines(settings: Settings):  # type: ignore[no-untyped-def]
    from octavia.pipeline.factory import Engines

    return Engines(settings)


def ffmpeg(*args: str) -> None:
    from octavia.pipeline.media import find_ffmpeg

    subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def speech_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small H.264 + AAC mp4 whose audio is the real speech clip."""
    out = tmp_path_factory.mktemp("media") / "talk.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=7.1", "-i", str(SPEECH),
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(out))  # fmt: skip
    return out


@pytest.fixture(scope="session")
def silent_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A video with no audio stream."""
    out = tmp_path_factory.mktemp("media") / "mute.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10:duration=1",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(out),
    )
    return out


def content_words(text: str) -> set[str]:
    import re

    stop = {
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "and",
        "had",
        "then",
        "how",
        "be",
        "his",
        "for",
        "them",
        "was",
        "he",
    }
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in stop}
