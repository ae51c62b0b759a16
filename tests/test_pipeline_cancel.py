"""Cancellation inside long stages, in the core (no server): Whisper tiny.en on real speech,
cancelled after its first decoded segment, stops within that stage and checkpoints nothing."""

from __future__ import annotations

import pytest

from octavia.errors import Cancelled
from octavia.pipeline.jobs import JobSpec, run_job
from octavia.pipeline.progress import ProgressEvent
from octavia.pipeline.workspace import MANIFEST, read_json
from tests.conftest import repeated_speech


@pytest.mark.slow
def test_cancel_stops_transcription_after_the_segment_it_arrived_in(engines, tmp_path):
    src = repeated_speech(tmp_path / "long.wav", 10)  # about 71 s of real speech
    seen: list[ProgressEvent] = []

    def cancel() -> bool:  # the owner asks to stop once Whisper has decoded a first segment
        return any(e.stage == "transcribe" and 0 < e.completed < (e.total or 0) for e in seen)

    spec = JobSpec(kind="subtitle", source=src, source_language="en", options={"whisper_model": "tiny.en"})
    work = tmp_path / "work"
    with pytest.raises(Cancelled):
        run_job(
            spec, workdir=work, out_dir=tmp_path / "out", engines=engines, progress=seen.append, cancel=cancel
        )
    transcribe = [e for e in seen if e.stage == "transcribe"]
    stopped_at = [e.completed for e in transcribe if e.completed > 0]
    assert len(stopped_at) == 1 and stopped_at[0] < 0.8 * (transcribe[0].total or 0)  # one segment, then out
    assert set(read_json(work / MANIFEST)["stages"]) == {"extract"}  # transcribe left no checkpoint
    assert not (work / "transcript.json").exists() and not list((tmp_path / "out").iterdir())
