"""Running one job: claim, heartbeat, restore checkpoints, run the pipeline, record the outcome.

The lock that keeps a job from running twice at once is the row itself:

* **claim**: ``UPDATE jobs SET status='running', attempts=attempts+1, worker_id=… WHERE id=…
  AND status='queued'``. Only one worker's UPDATE matches; a duplicate message finds no
  queued row and returns.
* **lease**: while it runs, a heartbeat thread (its own pooled connection) refreshes
  ``heartbeat_at``. The reaper requeues only jobs whose heartbeat is *stale*, never merely
  "running", so a slow job on a live worker is never taken away.
* **fencing**: every later write carries ``WHERE status='running' AND worker_id=… AND
  attempts=…``. A worker that lost its lease (it stalled past the stale limit and the job was
  requeued elsewhere) matches nothing: it stops at its next check and writes no result.

Stage checkpoints go to storage under ``jobs/{id}/work/`` as they complete, artifacts first and
the manifest last, so a job requeued on another machine restores them and resumes.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from octavia.errors import Cancelled, InputError, OctaviaError, TransientEngineError
from octavia.server import credits
from octavia.server import tables as t
from octavia.server.db import Database, utcnow
from octavia.server.jobs import event
from octavia.server.logging import job_context
from octavia.server.worker_io import (
    Lease,
    fit_stem,
    public_text,
    restore_checkpoints,
    upload_checkpoint,
    upload_outputs,
)

if TYPE_CHECKING:
    from octavia.pipeline.factory import Engines
    from octavia.pipeline.progress import ProgressEvent
    from octavia.server.metrics import WorkerMetrics
    from octavia.server.settings import ServerSettings
    from octavia.server.storage import Storage
    from octavia.server.tasks import JobQueue

log = logging.getLogger("octavia.worker")
RETRY_MAX_DELAY_S = 600.0
#: Test hook: "stage:seconds" makes the worker sleep after uploading that stage's checkpoint,
#: so a test can kill it at a known point. Read per job; unset in production.
PAUSE_ENV = "OCTAVIA_TEST_PAUSE_AFTER_CHECKPOINT"


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: engine timeouts/429/5xx and I/O errors (network storage, full disk)."""
    return isinstance(exc, TransientEngineError | OSError)


def error_dict(exc: BaseException, code: str | None = None) -> dict[str, Any]:
    """What the job's ``error`` column and events say; no server paths, hosts or tracebacks
    (the worker logs the full exception under the job id)."""
    if isinstance(exc, OctaviaError):
        hint = public_text(exc.hint) if exc.hint else exc.hint
        return {"code": code or exc.code, "message": public_text(exc.message), "hint": hint}
    if isinstance(exc, OSError):
        return {"code": code or "io_error", "message": f"I/O error ({type(exc).__name__}).",
                "hint": "Retried automatically; the worker's log has details."}  # fmt: skip
    return {
        "code": code or "internal_error",
        "message": "Internal error.",
        "hint": "The worker's log has details.",
    }


def retry_delay(attempt: int, base: float) -> float:
    return float(min(RETRY_MAX_DELAY_S, base * 2 ** max(0, attempt - 1)))


