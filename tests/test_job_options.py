"""Job options are typed per kind and checked before any work: the API, the CLI, a resumed job."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

import octavia.api
from octavia.errors import InputError
from octavia.formats.ass_style import AssStyle
from octavia.formats.rules import LayoutRules
from octavia.pipeline.jobs import JobSpec
from octavia.pipeline.options import DubOptions, Layout, Style, SubtitleOptions, parse_options
from tests.conftest import SHORT_SPEECH


def _run_refused(kind: str, tmp_path: Path, options: dict[str, Any]) -> InputError:
    """Run a job that must be refused before any stage: no progress, no work directory."""
    events: list[object] = []
    with pytest.raises(InputError) as caught:
        octavia.api.run(kind, SHORT_SPEECH, to=["es"] if kind != "subtitle" else [], out_dir=tmp_path / "out",
                        work_dir=tmp_path / "work", options=options, progress=events.append)  # fmt: skip
    assert events == [] and not (tmp_path / "work").exists() and not (tmp_path / "out").exists()
    return caught.value


def test_max_speed_zero_is_an_error_not_the_default(tmp_path: Path) -> None:
    error = _run_refused("dub", tmp_path, {"max_speed": 0})
    assert "max_speed" in error.message and "greater than or equal to 1" in error.message
    assert parse_options("translate-audio", {"max_speed": 1.0}).max_speed == 1.0


def test_unknown_and_misplaced_options_are_refused(tmp_path: Path) -> None:
    error = _run_refused("subtitle", tmp_path, {"mix": 0.5})
    assert "mix: unknown option" in error.message and error.hint and "vad" in error.hint
    # A dub-only option on a subtitle job, and an audio format on a dub (which writes a video).
    assert "tts" in _run_refused("subtitle", tmp_path, {"tts": "piper"}).message
    assert "audio_format" in _run_refused("dub", tmp_path, {"audio_format": "mp3"}).message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"layout": "big"}, "layout"),
        ({"layout": {"max_lines": "two"}}, "layout.max_lines"),
        ({"layout": {"max_duration": 0.5}}, "below min_duration"),  # LayoutRules' own cross-check
        ({"ass_style": 3}, "ass_style"),
        ({"ass_style": {"primary_colour": "red"}}, "Not a colour"),
        ({"keep_terms": "Octavia"}, "keep_terms"),
        ({"vad": "sometimes"}, "vad"),
        ({"translator": "babelfish"}, "translator"),
    ],
)
def test_wrong_types_fail_before_any_stage(tmp_path: Path, options: dict[str, Any], named: str) -> None:
    assert named in _run_refused("subtitle", tmp_path, options).message


def test_a_bad_tts_engine_and_a_bad_duck_are_refused(tmp_path: Path) -> None:
    assert "tts" in _run_refused("translate-audio", tmp_path, {"tts": "espeak"}).message
    assert "duck_db" in _run_refused("dub", tmp_path, {"duck_db": 6}).message


def test_specs_hold_the_kinds_model_and_round_trip_through_json() -> None:
    spec = JobSpec.create("dub", SHORT_SPEECH, languages=("es",),
                          options={"max_speed": 1.5, "layout": {"max_lines": 1}, "keep_terms": ["GPU"]})  # fmt: skip
    assert isinstance(spec.options, DubOptions) and spec.options.layout.rules().max_lines == 1
    data = spec.to_dict()["options"]
    assert data["max_speed"] == 1.5 and data["keep_terms"] == ["GPU"] and data["duck_db"] == -14.0
    assert parse_options("dub", data) == spec.options  # what --resume reads back from job.json
    # The default options of a spec are its kind's model, not the subtitle one.
    assert type(JobSpec("translate-audio", SHORT_SPEECH).options).__name__ == "TranslateAudioOptions"


def test_layout_and_style_options_mirror_their_dataclasses() -> None:
    assert {f.name for f in fields(LayoutRules)} == set(Layout.model_fields)
    assert {f.name for f in fields(AssStyle)} == set(Style.model_fields)
    assert (
        SubtitleOptions().layout.rules() == LayoutRules()
        and SubtitleOptions().ass_style.style() == AssStyle()
    )


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCTAVIA_OFFLINE": "1", "OCTAVIA_CACHE_DIR": str(cwd / "cache")}
    return subprocess.run([sys.executable, "-m", "octavia", *args], capture_output=True, text=True, env=env,
                          timeout=120)  # fmt: skip


def test_cli_refuses_max_speed_zero_before_the_first_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _cli("translate-audio", str(SHORT_SPEECH), "--to", "es", "--max-speed", "0", "-o", str(out),
                  cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "max_speed" in result.stderr and not out.exists()


def test_audio_formats_are_the_ones_the_encoder_knows() -> None:
    from octavia.pipeline.media import AUDIO_CODECS
    from octavia.pipeline.options import AUDIO_FORMATS

    assert {f".{f}" for f in AUDIO_FORMATS} == set(AUDIO_CODECS)


def test_burn_subtitles_takes_a_language_or_target_on_dub_only(tmp_path: Path) -> None:
    assert parse_options("dub", {"burn_subtitles": "target"}).burn_subtitles == "target"  # type: ignore[attr-defined]
    assert parse_options("dub", {"burn_subtitles": "pt-BR"}).burn_subtitles == "pt-BR"  # type: ignore[attr-defined]
    assert "burn_subtitles" in _run_refused("dub", tmp_path, {"burn_subtitles": "../subs.srt"}).message
    assert "burn_subtitles" in _run_refused("translate-audio", tmp_path, {"burn_subtitles": "es"}).message
