"""pyannote.audio as a diarization engine, for connected machines that have it.

It is never a dependency: it needs torch and a Hugging Face token with the model's terms
accepted (``HF_TOKEN``), so it is found at run time and a missing piece is a
:class:`MissingDependency` saying what to install or set. Its speaker turns become the spans the
words are labelled from, as with the d-vector engine.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from octavia.errors import EngineError, MissingDependency
from octavia.pipeline.diarization.split import Span, label_segments
from octavia.types import Segment

if TYPE_CHECKING:
    import numpy as np

PIPELINE = "pyannote/speaker-diarization-3.1"


def available() -> bool:
    try:
        return importlib.util.find_spec("pyannote.audio") is not None
    except ModuleNotFoundError:  # no "pyannote" namespace at all
        return False


class PyannoteDiarizer:
    name = "pyannote"

    def __init__(self, *, token: str | None = None, device: str = "cpu") -> None:
        if not available():
            raise MissingDependency(
                "The pyannote diarization engine needs pyannote.audio, which is not installed.",
                "pip install pyannote.audio (and set HF_TOKEN to a token that accepted the terms of "
                f"{PIPELINE}), or use the offline engine: --diarizer d-vector.",
            )
        from pyannote.audio import Pipeline

        token = token or os.environ.get("HF_TOKEN")
        try:
            pipeline = Pipeline.from_pretrained(PIPELINE, use_auth_token=token)
        except (OSError, ValueError) as exc:
            raise MissingDependency(
                f"Could not load the pyannote pipeline {PIPELINE}: {exc}",
                f"Set HF_TOKEN to a Hugging Face token that accepted the terms of {PIPELINE}.",
            ) from exc
        if pipeline is None:  # pyannote returns None (and logs) when the token is refused
            raise MissingDependency(
                f"Hugging Face refused the pyannote pipeline {PIPELINE}.",
                "Accept its terms on huggingface.co and set HF_TOKEN.",
            )
        if device != "cpu":
            import torch

            pipeline.to(torch.device(device))
        self._pipeline = pipeline
        self.engine_id = f"pyannote:{PIPELINE}"

    def diarize(
        self, samples: np.ndarray, segments: Sequence[Segment], *, speakers: int | None = None,
        min_speakers: int | None = None, max_speakers: int | None = None,
    ) -> tuple[list[Segment], dict[str, Any]]:  # fmt: skip
        import torch

        from octavia.pipeline.diarization import mel

        waveform = {"waveform": torch.from_numpy(samples[None, :].copy()), "sample_rate": mel.SAMPLE_RATE}
        bounds = {k: v for k, v in (("num_speakers", speakers), ("min_speakers", min_speakers),
                                    ("max_speakers", max_speakers)) if v is not None}  # fmt: skip
        try:
            annotation = self._pipeline(waveform, **bounds)
        except RuntimeError as exc:
            raise EngineError(f"pyannote diarization failed: {exc}") from exc
        names: dict[str, int] = {}
        spans = [
            Span(float(turn.start), float(turn.end), names.setdefault(str(label), len(names)))
            for turn, _, label in annotation.itertracks(yield_label=True)
        ]
        labelled, split = label_segments(segments, spans)
        info = {"engine": self.name, "speakers": len({s.speaker for s in labelled if s.speaker}),
                "split_segments": split}  # fmt: skip
        return labelled, info
