"""Object storage behind one small protocol: local files (default) or an S3-compatible bucket.

Clients never stream media through the API: they get a signed upload target and send the
bytes straight to storage. LocalStorage signs URLs that this app serves itself
(``routes/files.py``); S3Storage hands out S3's own presigned requests.

Why S3 uploads use a presigned **POST policy** and not a presigned PUT: a presigned PUT signs
the Content-Type but cannot bound the body size, so a client could park any amount of data in
the bucket before we ever see it. A POST policy carries ``content-length-range`` and a
Content-Type condition that S3 itself enforces (oversized → 400 EntityTooLarge, wrong type →
403) — verified against SeaweedFS in tests/server/test_storage_s3.py. The server still checks the
real size and probes the media in ``POST /v1/uploads/{id}/complete``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from octavia.errors import InputError, MissingDependency, OctaviaError
from octavia.server import security

if TYPE_CHECKING:
    from octavia.server.settings import ServerSettings

#: What a download is served as unless the caller vouches for a type. Never guessed from a
#: client's file name: ``evil.html`` must not come back as text/html.
OCTET = "application/octet-stream"
PUT_PURPOSE = "files-put"
GET_PURPOSE = "files-get"


class ObjectNotFound(OctaviaError):
    code = "object_not_found"
    http_status = 404


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how to send the bytes. ``method`` is PUT (raw body, these ``headers``) or POST
    (multipart form: every ``fields`` item, then the file as the last part named ``file``)."""

    url: str
    method: str
    headers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "method": self.method, "headers": self.headers, "fields": self.fields}


@runtime_checkable
class Storage(Protocol):
    def put_file(self, key: str, path: Path) -> None: ...
    def get_file(self, key: str, dest: Path) -> None: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> int: ...
    def size(self, key: str) -> int: ...
    def presign_put(self, key: str, *, content_type: str, max_size: int, expires: int) -> UploadTarget: ...
    def presign_get(
        self, key: str, *, expires: int, filename: str | None = None, content_type: str = OCTET
    ) -> str: ...


def check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in {"", ".", ".."} for p in parts):
        raise InputError(f"Invalid storage key {key!r}.")
    return key


class LocalStorage:
    """Files under ``root``; signed, expiring URLs served by this app under ``/v1/files/``."""

    def __init__(self, root: Path, *, signing_key: bytes, base_url: str) -> None:
        self.root = Path(root)
        self.signing_key = signing_key
        self.base_url = base_url.rstrip("/")

    def path_for(self, key: str) -> Path:
        return self.root / check_key(key)

    def partial_path(self, key: str) -> Path:
        """A unique temp path next to the object, so the final rename is atomic."""
        dest = self.path_for(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")

    def commit_partial(self, partial: Path, key: str) -> None:
        os.replace(partial, self.path_for(key))

    def put_file(self, key: str, path: Path) -> None:
        tmp = self.partial_path(key)
        try:
            shutil.copyfile(path, tmp)
            self.commit_partial(tmp, key)
        finally:
            tmp.unlink(missing_ok=True)

    def get_file(self, key: str, dest: Path) -> None:
        src = self.path_for(key)
        if not src.is_file():
            raise ObjectNotFound(f"Object {key!r} not found.")
        shutil.copyfile(src, dest)

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder-like key ending in ``/``)."""
        top = self.path_for(prefix.rstrip("/"))
        if not top.is_dir():
            return 0
        count = sum(1 for p in top.rglob("*") if p.is_file())
        shutil.rmtree(top, ignore_errors=True)
        return count

    def size(self, key: str) -> int:
        try:
            return self.path_for(key).stat().st_size
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"Object {key!r} not found.") from exc

    def presign_put(self, key: str, *, content_type: str, max_size: int, expires: int) -> UploadTarget:
        payload = {"k": check_key(key), "m": max_size, "ct": content_type}
        token = security.sign(self.signing_key, PUT_PURPOSE, payload, expires_in=expires)
        return UploadTarget(f"{self.base_url}/v1/files/{token}", "PUT", {"Content-Type": content_type})

    def presign_get(
        self, key: str, *, expires: int, filename: str | None = None, content_type: str = OCTET
    ) -> str:
        payload = {"k": check_key(key), "fn": filename, "ct": content_type}
        token = security.sign(self.signing_key, GET_PURPOSE, payload, expires_in=expires)
        return f"{self.base_url}/v1/files/{token}"


class S3Storage:
    """An S3-compatible bucket through boto3 (AWS, SeaweedFS, MinIO, R2...)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        prefix: str = "",
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise MissingDependency(
                "S3 storage needs boto3.", "pip install 'octavia-media[s3]' or set OCTAVIA_STORAGE=local."
            ) from exc
        self.bucket = bucket
        self.prefix = prefix
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._k(key))

    def get_file(self, key: str, dest: Path) -> None:
        if not self.exists(key):
            raise ObjectNotFound(f"Object {key!r} not found.")
        self.client.download_file(self.bucket, self._k(key), str(dest))

    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._k(key)))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix``: listed a page (≤ 1000 keys) at a time, each
        page removed with one DeleteObjects call."""
        count = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._k(prefix.rstrip("/")) + "/"
        )
        for page in pages:
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                count += len(keys)
        return count

    def size(self, key: str) -> int:
        head = self._head(key)
        if head is None:
            raise ObjectNotFound(f"Object {key!r} not found.")
        return int(head["ContentLength"])

    def presign_put(self, key: str, *, content_type: str, max_size: int, expires: int) -> UploadTarget:
        post = self.client.generate_presigned_post(
            self.bucket,
            self._k(key),
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_size]],
            ExpiresIn=expires,
        )
        return UploadTarget(post["url"], "POST", {}, {k: str(v) for k, v in post["fields"].items()})

    def presign_get(
        self, key: str, *, expires: int, filename: str | None = None, content_type: str = OCTET
    ) -> str:
        # The type is set on the response, not trusted from the object: a presigned POST
        # stores whatever Content-Type the client declared.
        params: dict[str, str] = {
            "Bucket": self.bucket,
            "Key": self._k(key),
            "ResponseContentType": content_type,
        }
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires))


def content_disposition(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def storage_errors() -> tuple[type[Exception], ...]:
    """What a storage call raises when the backend is unreachable or refuses: ``OSError`` for
    disks and sockets, botocore's errors for S3 (they are not OSErrors)."""
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return (OSError,)
    return (OSError, BotoCoreError, ClientError)


@contextmanager
def local_copy(storage: Storage, key: str, suffix: str = "") -> Iterator[Path]:
    """A local file with the object's bytes: the file itself for LocalStorage, else a temp download."""
    if isinstance(storage, LocalStorage):
        path = storage.path_for(key)
        if not path.is_file():
            raise ObjectNotFound(f"Object {key!r} not found.")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="octavia-obj-") as tmp:
        dest = Path(tmp) / f"object{suffix}"
        storage.get_file(key, dest)
        yield dest


def build_storage(settings: ServerSettings) -> Storage:
    if settings.storage == "s3":
        if not settings.s3_bucket:
            raise InputError("OCTAVIA_STORAGE=s3 needs OCTAVIA_S3_BUCKET.")
        secret = settings.s3_secret_access_key
        return S3Storage(
            settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            prefix=settings.s3_prefix,
        )
    return LocalStorage(
        settings.storage_root, signing_key=settings.signing_key(), base_url=settings.public_url
    )
