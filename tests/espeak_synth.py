"""A real, fast synthesizer for fitting tests and the fit benchmark: espeak-ng (a Debian package).

It speaks every language espeak-ng has a voice for; ``voice`` is an espeak-ng variant such
as ``en+f3``, and the speaking rate (words per minute) is part of the voice, so a "fast
speaker" is just another voice. It implements the :class:`~octavia.pipeline.engines.Synthesizer`
protocol the dub stages use.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class EspeakSynthesizer:
    def __init__(self, words_per_minute: int = 175) -> None:
        self.exe = shutil.which("espeak-ng")
        if self.exe is None:
            raise FileNotFoundError("espeak-ng is not installed")
        self.words_per_minute = words_per_minute
        self.calls = 0

    def engine_id(self, language: str, voice: str | None) -> str:
        return f"espeak-ng:{voice or language}:{self.words_per_minute}wpm"

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path:
        self.calls += 1
        subprocess.run([str(self.exe), "-v", voice or language, "-s", str(self.words_per_minute), "-w", str(out),
                        text], check=True, capture_output=True)  # fmt: skip
        return out
