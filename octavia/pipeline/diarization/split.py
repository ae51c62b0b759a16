"""From speaker-labelled stretches of time to speaker-labelled segments, split where the voice changes.

An engine gives labelled spans (d-vector windows, or pyannote's turns). Each word takes the label
of the span that covers most of it (the nearer centre breaks ties: windows overlap by half);
a run of words shorter than :data:`MIN_RUN_S` between two others is a blip, not a turn, and
takes its neighbours' label. A segment whose words change speaker is split there: times from
the words, text cut from the segment's own text at the first word of each part (so spacing and
punctuation stay as the transcriber wrote them). A segment without word timings gets the
label that covers most of its time, unsplit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from octavia.types import Segment, Word

MIN_RUN_S = 0.5  # a speaker turn shorter than this inside a segment is taken for noise


@dataclass(frozen=True, slots=True)
class Span:
    start: float
    end: float
    label: int


def speech_intervals(segments: Sequence[Segment], *, join_gap: float = 0.3) -> list[tuple[float, float]]:
    """Where someone speaks: the words' times (or whole segments without words), merged across short gaps."""
    pieces = sorted(
        (w.start, w.end) if seg.words else (seg.start, seg.end)
        for seg in segments
        for w in (seg.words or (Word(seg.start, seg.end, ""),))
        if w.end > w.start
    )
    merged: list[tuple[float, float]] = []
    for start, end in pieces:
        if merged and start - merged[-1][1] <= join_gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _best(spans: Sequence[Span], start: float, end: float) -> int | None:
    """The label of the span covering most of ``[start, end]``; the nearest span when none covers it."""
    if not spans:
        return None
    middle = (start + end) / 2

    def score(s: Span) -> tuple[float, float]:
        overlap = min(s.end, end) - max(s.start, start)
        return (
            max(overlap, 0.0) if overlap > 0 else -abs((s.start + s.end) / 2 - middle),
            -abs((s.start + s.end) / 2 - middle),
        )

    return max(spans, key=score).label


def _smooth(words: Sequence[Word], labels: list[int]) -> list[int]:
    """Relabel inner runs shorter than MIN_RUN_S with the label of their longer neighbour run."""
    runs: list[list[int]] = []  # [label, first, last] word indices
    for k, label in enumerate(labels):
        if runs and runs[-1][0] == label:
            runs[-1][2] = k
        else:
            runs.append([label, k, k])
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for r, (_label, first, last) in enumerate(runs):
            if words[last].end - words[first].start >= MIN_RUN_S:
                continue
            before = runs[r - 1] if r > 0 else None
            after = runs[r + 1] if r + 1 < len(runs) else None
            length = [(words[x[2]].end - words[x[1]].start) if x else -1.0 for x in (before, after)]
            into = before if length[0] >= length[1] else after
            assert into is not None
            into[1], into[2] = min(into[1], first), max(into[2], last)
            del runs[r]
            merged: list[list[int]] = []
            for run in runs:  # neighbours that now share a label become one run
                if merged and merged[-1][0] == run[0]:
                    merged[-1][2] = run[2]
                else:
                    merged.append(run)
            runs, changed = merged, True
            break
    out = list(labels)
    for label, first, last in runs:
        out[first : last + 1] = [label] * (last - first + 1)
    return out


def _word_offsets(seg: Segment) -> list[int] | None:
    """Where each word starts in the segment text, or None when the words do not follow the text."""
    offsets, pos = [], 0
    for w in seg.words:
        at = seg.text.find(w.text, pos) if w.text else pos
        if at < 0:
            return None
        offsets.append(at)
        pos = at + len(w.text)
    return offsets


def _glued(seg: Segment, offsets: list[int] | None) -> set[int]:
    """Words written onto the one before them ("ill" + "-disposed."): a speaker change never cuts
    there. Only in text that separates words with spaces (Chinese or Japanese text never does)."""
    if offsets is None or " " not in seg.text.strip():
        return set()
    return {k for k in range(1, len(offsets)) if offsets[k] > 0 and not seg.text[offsets[k] - 1].isspace()}


def _parts(seg: Segment, labels: list[int]) -> list[tuple[Segment, int]]:
    offsets = _word_offsets(seg)
    glued = _glued(seg, offsets)
    labels = list(labels)
    for k in sorted(glued):  # a written word keeps the label of its first piece
        labels[k] = labels[k - 1]
    cuts = [k for k in range(1, len(labels)) if labels[k] != labels[k - 1]]
    if not cuts:
        return [(seg, labels[0])]
    bounds = [0, *cuts, len(labels)]
    out = []
    for n, (a, b) in enumerate(itertools.pairwise(bounds)):
        words = seg.words[a:b]
        if offsets is not None:
            start_at = 0 if n == 0 else offsets[a]
            end_at = len(seg.text) if b == len(labels) else offsets[b]
            text = seg.text[start_at:end_at].strip()
        else:
            text = " ".join(w.text for w in words)
        start = seg.start if n == 0 else words[0].start
        end = seg.end if b == len(labels) else words[-1].end
        out.append((replace(seg, start=start, end=max(end, start), text=text, words=words), labels[a]))
    return out


def label_segments(segments: Sequence[Segment], spans: Sequence[Span]) -> tuple[list[Segment], int]:
    """Segments with ``speaker`` set ("Speaker 1" = first voice heard), split at changes; and how
    many segments were split."""
    ordered = sorted(spans, key=lambda s: s.start)
    labelled: list[tuple[Segment, int | None]] = []
    split = 0
    for seg in segments:
        words = [w for w in seg.words]
        if not words or not ordered:
            labelled.append((seg, _best(ordered, seg.start, seg.end)))
            continue
        raw = [_best(ordered, w.start, w.end) for w in words]
        labels = _smooth(words, [r if r is not None else 0 for r in raw])
        parts = _parts(seg, labels)
        split += len(parts) > 1
        labelled.extend((p, lab) for p, lab in parts)
    names: dict[int, str] = {}
    out = []
    for seg, label in sorted(labelled, key=lambda x: x[0].start):
        speaker = None if label is None else names.setdefault(label, f"Speaker {len(names) + 1}")
        out.append(replace(seg, speaker=speaker))
    return out, split
