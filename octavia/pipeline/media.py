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
from typing import Any

from octavia.errors import FFmpegError, InputError, MissingDependency
from octavia.types import MediaInfo, StreamInfo

SAMPLE_RATE = 16_000
_FFMPEG_HINT = (
    "Reinstall Octavia (`pip install octavia-media` brings ffmpeg through the imageio-ffmpeg wheel), "
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


def audio_duration(path: Path) -> float:
    """The real length, in seconds, of the first audio stream: what is priced and limited.

    A container header's duration can be missing (Matroska or FLAC written to a pipe) or wrong
    (an MP3 whose Xing frame count lies), so this reads the stream itself: it demuxes every
    packet and sums their durations (no decoding; ~0.1 s for 10 min of Opus, ~0.5 s for 6 h
    of FLAC), and decodes only when packets carry no duration. A file whose length cannot be
    established this way is an InputError, never "0 s".
    """
    import av

    path = Path(path)
    try:
        seconds = _packet_seconds(path)
        if seconds is None:
            seconds = _decoded_seconds(path)
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise InputError(
            f"{path}: its audio cannot be read to the end ({_av_reason(exc)}).",
            "Re-export the file; it may be truncated or damaged.",
        ) from exc
    if seconds <= 0:
        raise InputError(
            f"{path}: the length of its audio cannot be established.",
            "Re-export the file (e.g. to WAV, FLAC or M4A) and upload it again.",
        )
    return seconds


def _first_audio(container: Any, path: Path) -> Any:
    if not container.streams.audio:
        raise InputError(f"{path}: has no audio stream, so there is no speech to work on.")
    return container.streams.audio[0]


def _packet_seconds(path: Path) -> float | None:
    """Sum of the audio packets' durations; None when some packet does not carry one."""
    import av

    with av.open(str(path)) as container:
        stream = _first_audio(container, path)
        if not stream.time_base:
            return None
        total = 0
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream flush packet
                continue
            if not packet.duration:
                return None
            total += packet.duration
        return float(total * stream.time_base)


def _decoded_seconds(path: Path) -> float:
    """Decoded samples / sample rate: slower, for streams whose packets carry no duration."""
    import av

    with av.open(str(path)) as container:
        stream = _first_audio(container, path)
        samples, rate = 0, 0
        for frame in container.decode(stream):
            samples += frame.samples
            rate = frame.sample_rate or rate
        return samples / rate if rate else 0.0


def wav_seconds(path: Path) -> float:
    """Length of a PCM WAV that :func:`extract_audio` wrote (frames / rate, from its header,
    which ffmpeg fills in correctly when it writes to a seekable file)."""
    import wave

    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, EOFError, OSError) as exc:
        raise InputError(f"{path}: not a readable WAV file ({exc}).") from exc


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


# --------------------------------------------------------------------------- dubbing: audio I/O

#: ISO 639-1 → ISO 639-2/T, the three-letter codes MP4 and Matroska language tags use.
#: Covers Whisper's languages that have a 639-1 code; an unknown code is passed through as given.
ISO639_2 = {
    "af": "afr", "am": "amh", "ar": "ara", "as": "asm", "az": "aze", "ba": "bak", "be": "bel",
    "bg": "bul", "bn": "ben", "bo": "bod", "br": "bre", "bs": "bos", "ca": "cat", "cs": "ces",
    "cy": "cym", "da": "dan", "de": "deu", "el": "ell", "en": "eng", "es": "spa", "et": "est",
    "eu": "eus", "fa": "fas", "fi": "fin", "fo": "fao", "fr": "fra", "gl": "glg", "gu": "guj",
    "ha": "hau", "he": "heb", "hi": "hin", "hr": "hrv", "ht": "hat", "hu": "hun", "hy": "hye",
    "id": "ind", "is": "isl", "it": "ita", "ja": "jpn", "jw": "jav", "jv": "jav", "ka": "kat",
    "kk": "kaz", "km": "khm", "kn": "kan", "ko": "kor", "la": "lat", "lb": "ltz", "ln": "lin",
    "lo": "lao", "lt": "lit", "lv": "lav", "mg": "mlg", "mi": "mri", "mk": "mkd", "ml": "mal",
    "mn": "mon", "mr": "mar", "ms": "msa", "mt": "mlt", "my": "mya", "ne": "nep", "nl": "nld",
    "nn": "nno", "no": "nor", "nb": "nob", "oc": "oci", "pa": "pan", "pl": "pol", "ps": "pus",
    "pt": "por", "ro": "ron", "ru": "rus", "sa": "san", "sd": "snd", "si": "sin", "sk": "slk",
    "sl": "slv", "sn": "sna", "so": "som", "sq": "sqi", "sr": "srp", "su": "sun", "sv": "swe",
    "sw": "swa", "ta": "tam", "te": "tel", "tg": "tgk", "th": "tha", "tk": "tuk", "tl": "tgl",
    "tr": "tur", "tt": "tat", "uk": "ukr", "ur": "urd", "uz": "uzb", "vi": "vie", "yi": "yid",
    "yo": "yor", "zh": "zho", "yue": "yue",
}  # fmt: skip


