"""Batched Whisper decoding (faster-whisper's BatchedInferencePipeline), the default, for real.

Which faster-whisper API ran is recorded by spies that wrap (and call) the real methods.
"""

from __future__ import annotations

import itertools
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octavia.errors import InputError
from octavia.pipeline.options import parse_options
from octavia.pipeline.whisper import (
    BATCHED_BEAM_SIZE,
    DEFAULT_BATCH_SIZE,
    SEQUENTIAL_BEAM_SIZE,
    WhisperEngine,
)
from tests.conftest import SHORT_SPEECH, SHORT_SPEECH_TEXT, SPEECH, SPEECH_TEXT, content_words, ffmpeg

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SPANISH = ROOT / "examples" / "tortilla.es.mp4"
GAP = 4.0  # seconds of silence between the recordings of the long clip


def seconds(path: Path) -> float:
    with wave.open(str(path)) as f:
        return f.getnframes() / f.getframerate()


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    """SPEECH, SHORT, SPEECH, SHORT, SPEECH with 4 s pauses: over 30 s, so several VAD chunks.

    Returns the clip and where each SPEECH recording starts in it.
    """
    out = tmp_path_factory.mktemp("batch") / "long.wav"
    parts = [SPEECH, SHORT_SPEECH, SPEECH, SHORT_SPEECH, SPEECH]
    inputs = [a for p in parts for a in ("-i", str(p))]
    pads = ";".join(f"[{k}:a]apad=pad_dur={GAP}[a{k}]" for k in range(len(parts)))
    chain = pads + ";" + "".join(f"[a{k}]" for k in range(len(parts))) + f"concat=n={len(parts)}:v=0:a=1[o]"
    ffmpeg(*inputs, "-filter_complex", chain, "-map", "[o]", "-ar", "16000", "-ac", "1", str(out))
    starts, t = [], 0.0
    for p in parts:
        if p == SPEECH:
            starts.append(t)
        t += seconds(p) + GAP
    return out, starts


@pytest.fixture(scope="module")
def spanish_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from octavia.pipeline.media import extract_audio

    return extract_audio(SPANISH, tmp_path_factory.mktemp("es") / "es.wav")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """(api, keyword arguments) of every faster-whisper transcribe call, real ones still run."""
    import faster_whisper

    seen: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def spy(name: str, real: Any) -> Any:
        def wrapper(self: Any, audio: Any, **kwargs: Any) -> Any:
            with lock:
                seen.append((name, kwargs))
            return real(self, audio, **kwargs)

        return wrapper

    for name, cls in (
        ("batched", faster_whisper.BatchedInferencePipeline),
        ("sequential", faster_whisper.WhisperModel),
    ):
        monkeypatch.setattr(cls, "transcribe", spy(name, cls.transcribe))
    yield seen


def test_batched_default_gives_the_words_and_their_times(engines, long_clip, calls) -> None:  # type: ignore[no-untyped-def]
    clip, starts = long_clip
    progress: list[float] = []
    transcript = engines.whisper("base").transcribe(clip, progress=lambda e: progress.append(e.completed))
    assert [api for api, _ in calls] == ["batched"]
    assert calls[0][1]["batch_size"] == DEFAULT_BATCH_SIZE and calls[0][1]["word_timestamps"] is True
    assert calls[0][1]["beam_size"] == BATCHED_BEAM_SIZE
    # Language detection over the VAD chunks still works in the batched pipeline.
    assert transcript.language == "en" and (transcript.language_probability or 0) > 0.9
    expected = content_words(SPEECH_TEXT) | content_words(SHORT_SPEECH_TEXT)
    # Whisper writes "Mr." for the transcript's "mister": that one and one more may differ.
    assert len(expected - content_words(transcript.text)) <= 2, transcript.text
    words = [w for s in transcript.segments for w in s.words]
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert all(0 <= w.start <= w.end <= transcript.duration for w in words)
    # "Dashwood" is about 1 s into each SPEECH recording: its three word times land there,
    # so timings are placed back on the original timeline across chunks and batches.
    dashwood = [w.start for w in words if w.text.strip(".,").lower() == "dashwood"]
    assert len(dashwood) == 3
    assert all(s + 0.3 <= t <= s + 2.5 for s, t in zip(starts, dashwood, strict=True)), (starts, dashwood)
    # Timestamp tokens keep segments as the sequential decoder cuts them (here 0-6.8, 11.1-24.9,
    # 29.3-43.0 s), not one per 30 s VAD chunk (faster-whisper's default gives one 0-43 s segment).
    assert len(transcript.segments) >= 3 and all(s.end - s.start < 20 for s in transcript.segments)
    assert progress == sorted(progress) and progress[-1] == pytest.approx(transcript.duration)


