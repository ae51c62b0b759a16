"""A job's work directory and its manifest of checkpointed stages.

Each stage records a *fingerprint* (its inputs, engine id and options, hashed) and the
artifacts it wrote. A re-run, or a retried server job, skips every stage whose fingerprint
still matches and whose artifacts still exist, so an interrupted job resumes where it stopped.
Files are written to a temporary name and renamed, so a crash never leaves a half artifact
that looks complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def fingerprint(*parts: Any) -> str:
    """A stable hash of JSON-able parts (dicts are key-sorted)."""
    blob = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def file_digest(path: Path, *, chunk: int = 1 << 20) -> str:
    """Content hash of a file; identifies a source independent of its name."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:32]


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _create_temp(target)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _create_temp(target: Path) -> Path:
    """A new empty file beside ``target`` (same suffix, which writers dispatch on).

    Created with mode 0o666 so the kernel applies the process umask, as for any output; the
    umask is never read or changed (``os.umask`` sets it process-wide, racing other threads).
    """
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{target.suffix}")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {target}")


def write_json(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class Workspace:
    """The directory holding one job's intermediate artifacts and its manifest."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._manifest_path = self.root / MANIFEST
        self._manifest: dict[str, Any] = (
            read_json(self._manifest_path) if self._manifest_path.exists() else {"stages": {}}
        )

    def path(self, name: str) -> Path:
        return self.root / name

    def is_done(self, stage: str, fp: str) -> bool:
        """True when ``stage`` completed with fingerprint ``fp`` and all its artifacts exist."""
        entry = self._manifest["stages"].get(stage)
        if not entry or entry.get("fingerprint") != fp:
            return False
        return all((self.root / a).exists() for a in entry.get("artifacts", []))

    def mark_done(self, stage: str, fp: str, artifacts: list[str], **info: Any) -> None:
        self._manifest["stages"][stage] = {"fingerprint": fp, "artifacts": artifacts, **info}
        write_json(self._manifest_path, self._manifest)

    def stage_info(self, stage: str) -> dict[str, Any]:
        return dict(self._manifest["stages"].get(stage, {}))

    def invalidate(self, stage: str) -> None:
        if self._manifest["stages"].pop(stage, None) is not None:
            write_json(self._manifest_path, self._manifest)