def iso639_2(code: str) -> str:
    """The three-letter tag for a language code (``es`` → ``spa``); ``und`` when unknown/empty."""
    code = (code or "").strip().lower()
    if not code:
        return "und"
    return ISO639_2.get(code.split("-")[0].split("_")[0], code if len(code) == 3 else "und")


def decode_audio(src: Path, *, sample_rate: int, channels: int, ffmpeg: FFmpeg | None = None) -> Any:
    """Decode the first audio stream to a float32 numpy array of shape (samples, channels)."""
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory(prefix="octavia-pcm-") as tmp:
        raw = Path(tmp) / "audio.f32"
        (ffmpeg or FFmpeg()).run(
            ["-i", str(src), "-map", "0:a:0", "-vn", "-ac", str(channels), "-ar", str(sample_rate),
             "-f", "f32le", "-c:a", "pcm_f32le", str(raw)],
            what=f"Decoding audio from {src}",
        )  # fmt: skip
        data = np.fromfile(raw, dtype=np.float32)
    return data.reshape(-1, channels)


def write_wav(samples: Any, dest: Path, sample_rate: int) -> Path:
    """Write float samples in [-1, 1], shape (n,) or (n, channels), as 16-bit PCM WAV."""
    import wave

    import numpy as np

    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    pcm = (np.clip(data, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(dest), "wb") as w:
        w.setnchannels(int(data.shape[1]))
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return dest


@cache
def _filters(exe: str) -> frozenset[str]:
    proc = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True, check=False)
    return frozenset(line.split()[1] for line in proc.stdout.splitlines() if len(line.split()) > 2)


def has_filter(name: str, ffmpeg: FFmpeg | None = None) -> bool:
    return name in _filters((ffmpeg or FFmpeg()).exe)


def time_stretch(src: Path, dest: Path, factor: float, *, ffmpeg: FFmpeg | None = None) -> str:
    """Speed ``src`` up by ``factor`` (>1 = shorter) keeping the pitch; returns the filter used.

    Rubber Band (a phase vocoder with transient handling) sounds far better on speech than
    ``atempo``'s WSOLA at 1.1-1.3x; ``atempo`` is the fallback for ffmpeg builds without it.
    """
    if not 0.5 <= factor <= 4.0:
        raise InputError(f"Time-stretch factor {factor:.3f} is outside 0.5-4.0.")
    ff = ffmpeg or FFmpeg()
    name = "rubberband" if has_filter("rubberband", ff) else "atempo"
    spec = f"rubberband=tempo={factor:.6f}:pitchq=quality" if name == "rubberband" else f"atempo={factor:.6f}"
    ff.run(["-i", str(src), "-af", spec, "-c:a", "pcm_s16le", str(dest)], what=f"Time-stretching {src.name}")
    return name


def cut_audio(
    src: Path, dest: Path, *, start: float, duration: float, sample_rate: int = 22_050,
    ffmpeg: FFmpeg | None = None,
) -> Path:  # fmt: skip
    """A mono WAV excerpt of ``src`` (a voice-cloning reference, for instance)."""
    (ffmpeg or FFmpeg()).run(
        ["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(src), "-map", "0:a:0", "-vn",
         "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le", str(dest)],
        what=f"Cutting a reference clip from {src.name}",
    )  # fmt: skip
    return dest


