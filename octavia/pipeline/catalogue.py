"""What each engine can use: the models ``octavia models`` lists, pulls and removes.

Each engine module that manages models exposes ``catalogue() -> list[CatalogueEntry]``;
this module asks them lazily, so listing never loads a model or a heavy library.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from octavia.errors import InputError
from octavia.pipeline.models import Downloader, ModelResolver, ModelSpec, dir_size

ENGINE_MODULES = {
    "whisper": "octavia.pipeline.whisper",
    "marian": "octavia.pipeline.marian",
    "piper": "octavia.pipeline.piper",
    "coqui": "octavia.pipeline.coqui",
    "spleeter": "octavia.pipeline.separation.spleeter",
    "kokoro": "octavia.pipeline.kokoro",
    "diarization": "octavia.pipeline.diarization.weights",
}


@dataclass(frozen=True)
class CatalogueEntry:
    spec: ModelSpec
    download: Downloader | None = None


@dataclass(frozen=True)
class ModelStatus:
    entry: CatalogueEntry
    source: str  # "cache" | "pack" | "missing"
    path: Path | None
    size: int | None

    def to_dict(self) -> dict[str, object]:
        spec = self.entry.spec
        return {
            "engine": spec.engine,
            "model": spec.name,
            "status": self.source,
            "path": str(self.path) if self.path else None,
            "size": self.size,
            "licence": spec.licence,
            "downloadable": self.entry.download is not None and spec.repo_id is not None,
            "description": spec.description,
        }


def entries(engine: str | None = None) -> Iterator[CatalogueEntry]:
    for name, module_name in ENGINE_MODULES.items():
        if engine not in (None, name):
            continue
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        listing = getattr(module, "catalogue", None)
        if listing is not None:
            yield from listing()


def find(engine: str, name: str | None) -> CatalogueEntry:
    """The catalogue entry of ``engine``'s model ``name``; no name for an engine with one model."""
    if engine not in ENGINE_MODULES:
        raise InputError(f"Unknown engine {engine!r}.", f"Engines: {', '.join(ENGINE_MODULES)}.")
    if name is None:
        only = list(entries(engine))
        if len(only) == 1:
            return only[0]
        known = ", ".join(e.spec.name for e in only)
        raise InputError(f"Name the {engine} model.", f"Known {engine} models: {known or 'none'}.")
    for entry in entries(engine):
        if entry.spec.name == name:
            return entry
    known = ", ".join(e.spec.name for e in entries(engine))
    raise InputError(f"Unknown {engine} model {name!r}.", f"Known {engine} models: {known or 'none'}.")


def pull_set(engine: str, name: str | None) -> list[CatalogueEntry]:
    """What ``octavia models pull ENGINE [NAME]`` fetches: the named model, or, with no name,
    everything of an engine whose models are one set (Kokoro: the model and all its voices)."""
    if name is not None or len(list(entries(engine))) == 1:
        return [find(engine, name)]
    module = importlib.import_module(ENGINE_MODULES[engine]) if engine in ENGINE_MODULES else None
    if module is None or not getattr(module, "PULL_WITHOUT_NAME", False):
        known = ", ".join(e.spec.name for e in entries(engine)) if module else ", ".join(ENGINE_MODULES)
        raise InputError(f"Name the {engine} model to pull.", f"Known: {known or 'none'}.")
    return list(entries(engine))


def status(resolver: ModelResolver, entry: CatalogueEntry) -> ModelStatus:
    cached = resolver.find_cached(entry.spec)
    if cached is not None:
        return ModelStatus(entry, "cache", cached, dir_size(cached))
    pack = resolver.pack_for(entry.spec)
    if pack is not None:
        # A split pack is only assembled on use (or `pull`); report where its parts live.
        size = getattr(pack, "size", None)
        path = None if size else pack.materialize(entry.spec, resolver.cache_path(entry.spec))[0]  # type: ignore[attr-defined]
        return ModelStatus(entry, "pack", path, size if size else dir_size(path) if path else None)
    return ModelStatus(entry, "missing", None, None)
