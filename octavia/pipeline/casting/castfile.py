"""Cast files: which voice each speaker gets, saved after a run and reusable across videos.

Written as ``{"version": 1, "voices": {"es": {"Speaker 1": "jm_kumo", ...}},
"pitch_hz": {"Speaker 1": 104.2, ...}}``. Read back from that form, or from a flat
``{"Speaker 1": "jm_kumo"}`` (or ``{"voices": {...flat...}}``) that applies to every target
language. Keys are speaker labels as the review file shows them ("Speaker 2", or a name the
person gave, "Ana").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from octavia.errors import InputError
from octavia.pipeline.workspace import atomic_path

VERSION = 1


def _flat(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def read_cast(path: Path, language: str) -> dict[str, str]:
    """Speaker label → voice for ``language`` from the cast file ``path``."""
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the cast file {path}: {exc.strerror}.") from exc
    except ValueError as exc:
        raise InputError(f"The cast file {path} is not JSON: {exc}.") from exc
    if isinstance(data, dict) and "voices" in data:
        data = data["voices"]
    if _flat(data):
        return {str(k): str(v) for k, v in data.items()}
    if isinstance(data, dict) and all(_flat(v) for v in data.values()):
        return {str(k): str(v) for k, v in data.get(language, {}).items()}
    raise InputError(
        f"The cast file {path} is not a cast.",
        'Write {"Speaker 1": "VOICE", ...} or {"voices": {"LANG": {"Speaker 1": "VOICE"}}}.',
    )


def write_cast(path: Path, language: str, voices: Mapping[str, str | None],
               pitch_hz: Mapping[str, float | None]) -> None:  # fmt: skip
    """Add (or replace) ``language``'s cast in ``path``, keeping other languages'."""
    data: dict[str, Any] = {"version": VERSION, "voices": {}, "pitch_hz": {}}
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            old = {}
        if isinstance(old, dict) and isinstance(old.get("voices"), dict) and not _flat(old["voices"]):
            data["voices"].update(old["voices"])
            data["pitch_hz"].update(old.get("pitch_hz") or {})
    data["voices"][language] = {k: v for k, v in voices.items() if v}
    data["pitch_hz"].update({k: round(v, 1) for k, v in pitch_hz.items() if v})
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
