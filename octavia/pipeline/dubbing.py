"""The ``translate-audio`` and ``dub`` job kinds.

Stages, each checkpointed in the job's workspace (a re-run resumes):
extract → transcribe → translate (shared with ``subtitle``, from :mod:`octavia.pipeline.stages`)
→ [review: stop and write an editable transcript] → bed (the original audio at 48 kHz, or its
background with the voice removed) → synthesize (clips cached by text+voice+engine) → fit + mix
(:mod:`octavia.pipeline.fitting`: shorter renderings for clips that need more than a gentle
speed-up, then every clip placed whole) → encode (translate-audio) or mux (dub).

Options: :class:`~octavia.pipeline.options.TranslateAudioOptions` and
:class:`~octavia.pipeline.options.DubOptions` (validated, with their defaults, before any stage).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia import formats
from octavia.errors import EngineError, InputError, MissingDependency, ModelNotAvailable
from octavia.pipeline import media, review, timing
from octavia.pipeline.casting.stage import choose_cast, segment_voices
from octavia.pipeline.dubreport import report as dubreport
from octavia.pipeline.fitting import flow as fit_flow
from octavia.pipeline.fitting import mixing
from octavia.pipeline.jobs import JobContext
from octavia.pipeline.options import SpeechOptions, TranslateAudioOptions
from octavia.pipeline.stages import (
    Checkpointed,
    extract_stage,
    record_model,
    run_stage,
    transcribe_stage,
    translate_stage,
)
from octavia.pipeline.synthesis import describe, synthesize_segments
from octavia.pipeline.workspace import atomic_path, file_digest, fingerprint, read_json, write_json
from octavia.types import MediaInfo, Transcript

if TYPE_CHECKING:
    from octavia.pipeline.fitting.budget import LengthBudget

JOB_FILE = "job.json"
VIDEO_SUFFIXES = {".mp4": ".mp4", ".m4v": ".mp4", ".mov": ".mp4"}  # everything else → .mkv


def run_translate_audio(ctx: JobContext) -> None:
    _run(ctx, video=False)


def run_dub(ctx: JobContext) -> None:
    _run(ctx, video=True)


def _options(ctx: JobContext) -> SpeechOptions:
    opts = ctx.spec.options
    if not isinstance(opts, SpeechOptions):  # JobSpec builds the kind's model; this is a bug guard
        raise InputError(f"A {ctx.spec.kind} job needs speech options, not {type(opts).__name__}.")
    return opts


def _run(ctx: JobContext, *, video: bool) -> None:
    opts = _options(ctx)
    if not ctx.spec.languages:
        raise InputError("No target language was given.", "Pass --to LANG, e.g. --to es.")
    write_json(ctx.workspace.path(JOB_FILE), {**ctx.spec.to_dict(), "out_dir": str(ctx.out_dir)})
    audio, info = extract_stage(ctx)
    if video and not info.has_video:
        raise InputError(
            f"{ctx.spec.source} has no video stream.", "Use `octavia translate-audio` for audio files."
        )
    from octavia.pipeline.diarization.stage import diarize_stage

    transcript = diarize_stage(ctx, audio, transcribe_stage(ctx, audio))
    source = transcript.value.language
    for target in ctx.spec.languages if video else ():
        _burn_language(ctx, target, source)  # a wrong --burn-subtitles LANG fails before any speech is made
    translations = {
        t: translate_stage(ctx, audio, transcript, t, budget=_length_budget(ctx, t, audio, transcript.value))
        for t in ctx.spec.languages
    }
    if opts.review:
        _write_reviews(ctx, transcript.value, translations, audio)
        return
    bed = _bed_stage(ctx, info)
    for target, translated in translations.items():
        path = ctx.workspace.path(f"review.{target}.txt")
        segments, review_voices = review.load_review(path, translated.value.segments)
        edited = Transcript(target, tuple(segments), duration=info.duration)
        mixed, edited, voices = _dub_track(ctx, audio, transcript.value, translated.value, edited, bed, info,
                                           review_voices)  # fmt: skip
        heard = _verify(ctx, edited, mixed, voices)
        if video:
            out = _mux(ctx, edited, mixed.value, source, original=transcript.value)
        else:
            chosen = opts.audio_format if isinstance(opts, TranslateAudioOptions) else None
            suffix = f".{chosen}" if chosen else _audio_suffix(ctx.spec.source)
            out = ctx.output_path(f".{target}{suffix}")
            with atomic_path(out) as tmp:
                media.encode_audio(mixed.value, tmp, language=target, ffmpeg=_ff(ctx))
            ctx.outputs[f"audio.{target}"] = out
        if heard is not None:
            dubreport.write_report(ctx, heard, media_file=out, duration=info.duration)
    _check_overflow(ctx)
    dubreport.check_strict(ctx)


def _verify(
    ctx: JobContext, edited: Transcript, mixed: Checkpointed[Path], voices: list[str | None]
) -> dict[str, Any] | None:
    """Each placed line heard back (the dub report), unless the job turned ``verify`` off."""
    opts = _options(ctx)
    if not opts.verify:
        return None
    records = ctx.info["timing"][edited.language]["segments"]
    return dubreport.verify_stage(ctx, edited, mixed, records, voices=voices, max_error=opts.max_error)


def _ff(ctx: JobContext) -> media.FFmpeg:
    return media.FFmpeg(ctx.engines.settings.ffmpeg)


def _audio_suffix(source: Path) -> str:
    suffix = Path(source).suffix.lower()
    return suffix if suffix in media.AUDIO_CODECS else ".wav"


def _write_reviews(
    ctx: JobContext, original: Transcript, translations: dict[str, Checkpointed[Transcript]],
    audio: Checkpointed[Path],
) -> None:  # fmt: skip
    kind = ctx.spec.kind
    hint = f"octavia {kind} --resume {ctx.workspace.root}"
    for target, translated in translations.items():
        path = ctx.workspace.path(f"review.{target}.txt")
        # An edited file is never overwritten: re-running --review keeps the person's work.
        if not path.exists():
            cast = _review_cast(ctx, target, audio, original, translated.value)
            text = review.render(original.segments, translated.value.segments, source=original.language,
                                 target=target, resume_hint=hint, cast=cast)  # fmt: skip
            with atomic_path(path) as tmp:
                tmp.write_text(text, encoding="utf-8")
        ctx.outputs[f"review.{target}"] = path
    ctx.info["review"] = {"workspace": str(ctx.workspace.root), "resume": hint}


def _review_cast(
    ctx: JobContext, target: str, audio: Checkpointed[Path], original: Transcript, translated: Transcript
) -> dict[str, str]:
    """The cast the dub would use, shown (and editable) in the review file; none without speakers."""
    if not any(s.speaker for s in translated.segments):
        return {}
    synth, voice = _synthesizer(ctx, target, audio, original)
    cast = choose_cast(ctx, synth, target, audio.value, translated.segments, voice=voice)
    return {k: v for k, v in cast.items() if v and not v.endswith(".wav")}  # clone clips are not names


def _bed_stage(ctx: JobContext, info: MediaInfo) -> Checkpointed[Path]:
    """The original audio at the mix rate (stereo kept), or its background without the voice."""
    from octavia.pipeline import separation

    opts = _options(ctx)
    plan = separation.plan(opts.background, opts.separator, ctx.engines.resolver)
    ctx.info["background"] = plan.to_dict()
    engine = plan.separator if plan.mode == "separate" else None
    channels = min(2, max(1, info.audio_streams[0].channels or 1))
    bed = ctx.workspace.path("bed.wav")
    fp = fingerprint("bed", file_digest(Path(ctx.spec.source)), timing.MIX_RATE, channels, engine)

    def produce() -> None:
        ctx.report("bed", 0, 1)
        with atomic_path(bed) as tmp:
            if engine is None:
                media.extract_audio(Path(ctx.spec.source), tmp, sample_rate=timing.MIX_RATE, channels=channels,
                                    ffmpeg=_ff(ctx))  # fmt: skip
            else:
                separation.separate_background(
                    engine, Path(ctx.spec.source), tmp, sample_rate=timing.MIX_RATE, channels=channels,
                    resolver=ctx.engines.resolver, ffmpeg=_ff(ctx),
                    device=ctx.engines.settings.device.replace("auto", "cpu"),
                    progress=lambda done, total: ctx.report("separate", done, total),
                )  # fmt: skip
        ctx.report("bed", 1, 1)

    return run_stage(ctx, "bed", fp, [bed.name], produce, lambda: bed)


def _bed_gain_db(ctx: JobContext) -> float | None:
    """The bed's gain under dubbed lines for the mode :func:`_bed_stage` chose; None = no bed."""
    from octavia.pipeline.separation import GENTLE_DUCK_DB

    mode = ctx.info.get("background", {}).get("mode", "duck")
    gains = {"separate": GENTLE_DUCK_DB, "duck": _options(ctx).duck_db, "keep": 0.0}
    return gains.get(mode)


