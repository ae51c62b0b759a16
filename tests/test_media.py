"""media.py against the real ffmpeg binary and PyAV."""

from __future__ import annotations

import os
import stat
import wave
from pathlib import Path

import pytest

from octavia.errors import FFmpegError, InputError, MissingDependency
from octavia.pipeline import media
from tests.conftest import SPEECH


@pytest.fixture(autouse=True)
def _fresh_ffmpeg_cache():
    media.find_ffmpeg.cache_clear()
    yield
    media.find_ffmpeg.cache_clear()


def test_ffmpeg_prefers_configured_path_then_path_then_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    assert media.find_ffmpeg(str(fake)) == str(fake)
    monkeypatch.setenv("PATH", str(fake.parent))
    assert media.find_ffmpeg() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    media.find_ffmpeg.cache_clear()
    bundled = media.find_ffmpeg()
    assert "imageio_ffmpeg" in bundled and os.access(bundled, os.X_OK)


def test_missing_configured_ffmpeg_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(MissingDependency) as info:
        media.find_ffmpeg(str(tmp_path / "nope"))
    assert "OCTAVIA_FFMPEG" in (info.value.hint or "")


def test_probe_wav_and_video(speech_video: Path) -> None:
    wav = media.probe(SPEECH)
    assert wav.audio_streams[0].sample_rate == 16000
    assert wav.duration == pytest.approx(7.1, abs=0.01)
    mp4 = media.probe(speech_video)
    assert [s.kind for s in mp4.streams] == ["video", "audio"]
    assert mp4.video_streams[0].codec == "h264" and mp4.audio_streams[0].codec == "aac"
    assert mp4.duration == pytest.approx(7.1, abs=0.2)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"just some text, not media\n" * 50, "not"),
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "not"),
    ],
)
def test_probe_rejects_non_media_naming_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError) as info:
        media.probe(bad)
    assert str(bad) in info.value.message and reason in info.value.message


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        media.probe(tmp_path / "absent.wav")
    with pytest.raises(InputError, match="directory"):
        media.probe(tmp_path)


def test_video_without_audio_is_an_input_error(silent_video: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no audio stream"):
        media.extract_audio(silent_video, tmp_path / "a.wav")


def test_extract_audio_gives_16k_mono_pcm(speech_video: Path, tmp_path: Path) -> None:
    out = media.extract_audio(speech_video, tmp_path / "a.wav")
    with wave.open(str(out)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() / 16000 == pytest.approx(7.1, abs=0.15)


def test_ffmpeg_failure_is_typed(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError, match="Converting"):
        media.FFmpeg().run(["-i", str(tmp_path / "missing.wav"), str(tmp_path / "o.wav")], what="Converting")
