"""``docs/cli.md``: the command reference, generated from the CLI itself.

``scripts/cli-docs`` rewrites the file; ``tests/test_docs_cli.py`` fails when it is stale, so
every command and visible flag is documented with the help text ``--help`` shows.
"""

from __future__ import annotations

from typing import Any

HEADER = """# Command reference

Generated from the CLI by `scripts/cli-docs` (a test fails when it is out of date): every
command, its arguments and its flags, with the help text `--help` shows. The guides in
README.md and docs/ explain what the flags are for.
"""


def _rows(cmd: Any) -> list[str]:
    rows = []
    for param in cmd.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            name = f"`{param.name.upper()}`"
        else:
            flags = [*param.opts, *param.secondary_opts]
            name = " / ".join(f"`{f}`" for f in flags)
        text = " ".join((getattr(param, "help", None) or "").split()).replace("|", "\\|")
        default = getattr(param, "default", None)
        shown = (
            param.param_type_name == "option" and default not in (None, False, (), []) and not param.is_flag
        )
        rows.append(f"| {name} | {text}{f' (default: `{default}`)' if shown else ''} |")
    return rows


def _walk(group: Any, prefix: str) -> list[tuple[str, Any]]:
    # Typer vendors its own click: its classes are click-shaped but not click's, so duck-type.
    out = []
    for name, cmd in sorted(getattr(group, "commands", {}).items()):
        if cmd.hidden:
            continue
        full = f"{prefix} {name}"
        out.append((full, cmd))
        out += _walk(cmd, full)
    return out


def render() -> str:
    import typer.main

    from octavia.cli.app import build_app

    parts = [HEADER]
    for name, cmd in _walk(typer.main.get_command(build_app()), "octavia"):
        parts.append(f"\n## `{name}`\n")
        summary = " ".join((cmd.help or "").split("\n\n")[0].split())
        if summary:
            parts.append(f"\n{summary}\n")
        rows = _rows(cmd)
        if rows and not hasattr(cmd, "commands"):
            parts.append("\n| argument / flag | |\n|---|---|\n" + "\n".join(rows) + "\n")
    return "".join(parts)


__all__ = ["render"]
