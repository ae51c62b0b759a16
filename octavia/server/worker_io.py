"""The worker's lease on a job row and its storage traffic (checkpoints, outputs).

Split from ``worker.py`` to keep each file readable; only the worker uses it.
"""

from __future__ import annotations

import contextvars
import logging
import mimetypes
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from octavia.pipeline.workspace import MANIFEST, read_json
from octavia.server import tables as t
from octavia.server.db import utcnow
from octavia.server.storage import ObjectNotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from octavia.server.db import Database
    from octavia.server.storage import Storage

log = logging.getLogger("octavia.worker")
_CONTENT_TYPES = {
    ".srt": "application/x-subrip",
    ".vtt": "text/vtt",
    ".ass": "text/x-ssa",
    ".json": "application/json",
}
#: Top-level keys of JobResult.info a client may see (the rest holds worker paths).
#: What a client sees of a job's info: figures and names, never a worker path (the dub's
#: timing, report, cast, bed and speakers are numbers, texts and voice names).
_PUBLIC_INFO = ("duration", "has_video", "language", "language_probability", "segments", "seconds",
                "stages", "layout_warnings", "models", "timing", "report", "cast", "background",
                "diarization")  # fmt: skip


class Lease:
    """The running job's claim: heartbeat thread, fenced writes, cancel/loss checks."""

    def __init__(self, db: Database, job_id: str, worker_id: str, attempt: int, interval: float) -> None:
        self.db, self.job_id, self.worker_id, self.attempt = db, job_id, worker_id, attempt
        self.interval = interval
        self.lost = False
        self.cancel_requested = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._checked = 0.0

    def update(self) -> sa.Update:
        """An UPDATE that only matches while this worker still holds this attempt."""
        j = t.jobs
        return sa.update(j).where(
            j.c.id == self.job_id, j.c.status == "running",
            j.c.worker_id == self.worker_id, j.c.attempts == self.attempt,
        )  # fmt: skip

    @contextmanager
    def fenced(self, what: str) -> Iterator[tuple[Connection, bool]]:
        """A transaction whose first statement re-asserts the lease (and locks the row).

        Yields ``ok=False`` when the lease is gone; the caller then writes nothing.
        """
        with self.db.begin() as conn:
            ok = conn.execute(self.update().values(heartbeat_at=utcnow())).rowcount == 1
            if not ok:
                self.lost = True
                log.warning("lease on job %s lost before %s; not writing", self.job_id, what)
            yield conn, ok

    def _beat(self) -> None:
        try:
            with self.fenced("heartbeat") as (conn, ok):
                if ok:
                    flag = conn.execute(
                        sa.select(t.jobs.c.cancel_requested).where(t.jobs.c.id == self.job_id)
                    )
                    self.cancel_requested = bool(flag.scalar())
        except SQLAlchemyError as exc:  # a DB blip: keep beating; the reaper decides on staleness
            log.warning("heartbeat for job %s failed: %s", self.job_id, exc)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval) and not self.lost:
            self._beat()

    def __enter__(self) -> Lease:
        # copy_context: the thread's log records carry the job id too.
        ctx = contextvars.copy_context()
        self._thread = threading.Thread(
            target=ctx.run, args=(self._loop,), name=f"hb-{self.job_id}", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)

    def _refresh(self, min_age: float = 0.5) -> None:
        if time.monotonic() - self._checked < min_age:
            return
        self._checked = time.monotonic()
        j = t.jobs
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(j.c.status, j.c.worker_id, j.c.attempts, j.c.cancel_requested).where(
                    j.c.id == self.job_id
                )
            ).first()
        if (
            row is None
            or row.status != "running"
            or row.worker_id != self.worker_id
            or row.attempts != self.attempt
        ):
            self.lost = True
        elif row.cancel_requested:
            self.cancel_requested = True

    def alive(self) -> bool:
        self._refresh(0.0)
        return not self.lost

    def should_stop(self) -> bool:
        """The pipeline's cancel check: the owner cancelled, or the job is no longer ours."""
        self._refresh()
        return self.lost or self.cancel_requested


def _work_key(job_id: str, name: str) -> str:
    return f"jobs/{job_id}/work/{name}"


