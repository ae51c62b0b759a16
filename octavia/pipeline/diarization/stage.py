"""The checkpointed ``diarize`` stage: after transcription, before translation.

On by default for the re-speaking kinds (``translate-audio``, ``dub``: each speaker can get a
voice), off for ``subtitle`` unless asked for (``diarize=True``, or a speaker count given).
When it is on only by default and the embedder's weights are not on this machine, the job goes
on without speaker labels and says so in its warnings; asked for explicitly, the missing model
is an error.
"""

from __future__ import annotations

from pathlib import Path

from octavia.errors import MissingDependency, ModelNotAvailable
from octavia.pipeline.jobs import JobContext
from octavia.pipeline.stages import Checkpointed, record_model, run_stage
from octavia.pipeline.workspace import fingerprint, read_json, write_json
from octavia.types import Transcript

ARTIFACT = "diarized.json"


def wanted(ctx: JobContext) -> tuple[bool, bool]:
    """(run the stage, it was asked for explicitly)."""
    opts = ctx.spec.options
    if opts.diarize is not None:
        return opts.diarize, opts.diarize
    counted = any(v is not None for v in (opts.speakers, opts.min_speakers, opts.max_speakers))
    return counted or ctx.spec.kind != "subtitle", counted


def read_samples(path: Path):  # type: ignore[no-untyped-def]
    """The extract stage's 16 kHz mono 16-bit WAV as float32 samples."""
    import wave

    import numpy as np

    with wave.open(str(path), "rb") as w:
        raw = w.readframes(w.getnframes())
        channels = w.getnchannels()
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return samples.reshape(-1, channels).mean(axis=1) if channels > 1 else samples


def diarize_stage(
    ctx: JobContext, audio: Checkpointed[Path], transcript: Checkpointed[Transcript]
) -> Checkpointed[Transcript]:
    """The transcript with ``Segment.speaker`` set and segments split at speaker changes."""
    run, explicit = wanted(ctx)
    if not run or not transcript.value.segments:
        return transcript
    opts = ctx.spec.options
    name = opts.diarizer
    try:
        from octavia.pipeline.diarization import engine_id

        engine = engine_id(name, ctx.engines.resolver)
    except (ModelNotAvailable, MissingDependency) as exc:
        if explicit:
            raise
        record_model(ctx, "diarizer", {"engine": name, "warning": f"No speaker labels: {exc.message}"})
        return transcript
    record_model(ctx, "diarizer", {"engine": name, "model": engine})
    path = ctx.workspace.path(ARTIFACT)
    fp = fingerprint(
        "diarize", transcript.fingerprint, engine, opts.speakers, opts.min_speakers, opts.max_speakers
    )

    def produce() -> None:
        ctx.report("diarize", 0, 1)
        diarizer = ctx.engines.diarizer(name)
        segments, info = diarizer.diarize(
            read_samples(audio.value), transcript.value.segments, speakers=opts.speakers,
            min_speakers=opts.min_speakers, max_speakers=opts.max_speakers,
        )  # fmt: skip
        t = transcript.value
        result = Transcript(t.language, tuple(segments), t.duration, t.language_probability, t.model)
        write_json(path, {**result.to_dict(), "diarization": info})
        ctx.report("diarize", 1, 1, f"{info.get('speakers', 0)} speakers")

    result = run_stage(ctx, "diarize", fp, [path.name], produce, lambda: read_json(path))
    data = result.value
    ctx.info["diarization"] = data.get("diarization", {})
    ctx.info["speakers"] = sorted({s["speaker"] for s in data["segments"] if s.get("speaker")})
    return Checkpointed(Transcript.from_dict(data), result.fingerprint)
