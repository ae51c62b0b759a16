"""Checkpointed stages shared by every job kind, and the subtitle job itself.

Each stage computes a fingerprint from its inputs' fingerprints, the engine and its options;
when the workspace already holds a matching checkpoint the stage loads it instead of running.
The dubbing kinds (``octavia.pipeline.dubbing``) reuse :func:`extract_stage`,
:func:`transcribe_stage` and :func:`translate_stage`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from octavia import formats
from octavia.errors import InputError, MissingDependency, ModelDownloadFailed, ModelNotAvailable, OctaviaError
from octavia.pipeline import media
from octavia.pipeline.jobs import JobContext
from octavia.pipeline.progress import check_cancelled
from octavia.pipeline.translation import AutoTranslator
from octavia.pipeline.whisper import WhisperEngine, decoding_id
from octavia.pipeline.workspace import atomic_path, file_digest, fingerprint, read_json, write_json
from octavia.types import MediaInfo, Transcript

if TYPE_CHECKING:
    from octavia.pipeline.fitting.budget import LengthBudget

T = TypeVar("T")


@dataclass(frozen=True)
class Checkpointed(Generic[T]):
    value: T
    fingerprint: str


def run_stage(
    ctx: JobContext,
    name: str,
    fp: str,
    artifacts: list[str],
    produce: Callable[[], None],
    load: Callable[[], T],
) -> Checkpointed[T]:
    """Run ``produce`` unless a checkpoint with ``fp`` exists, then ``load`` the artifact."""
    stages = ctx.info.setdefault("stages", {})
    if ctx.workspace.is_done(name, fp):
        stages[name] = {"resumed": True, "seconds": 0.0}
        return Checkpointed(load(), fp)
    check_cancelled(ctx.cancel)
    started = time.perf_counter()
    produce()
    ctx.workspace.mark_done(name, fp, artifacts)
    stages[name] = {"resumed": False, "seconds": round(time.perf_counter() - started, 3)}
    if ctx.on_checkpoint is not None:
        ctx.on_checkpoint(name)
    return Checkpointed(load(), fp)


def extract_stage(ctx: JobContext) -> tuple[Checkpointed[Path], MediaInfo]:
    """Probe the source and decode its audio to 16 kHz mono (what Whisper takes)."""
    src = Path(ctx.spec.source)
    info = media.probe(src)
    media.require_audio(info)
    ctx.info.update(source=str(src), duration=round(info.duration, 3), has_video=info.has_video)
    audio = ctx.workspace.path("audio.wav")
    fp = fingerprint("extract", file_digest(src), media.SAMPLE_RATE)

    def produce() -> None:
        ctx.report("extract", 0, 1)
        with atomic_path(audio) as tmp:
            media.extract_audio(src, tmp, ffmpeg=media.FFmpeg(ctx.engines.settings.ffmpeg))
        ctx.report("extract", 1, 1)

    return run_stage(ctx, "extract", fp, [audio.name], produce, lambda: audio), info


def transcribe_stage(ctx: JobContext, audio: Checkpointed[Path]) -> Checkpointed[Transcript]:
    language = ctx.spec.source_language
    vad = ctx.spec.options.vad
    engine_id, load, described = _speech_engine(ctx, language)
    ctx.info.setdefault("models", {})["transcriber"] = described
    path = ctx.workspace.path("transcript.json")
    opts = ctx.spec.options
    fp = fingerprint("transcribe", audio.fingerprint, engine_id, language, _decoding(ctx, "transcribe"))

    def produce() -> None:
        engine = load()
        # Per call, never set on the engine: worker threads share one loaded model.
        if isinstance(engine, WhisperEngine):
            transcript = engine.transcribe(
                audio.value, language=language, progress=ctx.progress, vad_filter=vad,
                batch_size=opts.whisper_batch_size, beam_size=opts.beam_size,
            )  # fmt: skip
        else:  # a hosted engine has no VAD option
            transcript = engine.transcribe(audio.value, language=language, progress=ctx.progress)
        write_json(path, transcript.to_dict())

    result = run_stage(
        ctx, "transcribe", fp, [path.name], produce, lambda: Transcript.from_dict(read_json(path))
    )
    t = result.value
    ctx.info.update(
        language=t.language, language_probability=t.language_probability, segments=len(t.segments)
    )
    return result


def _decoding(ctx: JobContext, task: Literal["transcribe", "translate"]) -> str:
    """The decoding choice, for fingerprints: batched and sequential output may differ."""
    o = ctx.spec.options
    return decoding_id(task, vad=o.vad, batch_size=o.whisper_batch_size, beam_size=o.beam_size)


def _speech_engine(ctx: JobContext, language: str | None) -> tuple[str, Callable[[], Any], dict[str, Any]]:
    """(engine id, loader, description) of the speech engine: local Whisper or the OpenAI API.

    The id comes from the *resolved* model, not a loaded one, so a resumed run loads nothing.
    """
    opts, settings = ctx.spec.options, ctx.engines.settings
    if (opts.transcriber or settings.transcriber) == "openai":
        hosted = ctx.engines.hosted_transcriber()
        return (
            hosted.engine_id,
            lambda: hosted,
            {"engine": "openai", "model": hosted.model, "source": "hosted"},
        )
    model = ctx.engines.whisper_model(opts.whisper_model, language)
    engine_id = f"faster-whisper:{model.path}:{settings.device}:{settings.compute_type}"
    return engine_id, lambda: ctx.engines.whisper(opts.whisper_model, language), model.to_dict()


def translate_stage(
    ctx: JobContext, audio: Checkpointed[Path], transcript: Checkpointed[Transcript], target: str,
    budget: LengthBudget | None = None,
) -> Checkpointed[Transcript]:  # fmt: skip
    """Translate to ``target`` with a text translator, or with Whisper from the speech itself.

    ``translator="auto"`` uses a text model when one is available for the pair and falls back
    to Whisper speech translation when the target is English and no text model exists.
    ``budget`` (dubbing): length-aware translators aim at each sentence's time budget.
    """
    source = transcript.value.language
    if target == source:
        return transcript
    opts = ctx.spec.options
    name = str(opts.translator or ctx.engines.settings.translator)
    path = ctx.workspace.path(f"translation.{target}.json")
    keep_terms = opts.keep_terms
    choice: dict[str, str] = {"engine": name}
    engine_id: str | None = None
    passed_over: OctaviaError | None = None  # why a better text model was not used
    if name == "auto" and target == "en":
        passed_over = _marian_unavailable(ctx, source, target)
        if passed_over is not None:
            name = "whisper"  # straight from the speech beats a rule-based text fallback
    note: str | None = None
    if name != "whisper":
        try:
            translator = ctx.engines.translator(name)
            engine_id = translator.engine_id(source, target)
            note = (
                translator.fallback_note(source, target) if isinstance(translator, AutoTranslator) else None
            )
        except ModelNotAvailable as exc:
            if name != "auto" or target != "en":
                raise
            name, passed_over = "whisper", exc
    if name == "whisper":
        if target != "en":
            raise InputError(
                f"Whisper translates speech into English only, not into {target!r}.",
                "Use --translator marian (or auto) for other target languages.",
            )
        speech_id, load_speech, _ = _speech_engine(ctx, source)
        engine_id = f"translate-speech:{speech_id}:{_decoding(ctx, 'translate')}"
        choice = {"engine": "whisper", "detail": "speech translation (task=translate)"}
        if isinstance(passed_over, ModelDownloadFailed | MissingDependency):
            note = f"{passed_over.message} Translated into English with Whisper from the speech instead."
    else:
        choice = {"engine": name, "model": str(engine_id)}
    if note:
        choice["warning"] = note
    record_model(ctx, f"translator:{target}", choice)
    glossary = opts.glossary
    fp = fingerprint("translate", transcript.fingerprint, target, engine_id, keep_terms,
                     *([budget.fingerprint()] if budget is not None else []),
                     *([sorted(glossary.items())] if glossary else []))  # fmt: skip

    def produce() -> None:
        if name == "whisper":
            speech = load_speech()
            if isinstance(speech, WhisperEngine):
                result = speech.translate_speech(audio.value, language=source, progress=ctx.progress,
                                                 vad_filter=opts.vad, batch_size=opts.whisper_batch_size,
                                                 beam_size=opts.beam_size)  # fmt: skip
            else:
                result = speech.translate_speech(audio.value, language=source, progress=ctx.progress)
        else:
            from octavia.pipeline.llm import collect_fallbacks
            from octavia.pipeline.translation import translate_segments

            with collect_fallbacks() as fallbacks:  # windows an LLM handed to its fallback
                segments = translate_segments(
                    transcript.value.segments, ctx.engines.translator(name), source=source, target=target,
                    keep_terms=keep_terms, progress=ctx.progress, budget=budget,
                    media_end=transcript.value.duration or None, glossary=glossary,
                )  # fmt: skip
            for note in fallbacks:
                record_model(ctx, f"translator:{target}", {**choice, "warning": note})
            result = Transcript(language=target, segments=tuple(segments), duration=transcript.value.duration)
        write_json(path, result.to_dict())

    return run_stage(ctx, f"translate:{target}", fp, [path.name], produce,
                     lambda: Transcript.from_dict(read_json(path)))  # fmt: skip


def _marian_unavailable(ctx: JobContext, source: str, target: str) -> OctaviaError | None:
    """Why no opus-mt model (direct or via English) can be had for the pair; None when one can."""
    try:
        ctx.engines.translator("marian").engine_id(source, target)
    except (ModelNotAvailable, MissingDependency) as exc:  # MissingDependency: cannot convert
        return exc
    return None


def record_model(ctx: JobContext, key: str, description: dict[str, str]) -> None:
    """Record what a stage used; a ``warning`` in it (an ``auto`` fallback) also goes into the
    job's ``warnings``, which the CLI summary prints and ``--json`` carries."""
    ctx.info.setdefault("models", {})[key] = description
    warning = description.get("warning")
    warnings = ctx.info.setdefault("warnings", [])
    if warning and warning not in warnings:
        warnings.append(warning)