#: Audio codec per output suffix for translated-audio files.
AUDIO_CODECS = {
    ".wav": ["-c:a", "pcm_s16le"],
    ".flac": ["-c:a", "flac"],
    ".mp3": ["-c:a", "libmp3lame", "-q:a", "3"],
    ".m4a": ["-c:a", "aac", "-b:a", "160k"],
    ".ogg": ["-c:a", "libvorbis", "-q:a", "5"],
    ".opus": ["-c:a", "libopus", "-b:a", "96k"],
}


def encode_audio(src: Path, dest: Path, *, language: str | None = None, ffmpeg: FFmpeg | None = None) -> Path:
    """Encode a WAV into the format ``dest``'s suffix names, with a language tag."""
    codec = AUDIO_CODECS.get(dest.suffix.lower())
    if codec is None:
        raise InputError(
            f"Unsupported audio format {dest.suffix!r}.", f"Use one of: {', '.join(AUDIO_CODECS)}."
        )
    tag = ["-metadata:s:a:0", f"language={iso639_2(language)}"] if language else []
    (ffmpeg or FFmpeg()).run(["-i", str(src), "-map", "0:a:0", *codec, *tag, str(dest)],
                             what=f"Encoding {dest.name}")  # fmt: skip
    return dest


#: Audio codecs an MP4 can carry as they are; others are re-encoded to AAC there.
_MP4_AUDIO = frozenset({"aac", "mp3", "mp3float", "ac3", "eac3", "alac", "opus", "flac"})


def mux_dub(
    video: Path,
    dub_audio: Path,
    dest: Path,
    *,
    dub_language: str,
    source_language: str | None,
    subtitles: Path | None = None,
    subtitle_language: str | None = None,
    keep_original: bool = True,
    ffmpeg: FFmpeg | None = None,
) -> Path:
    """A copy of ``video`` with the dub as the first (default) audio track, the original
    audio second, and ``subtitles`` as a soft track (mov_text in MP4, SRT/ASS in Matroska).
    The video stream is copied, never re-encoded."""
    info = probe(video)
    mp4 = dest.suffix.lower() in {".mp4", ".m4v", ".mov"}
    original = info.audio_streams[0] if keep_original and info.audio_streams else None
    args = ["-i", str(video), "-i", str(dub_audio)]
    if subtitles is not None:
        args += ["-i", str(subtitles)]
    args += ["-map", "0:v:0", "-map", "1:a:0"]
    if original is not None:
        args += ["-map", "0:a:0"]
    if subtitles is not None:
        args += ["-map", "2:0"]
    args += ["-c:v", "copy", "-c:a:0", "aac", "-b:a:0", "160k"]
    if original is not None:
        copy_ok = not mp4 or (original.codec or "") in _MP4_AUDIO
        args += ["-c:a:1", "copy"] if copy_ok else ["-c:a:1", "aac", "-b:a:1", "160k"]
    args += ["-metadata:s:a:0", f"language={iso639_2(dub_language)}", "-disposition:a:0", "default"]
    if original is not None:
        args += ["-metadata:s:a:1", f"language={iso639_2(source_language or '')}", "-disposition:a:1", "0"]
    if subtitles is not None:
        sub_codec = "mov_text" if mp4 else ("ass" if subtitles.suffix.lower() == ".ass" else "srt")
        args += ["-c:s", sub_codec, "-metadata:s:s:0",
                 f"language={iso639_2(subtitle_language or dub_language)}", "-disposition:s:0", "0"]  # fmt: skip
    if mp4:
        args += ["-movflags", "+faststart"]
    (ffmpeg or FFmpeg()).run([*args, str(dest)], what=f"Writing {dest.name}")
    return dest


def encode_speech_for_upload(src: Path, dest: Path, *, ffmpeg: FFmpeg | None = None) -> Path:
    """Compress speech for a hosted API with an upload limit: mono 16 kHz Opus in Ogg, 24 kb/s.

    About 3 KB per second of speech, so OpenAI's 25 MB limit holds over two hours, while
    Opus at this rate keeps speech intelligible enough for recognition.
    """
    (ffmpeg or FFmpeg()).run(
        ["-i", str(src), "-vn", "-ac", "1", "-ar", "16000", "-c:a", "libopus", "-b:a", "24k",
         "-application", "voip", str(dest)],
        what=f"Compressing {src} for upload",
    )  # fmt: skip
    return dest


