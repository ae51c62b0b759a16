"""What a job costs, in credits, before it runs.

Rule (the number shown to the user before they commit):

    cost = price_per_minute[kind] × started_minutes(duration) × max(1, n_languages)

* **Started minutes**: a 61-second file is 2 minutes; anything from 0 to 60 s is 1 minute
  (the pipeline has per-job overhead, so a 3-second clip is not free).
* **Languages**: each target language is charged in full, once: the job routes drop duplicate
  targets and the declared source language before pricing (``["es"]×4`` is one language), and
  at settlement a subtitle target that turned out to be the spoken language (nothing was
  translated) is not charged (:func:`languages_made`). Transcription is shared, but for the
  kinds that cost the most (translated audio, dubbing) the speech synthesis and mixing is done
  again per language, and one flat rule is easier to predict than a discount table.
  ``n_languages=0`` (transcribe only, no translation) counts as one.

The estimate is also the most a job can cost: settlement charges ``min(actual, estimate)``
(see :func:`octavia.server.credits.settle_job`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from octavia.errors import InputError

if TYPE_CHECKING:
    from octavia.server.settings import ServerSettings


#: Measured lengths carry codec padding (Opus pre-skip, the MP3 encoder's extra frame) and
#: resampling rounding of some milliseconds; half a second keeps an exact 10:00 file at 10 minutes.
TOLERANCE_S = 0.5


def billable_seconds(measured_s: float) -> float:
    """The seconds a measured length is priced at (what the upload probe or the worker measured)."""
    return max(0.0, measured_s - TOLERANCE_S)


def started_minutes(duration_s: float) -> int:
    if not math.isfinite(duration_s) or duration_s < 0:
        raise InputError(f"Media duration {duration_s!r} s is not a usable length.")
    return max(1, math.ceil(duration_s / 60.0))


def price_per_minute(settings: ServerSettings, kind: str) -> int:
    try:
        price = settings.prices_per_minute[kind]
    except KeyError:
        known = ", ".join(sorted(settings.prices_per_minute)) or "none"
        raise InputError(
            f"No price is configured for job kind {kind!r}.",
            hint=f"Priced kinds: {known} (OCTAVIA_PRICES_PER_MINUTE).",
        ) from None
    if price < 0:
        raise InputError(f"The configured price for {kind!r} is negative ({price}).")
    return price


def estimate_cost(settings: ServerSettings, kind: str, duration_s: float, n_languages: int = 1) -> int:
    """Credits to reserve for a ``kind`` job over ``duration_s`` seconds into ``n_languages`` targets."""
    if n_languages < 0:
        raise InputError(f"n_languages must not be negative (got {n_languages}).")
    return price_per_minute(settings, kind) * started_minutes(duration_s) * max(1, n_languages)


def languages_made(kind: str, targets: Sequence[str], spoken: str | None) -> int:
    """How many of ``targets`` a finished job made, for its settlement.

    A subtitle job writes the spoken language's subtitles anyway, so a target equal to the
    detected language adds nothing. The dubbing kinds still synthesise and mix such a target.
    """
    wanted = {t.strip().lower() for t in targets}
    if kind == "subtitle" and spoken:
        wanted.discard(spoken.strip().lower())
    return len(wanted)
