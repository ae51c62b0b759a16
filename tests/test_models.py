"""The model resolver: order of sources, pack assembly and checks, offline errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from octavia.errors import InputError, ModelNotAvailable
from octavia.pipeline.models import ModelResolver, ModelSpec
from octavia.pipeline.packs import InPlacePack, SplitPack, default_packs

SPEC = ModelSpec("whisper", "toy", repo_id="example/toy", required_files=("model.bin",))


def _model_dir(path: Path, content: bytes = b"weights") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "model.bin").write_bytes(content)
    return path


def _pack(tmp_path: Path) -> InPlacePack:
    packed = _model_dir(tmp_path / "site" / "toy_pack" / "model", b"from-pack")
    return InPlacePack("toy-pack", "toy_pack", "whisper", "toy", "MIT", locate=lambda m: packed)


@pytest.fixture
def with_toy_pack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InPlacePack:
    pkg = tmp_path / "site" / "toy_pack"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    yield _pack(tmp_path)
    sys.modules.pop("toy_pack", None)


def test_user_path_wins_over_everything(tmp_path: Path, with_toy_pack: InPlacePack) -> None:
    resolver = ModelResolver(tmp_path / "cache", packs=[with_toy_pack])
    _model_dir(resolver.cache_path(SPEC))
    mine = _model_dir(tmp_path / "mine")
    got = resolver.resolve(SPEC, user_path=mine, download=lambda s, d: pytest.fail("no download"))
    assert (got.source, got.path) == ("user", mine)


def test_cache_before_pack_before_download(tmp_path: Path, with_toy_pack: InPlacePack) -> None:
    calls: list[str] = []

    def download(spec: ModelSpec, dest: Path) -> None:
        calls.append(spec.name)
        _model_dir(dest, b"downloaded")

    resolver = ModelResolver(tmp_path / "cache", packs=[with_toy_pack])
    assert resolver.resolve(SPEC, download=download).source == "pack"
    _model_dir(resolver.cache_path(SPEC))
    assert resolver.resolve(SPEC, download=download).source == "cache"
    assert calls == []
    bare = ModelResolver(tmp_path / "cache2", packs=[])
    got = bare.resolve(SPEC, download=download)
    assert got.source == "download" and (got.path / "model.bin").read_bytes() == b"downloaded"
    assert calls == ["toy"]
    assert bare.resolve(SPEC, download=download).source == "cache"  # downloaded once
    assert "originally from download" in bare.resolve(SPEC).detail


def test_offline_missing_model_names_model_and_fix(tmp_path: Path) -> None:
    resolver = ModelResolver(tmp_path / "cache", offline=True, packs=[])
    with pytest.raises(ModelNotAvailable) as info:
        resolver.resolve(SPEC, download=lambda s, d: pytest.fail("offline must not download"))
    assert "'toy'" in info.value.message and "offline" in info.value.message
    assert "octavia models pull whisper toy" in (info.value.hint or "")


def test_failed_download_leaves_no_partial_model(tmp_path: Path) -> None:
    def broken(spec: ModelSpec, dest: Path) -> None:
        (dest / "model.bin").write_bytes(b"half")
        raise ConnectionError("network unreachable")

    resolver = ModelResolver(tmp_path / "cache", packs=[])
    with pytest.raises(ModelNotAvailable, match="network unreachable"):
        resolver.resolve(SPEC, download=broken)
    assert not resolver.cache_path(SPEC).exists()
    assert list((tmp_path / "cache" / "whisper").iterdir()) == []


def test_user_path_must_be_complete(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"missing: model\.bin"):
        ModelResolver(tmp_path / "c").resolve(SPEC, user_path=tmp_path / "empty")


def _split_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parts: list[bytes], sha: str, size: int
) -> SplitPack:
    for i, blob in enumerate(parts, 1):
        data = tmp_path / "site" / f"split_{i}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"model.bin.part{i}").write_bytes(blob)
    (tmp_path / "site" / "split_2" / "data" / "config.json").write_text("{}")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return SplitPack("split", ("split_1", "split_2"), "whisper", "toy", "MIT", "model.bin", size, sha)


def test_split_pack_is_assembled_once_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    parts = [b"A" * 1000, b"B" * 10]
    pack = _split_pack(tmp_path, monkeypatch, parts, hashlib.sha256(b"".join(parts)).hexdigest(), 1010)
    resolver = ModelResolver(tmp_path / "cache", packs=[pack])
    got = resolver.resolve(SPEC)
    assert got.source == "pack" and "assembled" in got.detail
    assert (got.path / "model.bin").read_bytes() == b"".join(parts)
    assert (got.path / "config.json").exists()
    assert resolver.resolve(SPEC).source == "cache"


def test_damaged_split_pack_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = _split_pack(tmp_path, monkeypatch, [b"A" * 1000, b"B" * 9], "0" * 64, 1010)
    resolver = ModelResolver(tmp_path / "cache", packs=[pack])
    with pytest.raises(ModelNotAvailable, match="damaged"):
        resolver.resolve(SPEC)
    assert not resolver.cache_path(SPEC).exists()


def test_real_packs_are_installed() -> None:
    """The offline extra is part of the test install; every default pack must be present."""
    missing = [p.name for p in default_packs() if not p.installed()]
    assert missing == []
