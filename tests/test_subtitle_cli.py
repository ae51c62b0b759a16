"""`octavia subtitle` end to end: real ffmpeg, real Whisper, real files, through the CLI process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octavia import formats
from tests.conftest import SPEECH, SPEECH_TEXT, content_words

pytestmark = pytest.mark.slow


def octavia(*args: str, cache: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTAVIA_CACHE_DIR": str(cache), "OCTAVIA_OFFLINE": "1", "OCTAVIA_DEVICE": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "octavia", *args], capture_output=True, text=True, env=env, check=check
    )


def test_help_is_fast_and_lists_commands(session_cache: Path) -> None:
    started = time.perf_counter()
    out = octavia("--help", cache=session_cache, check=True).stdout
    assert "subtitle" in out
    # No heavy imports at start: a generous bound that still catches importing torch/faster-whisper.
    assert time.perf_counter() - started < 5
    code = "import sys, octavia.cli.app as a; a.build_app(); print(sorted(m for m in sys.modules if m.split('.')[0] in {'torch','faster_whisper','ctranslate2','av','fastapi'}))"
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert heavy.strip() == "[]"


def test_video_to_three_formats_with_json_summary(
    speech_video: Path, tmp_path: Path, session_cache: Path
) -> None:
    proc = octavia("subtitle", str(speech_video), "-f", "srt,vtt,ass", "-o", str(tmp_path), "--json", "-m", "base",
                   cache=session_cache)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    (record,) = summary["files"]
    assert summary["ok"] is True and record["status"] == "ok"
    assert record["language"] == "en" and record["duration"] == pytest.approx(7.1, abs=0.2)
    assert record["segments"] >= 1 and record["seconds"] > 0
    assert record["models"]["transcriber"]["model"] == "base"
    assert record["models"]["transcriber"]["source"] in {"pack", "cache"}
    assert set(record["outputs"]) == {"subtitles.en.srt", "subtitles.en.vtt", "subtitles.en.ass"}
    texts = []
    for path in record["outputs"].values():
        cues = formats.read(Path(path))
        assert cues and all(0 <= c.start < c.end <= 7.2 for c in cues)
        assert all(len(line) <= 42 for c in cues for line in c.text.split("\n"))
        texts.append(" ".join(c.text.replace("\n", " ") for c in cues))
    assert len(content_words(SPEECH_TEXT) - content_words(texts[0])) <= 1
    assert texts[0] == texts[1] == texts[2]
    assert "[V4+ Styles]" in Path(record["outputs"]["subtitles.en.ass"]).read_text()


def test_rerun_resumes_without_transcribing_again(tmp_path: Path, session_cache: Path) -> None:
    src = tmp_path / "clip.wav"
    shutil.copy(SPEECH, src)
    first = json.loads(
        octavia("subtitle", str(src), "--json", "-m", "tiny.en", cache=session_cache, check=True).stdout
    )
    assert first["files"][0]["stages"]["transcribe"]["resumed"] is False
    srt = tmp_path / "clip.en.srt"
    before = srt.read_text()
    srt.unlink()
    second = json.loads(
        octavia("subtitle", str(src), "--json", "-m", "tiny.en", cache=session_cache, check=True).stdout
    )
    stages = second["files"][0]["stages"]
    assert stages["extract"]["resumed"] is True and stages["transcribe"]["resumed"] is True
    assert srt.read_text() == before
    # A different model is a different fingerprint: it must transcribe again.
    third = json.loads(
        octavia("subtitle", str(src), "--json", "-m", "base", cache=session_cache, check=True).stdout
    )
    assert third["files"][0]["stages"]["transcribe"]["resumed"] is False


def test_batch_keeps_going_and_exits_nonzero(tmp_path: Path, session_cache: Path) -> None:
    media_dir = tmp_path / "in"
    media_dir.mkdir()
    shutil.copy(SPEECH, media_dir / "good.wav")
    (media_dir / "broken.mp3").write_bytes(b"this is not audio" * 100)
    proc = octavia(
        "subtitle",
        str(media_dir),
        "--json",
        "-m",
        "tiny.en",
        "-o",
        str(tmp_path / "out"),
        cache=session_cache,
    )
    assert proc.returncode == 1
    summary = json.loads(proc.stdout)
    by_name = {Path(r["input"]).name: r for r in summary["files"]}
    assert by_name["good.wav"]["status"] == "ok" and (tmp_path / "out" / "good.en.srt").exists()
    assert by_name["broken.mp3"]["status"] == "failed"
    assert by_name["broken.mp3"]["error"]["error"] == "input_error"
    assert "broken.mp3" in by_name["broken.mp3"]["error"]["message"]
    assert summary["failed"] == 1 and summary["succeeded"] == 1


def test_human_errors_and_exit_codes(tmp_path: Path, session_cache: Path) -> None:
    proc = octavia(
        "subtitle", str(SPEECH), "-f", "docx", "-o", str(tmp_path), "-m", "tiny.en", cache=session_cache
    )
    assert proc.returncode == 1 and "Unknown subtitle format" in proc.stderr and "Hint:" in proc.stderr
    proc = octavia("subtitle", str(SPEECH), "-m", "small", "-o", str(tmp_path), "--json", cache=session_cache)
    assert proc.returncode == 3  # every input failed for want of a model: the environment's code
    err = json.loads(proc.stdout)["files"][0]["error"]
    assert err["error"] == "model_not_available" and "octavia models pull whisper small" in err["hint"]
    proc = octavia("subtitle", str(tmp_path / "nothing-*.wav"), cache=session_cache)
    assert proc.returncode == 2 and "No file matches" in proc.stderr


def test_json_says_where_the_transcriber_came_from_even_after_translation(tmp_path: Path) -> None:
    """In a fresh cache the model is assembled from its pack; the translate stage must not
    overwrite that record with the cache it now finds."""
    example = Path(__file__).parents[1] / "examples" / "tortilla.es.mp4"
    proc = octavia(
        "subtitle", str(example), "--to", "en", "--json", "-o", str(tmp_path / "out"), cache=tmp_path / "c"
    )
    record = json.loads(proc.stdout)["files"][0]
    assert record["models"]["transcriber"]["source"] == "pack"
    assert "assembled" in record["models"]["transcriber"]["detail"]
    assert record["models"]["translator:en"]["engine"] == "whisper"
