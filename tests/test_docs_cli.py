"""The docs cover the CLI: docs/cli.md is the reference generated from the real Typer app, and it
is current, so every command and visible flag is documented with its help text."""

from __future__ import annotations

from pathlib import Path

from octavia.cli.reference import render

ROOT = Path(__file__).resolve().parent.parent


def test_the_command_reference_is_current() -> None:
    expected = render()
    assert (ROOT / "docs" / "cli.md").read_text(encoding="utf-8") == expected, "run scripts/cli-docs"


def test_the_reference_names_every_command_and_flag() -> None:
    text = render()
    for command in ("octavia subtitle", "octavia dub", "octavia burn", "octavia models pull", "octavia serve",
                    "octavia admin credits grant"):  # fmt: skip
        assert f"## `{command}`" in text
    for flag in ("--to", "--diarize", "--background", "--strict", "--gentle-speed", "--glossary", "--cast"):
        assert f"`{flag}`" in text
    assert "--separate-vocals" not in text  # hidden aliases stay out of the reference
