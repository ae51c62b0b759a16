"""Burned-in subtitles with the real ffmpeg and libass: pixels change inside the subtitle area
during a cue and nowhere outside one; Arabic and CJK lines render (and missing glyphs are
reported); bad subtitle files are clear InputErrors; `octavia burn` and `dub --burn-subtitles`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from octavia.errors import InputError
from octavia.pipeline import media
from octavia.pipeline.burn import burn, parse_libass_log
from tests.conftest import ffmpeg
from tests.test_subtitle_cli import octavia

SRT = "1\n00:00:01,000 --> 00:00:02,000\nHello from Octavia\n"


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of a flat colour (so any change is the subtitles'), 10 fps, with a tone."""
    out = tmp_path_factory.mktemp("burn") / "flat.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=0x204060:s=320x240:r=10:d=4", "-f", "lavfi", "-i",
           "sine=frequency=440:duration=4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(out))  # fmt: skip
    return out


def frame(path: Path, at: float) -> np.ndarray:
    """The decoded RGB frame shown at ``at`` seconds."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for f in container.decode(stream):
            if f.time is not None and f.time >= at - 1e-6:
                return f.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError(f"no frame at {at}s")


def changed(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pixels that differ by more than encoding noise."""
    return float((np.abs(a - b).max(axis=2) > 40).mean())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_subtitles_appear_in_their_area_only_during_their_cue(video: Path, tmp_path: Path) -> None:
    events: list[tuple[float, float]] = []
    report = burn(video, write(tmp_path / "s.srt", SRT), tmp_path / "out.mp4",
                  on_progress=lambda done, total: events.append((done, total)))  # fmt: skip
    out = media.probe(report.output)
    assert [s.kind for s in out.streams] == ["video", "audio"] and out.video_streams[0].codec == "h264"
    assert abs(out.duration - media.probe(video).duration) < 0.15
    assert events and events[-1][0] == pytest.approx(events[-1][1], abs=0.3)  # progress reached the end
    during, after = frame(report.output, 1.5), frame(report.output, 3.0)
    src_during, src_after = frame(video, 1.5), frame(video, 3.0)
    bottom = slice(170, 240)  # default style: bottom centre
    assert changed(during[bottom], src_during[bottom]) > 0.01
    assert changed(during[:150], src_during[:150]) == 0.0  # nothing drawn above the subtitle area
    assert changed(after, src_after) == 0.0  # no cue, no change anywhere
    assert report.fonts and not report.missing and report.warning is None


def test_arabic_and_cjk_lines_render_and_missing_glyphs_are_reported(video: Path, tmp_path: Path) -> None:
    srt = ("1\n00:00:00,500 --> 00:00:01,500\nمرحبا بالعالم\n\n"
           "2\n00:00:02,000 --> 00:00:03,000\n你好，世界\n")  # fmt: skip
    report = burn(video, write(tmp_path / "scripts.srt", srt), tmp_path / "scripts.mp4")
    bottom = slice(170, 240)
    arabic = changed(frame(report.output, 1.0)[bottom], frame(video, 1.0)[bottom])
    cjk = changed(frame(report.output, 2.5)[bottom], frame(video, 2.5)[bottom])
    assert arabic > 0.005 and cjk > 0.002
    assert not set("مرحبالعم") & set(report.missing)  # the Arabic line found a font with its glyphs
    cjk_font = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip()
    if cjk_font:  # a CJK font is installed: libass used it
        assert not report.missing
    else:  # fonts-noto-core has none: the boxes are reported, with the fix
        assert set("你好世界") <= set(report.missing) and "fonts-noto-cjk" in (report.warning or "")


