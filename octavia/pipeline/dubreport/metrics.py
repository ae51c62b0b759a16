"""Word and character error rates between what a line was meant to say and what was heard.

Both texts are normalised the same way first (Unicode NFKC, case folded, punctuation dropped,
whitespace collapsed), so "¡Hola, mundo!" and "hola mundo" match: the check is about the words
a viewer hears, not about how Whisper happens to punctuate them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

#: Lines shorter than this (in reference words) are judged by character error instead: on a
#: one- or two-word line a single misheard word would read as 50-100 % word error.
SHORT_LINE_WORDS = 3
#: Above this error a line is flagged (the ``max_error`` option's default). Half the words wrong
#: (or, on lines under three words, half the characters) is beyond Whisper's own slips on clean
#: TTS speech; below it a misheard line is usually one word. See docs/dubbing.md for figures.
DEFAULT_MAX_ERROR = 0.5


def normalise(text: str) -> str:
    """Case-folded words: letters, digits and word-internal apostrophes; everything else is a space."""
    out: list[str] = []
    folded = unicodedata.normalize("NFKC", text).casefold()
    for i, ch in enumerate(folded):
        cat = unicodedata.category(ch)
        if cat[0] in "LNM":  # letters, numbers, combining marks (Devanagari vowel signs, ...)
            out.append(ch)
        elif ch in "'’" and 0 < i < len(folded) - 1 and folded[i - 1].isalnum() and folded[i + 1].isalnum():
            out.append("'")
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    if len(ref) < len(hyp):
        ref, hyp = hyp, ref
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def _chars(text: str) -> list[str]:
    # Scripts written without spaces (Chinese, Japanese) have no words to count: characters are
    # their unit either way, and spaces carry no meaning for a listener.
    return [c for c in text if c != " "]


@dataclass(frozen=True, slots=True)
class Errors:
    """Edits against a reference, in words and in characters."""

    word_edits: int
    ref_words: int
    char_edits: int
    ref_chars: int

    @property
    def wer(self) -> float:
        return self.word_edits / self.ref_words if self.ref_words else float(self.word_edits > 0)

    @property
    def cer(self) -> float:
        return self.char_edits / self.ref_chars if self.ref_chars else float(self.char_edits > 0)

    @property
    def error(self) -> float:
        """The figure a line is judged by: WER, or CER for short lines and unspaced scripts."""
        return self.cer if self.ref_words < SHORT_LINE_WORDS else self.wer

    def __add__(self, other: Errors) -> Errors:
        return Errors(self.word_edits + other.word_edits, self.ref_words + other.ref_words,
                      self.char_edits + other.char_edits, self.ref_chars + other.ref_chars)  # fmt: skip


def errors(reference: str, heard: str) -> Errors:
    ref, hyp = normalise(reference), normalise(heard)
    ref_words, hyp_words = ref.split(), hyp.split()
    ref_chars, hyp_chars = _chars(ref), _chars(hyp)
    return Errors(edit_distance(ref_words, hyp_words), len(ref_words),
                  edit_distance(ref_chars, hyp_chars), len(ref_chars))  # fmt: skip


NO_ERRORS = Errors(0, 0, 0, 0)

__all__ = [
    "DEFAULT_MAX_ERROR",
    "NO_ERRORS",
    "SHORT_LINE_WORDS",
    "Errors",
    "edit_distance",
    "errors",
    "normalise",
]
