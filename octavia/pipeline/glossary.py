"""Glossary files: source term → target term, for ``--glossary FILE``.

Formats, told apart by the file's suffix (``.json``, ``.tsv``, anything else read as CSV):

* JSON: an object ``{"source term": "target term", ...}``;
* CSV/TSV: two columns per row, source term then target term. A first row reading
  ``source,target`` (or ``term,translation``) is a header and skipped; empty rows and rows
  starting with ``#`` are ignored.

The LLM translator gets the glossary in its prompt; the other translators keep each term out
of the model's way with a placeholder and put the glossary's rendering in its place.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from octavia.errors import InputError

MAX_TERMS = 1000
MAX_TERM_CHARS = 200
_HEADERS = {("source", "target"), ("term", "translation"), ("source term", "target term"), ("src", "tgt")}


def load_glossary(path: Path) -> dict[str, str]:
    """The glossary in ``path``; an :class:`InputError` naming the line for a malformed file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"Glossary file {path} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read glossary file {path}: {exc}.", "Save it as UTF-8 text.") from exc
    if path.suffix.lower() == ".json":
        return _from_json(text, path)
    return _from_rows(text, path, "\t" if path.suffix.lower() == ".tsv" else ",")


def check_glossary(entries: dict[str, str], where: str = "glossary") -> dict[str, str]:
    """Terms stripped, none empty or too long, at most :data:`MAX_TERMS`."""
    if len(entries) > MAX_TERMS:
        raise InputError(f"The {where} has {len(entries)} terms; at most {MAX_TERMS} are allowed.")
    out: dict[str, str] = {}
    for term, rendering in entries.items():
        if not isinstance(term, str) or not isinstance(rendering, str):
            raise InputError(f"The {where} maps text to text; got {term!r}: {rendering!r}.")
        term, rendering = term.strip(), rendering.strip()
        if not term or not rendering:
            raise InputError(f"The {where} has an empty term or rendering ({term!r} → {rendering!r}).")
        if max(len(term), len(rendering)) > MAX_TERM_CHARS:
            raise InputError(f"The {where} term {term[:40]!r}… is over {MAX_TERM_CHARS} characters.")
        out[term] = rendering
    return out


def _from_json(text: str, path: Path) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"Glossary file {path} is not valid JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise InputError(f"Glossary file {path} must hold a JSON object (source term → target term).")
    return check_glossary(data, f"glossary {path.name}")


def _from_rows(text: str, path: Path, delimiter: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if number == 1 and len(cells) >= 2 and (cells[0].lower(), cells[1].lower()) in _HEADERS:
            continue
        if len(cells) != 2 or not all(cells):
            sep = "a tab" if delimiter == "\t" else "a comma"
            raise InputError(
                f"Glossary file {path}, line {number}: expected two columns separated by {sep}, got {row!r}.",
                "One term per line: source term, target term (quote a term that holds the separator).",
            )
        entries[cells[0]] = cells[1]
    return check_glossary(entries, f"glossary {path.name}")
