"""Apertium: a rule-based, offline translator for the language pairs installed on the system.

Runs the ``apertium`` command (Debian/Ubuntu: ``apt-get install apertium-eng-spa`` and other
``apertium-*`` pairs); there is no Python binding. Quality is below opus-mt, but it needs no
model download, so ``--translator auto`` falls back to it when no Marian model exists offline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence

from octavia.errors import EngineError, InputError, MissingDependency

#: ISO 639-1 codes → the ISO 639-3 codes Apertium names its modes with.
ISO3 = {
    "en": "eng", "es": "spa", "fr": "fra", "ca": "cat", "pt": "por", "it": "ita", "de": "deu",
    "nl": "nld", "ro": "ron", "gl": "glg", "eu": "eus", "oc": "oci", "an": "arg", "ast": "ast",
    "da": "dan", "sv": "swe", "nb": "nob", "nn": "nno", "is": "isl", "ru": "rus", "uk": "ukr",
    "be": "bel", "bg": "bul", "mk": "mkd", "sr": "srp", "hr": "hbs", "bs": "hbs", "sl": "slv",
    "pl": "pol", "cs": "ces", "sk": "slk", "eo": "epo", "cy": "cym", "br": "bre", "ga": "gle",
    "mt": "mlt", "ar": "ara", "he": "heb", "kk": "kaz", "tt": "tat", "tr": "tur", "hi": "hin",
    "ur": "urd", "id": "ind", "ms": "msa", "af": "afr", "fi": "fin", "et": "est", "lv": "lav",
    "lt": "lit", "el": "ell", "sq": "sqi", "sc": "srd", "co": "cos", "fo": "fao", "se": "sme",
}  # fmt: skip
# Marks Apertium puts on words it could not analyse (*), generate (#) or transfer (@).
_MARKS = re.compile(r"(?<![\w*#@])[*#@](?=\w)")


def _code(language: str) -> str:
    return ISO3.get(language, language)


class ApertiumTranslator:
    """A :class:`~octavia.pipeline.engines.Translator` over the ``apertium`` command."""

    def __init__(self, command: str = "apertium", *, timeout: float = 120.0) -> None:
        found = shutil.which(command)
        if found is None:
            raise MissingDependency(
                "The apertium command is not installed.",
                "On Debian/Ubuntu: sudo apt-get install apertium-eng-spa (or another apertium-* pair).",
            )
        self.command = found
        self.timeout = timeout
        self._modes: list[str] | None = None

    def modes(self) -> list[str]:
        """Installed translation directions, e.g. ``["eng-spa", "spa-eng"]``."""
        if self._modes is None:
            result = self._run(["-l"], "")
            self._modes = sorted(line.strip() for line in result.splitlines() if line.strip())
        return self._modes

    def pairs(self) -> list[str]:
        back = {v: k for k, v in ISO3.items() if k not in ("bs",)}
        return sorted(f"{back.get(a, a)}-{back.get(b, b)}" for a, _, b in (m.partition("-") for m in self.modes())
                      if "_" not in b)  # fmt: skip

    def mode(self, source: str, target: str) -> str:
        wanted = f"{_code(source)}-{_code(target)}"
        if wanted not in self.modes():
            raise InputError(
                f"Apertium has no {source}→{target} pair installed (looked for mode {wanted}).",
                f"Installed: {', '.join(self.pairs()) or 'none'}. Others: `apt-cache search apertium-` "
                f"(e.g. apertium-{_code(source)}-{_code(target)}).",
            )
        return wanted

    def engine_id(self, source: str, target: str) -> str:
        return f"apertium:{self.mode(source, target)}"

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        if source == target:
            return list(texts)
        mode = self.mode(source, target)
        # One paragraph per text, one process per batch. (The "line" format would be the natural
        # choice, but it drops sentence-final punctuation; blank lines are paragraph breaks in
        # the default format, which no rule reorders across.)
        paragraphs = [" ".join(t.split()) for t in texts]
        todo = [p for p in paragraphs if p]
        output = self._paragraphs(mode, todo)
        if len(output) != len(todo):  # defensive: never misalign a batch
            output = [" ".join(self._paragraphs(mode, [p])) for p in todo]
        done = iter(output)
        return [_MARKS.sub("", next(done)).strip() if p else "" for p in paragraphs]

    def _paragraphs(self, mode: str, paragraphs: list[str]) -> list[str]:
        if not paragraphs:
            return []
        out = self._run(["-u", mode], "\n\n".join(paragraphs) + "\n")
        return [" ".join(p.split()) for p in re.split(r"\n\s*\n", out.strip()) if p.strip()]

    def _run(self, args: list[str], stdin: str) -> str:
        try:
            result = subprocess.run([self.command, *args], input=stdin, capture_output=True, text=True,
                                    timeout=self.timeout, check=False)  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"apertium took longer than {self.timeout:.0f} s.") from exc
        if result.returncode != 0:
            raise EngineError(f"apertium {' '.join(args[-1:])} failed: {result.stderr.strip()[:500]}")
        return result.stdout