def _manifest_artifacts(manifest: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for entry in manifest.get("stages", {}).values():
        names.extend(a for a in entry.get("artifacts", []) if a not in names)
    return names


def upload_checkpoint(storage: Storage, job_id: str, ws: Path) -> list[str]:
    """Copy the workspace's artifacts, then its manifest, to storage; returns what was sent.

    Artifacts already in storage with the same size are skipped (a checkpointed stage's files
    never change; the big one, audio.wav, is sent once). The manifest goes last, so storage
    never holds a manifest naming an artifact that is not there yet.
    """
    sent = []
    for name in _manifest_artifacts(read_json(ws / MANIFEST)):
        path, key = ws / name, _work_key(job_id, name)
        if not path.is_file():
            continue
        if storage.exists(key) and storage.size(key) == path.stat().st_size:
            continue
        storage.put_file(key, path)
        sent.append(name)
    storage.put_file(_work_key(job_id, MANIFEST), ws / MANIFEST)
    return sent


def restore_checkpoints(storage: Storage, job_id: str, ws: Path) -> list[str]:
    """Bring a previous attempt's checkpoints into ``ws``; returns the stages restored."""
    ws.mkdir(parents=True, exist_ok=True)
    key = _work_key(job_id, MANIFEST)
    if not storage.exists(key):
        return []
    tmp = ws / f".{MANIFEST}.restore"
    storage.get_file(key, tmp)
    manifest = read_json(tmp)
    for name in _manifest_artifacts(manifest):
        try:
            storage.get_file(_work_key(job_id, name), ws / name)
        except ObjectNotFound:
            log.warning(
                "checkpoint artifact %s of job %s is missing; that stage will run again", name, job_id
            )
    tmp.replace(ws / MANIFEST)  # the Workspace skips a stage only if its artifacts exist
    return [
        s
        for s, e in manifest.get("stages", {}).items()
        if all((ws / a).exists() for a in e.get("artifacts", []))
    ]


def upload_outputs(storage: Storage, job_id: str, outputs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Send each output to ``jobs/{id}/out/{file name}``. The keys are deterministic, so a
    second attempt overwrites rather than duplicates."""
    rows: dict[str, dict[str, Any]] = {}
    for key, path in sorted(outputs.items()):
        skey = f"jobs/{job_id}/out/{path.name}"
        storage.put_file(skey, path)
        ctype = (
            _CONTENT_TYPES.get(path.suffix)
            or mimetypes.guess_type(path.name)[0]
            or "application/octet-stream"
        )
        rows[key] = {
            "name": path.name,
            "storage_key": skey,
            "size": path.stat().st_size,
            "content_type": ctype,
        }
    return rows


#: Bytes left for the client's file stem in output names. A name is ``stem + suffix`` (a
#: language and a format, e.g. ``.pt-BR.srt``, ``.dub.en.mp4``: well under 40 bytes) and the
#: temp files beside it add up to 40 more (atomic_path's ``.NAME.XXXXXXXX.ext``, LocalStorage's
#: ``.NAME.<32 hex>.part``); 150 leaves room for all of them under the usual 255-byte limit.
STEM_MAX_BYTES = 150
#: An absolute POSIX path of two or more parts, not inside a URL (``https://host/x``).
_ABS_PATH = re.compile(r"(?<![\w:/.~-])/(?:[^\s'\"/:;,()<>]+/)+([^\s'\"/:;,()<>]*)")


def fit_stem(stem: str, max_bytes: int = STEM_MAX_BYTES) -> str:
    """``stem`` cut to at most ``max_bytes`` of UTF-8, never inside a character."""
    cut = stem.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore").rstrip(" .")
    return cut or "source"


def public_text(text: str) -> str:
    """``text`` with absolute paths reduced to their file name and this host's name removed:
    engine errors quote paths on the worker's disk (``Whisper failed on /srv/…/audio.wav``)."""
    out = _ABS_PATH.sub(lambda m: m.group(1) or "(a server path)", text)
    host = socket.gethostname()
    return out.replace(host, "the worker") if len(host) > 2 else out


def public_info(info: dict[str, Any]) -> dict[str, Any]:
    out = {k: info[k] for k in _PUBLIC_INFO if k in info}
    if isinstance(out.get("models"), dict):  # drop model paths on the worker's disk
        out["models"] = {
            k: {kk: vv for kk, vv in v.items() if kk != "path"} if isinstance(v, dict) else v
            for k, v in out["models"].items()
        }
    return out


__all__ = [
    "STEM_MAX_BYTES",
    "Lease",
    "fit_stem",
    "public_info",
    "public_text",
    "restore_checkpoints",
    "upload_checkpoint",
    "upload_outputs",
]
