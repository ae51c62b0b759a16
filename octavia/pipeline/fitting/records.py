"""The per-segment fit record: where each clip plays and what it took to get it there.

One record per segment that has a clip, in timeline order. The same list is written to the
job workspace as ``fit.{target}.json`` (under ``"segments"``) and put in
``ctx.info["timing"][target]["segments"]``; the dub report reads it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FitRecord:
    """How one segment's clip was placed. Times are seconds on the media's timeline.

    ``overflow_s`` is speech that could not be placed in time: the clip was placed whole (never
    cut) but it ends that much after the latest time it was allowed to (the next clip's start,
    the media end, or its drift bound). ``clip_duration`` is the clip before any speed-up;
    ``placed_end - placed_start`` the played (sped-up) length.
    """

    index: int  # the segment's index in the dubbed transcript
    start: float  # the segment window
    end: float
    placed_start: float  # where the clip plays
    placed_end: float
    factor: float  # speed-up applied (1.0 = none)
    shift_s: float  # placed_start - start (negative: started early, into the gap before)
    borrowed_before_s: float  # time taken from the free gap before the window
    borrowed_after_s: float  # time taken past the window's end
    overflow_s: float
    clip_duration: float
    retries: int = 0  # shorter renderings asked for before this clip

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitRecord:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


#: The keys every record has (the contract with the report).
RECORD_KEYS = tuple(FitRecord.__dataclass_fields__)
