"""The priced and limited length is the audio's real length, not the container header's.

Three files, made here with the bundled ffmpeg, whose headers lie or say nothing: Opus in
Matroska written to a pipe (no duration in the header), a 6-hour FLAC of silence written to a
pipe (2.3 MB, no length in STREAMINFO) and an MP3 whose Xing frame count says 7 s for 10 min.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import IO, Any, cast

import httpx
import pytest

from octavia.pipeline import media
from octavia.server.settings import ServerSettings
from tests.conftest import ffmpeg
from tests.server.conftest import upload_file
from tests.server.fixtures_billing import make_api_key, make_user

TEN_MIN = 600.0
SIX_H = 6 * 3600.0


@pytest.fixture(scope="session")
def lying_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("lying")
    opus, flac, mp3 = d / "talk.mkv", d / "night.flac", d / "talk.mp3"
    with opus.open("wb") as out:  # a pipe cannot be seeked back to, so no duration is written
        _pipe(out, "-f", "lavfi", "-i", f"sine=frequency=300:duration={TEN_MIN:.0f}", "-ac", "1",
              "-c:a", "libopus", "-b:a", "16k", "-f", "matroska", "pipe:1")  # fmt: skip
    with flac.open("wb") as out:
        _pipe(out, "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", f"{SIX_H:.0f}",
              "-c:a", "flac", "-f", "flac", "pipe:1")  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:duration={TEN_MIN:.0f}", "-ac", "1", "-ar", "22050",
           "-c:a", "libmp3lame", "-b:a", "32k", str(mp3))  # fmt: skip
    data = bytearray(mp3.read_bytes())
    tag = data.find(b"Info") if b"Info" in data[:4096] else data.find(b"Xing")
    assert 0 < tag < 4096 and struct.unpack(">I", data[tag + 4 : tag + 8])[0] & 1  # frame count present
    data[tag + 8 : tag + 12] = struct.pack(">I", 268)  # 268 frames × 576 samples / 22050 Hz ≈ 7 s
    mp3.write_bytes(bytes(data))
    return {"opus": opus, "flac": flac, "mp3": mp3}


def _pipe(out: IO[bytes], *args: str) -> None:
    import subprocess

    exe = media.find_ffmpeg()
    subprocess.run([exe, "-hide_banner", "-loglevel", "error", *args], stdout=out, check=True)


def test_the_three_headers_really_lie(lying_media: dict[str, Path]) -> None:
    """What today's header probe says, so the tests below prove something."""
    assert media.probe(lying_media["opus"]).duration == 0.0
    assert media.probe(lying_media["flac"]).duration == 0.0
    assert lying_media["flac"].stat().st_size < 3_000_000
    assert media.probe(lying_media["mp3"]).duration == pytest.approx(7.0, abs=0.2)


@pytest.mark.parametrize(("name", "seconds"), [("opus", TEN_MIN), ("flac", SIX_H), ("mp3", TEN_MIN)])
def test_audio_duration_reads_the_stream(lying_media: dict[str, Path], name: str, seconds: float) -> None:
    assert media.audio_duration(lying_media[name]) == pytest.approx(seconds, abs=0.5)


@pytest.fixture(scope="session")
def no_samples_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A well-formed WAV with an audio stream and not one sample: nothing to measure."""
    out = tmp_path_factory.mktemp("empty") / "header_only.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", str(out))
    return out


def test_a_file_whose_length_cannot_be_established_is_an_input_error(no_samples_wav: Path) -> None:
    from octavia.errors import InputError

    assert media.probe(no_samples_wav).audio_streams  # the header probe lets it through
    with pytest.raises(InputError, match="cannot be established"):
        media.audio_duration(no_samples_wav)


def test_decoding_fallback_measures_the_same_length(lying_media: dict[str, Path]) -> None:
    """For streams whose packets carry no duration: decoded samples / rate."""
    assert media._decoded_seconds(lying_media["opus"]) == pytest.approx(TEN_MIN, abs=0.5)


@pytest.fixture
def priced(server_factory: Any) -> httpx.Client:
    srv = server_factory(queue="sqlite")  # jobs stay queued: no worker runs them
    db = srv.app.state.db
    uid = make_user(db)
    from octavia.server import credits

    with db.begin() as conn:
        credits.grant(conn, user_id=uid, amount=1000, reference=f"seed:{uid}")
    return cast(httpx.Client, srv.client(make_api_key(db, uid)))


@pytest.mark.parametrize("name", ["opus", "mp3"])
def test_ten_minutes_with_a_lying_header_are_priced_ten_minutes(
    priced: httpx.Client, lying_media: dict[str, Path], name: str
) -> None:
    client = priced
    ctype = "audio/x-matroska" if name == "opus" else "audio/mpeg"
    up = upload_file(client, lying_media[name], ctype)
    assert up["status"] == "ready", up
    assert up["duration"] == pytest.approx(TEN_MIN, abs=0.5)
    r = client.post("/v1/jobs", json={"kind": "subtitle", "upload_id": up["id"]})
    assert r.status_code == 201, r.text
    per_min = ServerSettings().prices_per_minute["subtitle"]
    assert r.json()["cost_estimate"] == 10 * per_min


def test_six_hours_of_tiny_flac_are_refused_as_too_long(
    priced: httpx.Client, lying_media: dict[str, Path]
) -> None:
    client = priced
    up = upload_file(client, lying_media["flac"], "audio/flac")
    assert up["status"] == "rejected"
    assert up["error"].startswith("Too long: 21600 s"), up["error"]
    r = client.post("/v1/jobs", json={"kind": "subtitle", "upload_id": up["id"]})
    assert r.status_code == 422


def test_an_upload_whose_length_cannot_be_established_is_rejected(
    priced: httpx.Client, no_samples_wav: Path
) -> None:
    up = upload_file(priced, no_samples_wav, "audio/wav")
    assert up["status"] == "rejected" and up["duration"] is None
    assert up["error"].startswith("Length unknown:") and "/" not in up["error"], up["error"]
