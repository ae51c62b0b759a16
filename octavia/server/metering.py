"""What a running job's audio really costs: the worker's check before it transcribes.

The reservation was priced from the upload's measured length, but the worker transcribes the
audio that ffmpeg extracted. Before the first minute is transcribed, the extracted audio's
sample count is compared with what was reserved: more audio than paid for is reserved on top
(one more ``reserve`` entry, in the lease's transaction), or, when the balance cannot cover
it, the job fails with :class:`UnpaidAudio` and its reservation is refunded. No minute is ever
transcribed unpaid. Settlement then charges the same measured length.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia.errors import InsufficientCredits, OctaviaError
from octavia.pipeline.media import wav_seconds
from octavia.server import credits
from octavia.server.pricing import billable_seconds, estimate_cost, languages_made, started_minutes

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from octavia.server.settings import ServerSettings


class UnpaidAudio(OctaviaError):
    """The extracted audio is longer than the reservation and the balance cannot cover it."""

    code = "audio_longer_than_paid"


def cover_audio(conn: Connection, settings: ServerSettings, job: Any, audio: Path) -> int | None:
    """Make the job's reservation cover ``audio``; returns the new total when it grew, else None.

    Call inside the fenced transaction. Raises UnpaidAudio (nothing written) when it cannot.
    """
    seconds = wav_seconds(audio)
    needed = estimate_cost(settings, job.kind, billable_seconds(seconds), len(job.languages or ()))
    held = credits.reserved(conn, job.id)
    if needed <= held:
        return None
    minutes = started_minutes(billable_seconds(seconds))
    try:
        credits.reserve_more(
            conn, job_id=job.id, amount=needed - held,
            note=f"The audio is {seconds:.1f} s ({minutes} min), longer than the upload promised",
        )  # fmt: skip
    except InsufficientCredits as exc:
        raise UnpaidAudio(
            f"The audio is {seconds:.0f} s long and costs {needed} credits, {needed - held} more than "
            f"were reserved, and the balance does not cover them. Nothing was transcribed or charged.",
            "Buy credits and create the job again, or upload a shorter file.",
        ) from exc
    return needed


def actual_cost(settings: ServerSettings, job: Any, info: dict[str, Any], audio: Path) -> int:
    """What a finished job is charged: its extracted audio's length (not the container's
    header, which may be missing or wrong) × the languages it made."""
    seconds = wav_seconds(audio) if audio.is_file() else float(info.get("duration") or 0.0)
    made = languages_made(job.kind, list(job.languages or ()), info.get("language"))
    return estimate_cost(settings, job.kind, billable_seconds(seconds), made)


__all__ = ["UnpaidAudio", "actual_cost", "cover_audio"]