def test_ass_styles_are_kept(video: Path, tmp_path: Path) -> None:
    """An ASS file is burned as written: a top-aligned style draws at the top."""
    ass = ("[Script Info]\nScriptType: v4.00+\nPlayResX: 320\nPlayResY: 240\n\n[V4+ Styles]\n"
           "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, "
           "Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
           "MarginL, MarginR, MarginV, Encoding\n"
           "Style: Top,DejaVu Sans,24,&H0000FFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1\n\n"
           "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
           "Dialogue: 0,0:00:01.00,0:00:02.00,Top,,0,0,0,,At the top\n")  # fmt: skip
    report = burn(video, write(tmp_path / "top.ass", ass), tmp_path / "top.mp4")
    during, src = frame(report.output, 1.5), frame(video, 1.5)
    assert changed(during[:60], src[:60]) > 0.01 and changed(during[150:], src[150:]) == 0.0
    assert any("DejaVuSans" in f for f in report.fonts)


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("empty.srt", "", "no subtitles"),
        ("garbage.srt", "this is not\x00 a subtitle file at all", "garbage.srt"),
        ("notes.txt", SRT, "Unknown subtitle file type"),
    ],
)
def test_bad_subtitle_files_are_input_errors(
    video: Path, tmp_path: Path, name: str, text: str, match: str
) -> None:
    with pytest.raises(InputError, match=match):
        burn(video, write(tmp_path / name, text), tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    with pytest.raises(InputError, match="no such file"):
        burn(tmp_path / "missing.mp4", write(tmp_path / "ok.srt", SRT), tmp_path / "x.mp4")


def test_libass_log_parsing() -> None:
    log = ("[Parsed_ass_0 @ 0x1] fontselect: (Arial, 400, 0) -> /usr/share/fonts/a/NotoSans-Regular.ttf, 0, NotoSans\n"
           "[Parsed_ass_0 @ 0x1] fontselect: failed to find any fallback with glyph 0x4F60 for font: (Arial, 400, 0)\n"
           "[Parsed_ass_0 @ 0x1] fontselect: failed to find any fallback with glyph 0x4F60 for font: (Arial, 400, 0)\n")  # fmt: skip
    assert parse_libass_log(log) == (("/usr/share/fonts/a/NotoSans-Regular.ttf",), ("你",))


def test_burn_command(video: Path, tmp_path: Path, session_cache: Path) -> None:
    src = shutil.copy(video, tmp_path / "clip.mp4")
    proc = octavia("burn", str(src), str(write(tmp_path / "clip.srt", SRT)), "--json", cache=session_cache)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert Path(summary["output"]) == tmp_path / "clip.burned.mp4" and summary["missing_glyphs"] == []
    proc = octavia("burn", str(src), str(write(tmp_path / "bad.srt", "")), cache=session_cache)
    assert proc.returncode == 2 and "no subtitles" in proc.stderr


@pytest.mark.slow
def test_dub_burns_the_target_subtitles_and_keeps_the_tracks(speech_video: Path, tmp_path: Path,
                                                             session_cache: Path) -> None:  # fmt: skip
    proc = octavia("dub", str(speech_video), "--to", "en", "-m", "tiny.en", "--no-background", "--out-dir",
                   str(tmp_path), "--json", "--burn-subtitles", cache=session_cache)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)["files"][0]
    out = Path(record["outputs"]["video.en"])
    probed = media.probe(out)
    assert [s.kind for s in probed.streams] == ["video", "audio", "audio", "subtitle"]
    assert probed.video_streams[0].codec == "h264" and record["burned"][out.name]["language"] == "en"
    cue = record["timing"]["en"]["segments"][0]
    at = (cue["start"] + cue["end"]) / 2
    burned, source = frame(out, at), frame(speech_video, at)
    # The lower third (subtitles) changed much more than the top (re-encoding noise only).
    assert changed(burned[85:120], source[85:120]) > changed(burned[:40], source[:40]) + 0.01
    proc = octavia("dub", str(speech_video), "--to", "en", "--burn-subtitles=fr", "-m", "tiny.en",
                   "--out-dir", str(tmp_path / "fr"), cache=session_cache)  # fmt: skip
    assert proc.returncode != 0 and "burn-subtitles fr" in proc.stderr
