"""The ``octavia`` command: a thin Typer layer over the library, with one error funnel.

Every command raises :class:`~octavia.errors.OctaviaError` (or lets it pass); :func:`main`
prints it once as a message plus a hint and maps it to an exit code scripts can trust:

==== =====================================================================
0    everything succeeded
1    at least one input failed (the others still completed)
2    bad usage or bad input (unknown option value, unreadable file, ...)
3    the environment lacks something: a model, a package, ffmpeg (also when every input of
     a batch failed for such a reason)
130  interrupted (Ctrl-C); checkpoints are kept, re-run to resume
==== =====================================================================

Command modules import only Typer at load time; the pipeline is imported when a command
runs, so ``octavia --help`` stays instant.
"""

from __future__ import annotations

import importlib
import sys

import typer

from octavia._version import __version__
from octavia.errors import MissingDependency, ModelNotAvailable, OctaviaError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

#: Modules that add commands; each exposes ``register(app)``.
COMMAND_MODULES = (
    "octavia.cli.subtitle",
    "octavia.cli.translate",
    "octavia.cli.dub",
    "octavia.cli.burn",
    "octavia.cli.models",
    "octavia.cli.server",
    "octavia.cli.admin",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"octavia {__version__}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="octavia",
        help="Subtitles, translated subtitles, translated audio and dubbed video from speech.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", callback=_version, is_eager=True, help="Show the version."
        ),
    ) -> None:
        """Octavia: open media translation."""

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def exit_code_for(error: OctaviaError) -> int:
    return EXIT_ENVIRONMENT if isinstance(error, MissingDependency | ModelNotAvailable) else EXIT_USAGE


def print_error(error: OctaviaError) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, soft_wrap=True)  # never break a hint mid-command
    console.print(f"[bold red]Error:[/] {escape(error.message)}")
    if error.hint:
        console.print(f"[yellow]Hint:[/] {escape(error.hint)}")


def main(argv: list[str] | None = None) -> None:
    app = build_app()
    try:
        app(args=argv, standalone_mode=True)
    except OctaviaError as error:
        print_error(error)
        sys.exit(exit_code_for(error))
    except KeyboardInterrupt:
        print("Interrupted; finished stages are kept, re-run the same command to resume.", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
