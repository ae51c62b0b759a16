"""The optional higher-quality separator: Demucs (``pip install demucs``), run as a subprocess.

Its htdemucs weights are downloaded by Demucs itself on first use. It is detected at run time,
never imported at module load; ``--separator demucs`` chooses it.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from octavia.errors import EngineError, MissingDependency

ENGINE = "demucs"
MODEL = "htdemucs"
INSTALL_HINT = (
    "pip install demucs (then --separator demucs uses it), or use the default --separator spleeter."
)


def available() -> bool:
    return importlib.util.find_spec("demucs") is not None


def require() -> None:
    if not available():
        raise MissingDependency("--separator demucs needs Demucs, which is not installed.", INSTALL_HINT)


def separate_background(audio: Path, dest: Path, *, device: str = "cpu", model: str = MODEL) -> Path:
    """Write ``audio`` without its vocals (Demucs ``--two-stems vocals``'s ``no_vocals`` stem)."""
    require()
    out_root = dest.parent / ".demucs"
    cmd = [sys.executable, "-m", "demucs", "--two-stems", "vocals", "-n", model, "-d", device,
           "-o", str(out_root), str(audio)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    stem = out_root / model / audio.stem / "no_vocals.wav"
    if proc.returncode != 0 or not stem.exists():
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise EngineError(f"Demucs failed to separate {audio.name}: {tail or 'no output'}")
    shutil.move(str(stem), dest)
    shutil.rmtree(out_root, ignore_errors=True)
    return dest
