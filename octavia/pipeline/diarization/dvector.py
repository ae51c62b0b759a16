"""The offline diarizer: d-vectors of sliding windows over the speech, clustered by voice."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia.pipeline.diarization import mel
from octavia.pipeline.diarization.clustering import cluster
from octavia.pipeline.diarization.embedder import FRAMES_PER_SECOND, DVectorEmbedder
from octavia.pipeline.diarization.split import Span, label_segments, speech_intervals
from octavia.types import Segment

if TYPE_CHECKING:
    import numpy as np

WINDOW_S = 1.6  # long enough for a stable d-vector (3 model windows), short enough for quick turns
HOP_S = 0.8


def windows(intervals: Sequence[tuple[float, float]]) -> list[tuple[int, int]]:
    """``[first, last)`` frame ranges of WINDOW_S every HOP_S inside each speech interval; the last
    one ends with the interval, and an interval shorter than a window is one window."""
    size, hop = round(WINDOW_S * FRAMES_PER_SECOND), round(HOP_S * FRAMES_PER_SECOND)
    out: list[tuple[int, int]] = []
    for start, end in intervals:
        a, b = (
            round(start * FRAMES_PER_SECOND),
            max(round(end * FRAMES_PER_SECOND), round(start * FRAMES_PER_SECOND) + 1),
        )
        if b - a <= size:
            out.append((a, b))
            continue
        at = a
        while at + size < b:
            out.append((at, at + size))
            at += hop
        out.append((b - size, b))
    return out


class DVectorDiarizer:
    """Labels transcript segments with speakers; shared by threads (holds only the model)."""

    name = "d-vector"

    def __init__(self, onnx_path: Path) -> None:
        self.embedder = DVectorEmbedder(onnx_path)
        self.engine_id = self.embedder.engine_id

    def diarize(
        self, samples: np.ndarray, segments: Sequence[Segment], *, speakers: int | None = None,
        min_speakers: int | None = None, max_speakers: int | None = None,
    ) -> tuple[list[Segment], dict[str, Any]]:  # fmt: skip
        frames = windows(speech_intervals(segments))
        if not frames:
            return list(segments), {"engine": self.name, "speakers": 0, "windows": 0}
        features = mel.log_mel(samples)
        vectors = self.embedder.embed_spans(features, frames)
        found = cluster(vectors, speakers=speakers, min_speakers=min_speakers, max_speakers=max_speakers)
        spans = [
            Span(a / FRAMES_PER_SECOND, b / FRAMES_PER_SECOND, int(label))
            for (a, b), label in zip(frames, found.labels, strict=True)
        ]
        labelled, split = label_segments(segments, spans)
        info = {
            "engine": self.name,
            "speakers": len({s.speaker for s in labelled if s.speaker}),
            "clusters": found.count,
            "count": found.how,
            "silhouette": None if found.silhouette is None else round(found.silhouette, 3),
            "windows": len(frames),
            "split_segments": split,
        }
        return labelled, info
