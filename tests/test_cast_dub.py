"""English → Spanish, offline, a voice per speaker: ``examples/talk_en.mp4`` (two speakers) dubbed
through the CLI with Apertium (``auto`` picks it: no opus-mt model offline) and a multi-speaker
Coqui VITS (random weights, installed where the Spanish default model would be downloaded).

Speakers come from the review file (labels on each block), so this runs without diarization;
the review → resume loop then checks that only lines whose text, speaker or voice changed are
spoken again, and a saved cast file is reused."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from octavia import formats
from octavia.pipeline import coqui
from tests.test_dub import run_json
from tests.tts_factory import SPEAKERS, install_in_cache

# Minutes of CPU on a free machine; the default 600 s is too tight where cores are shared.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
TALK = Path(__file__).parent.parent / "examples" / "talk_en.mp4"
READER_WORDS = ("dashwood", "young man")  # what the LibriVox reader (speaker A) says


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cast-dub-cache")
    install_in_cache(root, coqui.DEFAULT_MODELS["es"], speakers=SPEAKERS)
    return root


def label_blocks(review: Path) -> dict[int, str]:
    """Label each block by who said it (from its original-speech note); return id → label."""
    text = review.read_text(encoding="utf-8")
    labels: dict[int, str] = {}

    def relabel(match: re.Match[str]) -> str:
        number, note = int(match.group(2)), match.group(3).lower()
        labels[number] = "Speaker 1" if any(w in note for w in READER_WORDS) else "Speaker 2"
        return f"{match.group(1)} | {labels[number]}\n# {match.group(3)}"

    head = r"^(\[#(\d+)\] [\d:.]+ --> [\d:.]+)[^\n]*\n# ([^\n]*)"
    review.write_text(re.sub(head, relabel, text, flags=re.M), encoding="utf-8")
    return labels


def edit_block(review: Path, number: int, *, text: str | None = None, speaker: str | None = None) -> None:
    body = review.read_text(encoding="utf-8")
    pattern = re.compile(rf"^(\[#{number}\] [^|\n]*)\|[^\n]*\n((?:#[^\n]*\n)?)([^\n]*)\n", re.M)
    match = pattern.search(body)
    assert match, body

    def repl(m: re.Match[str]) -> str:
        who = speaker or m.group(0).split("|", 1)[1].split("\n", 1)[0].strip()
        return f"{m.group(1)}| {who}\n{m.group(2)}{text if text is not None else m.group(3)}\n"

    review.write_text(pattern.sub(repl, body, count=1), encoding="utf-8")


def set_cast_section(review: Path, lines: list[str]) -> None:
    body = review.read_text(encoding="utf-8")
    body = re.sub(r"^\[cast\]\n(?:(?!\[#)[^\n]*\n)*", "", body, flags=re.M)  # drop any cast section
    first = body.index("[#1]")
    review.write_text(body[:first] + "[cast]\n" + "".join(f"{x}\n" for x in lines) + "\n" + body[first:])


def speakers(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return record["cast"]["es"]["speakers"]  # type: ignore[no-any-return]


def test_english_to_spanish_offline_with_a_voice_per_speaker(tmp_path: Path, cache: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    first = run_json("dub", str(TALK), "--to", "es", "--review", "--out-dir", str(out), "--work-dir", str(work),
                     cache=cache)["files"][0]  # fmt: skip
    assert first["models"]["translator:es"]["model"] == "apertium:eng-spa"  # auto, offline, no opus-mt
    review = Path(first["outputs"]["review.es"])
    labels = label_blocks(review)
    assert set(labels.values()) == {"Speaker 1", "Speaker 2"}, review.read_text()
    set_cast_section(review, ["Speaker 1", "Speaker 2"])  # no voices chosen yet: casting picks

    second = run_json("dub", "--resume", str(review.parent), cache=cache)["files"][0]
    n = second["segments"]
    cast = speakers(second)
    assert set(cast) == {"Speaker 1", "Speaker 2"}
    assert {c["voice"] for c in cast.values()} == set(SPEAKERS)  # two speakers, two voices
    assert cast["Speaker 1"]["pitch_hz"] < 130 < cast["Speaker 2"]["pitch_hz"]  # man, raised voice
    assert second["timing"]["es"]["synthesized"] == n
    subs = " ".join(c.text for c in formats.read(Path(second["outputs"]["subtitles.es.srt"]))).lower()
    assert "buenos días" in subs and "familia" in subs  # Spanish soft subtitles
    saved = json.loads(Path(second["outputs"]["cast"]).read_text())
    assert saved["voices"]["es"] == {k: v["voice"] for k, v in cast.items()}
    assert json.loads((review.parent / "cast.json").read_text())["voices"] == saved["voices"]

    # Move one line to the other speaker and reword another: exactly those two are spoken again.
    moved = next(i for i, who in labels.items() if who == "Speaker 2")
    reworded = next(i for i, who in labels.items() if who == "Speaker 1")
    edit_block(review, moved, speaker="Speaker 1")
    edit_block(review, reworded, text="Y el señor Dashwood tuvo tiempo para pensar.")
    third = run_json("dub", "--resume", str(review.parent), cache=cache)["files"][0]
    assert speakers(third) and {k: v["voice"] for k, v in speakers(third).items()} == saved["voices"]["es"]
    assert (third["timing"]["es"]["synthesized"], third["timing"]["es"]["cached"]) == (2, n - 2)

    # Assign Speaker 1's voice to Speaker 2 too: only Speaker 2's lines are re-spoken.
    one = cast["Speaker 1"]["voice"]
    set_cast_section(review, [f"Speaker 1 = {one}", f"Speaker 2 = {one}"])
    fourth = run_json("dub", "--resume", str(review.parent), cache=cache)["files"][0]
    spoken_by_2 = sum(1 for i, who in labels.items() if who == "Speaker 2" and i != moved)
    assert speakers(fourth)["Speaker 2"] == {
        **speakers(fourth)["Speaker 2"],
        "voice": one,
        "source": "review",
    }
    assert (fourth["timing"]["es"]["synthesized"], fourth["timing"]["es"]["cached"]) == (
        spoken_by_2,
        n - spoken_by_2,
    )

    # A saved cast file is reused by another run (here: the voices swapped by hand).
    swapped = tmp_path / "swapped.json"
    swapped.write_text(
        json.dumps({"Speaker 1": cast["Speaker 2"]["voice"], "Speaker 2": cast["Speaker 1"]["voice"]})
    )
    set_cast_section(review, ["Speaker 1", "Speaker 2"])
    again = tmp_path / "again"
    shutil.copytree(review.parent, again)
    spec = json.loads((again / "job.json").read_text())
    spec["options"]["cast_file"], spec["out_dir"] = str(swapped), str(tmp_path / "out2")
    (again / "job.json").write_text(json.dumps(spec))
    fifth = run_json("dub", "--resume", str(again), cache=cache)["files"][0]
    recast = speakers(fifth)
    assert {k: (v["voice"], v["source"]) for k, v in recast.items()} == {
        "Speaker 1": (cast["Speaker 2"]["voice"], "cast file"),
        "Speaker 2": (cast["Speaker 1"]["voice"], "cast file"),
    }