# --------------------------------------------------------------------------- burned-in subtitles

#: x264 settings of a burned video: visually lossless for subtitles over typical footage, and
#: fast enough on a laptop CPU (``veryfast`` is ~3x ``medium`` for ~10 % more bits at this CRF).
BURN_CRF = 20
BURN_PRESET = "veryfast"
_FILTER_UNSAFE = set("'\\:,;[]")


def burn_args(
    video: Path, ass_name: str, dest: Path, *, fonts_dir: Path | None = None, crf: int = BURN_CRF,
    preset: str = BURN_PRESET,
) -> list[str]:  # fmt: skip
    """ffmpeg arguments that draw ``ass_name`` (a file in ffmpeg's working directory, so its
    path needs no filtergraph escaping) onto ``video`` with libass, re-encode the picture with
    x264, and copy every audio track and soft subtitle track as they are."""
    spec = f"ass=filename={ass_name}"
    if fonts_dir is not None:
        if _FILTER_UNSAFE & set(str(fonts_dir)):
            raise InputError(
                f"The fonts folder {fonts_dir} has a character ffmpeg's filter syntax reserves.",
                "Use a folder whose path has none of ' \\ : , ; [ ].",
            )
        spec += f":fontsdir={fonts_dir}"
    mp4 = dest.suffix.lower() in {".mp4", ".m4v", ".mov"}
    args = ["-i", str(video), "-map", "0:v:0", "-map", "0:a?", "-map", "0:s?", "-vf", spec,
            "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
            "-c:a", "copy", "-c:s", "mov_text" if mp4 else "copy", "-map_metadata", "0"]  # fmt: skip
    if mp4:
        args += ["-movflags", "+faststart"]
    return [*args, str(dest)]


def burn_subtitles(
    video: Path, ass_file: Path, dest: Path, *, fonts_dir: Path | None = None, crf: int = BURN_CRF,
    preset: str = BURN_PRESET, on_progress: Any = None, ffmpeg: FFmpeg | None = None,
) -> str:  # fmt: skip
    """Burn ``ass_file`` into ``video``; returns libass's log (fonts chosen, glyphs missing).

    ``on_progress(done_s, total_s)`` is called as ffmpeg reports its position.
    """
    import tempfile

    if not has_filter("ass", ffmpeg):
        raise MissingDependency(
            "This ffmpeg has no libass (the `ass` filter), so it cannot burn subtitles.", _FFMPEG_HINT
        )
    total = probe(video).duration
    exe = (ffmpeg or FFmpeg()).exe
    with tempfile.TemporaryDirectory(prefix="octavia-burn-") as tmp:
        shutil.copyfile(ass_file, Path(tmp) / "subtitles.ass")
        cmd = [exe, "-hide_banner", "-nostdin", "-loglevel", "verbose", "-nostats", "-progress", "pipe:1", "-y",
               *burn_args(Path(video).resolve(), "subtitles.ass", Path(dest).resolve(), fonts_dir=fonts_dir,
                          crf=crf, preset=preset)]  # fmt: skip
        log_path = Path(tmp) / "ffmpeg.log"
        with open(log_path, "w+", encoding="utf-8", errors="replace") as log:
            try:
                proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=log, text=True)
            except OSError as exc:
                raise MissingDependency(f"ffmpeg could not be started: {exc}", _FFMPEG_HINT) from exc
            assert proc.stdout is not None
            for line in proc.stdout:  # -progress writes key=value lines, out_time_us among them
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and value.isdigit() and on_progress is not None:
                    on_progress(min(total, int(value) / 1e6), total)
            code = proc.wait()
            log.seek(0)
            text = log.read()
    if code != 0:
        raise FFmpegError(f"Burning subtitles into {Path(video).name} failed: {_last_lines(text)}",
                          "Check that the input is a valid video file.")  # fmt: skip
    return text
