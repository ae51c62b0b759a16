"""Every user-visible string of the web app, and ``t(key, **params)`` to look one up.

The catalogue of a language is the TOML files under ``strings/<lang>/``, one per page area; a
file ``auth.toml`` with ``[login] title = "Log in"`` gives the key ``auth.login.title``. Values
are ``str.format`` templates: ``t("credits.balance", count=3)``. A missing key raises
``KeyError`` (tests render every page, so a typo fails a test instead of showing a raw key).
Only English exists today; a translation is another folder with the same keys.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

DEFAULT_LANGUAGE = "en"
_ROOT = Path(__file__).parent


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict):
            _flatten(key, value, out)
        else:
            out[key] = str(value)


@cache
def catalogue(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """All strings of ``language`` as a flat ``{"area.section.name": template}`` dict."""
    out: dict[str, str] = {}
    folder = _ROOT / language
    if not folder.is_dir():
        raise KeyError(f"no web strings for language {language!r}")
    for path in sorted(folder.glob("*.toml")):
        with path.open("rb") as f:
            _flatten(path.stem, tomllib.load(f), out)
    return out


def t(key: str, /, language: str = DEFAULT_LANGUAGE, **params: Any) -> str:
    """The string ``key`` in ``language``, with ``{name}`` placeholders filled from ``params``."""
    template = catalogue(language)[key]
    return template.format(**params) if params else template


def has(key: str, language: str = DEFAULT_LANGUAGE) -> bool:
    return key in catalogue(language)


__all__ = ["DEFAULT_LANGUAGE", "catalogue", "has", "t"]
