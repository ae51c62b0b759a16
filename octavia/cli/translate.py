"""``octavia translate``: existing SRT/WebVTT/ASS files → the same subtitles in other languages.

Timing, ASS styles (the whole header) and per-cue fields are kept; each translated cue is
re-broken into lines with the layout rules. ``talk.en.srt --to es`` writes ``talk.es.srt``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import typer

from octavia.cli.batch import expand_inputs, parse_list, run_batch
from octavia.cli.subtitle import (
    COMPUTE_TYPE,
    DEVICE,
    GLOSSARY,
    JSON,
    KEEP_TERMS,
    OFFLINE,
    OUT_DIR,
    read_glossary,
    settings_from_flags,
)  # fmt: skip
from octavia.pipeline.options import Layout, default

SUBTITLE_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")
_LANG_SUFFIX = re.compile(r"^[a-z]{2}(?:[-_][A-Za-z]{2,4})?$")


def expand_subtitles(items: list[str]) -> list[Path]:
    """Subtitle files as given; directories searched recursively for subtitle files; globs."""
    expanded: list[str] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            expanded += sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in SUBTITLE_SUFFIXES)
        else:
            expanded.append(item)
    return expand_inputs(expanded)


def split_name(path: Path) -> tuple[str, str | None]:
    """("talk", "en") for talk.en.srt; ("talk", None) for talk.srt."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    base, dot, lang = stem.rpartition(".")
    if dot and base and _LANG_SUFFIX.match(lang):
        return base, lang.lower().replace("_", "-")
    return stem, None


def translate_file(
    path: Path, *, targets: tuple[str, ...], source: str | None, translator: Any, out_dir: Path | None,
    keep_terms: tuple[str, ...], rules: Any, progress: Any, encoding: str | None = None,
    glossary: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    from octavia import formats
    from octavia.errors import InputError
    from octavia.pipeline.llm import collect_fallbacks
    from octavia.pipeline.translation import AutoTranslator, translate_cues
    from octavia.pipeline.workspace import atomic_path

    started = time.perf_counter()
    doc = formats.read_document(path, encoding=encoding)
    base, named = split_name(path)
    source = source or named
    if not source:
        raise InputError(
            f"The language of {path.name} is unknown.",
            "Pass --from LANG, or name the file like talk.en.srt.",
        )
    out = out_dir or path.parent
    out.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, str] = {}
    engines: dict[str, str] = {}
    warnings: list[str] = []
    for target in targets:
        if target == source:
            continue
        engines[target] = translator.engine_id(source, target)
        note = translator.fallback_note(source, target) if isinstance(translator, AutoTranslator) else None
        if note:
            warnings.append(note)
        with collect_fallbacks() as fallbacks:  # windows an LLM handed to its fallback
            cues = translate_cues(doc.cues, translator, source=source, target=target, keep_terms=keep_terms,
                                  progress=progress, layout=rules, glossary=glossary)  # fmt: skip
        warnings += fallbacks
        dest = out / f"{base}.{target}{path.suffix}"
        if dest.resolve() == path.resolve():
            raise InputError(f"Translating {path.name} would overwrite it.", "Pass --out-dir.")
        with atomic_path(dest) as tmp:
            formats.write(cues, tmp, ass_header=doc.header if doc.fmt == "ass" else None,
                          vtt_header=doc.header if doc.fmt == "vtt" else None)  # fmt: skip
        outputs[f"subtitles.{target}{path.suffix}"] = str(dest)
    record: dict[str, Any] = {
        "source_language": source,
        "cues": len(doc.cues),
        "models": {f"translator:{t}": {"engine": "translate", "model": e} for t, e in engines.items()},
        "outputs": outputs,
        "warnings": warnings,
        "seconds": round(time.perf_counter() - started, 3),
    }
    if doc.warnings:  # what the reader skipped or repaired, reported like layout warnings
        record["layout_warnings"] = {path.name: [w.to_dict() for w in doc.warnings]}
    return record


def register(app: typer.Typer) -> None:
    @app.command()
    def translate(
        files: list[str] = typer.Argument(..., help="SRT, VTT or ASS files, directories or glob patterns."),
        to: str = typer.Option(..., "--to", "-t", help="Target languages, comma-separated: es,fr."),
        source: str | None = typer.Option(
            None, "--from", "-s", help="Language of the files (default: from names like talk.en.srt)."
        ),
        translator: str | None = typer.Option(None, "--translator", help="auto, marian, hf, apertium, llm."),
        model: str | None = typer.Option(None, "--model", "-m", help="A converted opus-mt model directory."),
        keep_terms: str | None = KEEP_TERMS,
        glossary: Path | None = GLOSSARY,
        out_dir: Path | None = OUT_DIR,
        as_json: bool = JSON,
        offline: bool | None = OFFLINE,
        device: str | None = DEVICE,
        compute_type: str | None = COMPUTE_TYPE,
        max_chars: int = typer.Option(
            default(Layout, "max_chars_per_line"), help="Characters per subtitle line."
        ),
        max_lines: int = typer.Option(default(Layout, "max_lines"), help="Lines per cue."),
        encoding: str | None = typer.Option(
            None, "--encoding", help="Text encoding of the files, e.g. cp1252 (default: detected)."
        ),
    ) -> None:
        """Translate subtitle files, keeping their timing and ASS styling.

        Exit code 1 when any file failed (the others still complete).
        """
        from octavia.formats.rules import LayoutRules
        from octavia.pipeline.models import ModelResolver
        from octavia.pipeline.translation import make_translator

        settings = settings_from_flags(device=device, compute_type=compute_type, offline=offline)
        if translator == "whisper":
            from octavia.errors import InputError

            raise InputError(
                "Whisper translates speech, and subtitle files hold only text.",
                "Use --translator auto, marian, hf, apertium or llm; or run `octavia subtitle MEDIA --to en`.",
            )
        name = translator or settings.translator
        if name == "whisper":
            name = "auto"  # a configured default meant for media; subtitle files are text
        if model is not None and name == "auto":
            name = "marian"
        engine = make_translator(name, settings, ModelResolver.from_settings(settings), model_dir=model)
        rules = LayoutRules(max_chars_per_line=max_chars, max_lines=max_lines)
        terms = read_glossary(glossary)
        targets = parse_list(to)

        def one(path: Path, progress: Any) -> dict[str, Any]:
            return translate_file(path, targets=targets, source=source, translator=engine, out_dir=out_dir,
                                  keep_terms=parse_list(keep_terms), rules=rules, progress=progress,
                                  encoding=encoding, glossary=terms)  # fmt: skip

        code = run_batch(expand_subtitles(files), one, as_json=as_json, title="Translating")
        raise typer.Exit(code)
