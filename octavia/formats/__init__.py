"""Subtitle files: read and write SRT, WebVTT and ASS, chosen by file suffix.

Only the standard library is imported here (this package is imported when the CLI starts);
layout (line breaking, reading speed) lives in :mod:`octavia.formats.layout`.

>>> cues = loads("1\\n00:00:01,000 --> 00:00:02,500\\nHello\\n", "srt")
>>> dumps(cues, "vtt").splitlines()[2]
'00:00:01.000 --> 00:00:02.500'
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from octavia.errors import InputError
from octavia.formats import ass, srt, vtt
from octavia.formats._common import Document
from octavia.formats._encoding import Decoded, decode
from octavia.formats.ass_style import AssStyle
from octavia.formats.rules import LayoutWarning
from octavia.types import Cue

__all__ = ["FORMATS", "OUTPUT_FORMATS", "AssStyle", "Decoded", "Document", "decode", "dumps", "format_from_suffix", "loads", "parse",
           "read", "read_document", "write"]  # fmt: skip

FORMATS = ("srt", "vtt", "ass")
#: What a job can write: the subtitle formats, and the transcript itself as JSON
#: (:mod:`octavia.formats.transcript`: segments with times, text, speaker and words).
OUTPUT_FORMATS = (*FORMATS, "json")
_SUFFIXES = {".srt": "srt", ".vtt": "vtt", ".ass": "ass", ".ssa": "ass"}


def format_from_suffix(path: str | Path) -> str:
    """The format name for a path or a bare suffix (".ssa" -> "ass"); InputError for others."""
    text = str(path)
    suffix = text.lower() if text.startswith(".") and "/" not in text else Path(text).suffix.lower()
    if suffix not in _SUFFIXES:
        raise InputError(
            f"Unknown subtitle file type {suffix or '(no suffix)'!r} for {Path(text).name or text}.",
            f"Use one of {', '.join(_SUFFIXES)}.",
        )
    return _SUFFIXES[suffix]


def _check_format(fmt: str) -> str:
    name = fmt.lower().lstrip(".")
    name = "ass" if name == "ssa" else name
    if name not in FORMATS:
        raise InputError(f"Unknown subtitle format {fmt!r}.", f"Use one of {', '.join(FORMATS)}.")
    return name


def parse(text: str, fmt: str) -> Document:
    """A Document (cues and header) from the text of a file in ``fmt``."""
    name = _check_format(fmt)
    return {"srt": srt.parse, "vtt": vtt.parse, "ass": ass.parse}[name](text)


def loads(text: str, fmt: str) -> list[Cue]:
    """The cues of subtitle text in ``fmt`` ("srt", "vtt", "ass" or "ssa")."""
    return parse(text, fmt).cues


def dumps(
    cues: Iterable[Cue], fmt: str, *, ass_style: AssStyle | None = None, ass_header: str | None = None,
    vtt_header: str | None = None, speaker_labels: str = "none",
) -> str:  # fmt: skip
    """Subtitle text in ``fmt``; the header and speaker-label options apply only to their own format."""
    name = _check_format(fmt)
    if name == "srt":
        return srt.write(cues, speaker_labels=speaker_labels)
    if name == "vtt":
        return vtt.write(cues, header=vtt_header)
    return ass.write(cues, style=ass_style, header=ass_header)


def read_document(path: Path, *, encoding: str | None = None) -> Document:
    """Cues and header of a subtitle file; pass the header back to :func:`write` to keep its styles.

    ``encoding`` overrides detection (see :mod:`octavia.formats._encoding`); a detected encoding
    is reported in ``Document.warnings`` so the user can tell when it is wrong.
    """
    fmt = format_from_suffix(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror or exc}.", "Check the path and permissions."
        ) from exc
    decoded = decode(data, encoding, name=Path(path).name)
    doc = parse(decoded.text, fmt)
    if decoded.source == "detected":
        also = f"; it could also be {', '.join(decoded.alternatives)}" if decoded.alternatives else ""
        detail = (f"no byte-order mark and not UTF-8: read as {decoded.encoding}, detected{also}; "
                  "pass --encoding if the text looks wrong")  # fmt: skip
        doc.warnings.insert(0, LayoutWarning(-1, 0.0, 0.0, "encoding", detail))
    return doc


def read(path: Path, *, encoding: str | None = None) -> list[Cue]:
    """The cues of a .srt, .vtt, .ass or .ssa file."""
    return read_document(path, encoding=encoding).cues


def write(
    cues: Iterable[Cue], path: Path, *, ass_style: AssStyle | None = None, ass_header: str | None = None,
    vtt_header: str | None = None, speaker_labels: str = "none",
) -> None:  # fmt: skip
    """Write ``cues`` as UTF-8 in the format the suffix of ``path`` names (LF line ends)."""
    text = dumps(
        cues,
        format_from_suffix(path),
        ass_style=ass_style,
        ass_header=ass_header,
        vtt_header=vtt_header,
        speaker_labels=speaker_labels,
    )
    Path(path).write_text(text, encoding="utf-8", newline="\n")
