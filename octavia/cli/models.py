"""``octavia models``: what each engine can use, where it lives, what is missing."""

from __future__ import annotations

import json
import sys

import typer

from octavia.cli.subtitle import OFFLINE

ENGINE = typer.Argument(..., help="whisper, marian, piper, coqui or kokoro.")
NAME = typer.Argument(..., help="Model name, e.g. base, en-es, en_US-joe-medium.")


def _human(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size = size / 1024  # type: ignore[assignment]
    return "-"


def _resolver(offline: bool | None):  # type: ignore[no-untyped-def]
    from octavia.config import load_settings
    from octavia.pipeline.models import ModelResolver

    return ModelResolver.from_settings(load_settings(offline=offline))


def register(app: typer.Typer) -> None:
    models = typer.Typer(help="List, fetch, locate and remove models.", no_args_is_help=True)
    app.add_typer(models, name="models")

    @models.command("list")
    def list_(
        engine: str | None = typer.Option(None, "--engine", "-e", help="Only this engine."),
        available: bool = typer.Option(False, "--available", help="Only models on this machine."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Every model each engine knows: status (cache, pack, missing), path, size, licence."""
        from rich.console import Console
        from rich.table import Table

        from octavia.pipeline import catalogue

        resolver = _resolver(None)
        rows = [catalogue.status(resolver, e) for e in catalogue.entries(engine)]
        if available:
            rows = [r for r in rows if r.source != "missing"]
        if as_json:
            sys.stdout.write(json.dumps([r.to_dict() for r in rows], indent=2) + "\n")
            return
        table = Table("engine", "model", "status", "size", "licence", "path")
        colour = {"cache": "green", "pack": "cyan", "missing": "dim"}
        for r in rows:
            table.add_row(r.entry.spec.engine, r.entry.spec.name, f"[{colour[r.source]}]{r.source}[/]",
                          _human(r.size), r.entry.spec.licence, str(r.path or ""))  # fmt: skip
        Console().print(table)

    @models.command()
    def pull(
        engine: str = ENGINE,
        name: str | None = typer.Argument(
            None, help="Model name; none: every model of kokoro (model + voices)."
        ),
        offline: bool | None = OFFLINE,
    ) -> None:
        """Make a model available: assemble it from an installed pack, or download it (connected machines)."""
        from octavia.pipeline import catalogue

        resolver = _resolver(offline)
        for entry in catalogue.pull_set(engine, name):
            got = resolver.resolve(entry.spec, download=entry.download)
            typer.echo(f"{got.describe()}")

    @models.command()
    def path(engine: str = ENGINE, name: str = NAME) -> None:
        """Print where a model lives (exit 3 when it is not on this machine)."""
        from octavia.errors import ModelNotAvailable
        from octavia.pipeline import catalogue

        entry = catalogue.find(engine, name)
        st = catalogue.status(_resolver(True), entry)
        if st.path is None:
            raise (
                _resolver(True).not_available(entry.spec)
                if st.source == "missing"
                else ModelNotAvailable(
                    f"{engine} model {name!r} is in a pack that is assembled on first use.",
                    f"Run `octavia models pull {engine} {name}`.",
                )
            )
        typer.echo(str(st.path))

    @models.command()
    def remove(engine: str = ENGINE, name: str = NAME) -> None:
        """Delete a model from the cache (packs stay installed; uninstall them with pip)."""
        from octavia.pipeline import catalogue

        entry = catalogue.find(engine, name)
        removed = _resolver(None).remove(entry.spec)
        typer.echo(f"removed {engine} {name}" if removed else f"{engine} {name} was not in the cache")
