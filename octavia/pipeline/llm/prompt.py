"""The prompt and the response schema for translating a window of sentences with an LLM.

Each sentence of the window gets a number ("1", "2", ...); the answer is one JSON object with
exactly those keys, each holding that sentence's translation, so every sentence maps back 1:1.
Neighbouring sentences go along as context, marked not to be translated. Terms to keep, the
glossary and the per-sentence length budgets are stated in the instructions, and the budgets
are repeated in the schema (as descriptions, which every server accepts; a ``maxLength``
would let a grammar-constrained server cut a translation mid-word).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Bumped whenever the prompt changes what a model is likely to answer (it is in the engine id).
PROMPT_VERSION = "1"

LANGUAGES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "ca": "Catalan", "gl": "Galician", "eu": "Basque",
    "ro": "Romanian", "pl": "Polish", "cs": "Czech", "sk": "Slovak", "sl": "Slovenian",
    "hr": "Croatian", "sr": "Serbian", "bg": "Bulgarian", "ru": "Russian", "uk": "Ukrainian",
    "el": "Greek", "tr": "Turkish", "ar": "Arabic", "he": "Hebrew", "fa": "Persian",
    "hi": "Hindi", "bn": "Bengali", "ur": "Urdu", "zh": "Chinese", "ja": "Japanese",
    "ko": "Korean", "vi": "Vietnamese", "th": "Thai", "id": "Indonesian", "ms": "Malay",
    "sv": "Swedish", "da": "Danish", "nb": "Norwegian Bokmål", "no": "Norwegian", "fi": "Finnish",
    "et": "Estonian", "lv": "Latvian", "lt": "Lithuanian", "hu": "Hungarian", "ga": "Irish",
    "cy": "Welsh", "is": "Icelandic", "mt": "Maltese", "sq": "Albanian", "mk": "Macedonian",
}  # fmt: skip


def language_name(code: str) -> str:
    base = code.split("-")[0].split("_")[0].lower()
    return LANGUAGES.get(base, code)


@dataclass(frozen=True)
class Window:
    """Sentences to translate now, with the ones around them as context."""

    texts: tuple[str, ...]
    max_chars: tuple[int | None, ...]
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    @property
    def keys(self) -> list[str]:
        return [str(i + 1) for i in range(len(self.texts))]


@dataclass(frozen=True)
class Terms:
    """What the translation must not change: terms kept as they are, and glossary renderings."""

    keep: tuple[str, ...] = ()
    glossary: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.keep or self.glossary)


def response_schema(window: Window, target: str) -> dict[str, Any]:
    """The JSON schema of the answer: one string per sentence, keyed by its number."""
    name = language_name(target)
    properties: dict[str, Any] = {}
    for key, limit in zip(window.keys, window.max_chars, strict=True):
        note = f"{name} translation of sentence {key}" + (f", at most {limit} characters" if limit else "")
        properties[key] = {"type": "string", "description": note}
    return {
        "type": "object",
        "properties": properties,
        "required": window.keys,
        "additionalProperties": False,
    }


def build_messages(
    window: Window, *, source: str, target: str, terms: Terms, problem: str | None = None
) -> list[dict[str, str]]:
    """System instructions and the user's request; ``problem`` says what was wrong last time."""
    src, tgt = language_name(source), language_name(target)
    rules = [
        f"You translate subtitles and dubbing scripts from {src} to {tgt}.",
        "Translate each numbered sentence on its own, into natural spoken " + tgt + ".",
        "Never merge sentences, never split one, never leave one out: one translation per number.",
        "The context lines are there to help you understand; do not translate them.",
        "A sentence with a character limit must fit it: prefer a shorter phrasing to a literal one.",
        'Answer with only a JSON object mapping each number to its translation, e.g. {"1": "...", "2": "..."}.',
    ]
    if terms.keep:
        rules.append("Keep these terms exactly as written, untranslated: " + ", ".join(terms.keep) + ".")
    if terms.glossary:
        rules.append(f"Glossary ({src} → {tgt}), use these renderings:")
        rules += [f"- {term} → {rendering}" for term, rendering in terms.glossary.items()]
    lines: list[str] = []
    if window.before:
        lines.append("Context before (do not translate):")
        lines += [f"  {t}" for t in window.before]
    lines.append(f"Sentences to translate ({len(window.texts)}):")
    for key, text, limit in zip(window.keys, window.texts, window.max_chars, strict=True):
        budget = f"  [at most {limit} characters]" if limit else ""
        lines.append(f"{key}: {json.dumps(text, ensure_ascii=False)}{budget}")
    if window.after:
        lines.append("Context after (do not translate):")
        lines += [f"  {t}" for t in window.after]
    keys = ", ".join(f'"{k}"' for k in window.keys)
    lines.append(f"Answer with a JSON object with exactly the keys {keys}.")
    if problem:
        lines.append(f"Your previous answer was rejected: {problem}. Answer again, following the rules.")
    return [{"role": "system", "content": "\n".join(rules)}, {"role": "user", "content": "\n".join(lines)}]


def token_budget(window: Window) -> int:
    """``max_tokens`` for a window's answer: generous (a token is ~4 characters), but bounded so a
    model that rambles stops instead of running on."""
    chars = sum(len(t) for t in window.texts)
    return 64 + 8 * len(window.texts) + chars
