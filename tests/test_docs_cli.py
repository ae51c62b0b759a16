"""The docs cover the CLI: every command and every visible flag is named in the README or docs/.

Built from the real Typer app (click's view of it), so a new flag without documentation fails
here, as a new command does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from octavia.cli.app import build_app

ROOT = Path(__file__).resolve().parent.parent


def _docs() -> str:
    return "\n".join(
        p.read_text(encoding="utf-8") for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    )


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    # Typer vendors its own click: its classes are click-shaped but not click's.
    out = []
    if hasattr(group, "commands"):
        for name, cmd in group.commands.items():
            if cmd.hidden:
                continue
            full = f"{prefix} {name}".strip()
            out.append((full, cmd))
            out += _commands(cmd, full)
    return out


def test_every_command_and_flag_is_documented() -> None:
    docs = _docs()
    root = typer.main.get_command(build_app())
    missing, checked = [], 0
    for name, cmd in _commands(root):
        if f"octavia {name}" not in docs:
            missing.append(f"command `octavia {name}`")
        for param in cmd.params:
            if param.param_type_name != "option" or param.hidden:
                continue
            flags = [f for f in (*param.opts, *param.secondary_opts) if f.startswith("--") and f != "--help"]
            checked += bool(flags)
            if flags and not any(f in docs for f in flags):
                missing.append(f"`octavia {name} {flags[0]}`")
    assert checked > 100  # the walk really saw the commands' flags
    assert not missing, "Undocumented (README.md or docs/*.md): " + ", ".join(sorted(set(missing)))