class Worker:
    """Runs jobs by id; one per worker process (engines are built once, on the first job)."""

    def __init__(
        self, settings: ServerSettings, *, db: Database | None = None, storage: Storage | None = None,
        queue: JobQueue | None = None, metrics: WorkerMetrics | None = None,
        engines_factory: Callable[[ServerSettings], Engines] | None = None,
        worker_id: str | None = None, retry_base_s: float = 5.0, progress_interval_s: float = 0.5,
    ) -> None:  # fmt: skip
        from octavia.server.storage import build_storage

        self.settings = settings
        self.db = db or Database.from_settings(settings)
        self.storage = storage or build_storage(settings)
        self.queue = queue
        self.metrics = metrics
        self.worker_id = worker_id or default_worker_id()
        self.retry_base_s = retry_base_s
        self.progress_interval_s = progress_interval_s
        self._engines_factory = engines_factory
        self._engines: Engines | None = None
        self._engines_lock = threading.Lock()

    @property
    def engines(self) -> Engines:
        with self._engines_lock:  # thread workers share one set of loaded models
            if self._engines is None:
                from octavia.pipeline.jobs import build_engines

                self._engines = (self._engines_factory or build_engines)(self.settings)
            return self._engines

    def __call__(self, job_id: str) -> None:
        self.run(job_id)

    # ------------------------------------------------------------------ claim and run

    def claim(self, job_id: str) -> Any | None:
        j = t.jobs
        now = utcnow()
        with self.db.begin() as conn:
            res = conn.execute(
                sa.update(j).where(j.c.id == job_id, j.c.status == "queued", j.c.cancel_requested.is_(False))
                .values(status="running", attempts=j.c.attempts + 1, worker_id=self.worker_id,
                        heartbeat_at=now, started_at=sa.func.coalesce(j.c.started_at, now), error=None)
            )  # fmt: skip
            if res.rowcount != 1:
                return None
            row = conn.execute(sa.select(j).where(j.c.id == job_id)).one()
            # The worker id names a host and pid: the log has it, clients get the attempt only.
            event(conn, job_id, "started", attempt=row.attempts)
        log.info("job %s attempt %s claimed by worker %s", job_id, row.attempts, self.worker_id)
        if self.metrics is not None:
            self.metrics.queue_wait.labels(row.kind).observe(
                max(0.0, (now - row.enqueued_at).total_seconds())
            )
        return row

    def run(self, job_id: str) -> str:
        """Run ``job_id`` if it can be claimed; returns the outcome (``"skipped"`` for a duplicate)."""
        with job_context(job_id):
            row = self.claim(job_id)
            if row is None:
                log.info("job %s is not queued; duplicate or stale message ignored", job_id)
                return "skipped"
            lease = Lease(self.db, job_id, self.worker_id, row.attempts, self.settings.heartbeat_interval_s)
            started = time.perf_counter()
            outcome = "lost"
            with lease:
                try:
                    outcome = self._execute(row, lease)
                except Exception as exc:  # the process edge: a bug must not leave the job running
                    log.exception("job %s crashed", job_id)
                    outcome = self._fail(row, lease, exc, code="internal_error")
            if self.metrics is not None:
                self.metrics.job_seconds.labels(row.kind, outcome).observe(time.perf_counter() - started)
            log.info("job %s attempt %s: %s", job_id, row.attempts, outcome)
            return outcome

    def _execute(self, row: Any, lease: Lease) -> str:
        from octavia.pipeline.jobs import JobSpec, run_job

        workdir = self.settings.data_dir / "work" / f"{row.id}-{row.attempts}-{uuid.uuid4().hex[:6]}"
        try:
            try:
                src = self._fetch_source(row, workdir / "src")
                ws = workdir / "ws"
                restored = restore_checkpoints(self.storage, row.id, ws)
                if restored:
                    with self.db.begin() as conn:
                        event(conn, row.id, "restored", stages=restored, attempt=row.attempts)
                opts = dict(row.options or {})
                formats = tuple(opts.pop("formats", ["srt"]))
                opts["output_stem"] = src.stem  # already cut to fit (see _fetch_source)
                resumed = self._resumed_review(row, ws)
                if resumed:
                    opts["review"] = False  # the review pass is over: dub with the edited lines
                spec = JobSpec.create(row.kind, src, languages=tuple(row.languages or ()),
                                      source_language=row.source_language, formats=formats,
                                      options=opts)  # fmt: skip
                progress = _ProgressWriter(self.db, lease, self.progress_interval_s)
                if resumed:
                    progress.state.update(row.progress or {})
                result = run_job(
                    spec, workdir=ws, out_dir=workdir / "out", engines=self.engines, progress=progress,
                    cancel=lease.should_stop, on_checkpoint=lambda stage: self._checkpoint(row, lease, ws, stage),
                )  # fmt: skip
                if opts.get("review"):
                    return self._review(row, lease, ws, progress.state)
                names = upload_outputs(self.storage, row.id, result.outputs)
            except Cancelled:
                return self._cancelled(row, lease)
            except OctaviaError as exc:
                if is_transient(exc):
                    return self._retry(row, lease, exc)
                return self._fail(row, lease, exc)
            except OSError as exc:
                return self._retry(row, lease, exc)
            return self._done(row, lease, result, names, progress.state, audio=ws / "audio.wav")
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _fetch_source(self, row: Any, dest_dir: Path) -> Path:
        up = None
        if row.upload_id is not None:
            with self.db.read() as conn:
                up = conn.execute(sa.select(t.uploads).where(t.uploads.c.id == row.upload_id)).first()
        if up is None:
            raise InputError(
                "The job's source upload was deleted.", "Upload the file again and create a new job."
            )
        dest_dir.mkdir(parents=True, exist_ok=True)
        # Outputs are named after the client's file; cut that name so every derived file name
        # (with its language/format suffixes and temp-file affixes) fits a 255-byte limit.
        stem = fit_stem(PurePosixPath(up.filename).stem)
        dest = dest_dir / f"{stem}{PurePosixPath(up.storage_key).suffix}"
        self.storage.get_file(up.storage_key, dest)
        return dest

    def _checkpoint(self, row: Any, lease: Lease, ws: Path, stage: str) -> None:
        if not lease.alive():
            return  # another worker owns the job now; its checkpoints win
        if stage == "extract":  # before the checkpoint is stored, so a resumed job was checked
            self._check_paid(row, lease, ws / "audio.wav")
        upload_checkpoint(self.storage, row.id, ws)
        with self.db.begin() as conn:
            event(conn, row.id, "checkpoint", stage=stage, attempt=row.attempts)
        pause = os.environ.get(PAUSE_ENV, "")
        if pause.partition(":")[0] == stage:
            time.sleep(float(pause.partition(":")[2] or 0))

    def _resumed_review(self, row: Any, ws: Path) -> bool:
        """A job resumed after its review: write the edited lines where the dub reads them."""
        from octavia.server import review

        if row.kind not in review.REVIEW_KINDS or not (row.options or {}).get("review"):
            return False
        with self.db.read() as conn:
            if not review.has_lines(conn, row.id):
                return False  # the review pass itself
        review.write_review_files(self.db, row.id, ws)
        return True

    def _check_paid(self, row: Any, lease: Lease, audio: Path) -> None:
        """Reserve more if the extracted audio is longer than paid for; else UnpaidAudio fails the job."""
        from octavia.server.metering import cover_audio

        with lease.fenced("reserve") as (conn, ok):
            if ok and (cost := cover_audio(conn, self.settings, row, audio)) is not None:
                conn.execute(lease.update().values(cost_estimate=cost))
                event(conn, row.id, "reserved", cost_estimate=cost)

    # ------------------------------------------------------------------ outcomes (fenced)

    def _done(
        self, row: Any, lease: Lease, result: Any, names: dict[str, Any], progress: dict[str, Any],
        *, audio: Path,
    ) -> str:  # fmt: skip
        from octavia.server.metering import actual_cost
        from octavia.server.worker_io import public_info

        info = public_info(result.info)
        actual = actual_cost(self.settings, row, info, audio)
        for stage, st in (info.get("stages") or {}).items():
            progress[stage] = {"fraction": 1.0, "resumed": bool(st.get("resumed"))}
            if self.metrics is not None and not st.get("resumed"):
                self.metrics.stage_seconds.labels(row.kind, stage.split(":")[0]).observe(float(st["seconds"]))
        outputs = {key: n["name"] for key, n in names.items()}
        with lease.fenced("done") as (conn, ok):
            if ok:
                conn.execute(
                    lease.update().values(status="done", finished_at=utcnow(), cost_actual=actual, stage=None,
                                          result={"outputs": outputs, "info": info}, progress=progress)
                )  # fmt: skip
                for n in names.values():
                    credits.insert_ignore(conn, t.artifacts, {**n, "job_id": row.id, "created_at": utcnow()},
                                          ("job_id", "name"))  # fmt: skip
                credits.settle_job(conn, job_id=row.id, actual=actual)
                event(conn, row.id, "done", outputs=sorted(outputs.values()), cost=actual)
        return "done" if ok else "lost"

    def _review(self, row: Any, lease: Lease, ws: Path, progress: dict[str, Any]) -> str:
        """The review pass stopped after translation: store its lines, wait for the owner.

        The credit reservation stays: the job is paused, not over. Its checkpoints are in
        storage already (each stage sent its own), so the resumed run may be on any machine.
        """
        from octavia.server import review

        lines = review.lines_from_workspace(ws, list(row.languages or ()))
        with lease.fenced("review") as (conn, ok):
            if ok:
                count = review.store_lines(conn, row.id, lines)
                conn.execute(lease.update().values(
                    status="review", review_at=utcnow(), stage="review", worker_id=None, heartbeat_at=None,
                    progress={**progress, "review": {"fraction": 0.0}},
                ))  # fmt: skip
                event(conn, row.id, "review", stage="review", lines=count, languages=sorted(lines))
        return "review" if ok else "lost"

    def _fail(self, row: Any, lease: Lease, exc: BaseException, code: str | None = None) -> str:
        err = error_dict(exc, code)
        log.warning("job %s attempt %s failed: %s", row.id, row.attempts, exc, exc_info=exc)
        with lease.fenced("failed") as (conn, ok):
            if ok:
                conn.execute(lease.update().values(status="failed", finished_at=utcnow(), error=err))
                credits.refund_job(conn, job_id=row.id)
                event(conn, row.id, "failed", error=err, attempt=row.attempts)
        if ok and self.metrics is not None:
            self.metrics.failures.labels(row.kind, err["code"]).inc()
        return "failed" if ok else "lost"

    def _cancelled(self, row: Any, lease: Lease) -> str:
        with lease.fenced("cancelled") as (conn, ok):
            if ok:
                _write_cancelled(conn, lease, row)
        return "cancelled" if ok else "lost"

    def _retry(self, row: Any, lease: Lease, exc: BaseException) -> str:
        err = error_dict(exc)
        code = err["code"]
        log.warning("job %s attempt %s hit a transient error: %s", row.id, row.attempts, exc, exc_info=exc)
        if row.attempts >= row.max_attempts:
            return self._fail(row, lease, exc)
        delay = retry_delay(row.attempts, self.retry_base_s)
        with lease.fenced("retry") as (conn, ok):
            # Read under the fence's row lock: a cancel that landed before now must win, or the
            # job would sit queued with cancel_requested, which no worker claims.
            cancel = ok and bool(conn.execute(
                sa.select(t.jobs.c.cancel_requested).where(t.jobs.c.id == row.id)
            ).scalar())  # fmt: skip
            if cancel:
                _write_cancelled(conn, lease, row)
            elif ok:
                conn.execute(lease.update().values(
                    status="queued", worker_id=None, heartbeat_at=None, error=err,
                    enqueued_at=utcnow() + _seconds(delay),
                ))  # fmt: skip
                event(conn, row.id, "retry", error=err, attempt=row.attempts, delay=delay)
        if not ok:
            return "lost"
        if cancel:
            return "cancelled"
        if self.metrics is not None:
            self.metrics.retries.labels(row.kind, code).inc()
        if self.queue is not None:
            self.queue.enqueue(row.id, delay=delay)
        return "retry"


