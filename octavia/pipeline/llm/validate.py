"""Checking an LLM's answer for a window: every sentence back once, nothing merged or missing.

An answer is rejected (and the window asked again) when it is not JSON, is not an object of
strings, lacks a sentence's number or has numbers that were not asked for, leaves a sentence
empty, or shows the signs of merged sentences: one translation far longer than its source,
or two neighbouring sentences given the same (not short) text. A window answered with its
own sentences, untranslated, is rejected too (weak models echo their input). Short equal answers to
different sentences ("Thanks." and "Thank you." → "Gracias.") are normal and pass.
"""

from __future__ import annotations

import json
import re
from typing import Any

from octavia.pipeline.llm.prompt import Window

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
# A translation this many times longer than its source (plus slack for short lines) has
# almost certainly swallowed a neighbour, or is the model running on.
# (4×: Chinese or Japanese into a Latin-script language grows about 3×.)
_MAX_GROWTH, _SLACK = 4.0, 40
_SHORT = 15  # equal translations up to this length are not taken for a merge


class InvalidAnswer(ValueError):
    """Why an answer cannot be mapped back onto the window's sentences."""


def parse_answer(content: str, window: Window) -> list[str]:
    """The window's translations in order, or :class:`InvalidAnswer` saying what is wrong."""
    data = _load(content)
    if isinstance(data, dict) and set(data) == {"translations"}:
        data = data["translations"]  # a common wrapping; accepted when it is all there is
    if isinstance(data, list):
        data = _from_list(data)
    if not isinstance(data, dict):
        raise InvalidAnswer(
            f"the answer is a JSON {type(data).__name__}, not an object of numbered translations"
        )
    keys = window.keys
    missing = [k for k in keys if k not in data]
    extra = [str(k) for k in data if k not in keys]
    if missing or extra:
        got = f"{len(data)} translations for {len(keys)} sentences"
        detail = (f"; missing {', '.join(missing)}" if missing else "") + (
            f"; unexpected keys {', '.join(extra[:5])}" if extra else ""
        )
        raise InvalidAnswer(got + detail)
    out: list[str] = []
    for key in keys:
        value = data[key]
        if not isinstance(value, str):
            raise InvalidAnswer(f"translation {key} is a {type(value).__name__}, not a string")
        out.append(" ".join(value.split()))
    _check_not_merged(out, window)
    return out


def _load(content: str) -> Any:
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:  # JSON mode and prompt-only servers sometimes wrap the object in a code fence
        text = fenced.group(1)
    try:
        return json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(text[start : end + 1])
            except ValueError:
                pass
    raise InvalidAnswer(f"the answer is not valid JSON: {content[:80]!r}")


def _from_list(items: list[Any]) -> dict[str, Any]:
    """``[{"id": 1, "text": "..."}]`` or ``["...", "..."]``, as a numbered object."""
    if all(isinstance(i, dict) and "text" in i and "id" in i for i in items):
        return {str(i["id"]): i["text"] for i in items}
    return {str(n + 1): v for n, v in enumerate(items)}


def _bare(text: str) -> str:
    """Words only, lower case: an echo that dropped a full stop is still an echo."""
    return " ".join(re.sub(r"[\W_]+", " ", text).split()).casefold()


def _check_not_merged(out: list[str], window: Window) -> None:
    sources = [_bare(t) for t in window.texts]
    if sum(map(len, sources)) > 20 and all(_bare(o) == t for o, t in zip(out, sources, strict=True)):
        raise InvalidAnswer("the answer repeats the sentences untranslated")
    for i, (text, source) in enumerate(zip(out, window.texts, strict=True)):
        if source.strip() and not text:
            raise InvalidAnswer(f"translation {i + 1} is empty (merged into a neighbour?)")
        if len(text) > _MAX_GROWTH * len(source) + _SLACK:
            raise InvalidAnswer(
                f"translation {i + 1} is {len(text)} characters for a {len(source)}-character sentence "
                "(merged sentences, or text that is not a translation)"
            )
    for i in range(1, len(out)):
        same = out[i].casefold() == out[i - 1].casefold()
        if same and len(out[i]) > _SHORT and window.texts[i].strip() != window.texts[i - 1].strip():
            raise InvalidAnswer(f"translations {i} and {i + 1} are the same text for different sentences")
