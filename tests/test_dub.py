"""`octavia dub` and `octavia translate-audio` end to end through the CLI, with real models:
Whisper tiny.en transcribes recorded speech, Piper (pack voice) or a random Coqui VITS speaks,
ffmpeg mixes and muxes. Outputs are probed; clip onsets are checked in the final tracks."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from octavia import formats
from octavia.pipeline import media
from tests.conftest import SPEECH, content_words
from tests.test_subtitle_cli import octavia
from tests.tts_factory import build_vits

pytestmark = pytest.mark.slow
SR = 48_000


def run_json(*args: str, cache: Path, code: int = 0) -> dict[str, Any]:
    proc = octavia(*args, "--json", cache=cache)
    assert proc.returncode == code, proc.stderr + proc.stdout
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def dubbed(
    speech_video: Path, tmp_path_factory: pytest.TempPathFactory, session_cache: Path
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("dubbed")
    summary = run_json("dub", str(speech_video), "--to", "en", "-m", "tiny.en", "--no-background",
                       "--out-dir", str(out), "--work-dir", str(out / "work"), cache=session_cache)  # fmt: skip
    return summary["files"][0], out


def onset_errors(track: np.ndarray, segments: list[dict[str, Any]], threshold: float = 0.02) -> list[float]:
    """For each placed clip: seconds from where it was placed to the first sound after it."""
    errors = []
    for seg in segments:
        at = round(seg["placed_start"] * SR)
        before = track[max(0, at - int(0.03 * SR)) : at]
        assert np.abs(before).max(initial=0.0) < threshold, f"sound before segment {seg['index']} starts"
        errors.append(float(np.flatnonzero(np.abs(track[at:]) > threshold)[0]) / SR)
    return errors


def test_dub_video_streams_tags_and_duration(dubbed: tuple[dict[str, Any], Path], speech_video: Path) -> None:
    record, _ = dubbed
    video = Path(record["outputs"]["video.en"])
    src, out = media.probe(speech_video), media.probe(video)
    assert [s.kind for s in out.streams] == ["video", "audio", "audio", "subtitle"]
    assert [s.language for s in out.audio_streams] == ["eng", "eng"] and out.subtitle_streams[
        0
    ].codec == "mov_text"
    assert abs(out.duration - src.duration) <= 0.05
    assert abs((out.audio_streams[0].duration or 0) - src.duration) <= 0.05
    assert record["models"]["synthesizer:en"]["engine"] == "piper"
    assert Path(record["outputs"]["subtitles.en.srt"]).exists()


def test_dub_clips_start_at_their_segments(dubbed: tuple[dict[str, Any], Path]) -> None:
    record, out = dubbed
    fits = record["timing"]["en"]["segments"]
    assert fits and all(f["factor"] <= 1.25 and abs(f["shift_s"]) <= 0.75 + 1e-6 for f in fits)
    exact = media.decode_audio(next((out / "work").glob("*/dub.en.wav")), sample_rate=SR, channels=1)[:, 0]
    # TTS clips are trimmed to 20 ms of padding: sound starts within 40 ms of the segment start
    # (the first sample over the threshold comes a few ms after the first soft one, by how the
    # CPU rounds the synthesis: 25.4 ms on one machine, under 25 ms on another).
    assert max(onset_errors(exact, fits)) < 0.04
    encoded = media.decode_audio(Path(record["outputs"]["video.en"]), sample_rate=SR, channels=1)[:, 0]
    assert max(onset_errors(encoded, fits, threshold=0.03)) < 0.03  # still so after AAC in the MP4


def test_dub_track_says_what_was_said(
    dubbed: tuple[dict[str, Any], Path], engines: Any, tmp_path: Path
) -> None:
    record, _ = dubbed
    track = media.extract_audio(Path(record["outputs"]["video.en"]), tmp_path / "dub.wav")
    heard = engines.whisper("tiny.en").transcribe(track, language="en").text
    said = content_words(
        "mister john dashwood had then leisure to consider how much there might be prudently"
    )
    assert len(said & content_words(heard)) >= 0.6 * len(said), heard


def edit(review: Path, number: int, text: str) -> None:
    body = review.read_text(encoding="utf-8")
    pattern = re.compile(rf"(\[#{number}\][^\n]*\n(?:#[^\n]*\n)?)[^\n]*\n")
    assert pattern.search(body), body
    review.write_text(pattern.sub(lambda m: m.group(1) + text + "\n", body, count=1), encoding="utf-8")


def test_review_then_resume_respeaks_only_edited_lines(
    speech_video: Path, tmp_path: Path, session_cache: Path
) -> None:
    work = tmp_path / "work"
    first = run_json("dub", str(speech_video), "--to", "en", "-m", "tiny.en", "--review", "--out-dir",
                     str(tmp_path), "--work-dir", str(work), cache=session_cache)["files"][0]  # fmt: skip
    review = Path(first["outputs"]["review.en"])
    assert "video.en" not in first["outputs"] and not list(tmp_path.glob("*.mp4"))
    assert "[#1]" in review.read_text() and "--resume" in review.read_text()
    workdir = str(review.parent)
    edit(review, 1, "Mister Dashwood had time to think.")
    second = run_json("dub", "--resume", workdir, cache=session_cache)["files"][0]
    n = second["segments"]
    assert second["timing"]["en"]["synthesized"] == n  # nothing was spoken before the review
    # The layout may split the edited line into two cues (a cue is at most 7 s): read the text.
    cues = formats.read(Path(second["outputs"]["subtitles.en.srt"]))
    assert "Mister Dashwood had time to think." in " ".join(c.text.replace("\n", " ") for c in cues)
    edit(review, 1, "Mister Dashwood had some time to think it over.")
    third = run_json("dub", "--resume", workdir, cache=session_cache)["files"][0]
    assert (third["timing"]["en"]["synthesized"], third["timing"]["en"]["cached"]) == (1, n - 1)
    assert third["stages"]["transcribe"]["resumed"] and media.probe(Path(third["outputs"]["video.en"]))
    # A line far too long for its window overflows: reported always, a failure only with --max-overflow.
    edit(review, 1, "This sentence is much, much too long to ever fit in the short window. " * 4)
    fourth = run_json("dub", "--resume", workdir, cache=session_cache)["files"][0]
    assert fourth["timing"]["en"]["max_overflow_s"] > 1.0
    # ... and it is not cut: its whole clip (at most sped up to the cap) is in the dub track,
    # which grows past the video's end to hold it.
    long = fourth["timing"]["en"]["segments"][0]
    fit_file = json.loads((Path(workdir) / "fit.en.json").read_text())
    assert fit_file["segments"] == fourth["timing"]["en"]["segments"]
    played = long["placed_end"] - long["placed_start"]
    assert long["clip_duration"] > 10.0 and long["factor"] <= 1.25 + 1e-6
    assert played == pytest.approx(long["clip_duration"] / long["factor"], abs=0.05)
    track = media.decode_audio(Path(workdir) / "dub.en.wav", sample_rate=SR, channels=1)[:, 0]
    start, end = round(long["placed_start"] * SR), round(long["placed_end"] * SR)
    assert track.size >= end - 2 and end > 7.2 * SR  # placed_end is rounded to 0.1 ms in the record
    assert np.abs(track[end - int(0.4 * SR) : end]).max() > 0.02  # speech up to the clip's very end
    assert np.abs(track[start : start + int(0.4 * SR)]).max() > 0.02
    failed = run_json("dub", "--resume", workdir, "--max-overflow", "0.5", cache=session_cache, code=1)
    assert failed["files"][0]["error"]["error"] == "timing_overflow"


def test_translate_audio_with_coqui_vits(
    tmp_path: Path, session_cache: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    model = build_vits(tmp_path_factory.getbasetemp() / "vits-en")
    summary = run_json("translate-audio", str(SPEECH), str(tmp_path / "missing.wav"), "--to", "en", "-m", "tiny.en",
                       "--tts", "coqui", "--tts-model", str(model), "--audio-format", "m4a", "--out-dir",
                       str(tmp_path), cache=session_cache, code=1)  # fmt: skip
    ok, missing = summary["files"]
    assert (ok["status"], missing["status"], summary["succeeded"]) == ("ok", "failed", 1)
    assert (
        ok["models"]["synthesizer:en"]["engine"] == "coqui"
        and ok["models"]["synthesizer:en"]["source"] == "user"
    )
    out = media.probe(Path(ok["outputs"]["audio.en"]))
    assert out.audio_streams[0].codec == "aac" and out.audio_streams[0].language == "eng"
    assert abs(out.duration - media.probe(SPEECH).duration) <= 0.05


def test_dub_refuses_audio_and_asks_for_demucs(
    tmp_path: Path, session_cache: Path, speech_video: Path
) -> None:
    summary = run_json("dub", str(SPEECH), "--to", "en", "-m", "tiny.en", "--out-dir", str(tmp_path),
                       cache=session_cache, code=1)  # fmt: skip
    assert "no video stream" in summary["files"][0]["error"]["message"]
    summary = run_json("dub", str(speech_video), "--to", "en", "-m", "tiny.en", "--separator", "demucs", "--out-dir",
                       str(tmp_path), cache=session_cache, code=3)  # fmt: skip
    assert summary["files"][0]["error"]["error"] == "missing_dependency"
    assert "demucs" in summary["files"][0]["error"]["hint"]


def test_clone_voice_cuts_a_reference_and_needs_xtts(
    speech_video: Path, tmp_path: Path, session_cache: Path
) -> None:
    summary = run_json("dub", str(speech_video), "--to", "en", "-m", "tiny.en", "--clone-voice", "--out-dir",
                       str(tmp_path), "--work-dir", str(tmp_path / "w"), cache=session_cache, code=3)  # fmt: skip
    error = summary["files"][0]["error"]
    assert error["error"] == "model_not_available" and "xtts_v2" in error["message"]
    (reference,) = (tmp_path / "w").glob("*/voice-reference.wav")  # cut from the source's longest segment
    assert 2.0 < media.probe(reference).duration <= 12.0
    assert "non-commercial" in octavia("dub", "--help", cache=session_cache).stdout.lower().replace("\n", " ")