def _write_cancelled(conn: Any, lease: Lease, row: Any) -> None:
    """The cancelled outcome, inside a fenced transaction: terminal, and the credits refunded."""
    conn.execute(lease.update().values(status="cancelled", finished_at=utcnow()))
    credits.refund_job(conn, job_id=row.id)
    event(conn, row.id, "cancelled", by="user", attempt=row.attempts)


def _seconds(s: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=s)


class _ProgressWriter:
    """Progress events → ``jobs.progress``/``stage`` and ``job_events``, at most every ``interval``
    seconds per stage (Whisper reports per segment), always on a stage change or completion."""

    def __init__(self, db: Database, lease: Lease, interval: float) -> None:
        self.db, self.lease, self.interval = db, lease, interval
        self.state: dict[str, Any] = {}
        self._last: dict[str, float] = {}
        self._stage: str | None = None

    def __call__(self, ev: ProgressEvent) -> None:
        frac = ev.fraction
        self.state[ev.stage] = {"completed": ev.completed, "total": ev.total, "fraction": frac}
        now = time.monotonic()
        changed = ev.stage != self._stage
        if not changed and frac != 1.0 and now - self._last.get(ev.stage, 0.0) < self.interval:
            return
        self._stage, self._last[ev.stage] = ev.stage, now
        with self.lease.fenced("progress") as (conn, ok):
            if ok:
                conn.execute(self.lease.update().values(stage=ev.stage, progress=dict(self.state)))
                event(conn, self.lease.job_id, "progress", stage=ev.stage, completed=ev.completed,
                      total=ev.total, fraction=frac, message=ev.message)  # fmt: skip


__all__ = ["PAUSE_ENV", "Worker", "default_worker_id", "is_transient", "retry_delay"]
