"""``octavia subtitle``: speech in audio/video files → SRT, WebVTT and ASS subtitles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from octavia.cli.batch import expand_inputs, parse_list, run_batch
from octavia.pipeline.options import Layout, Style, SubtitleOptions, default

# Options shared with other media commands live here so each is declared once.
LANGUAGE = typer.Option(
    None, "--language", "-l", help="Spoken language (ISO 639-1, e.g. en). Default: detect."
)
TRANSCRIBER = typer.Option(
    None, "--transcriber", help="whisper (local, default) or openai (hosted; needs OCTAVIA_OPENAI_API_KEY)."
)
MODEL = typer.Option(
    None, "--model", "-m", help="Whisper size (tiny, base, small, ...), a model directory, or auto."
)
DEVICE = typer.Option(None, "--device", help="auto, cpu or cuda.")
COMPUTE_TYPE = typer.Option(
    None, "--compute-type", help="CTranslate2 compute type: int8, float16, ... (default: per device)."
)
OUT_DIR = typer.Option(None, "--out-dir", "-o", help="Where outputs go (default: next to each input).")
WORK_DIR = typer.Option(
    None, "--work-dir", help="Checkpoints (default: OUT_DIR/.octavia). Re-runs resume from here."
)
JSON = typer.Option(False, "--json", help="Print a machine-readable summary on stdout.")
OFFLINE = typer.Option(None, "--offline/--online", help="Never download models (default: OCTAVIA_OFFLINE).")
TRANSLATOR = typer.Option(
    None, "--translator", help="auto, marian, hf, apertium, llm or whisper (speech → English)."
)
KEEP_TERMS = typer.Option(None, "--keep-terms", help="Comma-separated terms to keep untranslated.")
GLOSSARY = typer.Option(
    None, "--glossary", help="CSV/TSV or JSON file of source term → target term renderings.", dir_okay=False
)
BATCH = typer.Option(
    default(SubtitleOptions, "batch"),
    "--batch/--no-batch",
    help="Decode speech in batches (faster; default), or with Whisper's sequential decoder.",
)

DIARIZE = typer.Option(
    None,
    "--diarize/--no-diarize",
    help="Label who speaks (Speaker 1, 2, ...) and split lines at speaker changes. "
    "Default: on for translate-audio and dub, off for subtitle (on when a speaker count is given).",
)
SPEAKERS = typer.Option(
    None, "--speakers", help="How many speakers there are (default: found automatically)."
)
MIN_SPEAKERS = typer.Option(
    None, "--min-speakers", help="At least this many speakers (when found automatically)."
)
MAX_SPEAKERS = typer.Option(
    None, "--max-speakers", help="At most this many speakers (when found automatically)."
)
DIARIZER = typer.Option(
    None, "--diarizer", help="d-vector (offline, default) or pyannote (needs pyannote.audio and HF_TOKEN)."
)
SPEAKER_LABELS = typer.Option(
    None,
    "--speaker-labels",
    help="SRT speaker marks: none (default), name ('Speaker 1: ...'), dash ('- ' at changes).",
)


def speaker_options(**flags: Any) -> dict[str, Any]:
    """The diarization flags that were given, as option names."""
    return {k: v for k, v in flags.items() if v is not None}


def read_glossary(path: Path | None) -> dict[str, str] | None:
    from octavia.pipeline.glossary import load_glossary

    return load_glossary(path) if path is not None else None


def settings_from_flags(**flags: Any) -> Any:
    from octavia.config import load_settings

    return load_settings(**flags)


def register(app: typer.Typer) -> None:
    @app.command()
    def subtitle(
        files: list[str] = typer.Argument(..., help="Media files, directories or glob patterns."),
        language: str | None = LANGUAGE,
        to: str | None = typer.Option(None, "--to", "-t", help="Also write translated subtitles: es,fr,..."),
        format: str = typer.Option(
            "srt",
            "--format",
            "-f",
            help="Comma-separated: srt, vtt, ass, json (the transcript, with speakers).",
        ),
        model: str | None = MODEL,
        transcriber: str | None = TRANSCRIBER,
        device: str | None = DEVICE,
        compute_type: str | None = COMPUTE_TYPE,
        out_dir: Path | None = OUT_DIR,
        work_dir: Path | None = WORK_DIR,
        as_json: bool = JSON,
        offline: bool | None = OFFLINE,
        translator: str | None = TRANSLATOR,
        keep_terms: str | None = KEEP_TERMS,
        glossary: Path | None = GLOSSARY,
        vad: bool = typer.Option(
            default(SubtitleOptions, "vad"),
            "--vad/--no-vad",
            help="Skip silence with Silero VAD before transcribing.",
        ),
        batch: bool = BATCH,
        max_chars: int = typer.Option(
            default(Layout, "max_chars_per_line"), help="Characters per subtitle line."
        ),
        max_lines: int = typer.Option(default(Layout, "max_lines"), help="Lines per cue."),
        max_cps: float = typer.Option(
            default(Layout, "max_cps"), help="Reading speed cap, characters per second."
        ),
        font: str | None = typer.Option(None, help=f"ASS font name (default {default(Style, 'font_name')})."),
        font_size: float | None = typer.Option(
            None, help=f"ASS font size at 1080p (default {default(Style, 'font_size'):g})."
        ),
        outline: float | None = typer.Option(
            None, help=f"ASS outline width (default {default(Style, 'outline'):g})."
        ),
        diarize: bool | None = DIARIZE,
        speakers: int | None = SPEAKERS,
        min_speakers: int | None = MIN_SPEAKERS,
        max_speakers: int | None = MAX_SPEAKERS,
        diarizer: str | None = DIARIZER,
        speaker_labels: str | None = SPEAKER_LABELS,
    ) -> None:
        """Transcribe speech into subtitles (SRT, WebVTT, ASS), optionally translated.

        Finished stages are checkpointed: re-running after an interruption does not transcribe again.
        Exit code 1 when any file failed (the others still complete).
        """
        from octavia.api import run
        from octavia.pipeline.factory import Engines
        from octavia.pipeline.options import parse_options

        style = {"font_name": font, "font_size": font_size, "outline": outline}
        options = parse_options("subtitle", {  # every file's options, checked before the first one runs
            "whisper_model": model, "transcriber": transcriber, "translator": translator,
            "keep_terms": parse_list(keep_terms), "vad": vad, "batch": batch, "glossary": read_glossary(glossary) or {},
            "layout": {"max_chars_per_line": max_chars, "max_lines": max_lines, "max_cps": max_cps},
            "ass_style": {k: v for k, v in style.items() if v is not None},
            **speaker_options(diarize=diarize, speakers=speakers, min_speakers=min_speakers,
                              max_speakers=max_speakers, diarizer=diarizer, speaker_labels=speaker_labels),
        })  # fmt: skip
        settings = settings_from_flags(device=device, compute_type=compute_type, offline=offline)
        engines = Engines(settings)

        def one(path: Path, progress: Any) -> dict[str, Any]:
            out = out_dir or path.parent
            result = run(
                "subtitle", path, to=parse_list(to), language=language, formats=parse_list(format),
                out_dir=out, work_dir=_work_dir(path, work_dir, out), settings=settings, engines=engines,
                progress=progress, options=options,
            )  # fmt: skip
            return {**result.info, "outputs": {k: str(v) for k, v in result.outputs.items()}}

        code = run_batch(expand_inputs(files), one, as_json=as_json, title="Subtitling")
        raise typer.Exit(code)


def _work_dir(path: Path, work_dir: Path | None, out: Path) -> Path:
    from octavia.api import work_dir_name

    return (work_dir or out / ".octavia") / work_dir_name(path)