def _clone_reference(ctx: JobContext, audio: Checkpointed[Path], original: Transcript) -> Path:
    """A reference clip of the original speaker for XTTS: the longest segment, up to 12 s."""
    ref = ctx.workspace.path("voice-reference.wav")
    if not ref.exists():
        seg = max(original.segments, key=lambda s: s.duration, default=None)
        if seg is None:
            raise InputError("No speech was found to clone the voice from.")
        with atomic_path(ref) as tmp:
            media.cut_audio(
                audio.value, tmp, start=seg.start, duration=min(seg.duration, 12.0), ffmpeg=_ff(ctx)
            )
    return ref


def _synthesizer(
    ctx: JobContext, target: str, audio: Checkpointed[Path], original: Transcript
) -> tuple[Any, str | None]:
    opts = _options(ctx)
    name = opts.tts or ctx.engines.settings.tts
    model = opts.tts_model
    voice = opts.voice
    if opts.clone_voice:
        from octavia.pipeline.coqui import XTTS

        name, model = "coqui", model or XTTS
        voice = str(_clone_reference(ctx, audio, original))
    if model:
        name = f"{'coqui' if name == 'auto' else name}:{model}"
    elif voice and name in ("auto", "piper") and ("-" in voice or voice.endswith(".onnx")):
        name = f"piper:{voice}"  # a Piper voice name or file chooses the Piper model itself
        voice = None
    return ctx.engines.synthesizer(name, target), voice


