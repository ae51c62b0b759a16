"""The layout rules and the layout's report: plain, JSON-friendly dataclasses.

Defaults follow common broadcast and streaming guidelines (42 characters, 2 lines, 17
characters per second, 5/6 s to 7 s on screen). ``min_gap`` defaults to 0.04 s, about one
frame at 25 fps: enough for a viewer to see that one subtitle replaced another with similar
text, small enough not to cut reading time.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from octavia.errors import InputError
from octavia.types import Cue


@dataclass(frozen=True, slots=True)
class LayoutRules:
    """What a cue may hold and how long it stays on screen."""

    max_chars_per_line: int = 42
    max_lines: int = 2
    max_cps: float = 17.0
    min_duration: float = 0.83
    max_duration: float = 7.0
    min_gap: float = 0.04

    def __post_init__(self) -> None:
        hint = "Fix the layout options (see `octavia subtitle --help`)."
        if self.max_chars_per_line < 1 or self.max_lines < 1:
            raise InputError("max_chars_per_line and max_lines must be at least 1.", hint)
        numbers = (self.max_cps, self.min_duration, self.max_duration, self.min_gap)
        if not all(math.isfinite(x) for x in numbers) or self.max_cps <= 0:
            raise InputError("max_cps must be a positive number, durations and gap finite.", hint)
        if self.min_duration < 0 or self.min_gap < 0 or self.max_duration <= 0:
            raise InputError(
                "min_duration and min_gap must not be negative, max_duration must be positive.", hint
            )
        if self.max_duration < self.min_duration:
            raise InputError(
                f"max_duration ({self.max_duration} s) is below min_duration ({self.min_duration} s).", hint
            )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayoutRules:
        """Rules from options, with an InputError (not a TypeError) for an unknown name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise InputError(
                f"Unknown layout option(s): {', '.join(unknown)}.", f"Use {', '.join(sorted(known))}."
            )
        return cls(**d)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LayoutWarning:
    """One rule one cue could not meet, and why (e.g. the next cue starts too soon).

    Readers report in the same form what they repaired or read past instead of refusing a file:
    ``rule`` "end_before_start" (a cue given a new end), "skipped" (a part that is not a cue;
    ``index`` is the next cue's) or "encoding" (the text encoding was detected; ``index`` -1,
    the whole file).
    """

    index: int
    start: float
    end: float
    rule: (
        str  # a LayoutRules field name, "overlap", or a reader's "end_before_start" / "skipped" / "encoding"
    )
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "start": round(self.start, 3), "end": round(self.end, 3),
                "rule": self.rule, "detail": self.detail}  # fmt: skip


@dataclass(frozen=True, slots=True)
class LayoutResult:
    """Cues ready to write, and the per-cue report of rules that could not be met."""

    cues: list[Cue]
    warnings: list[LayoutWarning]

    def to_dict(self) -> dict[str, Any]:
        cues = [{"start": round(c.start, 3), "end": round(c.end, 3), "text": c.text, "style": c.style}
                for c in self.cues]  # fmt: skip
        return {"cues": cues, "warnings": [w.to_dict() for w in self.warnings]}