def test_language_detection_and_speech_translation_are_batched(engines, spanish_wav, calls) -> None:  # type: ignore[no-untyped-def]
    engine: WhisperEngine = engines.whisper("base")
    spanish = engine.transcribe(spanish_wav)
    assert spanish.language == "es" and (spanish.language_probability or 0) > 0.8
    assert {"patatas", "huevos"} & content_words(spanish.text), spanish.text
    english = engine.translate_speech(spanish_wav, language="es")
    assert english.language == "en"
    assert {"potatoes", "eggs", "oil"} & content_words(english.text), english.text
    assert [(api, kw["task"]) for api, kw in calls] == [("batched", "transcribe"), ("batched", "translate")]


def test_sequential_on_request_and_without_vad(engines, calls) -> None:  # type: ignore[no-untyped-def]
    engine: WhisperEngine = engines.whisper("base")
    one = engine.transcribe(SPEECH, batch_size=None)
    two = engine.transcribe(SPEECH, vad_filter=False)  # the batched pipeline needs VAD to cut chunks
    assert [api for api, _ in calls] == ["sequential", "sequential"]
    assert calls[1][1]["vad_filter"] is False
    assert [kw["beam_size"] for _, kw in calls] == [SEQUENTIAL_BEAM_SIZE] * 2  # as before batching
    for t in (one, two):
        assert len(content_words(SPEECH_TEXT) - content_words(t.text)) <= 1


