"""Burned-in (open) subtitles: render a subtitle file into the picture with libass.

SRT and WebVTT are converted to ASS with the job's style first (:class:`AssStyle`: font, size,
colours, outline, position); an ASS file is burned as written, its own styles kept. libass
shapes text with HarfBuzz and FriBidi, so Arabic and Hebrew are joined and laid right to left,
and CJK is set as written — provided a font has the glyphs. Fonts are found through
fontconfig (the system's fonts: Noto Sans, then DejaVu Sans for what it lacks), or in a folder
given as ``fonts_dir``. libass says in its log which font file it chose for each style and each
character it could not draw with any font; the second becomes a warning that names the fix
(a CJK font is not in ``fonts-noto-core``: install ``fonts-noto-cjk``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from octavia import formats
from octavia.errors import InputError
from octavia.formats.ass_style import AssStyle
from octavia.pipeline import media
from octavia.pipeline.workspace import atomic_path

_FONT_CHOSEN = re.compile(r"fontselect: \((?P<request>[^)]*)\) -> (?P<path>.+?), \d+, (?P<name>\S+)")
_NO_GLYPH = re.compile(r"failed to find any fallback with glyph 0x(?P<code>[0-9A-Fa-f]+)")
FONT_HINT = (
    "No installed font has these characters, so they were drawn as empty boxes. Install a font "
    "that has them (CJK: `apt-get install fonts-noto-cjk`; others: the matching fonts-noto-* package), "
    "or pass a folder of fonts with --fonts-dir."
)


@dataclass(frozen=True)
class BurnReport:
    """What libass used: the font files it chose, and the characters no font could draw."""

    output: Path
    fonts: tuple[str, ...]
    missing: tuple[str, ...]  # the characters themselves, in order of first appearance

    @property
    def warning(self) -> str | None:
        if not self.missing:
            return None
        shown = " ".join(f"{c} (U+{ord(c):04X})" for c in self.missing[:8])
        more = f" and {len(self.missing) - 8} more" if len(self.missing) > 8 else ""
        return f"Missing glyphs in the burned subtitles: {shown}{more}. {FONT_HINT}"

    def to_dict(self) -> dict[str, object]:
        return {"output": str(self.output), "fonts": list(self.fonts), "missing_glyphs": list(self.missing),
                "warning": self.warning}  # fmt: skip


def parse_libass_log(log: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(font files chosen, characters without a glyph) from ffmpeg's verbose libass log."""
    fonts = dict.fromkeys(m.group("path") for m in _FONT_CHOSEN.finditer(log))
    missing = dict.fromkeys(chr(int(m.group("code"), 16)) for m in _NO_GLYPH.finditer(log))
    return tuple(fonts), tuple(missing)


def ass_for_burning(subtitles: Path, dest: Path, *, style: AssStyle | None = None) -> Path:
    """``dest``: the ASS to burn. An ASS input is copied as it is (its styles are the author's);
    SRT and VTT are read (an unreadable file is an InputError) and written as ASS with ``style``."""
    subtitles = Path(subtitles)
    fmt = formats.format_from_suffix(subtitles)
    try:
        document = formats.read_document(subtitles)
    except InputError as exc:  # name the file: the parser's message names only a line
        raise InputError(f"{subtitles.name} cannot be burned: {exc.message}", exc.hint) from exc
    if not document.cues:
        raise InputError(
            f"{subtitles} has no subtitles to burn.", "Pass a subtitle file with at least one cue."
        )
    with atomic_path(dest) as tmp:
        if fmt == "ass":
            tmp.write_text(formats.dumps(document.cues, "ass", ass_header=document.header), encoding="utf-8")
        else:
            tmp.write_text(
                formats.dumps(document.cues, "ass", ass_style=style or AssStyle()), encoding="utf-8"
            )
    return dest


def burn(
    video: Path, subtitles: Path, dest: Path, *, style: AssStyle | None = None, fonts_dir: Path | None = None,
    crf: int = media.BURN_CRF, preset: str = media.BURN_PRESET,
    on_progress: Callable[[float, float], None] | None = None, ffmpeg: media.FFmpeg | None = None,
) -> BurnReport:  # fmt: skip
    """Write ``dest``: ``video`` with ``subtitles`` rendered into the picture (x264), its audio
    and soft subtitle tracks copied. See the module docstring for fonts and scripts."""
    import tempfile

    info = media.probe(Path(video))
    if not info.has_video:
        raise InputError(f"{video} has no video stream to burn subtitles into.")
    with tempfile.TemporaryDirectory(prefix="octavia-subs-") as tmp:
        ass = ass_for_burning(Path(subtitles), Path(tmp) / "burn.ass", style=style)
        with atomic_path(Path(dest)) as out:
            log = media.burn_subtitles(Path(video), ass, out, fonts_dir=fonts_dir, crf=crf, preset=preset,
                                       on_progress=on_progress, ffmpeg=ffmpeg)  # fmt: skip
    fonts, missing = parse_libass_log(log)
    return BurnReport(Path(dest), fonts, missing)


__all__ = ["BurnReport", "ass_for_burning", "burn", "parse_libass_log"]
