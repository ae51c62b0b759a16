"""Back-transcription: what each placed line of a dub really says, heard by Whisper.

For every segment with a clip, the mixed dub track is cut at the clip's placed interval (with
a little padding, so a first or last phoneme is not clipped); the cuts, separated by silence,
are transcribed in one Whisper pass in the target language, each word given back to its clip
by its timestamp, and each clip's words compared with the text the line was meant to say
(:mod:`.metrics`). Cutting the *mixed* track, not the clip, is deliberate: the check is of
what the viewer hears, background and speed-up included.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from octavia.pipeline import media
from octavia.pipeline.dubreport.metrics import NO_ERRORS, Errors, errors
from octavia.pipeline.jobs import JobContext
from octavia.pipeline.stages import Checkpointed, run_stage
from octavia.pipeline.workspace import fingerprint, read_json, write_json
from octavia.types import Transcript

SAMPLE_RATE = 16_000
PAD_S = 0.12  # around each placed clip: TTS onsets are trimmed to 20 ms, Whisper needs a little lead-in
GAP_S = 1.5  # silence between clips in the collage: VAD cuts there, and words cannot straddle it


def placed_interval(record: Mapping[str, Any]) -> tuple[float, float]:
    """(start, end) where a segment's clip plays in the dub, from its fit record.

    Fit records that predate placement (start, limit, fitted_duration) played a clip from the
    segment start, cut at ``limit``.
    """
    start = float(record.get("placed_start", record["start"]))
    if "placed_end" in record:
        return start, float(record["placed_end"])
    end = start + float(record.get("fitted_duration", record["end"] - record["start"]))
    return start, min(end, float(record.get("limit", end)))


def _row(record: Mapping[str, Any], text: str, heard: str, errs: Errors, *, speaker: str | None,
         voice: str | None, max_error: float, max_cps: float) -> dict[str, Any]:  # fmt: skip
    start, end = placed_interval(record)
    cps = len(text.strip()) / max(end - start, 1e-3)
    warnings = []
    if float(record.get("overflow_s", 0.0)) > 0.0005:
        warnings.append("overflow")
    if cps > max_cps:
        warnings.append("fast_subtitle")
    return {
        "index": int(record["index"]),
        "start": round(float(record["start"]), 3),
        "end": round(float(record["end"]), 3),
        "placed_start": round(start, 3),
        "placed_end": round(end, 3),
        "factor": round(float(record.get("factor", 1.0)), 3),
        "shift_s": round(float(record.get("shift_s", start - float(record["start"]))), 3),
        "borrowed_before_s": round(float(record.get("borrowed_before_s", 0.0)), 3),
        "borrowed_after_s": round(
            float(record.get("borrowed_after_s", max(0.0, end - float(record["end"])))), 3
        ),
        "overflow_s": round(float(record.get("overflow_s", 0.0)), 3),
        "text": text,
        "heard": heard,
        "wer": round(errs.wer, 4),
        "cer": round(errs.cer, 4),
        "error": round(errs.error, 4),
        "cps": round(cps, 2),
        "speaker": speaker,
        "voice": voice,
        "flagged": errs.error > max_error,
        "warnings": warnings,
    }


def _collage(samples: Any, intervals: Sequence[tuple[float, float]]) -> tuple[Any, list[float]]:
    """The placed clips one after another with :data:`GAP_S` of silence between them, and where
    each starts in it: one Whisper pass hears them all (per-clip passes cost a 30 s encoder
    window each, several times the dub's own transcription)."""
    import numpy as np

    gap = np.zeros(round(GAP_S * SAMPLE_RATE), dtype=np.float32)
    pieces, starts, at = [], [], 0
    for start, end in intervals:
        a = max(0, round((start - PAD_S) * SAMPLE_RATE))
        b = min(samples.size, round((end + PAD_S) * SAMPLE_RATE))
        starts.append(at / SAMPLE_RATE)
        pieces += [samples[a:b], gap]
        at += (b - a) + gap.size
    return (np.concatenate(pieces) if pieces else gap), starts


def _heard_per_clip(transcript: Transcript, starts: Sequence[float]) -> list[str]:
    """Each word of the collage's transcript given to the clip its midpoint falls in (the gaps'
    middles are the borders)."""
    import bisect

    borders = [s - GAP_S / 2 for s in starts[1:]]
    words: list[list[str]] = [[] for _ in starts]
    for seg in transcript.segments:
        for word in seg.words or ():
            words[bisect.bisect_right(borders, (word.start + word.end) / 2)].append(word.text.strip())
    return [" ".join(w for w in ws if w) for ws in words]


def back_transcribe(
    ctx: JobContext, track: Path, edited: Transcript, records: Sequence[Mapping[str, Any]], *,
    voices: Sequence[str | None], max_error: float,
) -> dict[str, Any]:  # fmt: skip
    """The report of one language's dub: a row per placed clip, totals, and the flagged lines."""
    opts = ctx.spec.options
    target = edited.language
    engine = ctx.engines.whisper(hearing_model(opts.whisper_model, target), target)
    samples = media.decode_audio(track, sample_rate=SAMPLE_RATE, channels=1, ffmpeg=_ff(ctx))[:, 0]
    collage, starts = _collage(samples, [placed_interval(r) for r in records])
    cut = ctx.workspace.path(f"verify.{target}.wav")
    media.write_wav(collage, cut, SAMPLE_RATE)
    ctx.report("verify", 0, 1, target)
    # Word timestamps tie what was heard to its clip; batched decoding as for transcription.
    heard_all = engine.transcribe(cut, language=target, word_timestamps=True, vad_filter=True,
                                  batch_size=opts.whisper_batch_size, beam_size=opts.beam_size)  # fmt: skip
    cut.unlink(missing_ok=True)
    heard = _heard_per_clip(heard_all, starts) if records else []
    rows, total = [], NO_ERRORS
    for record, said in zip(records, heard, strict=True):
        i = int(record["index"])
        seg = edited.segments[i]
        errs = errors(seg.text, said)
        total = total + errs
        voice = voices[i] if i < len(voices) else None
        rows.append(_row(record, seg.text, said, errs, speaker=seg.speaker, voice=voice,
                         max_error=max_error, max_cps=opts.layout.max_cps))  # fmt: skip
    ctx.report("verify", 1, 1, target)
    return {
        "language": target,
        "model": engine.model_info.spec.name,
        "max_error": max_error,
        "wer": round(total.wer, 4),
        "cer": round(total.cer, 4),
        "segments": rows,
        "flagged": [r["index"] for r in rows if r["flagged"]],
    }


def verify_stage(
    ctx: JobContext, edited: Transcript, mixed: Checkpointed[Path], records: Sequence[Mapping[str, Any]], *,
    voices: Sequence[str | None], max_error: float,
) -> dict[str, Any]:  # fmt: skip
    """Checkpointed :func:`back_transcribe`: a resumed job whose dub did not change is not re-heard."""
    target = edited.language
    out = ctx.workspace.path(f"report.{target}.json")
    model = ctx.engines.whisper_model(hearing_model(ctx.spec.options.whisper_model, target), target)
    texts = [s.text for s in edited.segments]
    fp = fingerprint("verify", mixed.fingerprint, model.spec.name, str(model.path), texts, list(voices),
                     max_error, ctx.spec.options.layout.max_cps, list(records))  # fmt: skip

    def produce() -> None:
        started = time.perf_counter()
        report = back_transcribe(ctx, mixed.value, edited, records, voices=voices, max_error=max_error)
        report["seconds"] = round(time.perf_counter() - started, 3)
        write_json(out, report)

    def load() -> dict[str, Any]:
        report: dict[str, Any] = read_json(out)
        return report

    return run_stage(ctx, f"verify:{target}", fp, [out.name], produce, load).value


def hearing_model(requested: str | None, target: str) -> str | None:
    """The Whisper model that hears the dub: the job's, unless it is English-only and the dub is
    not English (then the settings' choice for ``target``, a multilingual model)."""
    if requested and requested.endswith(".en") and target != "en":
        return None
    return requested


def _ff(ctx: JobContext) -> media.FFmpeg:
    return media.FFmpeg(ctx.engines.settings.ffmpeg)


__all__ = ["PAD_S", "back_transcribe", "hearing_model", "placed_interval", "verify_stage"]
