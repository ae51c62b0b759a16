"""Batch runs shared by the media commands (subtitle, translate-audio, dub).

Expands inputs (files, directories, globs), runs one job per file with a Rich progress bar
per file and one overall, keeps going when a file fails, and prints either a human summary
or, with ``--json``, one machine-readable document on stdout. Progress goes to stderr so
``--json`` output stays clean for scripts.
"""

from __future__ import annotations

import glob
import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import typer

from octavia.errors import InputError, OctaviaError

MEDIA_SUFFIXES = frozenset(
    [
        ".wav",
        ".mp3",
        ".m4a",
        ".aac",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".wma",
        ".mp4",
        ".m4v",
        ".mkv",
        ".mov",
        ".avi",
        ".webm",
        ".mpg",
        ".mpeg",
        ".ts",
        ".mts",
        ".wmv",
        ".flv",
    ]
)


def expand_inputs(items: Iterable[str]) -> list[Path]:
    """Files as given; directories searched recursively for media; glob patterns expanded."""
    found: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES)
            )
        elif path.exists():
            found.append(path)
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"No file matches {item!r}.", "Check the pattern, or quote it differently.")
            found.extend(matches)
        else:
            found.append(path)  # reported as a failed file with a clear reason, not a crash
    seen: set[Path] = set()
    unique = [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]  # type: ignore[func-returns-value]
    if not unique:
        raise InputError("No input files.", "Pass media files, directories or glob patterns.")
    return unique


def parse_list(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


RunOne = Callable[[Path, Callable[[Any], None]], dict[str, Any]]


def run_batch(files: list[Path], run_one: RunOne, *, as_json: bool, title: str) -> int:
    """Run ``run_one(file, progress_callback) -> record`` for each file; return the exit code."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from octavia.cli.app import (
        EXIT_ENVIRONMENT,
        EXIT_FAILED,
        EXIT_INTERRUPTED,
        EXIT_OK,
        exit_code_for,
        print_error,
    )
    from octavia.pipeline.progress import ProgressEvent

    err = Console(stderr=True)
    records: list[dict[str, Any]] = []
    failure_codes: list[int] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=as_json, disable=not err.is_terminal) as bar:
        overall = bar.add_task(f"[bold]{title}", total=len(files))
        for path in files:
            task = bar.add_task(f"  {path.name}", total=100)

            def on_progress(event: ProgressEvent, task: Any = task, name: str = path.name) -> None:
                frac = event.fraction
                label = f"  {name} [dim]{event.stage}[/]"
                bar.update(task, description=label, completed=100 * frac if frac is not None else None)

            try:
                record = run_one(path, on_progress)
                record = {"input": str(path), "status": "ok", **record}
            except OctaviaError as error:
                record = {"input": str(path), "status": "failed", "error": error.to_dict()}
                failure_codes.append(exit_code_for(error))
                if not as_json:
                    err.print(f"[red]✗ {escape(str(path))}[/]")
                    print_error(error)
            except KeyboardInterrupt:
                err.print("Interrupted; finished stages are kept, re-run the same command to resume.")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            bar.update(task, completed=100, visible=False)
            bar.advance(overall)
            records.append(record)
            if not as_json and record["status"] == "ok":
                _print_record(err, record)
    failed = sum(r["status"] == "failed" for r in records)
    if as_json:
        summary = {"ok": failed == 0, "succeeded": len(records) - failed, "failed": failed, "files": records}
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    elif len(records) > 1:
        err.print(f"{len(records) - failed} succeeded, {failed} failed")
    if failed and failed == len(records) and set(failure_codes) == {EXIT_ENVIRONMENT}:
        # Nothing succeeded, and not because of the inputs: a model or package is missing here.
        return EXIT_ENVIRONMENT
    return EXIT_FAILED if failed else EXIT_OK


def _print_record(console: Any, record: dict[str, Any]) -> None:
    from rich.markup import escape

    console.print(f"[green]✓[/] {record['input']}  [dim]{record.get('seconds', 0):.1f}s[/]")
    for model in (record.get("models") or {}).values():
        if isinstance(model, dict) and model.get("source"):
            console.print(
                f"    [dim]model:[/] {model['engine']} {model['model']} [dim]({model['source']})[/]"
            )
        elif isinstance(model, dict):
            console.print(
                f"    [dim]engine:[/] {model.get('engine')} {model.get('model') or model.get('detail', '')}"
            )
    for name, out in (record.get("outputs") or {}).items():
        console.print(f"    [dim]{name}:[/] {out}")
    warnings = sum(len(w) for w in (record.get("layout_warnings") or {}).values())
    if warnings:
        console.print(f"    [yellow]{warnings} layout warning(s); see --json for details[/]")
    for language, report in (record.get("report") or {}).items():  # the dub report's flagged lines
        rows = {r["index"]: r for r in report.get("segments", ())}
        for index in report.get("flagged", ()):
            row = rows[index]
            console.print(
                f"    [yellow]flagged {language} #{index + 1}[/] {row['error']:.0%} error: "
                f"meant {escape(repr(row['text']))}, heard {escape(repr(row['heard']))}"
            )
    for warning in record.get("warnings") or ():  # e.g. an `auto` choice that fell back
        console.print(f"    [yellow]warning:[/] {escape(str(warning))}")
