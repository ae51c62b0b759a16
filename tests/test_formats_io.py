"""The dispatching API: suffixes, encodings, and write → read round-trips of every format."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from octavia import formats
from octavia.errors import InputError
from octavia.types import Cue

SUBS = Path(__file__).parent / "data" / "subs"
PRECISION = {"srt": 0.0005, "vtt": 0.0005, "ass": 0.005}
WORDS = [
    "hello",
    "world",
    "Ça",
    "va?",
    "naïve",
    "co-op",
    "it's",
    "100%",
    "a < b",
    "R&D",
    "—",
    "日本語",
    "🙂",
    "x,y",
]


def _random_cues(rng: random.Random, n: int) -> list[Cue]:
    cues, t = [], rng.uniform(0, 5)
    for _ in range(n):
        start = t + rng.uniform(0, 2)
        end = start + rng.uniform(0.01, 8)
        lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 6))) for _ in range(rng.randint(1, 3))]
        cues.append(Cue(start, end, "\n".join(lines)))
        t = end + rng.uniform(-1, 1)  # overlaps happen in real files too
    return cues


@pytest.mark.parametrize("fmt", formats.FORMATS)
@pytest.mark.parametrize("seed", range(5))
def test_write_read_round_trip(fmt: str, seed: int, tmp_path: Path) -> None:
    cues = _random_cues(random.Random(seed), 40)
    path = tmp_path / f"out.{fmt}"
    formats.write(cues, path)
    back = formats.read(path)
    assert len(back) == len(cues)
    for a, b in zip(cues, back, strict=True):
        assert b.text == a.text
        assert abs(b.start - a.start) <= PRECISION[fmt] + 1e-9
        assert abs(b.end - a.end) <= PRECISION[fmt] + 1e-9


@pytest.mark.parametrize("name", ["crlf_bom.srt", "header_notes.vtt", "styled.ass"])
@pytest.mark.parametrize("target", formats.FORMATS)
def test_samples_convert_to_every_format(name: str, target: str) -> None:
    source = formats.read(SUBS / name)
    back = formats.loads(formats.dumps(source, target), target)
    assert [t for c in back for t in (c.start, c.end)] == pytest.approx(
        [t for c in source for t in (c.start, c.end)], abs=0.006
    )
    assert len(back) == len(source) == (4 if name != "crlf_bom.srt" else 5)
    assert all(b.text.strip() for b in back)


@pytest.mark.parametrize(
    ("suffix", "fmt"), [("a.srt", "srt"), ("B.SRT", "srt"), ("c.vtt", "vtt"), ("d.ass", "ass"), ("e.ssa", "ass"),
                        (".ssa", "ass"), ("x/y.en.vtt", "vtt")],
)  # fmt: skip
def test_format_from_suffix(suffix: str, fmt: str) -> None:
    assert formats.format_from_suffix(Path(suffix) if "/" in suffix else suffix) == fmt


@pytest.mark.parametrize("name", ["movie.sub", "movie", "movie.txt"])
def test_unknown_suffix_lists_supported(name: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        formats.write([Cue(0, 1, "x")], tmp_path / name)
    assert err.value.hint is not None and ".srt" in err.value.hint and ".ssa" in err.value.hint
    assert not (tmp_path / name).exists()


def test_unknown_format_name() -> None:
    with pytest.raises(InputError, match="docx"):
        formats.loads("", "docx")
    assert formats.loads("WEBVTT\n", "VTT") == []


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1252", "Café – “quoted”"),
        ("utf-8-sig", "Café €"),
        ("utf-16", "Café €"),
    ],
)
def test_legacy_and_bom_files_decode(encoding: str, text: str, tmp_path: Path) -> None:
    path = tmp_path / "legacy.srt"
    path.write_bytes(f"1\r\n00:00:01,000 --> 00:00:02,000\r\n{text}\r\n".encode(encoding))
    (cue,) = formats.read(path)
    assert cue.text == text


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Cannot read"):
        formats.read(tmp_path / "nope.srt")


def test_written_files_are_utf8_with_lf(tmp_path: Path) -> None:
    path = tmp_path / "x.srt"
    formats.write([Cue(0, 1, "Ünïcödé\nzwei")], path)
    assert path.read_bytes() == "1\n00:00:00,000 --> 00:00:01,000\nÜnïcödé\nzwei\n".encode()


def test_import_is_light() -> None:
    code = "import json, sys, octavia.formats; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert "octavia.formats.srt" in loaded
    assert "octavia.formats.layout" not in loaded
    assert not {m for m in loaded if m.startswith(("numpy", "pydantic"))}
