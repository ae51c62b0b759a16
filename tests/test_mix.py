"""Ducking, mixing and muxing with real ffmpeg; outputs checked by probing them (PyAV)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from octavia.errors import InputError
from octavia.pipeline import media
from octavia.pipeline.timing import duck_envelope, mix
from tests.conftest import ffmpeg

SR = 48_000


def test_envelope_ducks_clip_windows_with_ramps_outside_them() -> None:
    env = duck_envelope([(1.0, 2.0), (3.0, 3.5)], 5 * SR, SR, gain_db=-20.0, ramp_s=0.1)
    low = 10 ** (-20 / 20)
    assert env[: int(0.89 * SR)].min() == 1.0  # untouched before the first ramp
    assert np.allclose(env[SR : 2 * SR], low)  # fully ducked for the whole clip
    assert low < env[int(0.95 * SR)] < 1.0  # ramping down before the clip starts
    assert np.allclose(env[int(2.11 * SR) : int(2.89 * SR)], 1.0)  # back up between clips
    assert np.allclose(env[3 * SR : int(3.5 * SR)], low)


def test_mix_puts_dub_on_every_channel_and_never_clips() -> None:
    bed = np.full((SR, 2), 0.6, dtype=np.float32)
    dub = np.zeros(SR, dtype=np.float32)
    dub[: SR // 2] = 0.9
    out = mix(bed, dub, duck_envelope([(0.0, 0.5)], SR, SR, gain_db=-6.0, ramp_s=0.01))
    assert out.shape == (SR, 2) and np.abs(out).max() <= 0.98 + 1e-6
    assert out[100, 0] == out[100, 1] and out[100, 0] > out[-1, 0]  # dub over a ducked bed


def test_iso639_tags() -> None:
    assert [media.iso639_2(c) for c in ("es", "en", "de", "zh", "pt-BR", "", "xx")] == [
        "spa", "eng", "deu", "zho", "por", "und", "und",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 3 s stereo video (H.264 + AAC, language=eng) and a 3 s mono 48 kHz dub track."""
    root = tmp_path_factory.mktemp("mux")
    video = root / "in.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=3", "-f", "lavfi",
           "-i", "sine=frequency=220:duration=3", "-ac", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-metadata:s:a:0", "language=eng", str(video))  # fmt: skip
    dub = media.write_wav(0.3 * np.sin(np.linspace(0, 3 * 2 * np.pi * 440, 3 * SR)), root / "dub.wav", SR)
    return video, dub


def write_srt(path: Path) -> Path:
    path.write_text("1\n00:00:00,500 --> 00:00:02,000\nHola mundo\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix,sub_codec", [(".mp4", "mov_text"), (".mkv", "srt")])
def test_mux_orders_tags_and_keeps_duration(
    clip: tuple[Path, Path], tmp_path: Path, suffix: str, sub_codec: str
) -> None:
    video, dub = clip
    out = media.mux_dub(video, dub, tmp_path / f"out{suffix}", dub_language="es", source_language="en",
                        subtitles=write_srt(tmp_path / "s.srt"))  # fmt: skip
    src, info = media.probe(video), media.probe(out)
    assert [s.kind for s in info.streams] == ["video", "audio", "audio", "subtitle"]
    assert [s.language for s in info.audio_streams] == ["spa", "eng"]
    assert info.subtitle_streams[0].language == "spa" and info.subtitle_streams[0].codec == sub_codec
    assert info.video_streams[0].codec == "h264" and info.audio_streams[1].channels == 2
    assert abs(info.duration - src.duration) <= 0.05
    with av.open(str(out)) as c:
        audio = [s for s in c.streams if s.type == "audio"]
        assert audio[0].disposition & av.stream.Disposition.default  # the dub plays by default
        assert not audio[1].disposition & av.stream.Disposition.default
        # The video was copied, not re-encoded: identical packets.
        with av.open(str(video)) as s:
            src_pkts = [bytes(p) for p in s.demux(s.streams.video[0]) if p.size]
        out_pkts = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
    assert out_pkts == src_pkts


def test_mux_reencodes_original_audio_mp4_cannot_carry(tmp_path: Path, clip: tuple[Path, Path]) -> None:
    _, dub = clip
    src = tmp_path / "pcm.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=3", "-f", "lavfi", "-i",
           "sine=duration=3", "-c:v", "libx264", "-c:a", "pcm_s16le", str(src))  # fmt: skip
    info = media.probe(media.mux_dub(src, dub, tmp_path / "o.mp4", dub_language="fr", source_language=None))
    assert [s.codec for s in info.audio_streams] == ["aac", "aac"]
    assert [s.language for s in info.audio_streams] == ["fra", "und"] and not info.subtitle_streams


@pytest.mark.parametrize(
    "suffix,codec", [(".wav", "pcm_s16le"), (".m4a", "aac"), (".mp3", "mp3float"), (".flac", "flac")]
)
def test_encode_audio_formats(clip: tuple[Path, Path], tmp_path: Path, suffix: str, codec: str) -> None:
    _, dub = clip
    info = media.probe(media.encode_audio(dub, tmp_path / f"x{suffix}", language="de"))
    assert info.audio_streams[0].codec == codec and abs(info.duration - 3.0) < 0.06
    if suffix == ".m4a":  # MP4 carries per-stream language tags; WAV, MP3 and FLAC do not
        assert info.audio_streams[0].language == "deu"
    with pytest.raises(InputError, match="Unsupported audio format"):
        media.encode_audio(dub, tmp_path / "x.xyz")
