"""The only module that runs ffmpeg, and the one that probes media.

ffmpeg is found in this order: a path the user configured → ``ffmpeg`` on PATH → the static
binary shipped inside the ``imageio-ffmpeg`` wheel (a core dependency, so ``pip install
octavia`` always brings one). Probing uses PyAV (already a faster-whisper dependency),
because the wheel ships no ffprobe.

Command lines are built here and nowhere else, from small typed functions, so each
operation the pipeline needs (extract, time-stretch, mix, mux) reads as one list of args.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from octavia.errors import FFmpegError, InputError, MissingDependency
from octavia.types import MediaInfo, StreamInfo

SAMPLE_RATE = 16_000
_FFMPEG_HINT = (
    "Reinstall Octavia (`pip install octavia` brings ffmpeg through the imageio-ffmpeg wheel), "
    "install ffmpeg with your package manager (`apt-get install ffmpeg`, `brew install ffmpeg`), "
    "or set OCTAVIA_FFMPEG to the path of an ffmpeg binary."
)


@cache
def find_ffmpeg(configured: str | None = None) -> str:
    """Return the ffmpeg executable to use, or raise MissingDependency saying how to get one."""
    if configured:
        path = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if path is None:
            raise MissingDependency(f"The configured ffmpeg {configured!r} does not exist.", _FFMPEG_HINT)
        return path
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:
        imageio_ffmpeg = None
    if imageio_ffmpeg is not None:
        try:
            return str(imageio_ffmpeg.get_ffmpeg_exe())
        except RuntimeError:
            pass  # the wheel exists but carries no binary for this platform
    raise MissingDependency("No ffmpeg binary was found.", _FFMPEG_HINT)


@dataclass(frozen=True, slots=True)
class FFmpeg:
    """Runs ffmpeg command lines. ``binary=None`` resolves it as :func:`find_ffmpeg` does."""

    binary: str | None = None

    @property
    def exe(self) -> str:
        return find_ffmpeg(self.binary)

    def run(self, args: Sequence[str], *, what: str) -> None:
        cmd = [self.exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        except OSError as exc:
            raise MissingDependency(f"ffmpeg could not be started: {exc}", _FFMPEG_HINT) from exc
        if proc.returncode != 0:
            detail = _last_lines(proc.stderr)
            if "No space left on device" in proc.stderr:
                raise FFmpegError(f"{what} failed: the disk is full.", "Free some disk space and run again.")
            raise FFmpegError(f"{what} failed: {detail}", "Check that the input is a valid media file.")


def _last_lines(text: str, n: int = 3) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " | ".join(lines[-n:]) or "ffmpeg exited with an error"


# --------------------------------------------------------------------------- probing


def probe(path: Path) -> MediaInfo:
    """Describe a media file; a missing, empty, corrupt or non-media file is an InputError."""
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file.", "Check the path.")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a media file.")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty.", "Pass an audio or video file.")
    try:
        with av.open(str(path)) as container:
            streams = tuple(_stream_info(s) for s in container.streams)
            duration = container.duration / 1_000_000 if container.duration else 0.0
            if not duration:
                duration = max((s.duration or 0.0 for s in streams), default=0.0)
            fmt = container.format.name
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise InputError(
            f"{path}: not a readable audio or video file ({_av_reason(exc)}).",
            "Pass an audio or video file ffmpeg can read; re-export it if it is damaged.",
        ) from exc
    if fmt in {"image2", "png_pipe", "jpeg_pipe", "tty"} or not any(
        s.kind in {"audio", "video"} for s in streams
    ):
        raise InputError(f"{path}: not an audio or video file (format {fmt}).")
    return MediaInfo(path=str(path), duration=float(duration), format_name=fmt, streams=streams)


def _av_reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc).split(":")[0].strip() or type(exc).__name__


def _stream_info(stream: object) -> StreamInfo:
    from fractions import Fraction

    kind = getattr(stream, "type", "data")
    ctx = getattr(stream, "codec_context", None)
    duration = None
    if getattr(stream, "duration", None) and getattr(stream, "time_base", None):
        duration = float(stream.duration * Fraction(stream.time_base))  # type: ignore[attr-defined]
    metadata = getattr(stream, "metadata", {}) or {}
    return StreamInfo(
        index=int(getattr(stream, "index", 0)),
        kind=str(kind),
        codec=getattr(ctx, "name", None) if ctx is not None else None,
        language=metadata.get("language"),
        sample_rate=getattr(ctx, "sample_rate", None) if kind == "audio" else None,
        channels=getattr(ctx, "channels", None) if kind == "audio" else None,
        width=getattr(ctx, "width", None) if kind == "video" else None,
        height=getattr(ctx, "height", None) if kind == "video" else None,
        duration=duration,
    )


def require_audio(info: MediaInfo) -> None:
    if not info.audio_streams:
        raise InputError(
            f"{info.path}: has no audio stream, so there is no speech to work on.",
            "Pass a file with an audio track.",
        )


# --------------------------------------------------------------------------- operations


def extract_audio(
    src: Path,
    dest: Path,
    *,
    ffmpeg: FFmpeg | None = None,
    sample_rate: int = SAMPLE_RATE,
    channels: int = 1,
) -> Path:
    """Decode the first audio stream to PCM WAV (16 kHz mono by default, what Whisper wants)."""
    info = probe(src)
    require_audio(info)
    (ffmpeg or FFmpeg()).run(
        ["-i", str(src), "-map", "0:a:0", "-vn", "-ac", str(channels), "-ar", str(sample_rate),
         "-c:a", "pcm_s16le", "-f", "wav", str(dest)],
        what=f"Extracting audio from {src}",
    )  # fmt: skip
    return dest