def _length_budget(
    ctx: JobContext, target: str, audio: Checkpointed[Path], original: Transcript
) -> LengthBudget | None:
    """Sentence budgets for length-aware translation (None: no text translation to aim, or no
    voice to measure yet: then synthesis reports that, after the translation's own errors)."""
    if target == original.language:
        return None
    try:
        synth, voice = _synthesizer(ctx, target, audio, original)
        return fit_flow.length_budget(ctx, synth, voice, target)
    except (MissingDependency, ModelNotAvailable, EngineError):
        return None


def _dub_track(
    ctx: JobContext, audio: Checkpointed[Path], original: Transcript, translated: Transcript,
    edited: Transcript, bed: Checkpointed[Path], info: MediaInfo, review_voices: dict[str, str] | None = None,
) -> tuple[Checkpointed[Path], Transcript, list[str | None]]:  # fmt: skip
    """The mixed dub track of one language, its lines where they play, and each line's voice."""
    opts = _options(ctx)
    target = edited.language
    synth, voice = _synthesizer(ctx, target, audio, original)
    used = describe(synth, target, voice)
    record_model(ctx, f"synthesizer:{target}", used)
    cast = choose_cast(
        ctx, synth, target, audio.value, edited.segments, voice=voice, review_voices=review_voices
    )
    voices = segment_voices(edited.segments, cast, voice) if cast else None
    ctx.report("synthesize", 0, len(edited.segments), target)
    started = time.perf_counter()
    result = synthesize_segments(edited.segments, synth, language=target, voice=voice,
                                 clip_dir=ctx.workspace.path("clips"), progress=ctx.progress,
                                 cancel=ctx.cancel, voices=voices)  # fmt: skip
    timing_info = ctx.info.setdefault("timing", {}).setdefault(target, {})
    timing_info.update(synthesized=result.synthesized, cached=result.cached)
    seconds = round(time.perf_counter() - started, 3)
    ctx.info.setdefault("stages", {})[f"synthesize:{target}"] = {
        "resumed": not result.synthesized,
        "seconds": seconds,
    }
    max_speed, bed_gain = opts.max_speed, _bed_gain_db(ctx)
    fitted = fit_flow.shorten(ctx, synth=synth, voice=voice, voices=voices, original=original,
                              translated=translated, spoken=edited, clips=result.clips, media_end=info.duration,
                              sample_rate=timing.MIX_RATE)  # fmt: skip
    edited = Transcript(edited.language, tuple(fitted.segments), edited.duration)
    out, report = ctx.workspace.path(f"dub.{target}.wav"), ctx.workspace.path(f"fit.{target}.json")
    windows = [(s.start, s.end) for s in edited.segments]
    clip_names = [c.name if c else None for c in fitted.clips]
    fp = fingerprint("mix", bed.fingerprint, clip_names, windows, max_speed, bed_gain, info.duration,
                     "placement", opts.gentle_speed, opts.max_drift)  # fmt: skip

    def produce() -> None:
        ctx.report("mix", 0, 1, target)
        fit = mixing.render(fitted.placement, fitted.audio, sample_rate=timing.MIX_RATE, media_end=info.duration,
                            max_drift=opts.max_drift, work_dir=ctx.workspace.path("stretch"), ffmpeg=_ff(ctx))  # fmt: skip
        # Never cut: a clip that ends past the media end makes the track longer.
        dub = mixing.lay_down(fit.clips, round(info.duration * timing.MIX_RATE), timing.MIX_RATE)
        total = dub.size
        if bed_gain is not None:
            orig = media.decode_audio(bed.value, sample_rate=timing.MIX_RATE, channels=2 if _stereo(bed.value) else 1,
                                      ffmpeg=_ff(ctx))  # fmt: skip
            orig = _fit_length(orig, total)
            intervals = [(s, s + len(c) / timing.MIX_RATE) for s, c in fit.clips]
            env = timing.duck_envelope(intervals, total, timing.MIX_RATE, gain_db=bed_gain)
            track = timing.mix(orig, dub, env)
        else:
            track = dub
        with atomic_path(out) as tmp:
            media.write_wav(track, tmp, timing.MIX_RATE)
        write_json(report, {"stretcher": fit.stretcher, "max_overflow_s": round(fit.max_overflow, 4),
                            "total_overflow_s": round(sum(r.overflow_s for r in fit.records), 4),
                            "segments": fit.report()})  # fmt: skip
        ctx.report("mix", 1, 1, target)

    mixed = run_stage(ctx, f"mix:{target}", fp, [out.name, report.name], produce, lambda: out)
    fit_report = read_json(report)
    timing_info.update(max_overflow_s=fit_report["max_overflow_s"], stretcher=fit_report["stretcher"],
                       total_overflow_s=fit_report.get("total_overflow_s", 0.0),
                       segments=fit_report["segments"])  # fmt: skip
    # The dub's subtitles follow the voice: cue times are where the clips were placed.
    placed = fit_flow.placed_segments(edited.segments, fit_report["segments"])
    spoken_by = list(voices) if voices else [voice or used.get("model")] * len(edited.segments)
    return mixed, Transcript(edited.language, tuple(placed), edited.duration), spoken_by


