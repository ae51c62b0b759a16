"""Sentences from timed fragments, and translated sentences back onto the fragments' timings.

Whisper segments and subtitle cues often cut a sentence in two; translating the halves on
their own gives worse translations (and wrong word order across the cut). So consecutive
fragments are joined into sentences first, translated whole, and each translation is split
back onto the original fragments in proportion to their share of the source characters, with
split points snapped to word boundaries of the translation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

# Sentence-final punctuation, Latin and CJK, optionally followed by closing quotes/brackets.
_FINAL = re.compile(r"[.!?…。！？‼⁇⁈⁉]+[\"'”’»)\]」』）]*$")
_NO_PIECE_START = set(",.;:!?…、，。；：！？」』）)]»”’")


@dataclass(frozen=True, slots=True)
class Fragment:
    """A timed piece of text (a segment or a cue). ``group`` keys must match to be joined."""

    text: str
    start: float
    end: float
    group: object = None


@dataclass(frozen=True, slots=True)
class Sentence:
    indices: tuple[int, ...]  # the fragments it was made of, in order
    text: str


def is_cjk(ch: str) -> bool:
    """Characters of scripts written without spaces between words."""
    if not ch:
        return False
    name = unicodedata.name(ch, "")
    return (
        name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "IDEOGRAPHIC"))
        or ch in "。、「」『』！？，：；（）"
    )


def join_texts(parts: Sequence[str]) -> str:
    """Join fragments with a space, except between characters of space-less scripts."""
    out = ""
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and not (is_cjk(out[-1]) and is_cjk(part[0])):
            out += " "
        out += part
    return out


def ends_sentence(text: str) -> bool:
    return bool(_FINAL.search(text.strip()))


def group_sentences(
    fragments: Sequence[Fragment], *, max_chars: int = 280, max_pause: float = 1.5, max_fragments: int = 6
) -> list[Sentence]:
    """Join consecutive fragments until sentence-final punctuation.

    Unpunctuated speech (common in Whisper output for some languages) is capped instead: a
    pause longer than ``max_pause`` seconds, ``max_chars`` characters or ``max_fragments``
    fragments end a sentence too, so a sentence never grows without bound.
    """
    sentences: list[Sentence] = []
    current: list[int] = []
    chars = 0

    def close() -> None:
        nonlocal current, chars
        if current:
            sentences.append(Sentence(tuple(current), join_texts([fragments[i].text for i in current])))
        current, chars = [], 0

    for i, frag in enumerate(fragments):
        if current:
            prev = fragments[current[-1]]
            if (
                frag.group != prev.group
                or frag.start - prev.end > max_pause
                or frag.start < prev.end - 0.05  # overlapping (e.g. ASS signs): not one sentence
                or chars + len(frag.text) > max_chars
                or len(current) >= max_fragments
            ):
                close()
        if not frag.text.strip():
            close()
            sentences.append(Sentence((i,), ""))
            continue
        current.append(i)
        chars += len(frag.text.strip())
        if ends_sentence(frag.text):
            close()
    close()
    return sentences


def split_proportionally(text: str, weights: Sequence[float]) -> list[str]:
    """Split ``text`` into ``len(weights)`` pieces sized in proportion to ``weights``.

    Split points are snapped to word boundaries (to character boundaries for text written
    without spaces, never before punctuation). Pieces are never empty while the translation
    has enough words; when it has fewer words than fragments, the last pieces are empty.
    """
    n = len(weights)
    text = text.strip()
    if n == 1:
        return [text]
    candidates = _boundaries(text)
    total = sum(max(w, 0.0) for w in weights) or float(n)
    shares = [max(w, 0.0) / total if sum(weights) > 0 else 1.0 / n for w in weights]
    cuts: list[int] = []
    cumulative = 0.0
    for k in range(n - 1):
        cumulative += shares[k]
        ideal = cumulative * len(text)
        lower = cuts[-1] if cuts else 0
        remaining = n - 2 - k  # cuts still needed after this one
        usable = [c for c in candidates if c > lower]
        usable = usable[: len(usable) - remaining] if remaining and len(usable) > remaining else usable
        if not usable:
            cuts.append(len(text))
            continue
        cuts.append(min(usable, key=lambda c: (abs(c - ideal), c)))
    pieces, start = [], 0
    for cut in [*cuts, len(text)]:
        pieces.append(text[start:cut].strip())
        start = max(start, cut)
    return pieces


def _boundaries(text: str) -> list[int]:
    """Positions where a piece may start."""
    spaced = [m.end() for m in re.finditer(r"\s+", text) if m.end() < len(text)]
    if spaced and not (sum(is_cjk(c) for c in text) > len(text) / 2):
        return spaced
    # Space-less scripts: any character boundary that does not put punctuation first.
    return [i for i in range(1, len(text)) if text[i] not in _NO_PIECE_START and not text[i].isspace()]


@dataclass(frozen=True, slots=True)
class Placed:
    """A translated piece on the timing of one or more consecutive fragments."""

    indices: tuple[int, ...]
    text: str
    start: float
    end: float


def place(fragments: Sequence[Fragment], sentence: Sentence, translation: str) -> list[Placed]:
    """Lay ``translation`` of ``sentence`` back onto its fragments' timings.

    A fragment whose piece came out empty (the translation had too few words) is merged into
    its neighbour: the neighbour's time span grows over it, so the sentence stays covered and
    no empty subtitle is produced.
    """
    frags = [fragments[i] for i in sentence.indices]
    pieces = split_proportionally(translation, [len(f.text.strip()) for f in frags])
    placed: list[Placed] = []
    pending: list[int] = []  # empty pieces waiting for the next non-empty one
    for idx, frag, piece in zip(sentence.indices, frags, pieces, strict=True):
        if not piece:
            if placed:
                last = placed[-1]
                placed[-1] = Placed((*last.indices, idx), last.text, last.start, frag.end)
            else:
                pending.append(idx)
            continue
        start = fragments[pending[0]].start if pending else frag.start
        placed.append(Placed((*pending, idx), piece, start, frag.end))
        pending = []
    if pending:  # nothing at all came back
        placed.append(Placed(tuple(pending), "", fragments[pending[0]].start, fragments[pending[-1]].end))
    return placed
