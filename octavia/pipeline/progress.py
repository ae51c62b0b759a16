"""Progress and cancellation hooks passed into long-running work.

The core reports through a plain callable so that the CLI (Rich bars), the server (job
events in the database) and tests (a list) can each listen in their own way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from octavia.errors import Cancelled


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """``completed`` out of ``total`` units of ``stage`` (seconds of media, segments, ...)."""

    stage: str
    completed: float
    total: float | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.completed / self.total))


ProgressCallback = Callable[[ProgressEvent], None]
CancelCheck = Callable[[], bool]


def no_progress(event: ProgressEvent) -> None:
    """The default listener: ignores events."""


def never_cancelled() -> bool:
    return False


def check_cancelled(cancel: CancelCheck | None) -> None:
    """Raise :class:`Cancelled` if the caller asked to stop; called between units of work."""
    if cancel is not None and cancel():
        raise Cancelled("The job was cancelled.")


def cancellable(progress: ProgressCallback, cancel: CancelCheck | None) -> ProgressCallback:
    """``progress`` that also checks ``cancel`` after each event, raising :class:`Cancelled`.

    Long stages report once per unit of work (a Whisper segment, a translation batch, a
    synthesized clip), so checking here makes every one of them stop within a unit of a
    cancel request without each engine taking a cancel argument of its own.
    """
    if cancel is None:
        return progress

    def report(event: ProgressEvent) -> None:
        progress(event)
        check_cancelled(cancel)

    return report
