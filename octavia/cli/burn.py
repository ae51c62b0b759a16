"""``octavia burn``: render a subtitle file into a video's picture (open captions)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command()
    def burn(
        video: Path = typer.Argument(..., help="The video to burn subtitles into."),
        subtitles: Path = typer.Argument(..., help="An .srt, .vtt or .ass file (ASS styles are kept)."),
        output: Path | None = typer.Option(
            None, "--output", "-o", help="Output video (default: VIDEO.burned.EXT)."
        ),
        fonts_dir: Path | None = typer.Option(
            None, "--fonts-dir", help="A folder of fonts to use besides the system's (fontconfig)."
        ),
        crf: int = typer.Option(20, "--crf", min=0, max=51, help="x264 quality: lower is better and bigger."),
        preset: str = typer.Option("veryfast", "--preset", help="x264 preset (ultrafast ... veryslow)."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable summary."),
    ) -> None:
        """Burn subtitles into the picture (libass: styles, right-to-left and CJK shaping), re-encoding
        the video with x264 and copying its audio and soft subtitle tracks."""
        from rich.console import Console

        from octavia.pipeline.burn import burn as burn_video

        dest = output or video.with_name(f"{video.stem}.burned{video.suffix or '.mp4'}")
        console = Console(stderr=True)
        shown = [-1]

        def progress(done: float, total: float) -> None:
            percent = int(100 * done / total) if total else 100
            if not as_json and percent // 10 != shown[0]:
                shown[0] = percent // 10
                console.print(f"burning {video.name}: {percent}%", highlight=False)

        report = burn_video(
            video, subtitles, dest, fonts_dir=fonts_dir, crf=crf, preset=preset, on_progress=progress
        )
        if as_json:
            sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
            return
        if report.warning:
            console.print(f"[yellow]Warning:[/] {report.warning}", highlight=False)
        typer.echo(str(report.output))
