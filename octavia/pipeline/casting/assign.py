"""Give each speaker a voice: distinct voices, matched by pitch, the same on every run.

Pitches are compared on a log scale (an octave is the same distance at any pitch). With at
least as many voices as speakers, the assignment minimises the total pitch distance over
distinct voices; in one dimension an optimal matching never crosses (the lowest speaker gets
the lower of two voices), so a dynamic programme over both lists sorted by pitch finds it.
Speakers beyond the number of voices reuse one: the closest in pitch among voices that none of
their pitch neighbours (the speakers just above and below them) holds, so the two speakers
most easily confused never share a voice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

#: Where a pitch is unknown (too little voiced speech): the middle of the adult range.
NEUTRAL_HZ = 150.0


@dataclass
class Assignment:
    voices: dict[str, str | None]  # speaker label → voice
    shared: dict[str, str] = field(default_factory=dict)  # speaker → the speaker whose voice it reuses
    notes: list[str] = field(default_factory=list)


def _log(hz: float | None) -> float:
    return math.log(hz if hz and hz > 0 else NEUTRAL_HZ)


def _match(
    speakers: Sequence[tuple[str, float]], voices: Sequence[tuple[str | None, float]]
) -> dict[str, str | None]:
    """Order-preserving min-cost matching of ``speakers`` (no more than voices), both sorted by pitch."""
    m, n = len(speakers), len(voices)
    inf = float("inf")
    cost = [[0.0] * (n + 1)] + [[inf] * (n + 1) for _ in range(m)]
    took = [[False] * (n + 1) for _ in range(m + 1)]
    for i in range(1, m + 1):
        for j in range(i, n + 1):
            take = cost[i - 1][j - 1] + abs(speakers[i - 1][1] - voices[j - 1][1])
            skip = cost[i][j - 1]
            took[i][j] = take <= skip
            cost[i][j] = min(take, skip)
    out: dict[str, str | None] = {}
    i, j = m, n
    while i > 0:
        if took[i][j]:
            out[speakers[i - 1][0]] = voices[j - 1][0]
            i -= 1
        j -= 1
    return out


def assign(
    speakers: Mapping[str, float | None],
    voices: Mapping[str | None, float | None],
    *,
    fixed: Mapping[str, str | None] | None = None,
    priority: Sequence[str] = (),
) -> Assignment:
    """A voice for every speaker in ``speakers`` (label → median pitch Hz).

    ``voices``: the candidates (voice → measured pitch), in catalogue order; ``fixed``: voices
    already chosen (cast file, review); ``priority``: who gets a distinct voice first when there
    are too few (the speakers who talk most), the rest in label order.
    """
    chosen: dict[str, str | None] = {k: v for k, v in (fixed or {}).items() if k in speakers}
    result = Assignment(dict(chosen))
    todo = [s for s in dict.fromkeys([*priority, *sorted(speakers)]) if s in speakers and s not in chosen]
    if not todo:
        return result
    if not voices:
        voices = {None: None}
    free = [v for v in voices if v not in chosen.values()]
    distinct, extra = todo[: len(free)], todo[len(free) :]
    by_pitch = sorted(((s, _log(speakers[s])) for s in distinct), key=lambda t: (t[1], t[0]))
    free_by_pitch = sorted(((v, _log(voices[v])) for v in free), key=lambda t: (t[1], str(t[0])))
    result.voices.update(_match(by_pitch, free_by_pitch))
    everyone = sorted(speakers, key=lambda s: (_log(speakers[s]), s))
    for label in extra:  # more speakers than voices
        rank = everyone.index(label)
        neighbours = {everyone[k] for k in (rank - 1, rank + 1) if 0 <= k < len(everyone)}
        held_by_neighbours = {result.voices[s] for s in neighbours if s in result.voices}
        options = [v for v in voices if v not in held_by_neighbours] or list(voices)
        voice = min(options, key=lambda v: (abs(_log(voices[v]) - _log(speakers[label])), str(v)))
        result.voices[label] = voice
        holder = next(s for s, v in result.voices.items() if v == voice and s != label)
        result.shared[label] = holder
        result.notes.append(
            f"{label} shares the voice {voice or 'default'} with {holder} (more speakers than voices)."
        )
    return result
