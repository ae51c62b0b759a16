"""`octavia translate` on legacy-encoded and imperfect subtitle files: read right, warnings reach the user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from octavia import formats

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None, reason="needs apt package apertium-eng-spa"
)

LEGACY = (
    "1\r\n00:00:01,000 --> 00:00:03,000\r\nThe café is open and the naïve cat sleeps.\r\n\r\n"
    "2\r\n00:00:04,000 --> 00:00:02,000\r\nMy sister eats rice.\r\n"
)  # Windows-1252, and the second cue ends before it starts

ASS = (
    "[Script Info]\nScriptType: v4.00+\n\n[Events]\n"
    "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
    "Comment: 0,0:00:00.00,0:00:01.00,Default,,0,0,0,,{TL} keep this note\n"
    "Dialogue: 0,0:00:01.00,0:00:04.00,Default,,0,0,0,,{note for the typesetter}The dog\\nis in the house.\n"
)


def octavia(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTAVIA_CACHE_DIR": str(cache), "OCTAVIA_OFFLINE": "1", "OCTAVIA_DEVICE": "cpu"}
    return subprocess.run([sys.executable, "-m", "octavia", *args], capture_output=True, text=True, env=env)


@needs_apertium
def test_translate_detects_the_code_page_and_reports_what_it_repaired(tmp_path: Path) -> None:
    (tmp_path / "talk.en.srt").write_bytes(LEGACY.encode("cp1252"))
    run = octavia("translate", str(tmp_path / "talk.en.srt"), "--to", "es", "--translator", "apertium",
                  "--json", cache=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    (record,) = json.loads(run.stdout)["files"]
    warnings = record["layout_warnings"]["talk.en.srt"]
    assert [w["rule"] for w in warnings] == ["encoding", "end_before_start"]
    assert "cp1252" in warnings[0]["detail"] and "--encoding" in warnings[0]["detail"]
    out = (tmp_path / "talk.es.srt").read_bytes().decode("utf-8")  # written as UTF-8, no mojibake
    assert "ingenu" in out and "Ã" not in out  # "naïve" reached the translator as a word
    cues = formats.read(tmp_path / "talk.es.srt")
    assert (cues[0].start, cues[0].end) == (1.0, 3.0) and cues[1].end > cues[1].start == 4.0

    plain = octavia("translate", str(tmp_path / "talk.en.srt"), "--to", "es", "--translator", "apertium",
                    "--encoding", "cp1252", "--json", "--out-dir", str(tmp_path / "given"), cache=tmp_path)  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    (given,) = json.loads(plain.stdout)["files"]
    assert [w["rule"] for w in given["layout_warnings"]["talk.en.srt"]] == ["end_before_start"]


@needs_apertium
def test_a_wrong_encoding_option_fails_that_file_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "talk.en.srt").write_bytes(LEGACY.encode("cp1252"))
    run = octavia("translate", str(tmp_path / "talk.en.srt"), "--to", "es", "--translator", "apertium",
                  "--encoding", "utf-8", "--json", cache=tmp_path)  # fmt: skip
    assert run.returncode == 1
    (record,) = json.loads(run.stdout)["files"]
    assert record["status"] == "failed" and "is not valid utf-8 (as given)" in record["error"]["message"]
    assert "--encoding" in record["error"]["hint"] and not (tmp_path / "talk.es.srt").exists()


@needs_apertium
def test_ass_escapes_and_comments_do_not_reach_the_translator(tmp_path: Path) -> None:
    (tmp_path / "show.en.ass").write_text(ASS)
    run = octavia("translate", str(tmp_path / "show.en.ass"), "--to", "es", "--translator", "apertium",
                  cache=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr
    written = (tmp_path / "show.es.ass").read_text()
    assert "Comment: 0,0:00:00.00,0:00:01.00,Default,,0,0,0,,{TL} keep this note" in written
    (cue,) = formats.read(tmp_path / "show.es.ass")
    assert cue.text.startswith("{note for the typesetter}")  # kept for the ASS file, not translated
    assert "perro" in cue.text and "casa" in cue.text and "\\n" not in cue.text