def test_threads_share_one_engine_while_batching(engines) -> None:  # type: ignore[no-untyped-def]
    """Word-timing state lives in the per-call pipeline, so concurrent jobs do not mix."""
    engine: WhisperEngine = engines.whisper("base")
    results: dict[Path, Any] = {}

    def work(path: Path) -> None:
        results[path] = engine.transcribe(path, language="en")

    threads = [threading.Thread(target=work, args=(p,)) for p in (SPEECH, SHORT_SPEECH, SPEECH)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for path, text in ((SPEECH, SPEECH_TEXT), (SHORT_SPEECH, SHORT_SPEECH_TEXT)):
        transcript = results[path]
        assert len(content_words(text) - content_words(transcript.text)) <= 1
        assert all(0 <= w.start <= w.end <= seconds(path) + 0.1 for s in transcript.segments for w in s.words)


def test_cuda_failure_at_inference_finishes_batched_on_the_cpu(engines, calls) -> None:  # type: ignore[no-untyped-def]
    """CTranslate2 can load on a GPU and fail at the first kernel (missing libcublas.so.12)."""
    engine = WhisperEngine(engines.whisper_model("base", "en"), device="cpu")
    real = engine._model

    class BrokenKernels:  # the CTranslate2 model: attributes work, running anything fails
        def __getattr__(self, name: str) -> Any:
            if name in {"encode", "generate", "detect_language", "align"}:
                raise RuntimeError("Library libcublas.so.12 is not found or cannot be loaded")
            return getattr(real.model, name)

    class GpuModel:
        def __init__(self) -> None:
            self.model = BrokenKernels()

        def __getattr__(self, name: str) -> Any:
            attr = getattr(type(real), name, None)
            if callable(attr):  # run WhisperModel's own methods against the broken kernels
                return attr.__get__(self)
            return getattr(real, name)

    engine._model, engine.device, engine.compute_type = GpuModel(), "cuda", "float16"
    text = engine.transcribe(SPEECH, language="en").text
    assert engine.device == "cpu" and engine.compute_type == "int8"
    assert [api for api, _ in calls] == ["batched", "batched"]  # the retry is batched too
    assert len(content_words(SPEECH_TEXT) - content_words(text)) <= 1


def test_decoding_options_are_checked() -> None:
    assert parse_options("subtitle").whisper_batch_size == DEFAULT_BATCH_SIZE
    assert parse_options("dub", {"batch": False}).whisper_batch_size is None
    for bad in ({"batch_size": 0}, {"beam_size": 0}, {"batch": "sometimes"}):
        with pytest.raises(InputError, match=next(iter(bad))):
            parse_options("subtitle", bad)


def test_cli_batches_by_default_and_no_batch_decodes_sequentially(
    session_cache: Path, tmp_path: Path, calls: list[tuple[str, dict[str, Any]]]
) -> None:
    from typer.testing import CliRunner

    from octavia.cli.app import build_app

    env = {"OCTAVIA_CACHE_DIR": str(session_cache), "OCTAVIA_OFFLINE": "1", "OCTAVIA_DEVICE": "cpu"}
    args = ["subtitle", str(SPEECH), "-m", "base", "-o", str(tmp_path), "--json"]
    app, runner = build_app(), CliRunner()
    first = runner.invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert [api for api, _ in calls] == ["batched"]
    # Same work dir: the batching choice is in the checkpoint's fingerprint, so --no-batch
    # decodes again (sequentially) instead of reusing the batched transcript.
    second = runner.invoke(app, [*args, "--no-batch"], env=env)
    assert second.exit_code == 0, second.output
    assert [api for api, _ in calls] == ["batched", "sequential"]
    (srt_path,) = tmp_path.glob("*.srt")
    srt = srt_path.read_text()
    assert len(content_words(SPEECH_TEXT) - content_words(srt)) <= 1
    third = runner.invoke(app, [*args, "--no-batch"], env=env)  # resumed: nothing decoded
    assert third.exit_code == 0 and len(calls) == 2


def test_subtitle_job_translates_speech_with_the_batched_path(engines, settings, tmp_path, calls) -> None:  # type: ignore[no-untyped-def]
    from octavia import formats
    from octavia.api import run

    result = run("subtitle", SPANISH, to=("en",), out_dir=tmp_path, work_dir=tmp_path / "work",
                 settings=settings, engines=engines, options={"whisper_model": "base", "translator": "whisper"})  # fmt: skip
    assert [(api, kw["task"]) for api, kw in calls] == [("batched", "transcribe"), ("batched", "translate")]
    # Greedy batched translation lost content words on this example: translation keeps beam 5.
    assert [kw["beam_size"] for _, kw in calls] == [BATCHED_BEAM_SIZE, SEQUENTIAL_BEAM_SIZE]
    assert result.info["language"] == "es"
    english = formats.read(next(p for name, p in result.outputs.items() if ".en." in name))
    text = " ".join(c.text for c in english)
    assert {"potatoes", "eggs", "oil"} & content_words(text), text
    assert len(english) >= 3 and all(c.end <= 23.5 for c in english)  # cut into sentences, not one chunk


def test_chunks_are_cut_into_sentences_by_word_times() -> None:
    from faster_whisper.transcribe import Word as FwWord

    from octavia.pipeline.whisper import sentences

    said = [(" And", 0.0), (" Mr.", 0.3), (" Smith", 0.6), (" left.", 0.9), (" Then", 1.3), (" rain", 1.6),
            (" came", 4.0), (" down", 4.3)]  # fmt: skip
    segs = sentences([FwWord(start=t, end=t + 0.25, word=w, probability=0.9) for w, t in said])
    # After "left." (a sentence end, not after the abbreviation "Mr."), and at the 2.15 s pause.
    assert [s.text for s in segs] == ["And Mr. Smith left.", "Then rain", "came down"]
    assert [(s.start, s.end) for s in segs] == [(0.0, 1.15), (1.3, 1.85), (4.0, 4.55)]
    assert [w.text for w in segs[0].words] == ["And", "Mr.", "Smith", "left."]
