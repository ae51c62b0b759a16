"""Grouping speech windows by speaker: average-linkage agglomerative clustering on cosine distance.

With a given count (``--speakers N``) the merge tree is cut at N clusters. Otherwise it is cut
where the closest two clusters are further apart than :data:`THRESHOLD` (windows of one voice
sit around 0.2-0.3 apart, windows of different voices 0.6-0.9), then checked with the
silhouette: a split whose clusters are not better separated than they are spread
(silhouette under :data:`MIN_SILHOUETTE`) is not two speakers but one noisy one. A cluster of
fewer than :data:`MIN_CLUSTER_WINDOWS` windows is not counted as a speaker either: windows that
straddle a change of voice hold half of each voice, sit far from both, and pair up with one
another; their windows join the nearest real cluster. Bounds
(``min_speakers``/``max_speakers``) clamp the count. Clusters are then refined by re-assigning
each window to the nearest cluster centroid, so a window the tree placed early in the wrong
branch moves to the speaker it sounds most like.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

THRESHOLD = 0.55  # average cosine distance between two clusters beyond which they are two speakers
MIN_SILHOUETTE = 0.08
MIN_CLUSTER_WINDOWS = 5  # about 5 s of speech: a found "voice" heard less is turn-change windows
MAX_WINDOWS = 1200  # beyond this, cluster an even subsample and assign the rest to centroids
REFINE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class Clustering:
    labels: np.ndarray  # (n,) cluster index per window, 0..count-1
    count: int
    how: str  # "given", "threshold", "bounded"
    silhouette: float | None


def merge_tree(vectors: np.ndarray) -> list[tuple[int, int, float]]:
    """Average-linkage merges ``(kept, absorbed, distance)`` in order, by Lance-Williams updates."""
    import numpy as np

    n = vectors.shape[0]
    dist = 1.0 - np.clip(vectors @ vectors.T, -1.0, 1.0).astype(np.float64)
    np.fill_diagonal(dist, np.inf)
    sizes = np.ones(n)
    merges: list[tuple[int, int, float]] = []
    for _ in range(n - 1):
        flat = int(np.argmin(dist))
        i, j = divmod(flat, n)
        d = float(dist[i, j])
        if not np.isfinite(d):
            break
        i, j = min(i, j), max(i, j)
        row = (sizes[i] * dist[i] + sizes[j] * dist[j]) / (sizes[i] + sizes[j])
        dist[i, :], dist[:, i] = row, row
        dist[i, i] = np.inf
        dist[j, :], dist[:, j] = np.inf, np.inf
        sizes[i] += sizes[j]
        merges.append((i, j, d))
    return merges


def cut(n: int, merges: list[tuple[int, int, float]], count: int) -> np.ndarray:
    """Labels 0..count-1 (in order of first appearance) after all but the last ``count - 1`` merges."""
    import numpy as np

    parent = list(range(n))

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j, _ in merges[: max(0, n - count)]:
        parent[root(j)] = root(i)
    roots = [root(a) for a in range(n)]
    order: dict[int, int] = {}
    return np.asarray([order.setdefault(r, len(order)) for r in roots])


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette on cosine distance; 0 for a single cluster."""
    import numpy as np

    k = int(labels.max()) + 1 if labels.size else 0
    if k < 2:
        return 0.0
    dist = 1.0 - vectors @ vectors.T
    onehot = np.eye(k)[labels]
    sums = dist @ onehot  # (n, k) total distance to each cluster
    sizes = onehot.sum(axis=0)
    own = sizes[labels]
    a = sums[np.arange(len(labels)), labels] / np.maximum(own - 1, 1)
    other = sums / sizes
    other[np.arange(len(labels)), labels] = np.inf
    b = other.min(axis=1)
    s = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def refine(vectors: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Re-assign windows to the nearest centroid until stable; no cluster is left empty."""
    import numpy as np

    from octavia.pipeline.diarization.embedder import normalise

    for _ in range(REFINE_ROUNDS):
        centroids = normalise(np.stack([vectors[labels == c].mean(axis=0) for c in range(count)]))
        moved = np.argmax(vectors @ centroids.T, axis=1)
        if np.array_equal(moved, labels) or len(set(moved.tolist())) < count:
            break
        labels = moved
    return labels


def cluster(
    vectors: np.ndarray, *, speakers: int | None = None, min_speakers: int | None = None,
    max_speakers: int | None = None, threshold: float = THRESHOLD,
) -> Clustering:  # fmt: skip
    """Speaker clusters of unit ``vectors`` (n, d): given ``speakers``, else found within the bounds."""
    import numpy as np

    n = vectors.shape[0]
    if n == 0:
        return Clustering(np.zeros(0, int), 0, "given" if speakers else "threshold", None)
    sample = np.arange(n) if n <= MAX_WINDOWS else np.linspace(0, n - 1, MAX_WINDOWS).round().astype(int)
    part = vectors[sample]
    m = part.shape[0]
    merges = merge_tree(part)
    low = max(1, min_speakers or 1)
    high = min(m, max_speakers or m)
    if speakers is not None:
        count, how = min(speakers, m), "given"
    else:
        count = m - sum(1 for *_, d in merges if d <= threshold)
        how = "threshold"
        labels, count = _without_small(part, cut(m, merges, count), count)
        if count >= 2 and silhouette(part, labels) < MIN_SILHOUETTE:
            count = 1
        if not low <= count <= high:
            count, how = min(max(count, low), high), "bounded"
    if how != "threshold" or count == 1:
        labels = cut(m, merges, count)
    if m < n:  # the windows left out join their nearest cluster
        from octavia.pipeline.diarization.embedder import normalise

        centroids = normalise(np.stack([part[labels == c].mean(axis=0) for c in range(count)]))
        labels = np.argmax(vectors @ centroids.T, axis=1)
    if count > 1:
        labels = refine(vectors, labels, count)
    score = silhouette(vectors, labels) if count > 1 else None
    return Clustering(_in_order(labels), count, how, score)


def _without_small(vectors: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, int]:
    """Labels and count once clusters under MIN_CLUSTER_WINDOWS have joined the nearest larger one
    (kept as they are when no cluster is that large: a clip too short to tell)."""
    import numpy as np

    from octavia.pipeline.diarization.embedder import normalise

    sizes = np.bincount(labels, minlength=count)
    kept = [c for c in range(count) if sizes[c] >= MIN_CLUSTER_WINDOWS]
    if not kept or len(kept) == count:
        return labels, count
    centroids = normalise(np.stack([vectors[labels == c].mean(axis=0) for c in kept]))
    nearest = np.argmax(vectors @ centroids.T, axis=1)
    index = {c: k for k, c in enumerate(kept)}
    joined = np.asarray([index[c] if c in index else int(nearest[i]) for i, c in enumerate(labels.tolist())])
    return _in_order(joined), len(kept)


def _in_order(labels: np.ndarray) -> np.ndarray:
    """Renumber so cluster 0 is the first heard, 1 the next new voice, and so on."""
    import numpy as np

    order: dict[int, int] = {}
    return np.asarray([order.setdefault(int(c), len(order)) for c in labels])