def _stereo(path: Path) -> bool:
    return (media.probe(path).audio_streams[0].channels or 1) >= 2


def _fit_length(samples: Any, total: int) -> Any:
    import numpy as np

    if samples.shape[0] >= total:
        return samples[:total]
    return np.pad(samples, ((0, total - samples.shape[0]), (0, 0)))


def _mux(
    ctx: JobContext, edited: Transcript, dub: Path, source_language: str, original: Transcript | None = None
) -> Path:
    from octavia.formats.layout import segments_to_cues
    from octavia.pipeline.stages import write_subtitles

    target = edited.language
    speaking = Transcript(target, tuple(s for s in edited.segments if s.text.strip()), edited.duration)
    write_subtitles(ctx, speaking, target)
    rules = ctx.spec.options.layout.rules()
    subs = ctx.workspace.path(f"subtitles.{target}.srt")
    with atomic_path(subs) as tmp:
        formats.write(segments_to_cues(speaking.segments, rules, media_end=edited.duration or None).cues, tmp)
    suffix = VIDEO_SUFFIXES.get(Path(ctx.spec.source).suffix.lower(), ".mkv")
    out = ctx.output_path(f".{target}{suffix}")
    ctx.report("mux", 0, 1, target)
    burn_language = _burn_language(ctx, target, source_language)
    muxed = ctx.workspace.path(f"muxed.{target}{suffix}") if burn_language else out
    with atomic_path(muxed) as tmp:
        media.mux_dub(Path(ctx.spec.source), dub, tmp, dub_language=target, source_language=source_language,
                      subtitles=subs, subtitle_language=target, ffmpeg=_ff(ctx))  # fmt: skip
    if burn_language:
        from octavia.pipeline.burn_dub import burn_dub

        burn_dub(ctx, muxed, out, speaking if burn_language == target else original, burn_language)
        muxed.unlink()
    ctx.outputs[f"video.{target}"] = out
    ctx.report("mux", 1, 1, target)
    return out


