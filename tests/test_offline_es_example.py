"""The README's second example, as a user runs it: ``octavia dub examples/talk_en.mp4 --to es``
with no flags and no network. Needs diarization (speakers), Kokoro (Spanish voices) and the
Apertium ``eng-spa`` pair; checks Spanish subtitles, a voice per speaker matched by pitch, and a
dub track that Whisper hears as Spanish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octavia import formats
from octavia.pipeline import media
from tests.conftest import content_words
from tests.test_dub import run_json

# Minutes of CPU on a free machine; the default 600 s is too tight where cores are shared.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
TALK = Path(__file__).parent.parent / "examples" / "talk_en.mp4"


def test_talk_en_dubbed_into_spanish_offline_with_no_flags(tmp_path: Path, engines) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    record = run_json("dub", str(TALK), "--to", "es", "--out-dir", str(out), "--work-dir", str(tmp_path / "work"),
                      cache=tmp_path / "cache")["files"][0]  # fmt: skip
    assert record["models"]["translator:es"]["model"] == "apertium:eng-spa"
    cast = record["cast"]["es"]["speakers"]
    assert set(cast) == {"Speaker 1", "Speaker 2"}  # diarization found the two speakers
    low, high = sorted(cast.values(), key=lambda c: c["pitch_hz"])
    assert low["voice"] != high["voice"] and low["voice_pitch_hz"] < high["voice_pitch_hz"]  # pitch-matched
    assert json.loads(Path(record["outputs"]["cast"]).read_text())["voices"]["es"] == {
        k: v["voice"] for k, v in cast.items()
    }
    subtitles = " ".join(c.text for c in formats.read(Path(record["outputs"]["subtitles.es.srt"])))
    assert "Buenos días" in subtitles
    video = Path(record["outputs"]["video.es"])
    assert media.probe(video).audio_streams[0].language in ("spa", "es")
    track = media.extract_audio(video, tmp_path / "dub.wav")  # the first audio stream: the dub
    heard = engines.whisper("base").transcribe(track)
    assert heard.language == "es", heard.text
    said = content_words(subtitles)
    assert len(said & content_words(heard.text)) >= 0.4 * len(said), heard.text
