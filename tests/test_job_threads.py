"""Jobs in worker threads share one Engines: no job sees another's options, no model loads twice."""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from octavia.config import Settings
from octavia.pipeline import whisper
from octavia.pipeline.factory import Engines
from octavia.pipeline.jobs import JobSpec, run_job
from octavia.pipeline.workspace import atomic_path
from tests.conftest import SHORT_SPEECH


def _in_threads(*targets: Callable[[], Any]) -> list[Any]:
    """Run each target in its own thread, at once; their results (an error is re-raised here)."""
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = [pool.submit(fn) for fn in targets]
        return [f.result(timeout=300) for f in futures]


@pytest.mark.slow
def test_two_jobs_with_different_vad_run_concurrently_each_with_its_own(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    engines = Engines(settings)
    shared = engines.whisper("tiny.en", "en")  # loaded by an earlier job, as in a long-running worker
    # (the job's vad option, vad_filter given to faster-whisper, whether batched)
    seen: list[tuple[bool, bool, bool]] = []
    current = threading.local()
    real_decode, real_transcribe = WhisperModel.transcribe, whisper.WhisperEngine.transcribe
    real_batched = BatchedInferencePipeline.transcribe
    both_started = threading.Barrier(2, timeout=120)

    def spy(self: Any, audio: Any, *args: Any, **kwargs: Any) -> Any:  # the real faster-whisper call
        seen.append((current.vad, kwargs["vad_filter"], False))
        return real_decode(self, audio, *args, **kwargs)

    def batched_spy(self: Any, audio: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((current.vad, kwargs["vad_filter"], True))
        return real_batched(self, audio, *args, **kwargs)

    def together(self: Any, *args: Any, **kwargs: Any) -> Any:
        both_started.wait()  # both jobs have set up their transcription before either decodes
        return real_transcribe(self, *args, **kwargs)

    monkeypatch.setattr(WhisperModel, "transcribe", spy)
    monkeypatch.setattr(BatchedInferencePipeline, "transcribe", batched_spy)
    monkeypatch.setattr(whisper.WhisperEngine, "transcribe", together)
    results: dict[bool, Any] = {}

    def job(vad: bool) -> None:
        current.vad = vad
        spec = JobSpec.create("subtitle", SHORT_SPEECH, source_language="en",
                              options={"whisper_model": "tiny.en", "vad": vad})  # fmt: skip
        results[vad] = run_job(
            spec, workdir=tmp_path / f"w{vad}", out_dir=tmp_path / f"o{vad}", engines=engines
        )

    _in_threads(lambda: job(True), lambda: job(False))
    # Batched decoding needs the VAD's chunks: the job without VAD decodes sequentially.
    assert sorted(seen) == [(False, False, False), (True, True, True)]
    assert engines.whisper("tiny.en", "en") is shared  # one shared model served both
    assert all(r.outputs["subtitles.en.srt"].read_text().strip() for r in results.values())


@pytest.mark.slow
def test_a_model_loads_once_when_two_threads_race_for_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engines = Engines(settings)
    loads: list[str] = []
    real_init = whisper.WhisperEngine.__init__

    def slow_init(self: Any, *args: Any, **kwargs: Any) -> None:
        loads.append("load")
        time.sleep(0.3)  # a real load takes seconds; widen the window the other thread races in
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(whisper.WhisperEngine, "__init__", slow_init)
    first, second = _in_threads(
        lambda: engines.whisper("tiny.en", "en"), lambda: engines.whisper("tiny.en", "en")
    )
    assert len(loads) == 1 and first is second


def test_outputs_get_the_umask_without_changing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    umask = os.umask(0o027)
    os.umask(0o027)
    try:

        def no_umask(_mask: int) -> int:
            raise AssertionError("os.umask changes process-wide state that other threads rely on")

        monkeypatch.setattr(os, "umask", no_umask)
        target = tmp_path / "out.srt"
        with atomic_path(target) as tmp:
            assert tmp.suffix == ".srt" and tmp.parent == tmp_path
            tmp.write_text("x")
        monkeypatch.undo()
        assert stat.S_IMODE(target.stat().st_mode) == 0o640  # 0666 less the umask
        assert [p.name for p in tmp_path.iterdir()] == ["out.srt"]
    finally:
        os.umask(umask)