def _burn_language(ctx: JobContext, target: str, source_language: str) -> str | None:
    wanted = getattr(ctx.spec.options, "burn_subtitles", None)
    if wanted is None:
        return None
    language = target if wanted == "target" else wanted
    if language not in (target, source_language):
        raise InputError(
            f"--burn-subtitles {wanted}: this dub has subtitles in {target} and {source_language} only.",
            "Burn the target language (leave LANG out) or the spoken one.",
        )
    return language


def _check_overflow(ctx: JobContext) -> None:
    """Fail (after the outputs are written) only when the user set ``max_overflow``."""
    limit = _options(ctx).max_overflow
    if limit is None:
        return
    worst = {t: v.get("max_overflow_s", 0.0) for t, v in ctx.info.get("timing", {}).items()}
    over = {t: v for t, v in worst.items() if v > limit}
    if over:
        detail = ", ".join(f"{t}: {v:.2f} s" for t, v in over.items())
        raise timing.TimingOverflow(
            f"Dubbed speech overflowed its window by more than --max-overflow {limit:g} s ({detail}).",
            "Raise --max-speed or --max-drift, shorten the translation (--review), or raise --max-overflow.",
        )


def resume_spec(workdir: Path) -> tuple[dict[str, Any], Path]:
    """The job saved in ``workdir`` (by any dub run), for ``--resume``: (spec dict, out dir)."""
    path = Path(workdir) / JOB_FILE
    if not path.exists():
        raise InputError(f"{workdir} holds no Octavia dub job ({JOB_FILE} is missing).",
                         "Pass the work directory that `--review` printed.")  # fmt: skip
    data = read_json(path)
    return data, Path(data.pop("out_dir"))


__all__ = ["resume_spec", "run_dub", "run_translate_audio"]
