"""Workspace checkpoints and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from octavia.pipeline.workspace import Workspace, atomic_path, fingerprint


def test_fingerprint_is_stable_and_order_insensitive_for_dicts() -> None:
    assert fingerprint("a", {"x": 1, "y": 2}) == fingerprint("a", {"y": 2, "x": 1})
    assert fingerprint("a", 1) != fingerprint("a", 2)


def test_stage_is_done_only_with_same_fingerprint_and_all_artifacts(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    (tmp_path / "a.json").write_text("{}")
    ws.mark_done("stage", "fp1", ["a.json"])
    assert Workspace(tmp_path).is_done("stage", "fp1")  # survives a new process
    assert not ws.is_done("stage", "fp2")
    (tmp_path / "a.json").unlink()
    assert not ws.is_done("stage", "fp1")


def test_atomic_write_leaves_nothing_on_crash_and_uses_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.srt"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