def write_subtitles(ctx: JobContext, transcript: Transcript, language: str) -> None:
    """Lay out cues and write one file per requested format; warnings go into ``ctx.info``."""
    from octavia.formats.layout import segments_to_cues

    opts = ctx.spec.options
    layout = segments_to_cues(transcript.segments, opts.layout.rules(), media_end=transcript.duration or None)
    style = opts.ass_style.style()
    warnings = ctx.info.setdefault("layout_warnings", {})
    for fmt in ctx.spec.formats:
        out = ctx.output_path(f".{language}.{fmt}")
        with atomic_path(out) as tmp:
            if fmt == "json":  # the transcript itself: segments with speaker and words
                from octavia.formats.transcript import dumps_transcript

                tmp.write_text(dumps_transcript(transcript), encoding="utf-8")
            else:  # tmp keeps the suffix the writer dispatches on
                formats.write(layout.cues, tmp, ass_style=style, speaker_labels=opts.speaker_labels)
        ctx.outputs[f"subtitles.{language}.{fmt}"] = out
        warnings[out.name] = [w.to_dict() for w in layout.warnings]
    ctx.report("subtitles", 1, 1, language)


def run_subtitle(ctx: JobContext) -> None:
    """Speech → subtitles in the spoken language, plus one set per target language."""
    unknown = [f for f in ctx.spec.formats if f not in formats.OUTPUT_FORMATS]
    if unknown:
        raise InputError(
            f"Unknown subtitle format(s): {', '.join(unknown)}.", f"Use {', '.join(formats.OUTPUT_FORMATS)}."
        )
    from octavia.pipeline.diarization.stage import diarize_stage

    audio, _ = extract_stage(ctx)
    transcript = diarize_stage(ctx, audio, transcribe_stage(ctx, audio))
    write_subtitles(ctx, transcript.value, transcript.value.language)
    for target in ctx.spec.languages:
        if target != transcript.value.language:
            translated = translate_stage(ctx, audio, transcript, target)
            write_subtitles(ctx, translated.value, target)
