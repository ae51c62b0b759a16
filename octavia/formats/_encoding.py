"""The text encoding of a subtitle file: a byte-order mark, else UTF-8, else a detector; never a silent guess.

Old subtitle files come in every legacy code page (Windows-1252, GB2312, Big5, Windows-1251...);
decoding one as the wrong code page writes mojibake into every translation. So: a BOM decides
(UTF-32 before UTF-16, whose BOM is a prefix of UTF-32-LE's); then strict UTF-8, which random
legacy bytes almost never pass; then charset-normalizer, reported as a detection so that the
user can override it with ``--encoding``. A file nothing can decode is refused, not garbled.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

from octavia.errors import InputError

_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
#: Among equally plausible readings, the code pages most subtitle files in the wild were saved in
#: (Windows' Western, Cyrillic, Central European, Simplified and Traditional Chinese, Japanese).
_COMMON = ("cp1252", "cp1251", "cp1250", "gb18030", "big5", "cp932")
_HINT = "Pass the file's encoding, e.g. --encoding cp1252 or --encoding gb18030."


@dataclass(frozen=True, slots=True)
class Decoded:
    """The text of a file and how its encoding was known: "bom", "utf-8", "given" or "detected"."""

    text: str
    encoding: str
    source: str
    alternatives: tuple[str, ...] = ()  # other detected encodings that read the bytes differently


def _strict(data: bytes, encoding: str, name: str, why: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{name} is not valid {encoding} ({why}): byte 0x{data[exc.start]:02x} at offset {exc.start}.",
            _HINT,
        ) from exc


def _scripts(text: str) -> int:
    """How many writing systems the letters of ``text`` use (LATIN, CJK, HANGUL, HALFWIDTH...)."""
    return len({unicodedata.name(c, "?").split()[0] for c in set(text) if c.isalpha()})


def _detect(data: bytes, name: str) -> Decoded:
    from charset_normalizer import from_bytes

    results = list(from_bytes(data))
    if not results:
        raise InputError(f"Cannot tell the text encoding of {name}.", _HINT)
    best = results[0]
    # Short files often leave the detector with several equally plausible code pages; a
    # subtitle's letters are nearly always in one script, so the reading with fewer scripts wins
    # (French read as cp932 mixes Latin, kana and kanji), then the most common code page, then
    # the detector's own order.
    tied = [
        r for r in results if abs(r.chaos - best.chaos) < 1e-9 and abs(r.coherence - best.coherence) < 1e-9
    ]
    texts = [str(r) for r in tied]

    def rank(k: int) -> tuple[int, int, int]:
        common = _COMMON.index(tied[k].encoding) if tied[k].encoding in _COMMON else len(_COMMON)
        return _scripts(texts[k]), common, k

    pick = min(range(len(tied)), key=rank)
    others = tuple(r.encoding for r, t in zip(tied, texts, strict=True) if t != texts[pick])
    return Decoded(texts[pick], tied[pick].encoding, "detected", others)


def decode(data: bytes, encoding: str | None = None, *, name: str = "the file") -> Decoded:
    """The text of ``data``: in ``encoding`` when given (strictly), else by BOM, UTF-8 or detection."""
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError as exc:
            raise InputError(
                f"Unknown text encoding {encoding!r}.", "Use a name such as utf-8, cp1252, gb18030."
            ) from exc
        bom = next((b for b, enc in _BOMS if data.startswith(b) and codecs.lookup(enc).name == codec), b"")
        return Decoded(_strict(data[len(bom) :], codec, name, "as given"), codec, "given")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return Decoded(
                _strict(data[len(bom) :], codec, name, "it starts with its byte-order mark"), codec, "bom"
            )
    if b"\x00" not in data:  # NUL bytes are valid UTF-8 but mean UTF-16/32 without a BOM
        try:
            return Decoded(data.decode("utf-8"), "utf-8", "utf-8")
        except UnicodeDecodeError:
            pass
    return _detect(data, name)
