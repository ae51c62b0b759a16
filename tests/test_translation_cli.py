"""`octavia translate` end to end, through the CLI process, on real subtitle files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from octavia import formats
from tests import marian_factory as mf

SRT = """1
00:00:01,000 --> 00:00:02,500
The cat is sleeping

2
00:00:02,500 --> 00:00:04,000
on the red sofa.

3
00:00:05,000 --> 00:00:07,000
<i>We will cook rice tomorrow.</i>
"""

ASS = r"""[Script Info]
Title: Test
ScriptType: v4.00+
PlayResX: 1920
PlayResY: 1080

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,48,&H00FFFFFF,&H000000FF,&H00000000,&H00000000,0,0,0,0,100,100,0,0,1,2,0,2,10,10,10,1
Style: Sign,Georgia,40,&H0000FFFF,&H000000FF,&H00000000,&H00000000,1,0,0,0,100,100,0,0,1,2,0,8,10,10,10,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
Dialogue: 0,0:00:01.00,0:00:03.00,Default,Ann,0,0,0,,{\i1}The dog is\Nin the house.
Dialogue: 1,0:00:01.50,0:00:04.00,Sign,,0,0,0,,{\pos(960,100)}Welcome to the city
Dialogue: 0,0:00:04.00,0:00:09.00,Default,Bob,0,0,0,,My sister wants to buy a big green car for the family.
"""

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None, reason="needs apt package apertium-eng-spa"
)


def octavia(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTAVIA_CACHE_DIR": str(cache), "OCTAVIA_OFFLINE": "1", "OCTAVIA_DEVICE": "cpu"}
    return subprocess.run([sys.executable, "-m", "octavia", *args], capture_output=True, text=True, env=env)


@needs_apertium
def test_srt_and_ass_keep_timing_styles_and_markup(tmp_path: Path) -> None:
    (tmp_path / "talk.en.srt").write_text(SRT)
    (tmp_path / "show.ass").write_text(ASS)
    out = tmp_path / "out"
    run = octavia("translate", str(tmp_path / "talk.en.srt"), str(tmp_path / "show.ass"), "--from", "en",
                  "--to", "es", "--translator", "apertium", "--out-dir", str(out), "--json", cache=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["ok"] and summary["succeeded"] == 2
    assert summary["files"][0]["models"]["translator:es"]["model"] == "apertium:eng-spa"

    src, es = formats.read(tmp_path / "talk.en.srt"), formats.read(out / "talk.es.srt")
    assert [(c.start, c.end) for c in es] == [(c.start, c.end) for c in src]
    assert "gato" in es[0].text and "sofá" in es[1].text  # one sentence, split back over two cues
    assert es[2].text.startswith("<i>") and es[2].text.endswith("</i>") and "arroz" in es[2].text

    doc_in, doc_out = formats.read_document(tmp_path / "show.ass"), formats.read_document(out / "show.es.ass")
    assert doc_out.header == doc_in.header  # styles, script info: kept verbatim
    assert [(c.start, c.end, c.style, c.extra) for c in doc_out.cues] == [
        (c.start, c.end, c.style, c.extra) for c in doc_in.cues
    ]
    assert doc_out.cues[0].text.startswith("{\\i1}") and "casa" in doc_out.cues[0].text
    assert doc_out.cues[1].text.startswith("{\\pos(960,100)}")
    long = doc_out.cues[2].text.split("\n")  # re-laid out: balanced lines within 42 characters
    assert len(long) == 2 and all(len(line) <= 42 for line in long)


def test_language_from_file_name_or_a_clear_failure(tmp_path: Path) -> None:
    (tmp_path / "notes.srt").write_text(SRT)
    run = octavia("translate", str(tmp_path / "notes.srt"), "--to", "es", "--json", cache=tmp_path)
    assert run.returncode == 1
    failed = json.loads(run.stdout)["files"][0]
    assert failed["status"] == "failed" and "--from" in failed["error"]["hint"]
    bad = octavia(
        "translate", str(tmp_path / "notes.srt"), "--to", "es", "--translator", "nope", cache=tmp_path
    )
    assert bad.returncode == 2 and "Unknown translator" in bad.stderr
    speech_only = octavia(
        "translate", str(tmp_path / "notes.srt"), "--to", "en", "--translator", "whisper", cache=tmp_path
    )
    assert speech_only.returncode == 2 and "Whisper translates speech" in speech_only.stderr


@pytest.mark.slow
def test_marian_model_directory(tmp_path: Path) -> None:
    _, ct2 = mf.build("en", "xx")
    (tmp_path / "toy.en.vtt").write_text(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nmy red cat\n\n00:00:01.000 --> 00:00:02.000\neats a fish.\n"
    )
    run = octavia(
        "translate", str(tmp_path / "toy.en.vtt"), "--to", "xx", "--model", str(ct2), cache=tmp_path
    )
    assert run.returncode == 0, run.stderr
    cues = formats.read(tmp_path / "toy.xx.vtt")
    assert [(c.start, c.end, c.text) for c in cues] == [
        (0.0, 1.0, "mi rojo gato"),
        (1.0, 2.0, "come una pesco."),
    ]
