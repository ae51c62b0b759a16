"""LocalStorage: key safety, object operations, signed-token scoping."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from octavia.errors import InputError
from octavia.server.security import BadToken, sign, unsign
from octavia.server.storage import GET_PURPOSE, PUT_PURPOSE, LocalStorage, ObjectNotFound, content_disposition
from tests.server.conftest import upload_file


@pytest.fixture
def local(tmp_path):
    return LocalStorage(tmp_path / "store", signing_key=b"k" * 32, base_url="http://127.0.0.1:1/")


@pytest.mark.parametrize("key", ["", "/etc/passwd", "../x", "a/../../x", "a//b", "a\\b", "a/./b", "a/.."])
def test_unsafe_keys_are_refused(local, key):
    with pytest.raises(InputError):
        local.path_for(key)


def test_object_operations(local, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"abc" * 100)
    local.put_file("u/1/source.wav", src)
    assert local.exists("u/1/source.wav") and local.size("u/1/source.wav") == 300
    local.get_file("u/1/source.wav", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    assert not [p for p in local.root.rglob(".*.part")]
    local.delete("u/1/source.wav")
    local.delete("u/1/source.wav")  # idempotent
    with pytest.raises(ObjectNotFound):
        local.size("u/1/source.wav")


def test_tokens_are_scoped_to_their_purpose(local):
    target = local.presign_put("u/a.wav", content_type="audio/wav", max_size=10, expires=60)
    assert target.method == "PUT" and target.headers == {"Content-Type": "audio/wav"}
    assert target.url.startswith("http://127.0.0.1:1/v1/files/")
    token = target.url.rsplit("/", 1)[1]
    assert unsign(local.signing_key, PUT_PURPOSE, token)["k"] == "u/a.wav"
    with pytest.raises(BadToken):
        unsign(local.signing_key, GET_PURPOSE, token)  # an upload grant is not a download link
    with pytest.raises(BadToken):
        unsign(b"other key" * 4, PUT_PURPOSE, token)
    with pytest.raises(BadToken, match="expired"):
        unsign(b"k", "p", sign(b"k", "p", {}, expires_in=-1))
    with pytest.raises(BadToken):
        unsign(b"k", "p", "garbage")


def test_download_link_served_by_app(user_factory, media_files, live_server):
    """A GET grant for one key cannot be edited to fetch another (the MAC covers the payload)."""
    user = user_factory()
    up = upload_file(user.client, media_files.wav, "audio/wav")
    url = user.client.get(f"/v1/uploads/{up['id']}/download").json()["url"]
    assert httpx.head(url).status_code == 200
    payload, mac = url.rsplit("/", 1)[1].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["k"] = claims["k"].replace("source", "other")
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    r = httpx.get(f"{live_server.url}/v1/files/{forged}.{mac}")
    assert r.status_code == 403


def test_content_disposition_handles_unicode():
    h = content_disposition('résumé "x".wav')
    assert h.startswith('attachment; filename="r_sum_ _x_.wav"')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.wav" in h
