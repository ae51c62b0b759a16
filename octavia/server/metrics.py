"""Prometheus metrics.

Two sources, chosen so that no number depends on which process happened to do the work:

* **State, read from the database at scrape time** (:class:`DbCollector`): jobs by status,
  queue length (queued rows, and messages in the Huey backend), failed jobs by kind and error
  code. The jobs table is shared by every API and worker process, so one ``/metrics`` on any
  ``octavia serve`` process gives the whole system's state, with no multi-process registry.
* **Events, observed in the process that runs the job** (:class:`WorkerMetrics`): job and
  stage durations (histograms by kind and stage), failures and retries by kind and error
  code, queue wait (enqueue → claim). ``octavia worker --metrics-port`` serves them from the
  consumer process (thread workers share one registry; with process workers the command
  switches prometheus_client to its multi-process mode). In immediate mode the jobs run in
  the API process and these appear on its ``/metrics`` too.

Each app and worker builds its own :class:`~prometheus_client.CollectorRegistry`, never the
global one, so several apps in one test process do not collide.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    from octavia.server.db import Database
    from octavia.server.tasks import JobQueue

log = logging.getLogger("octavia.server")

STATUSES = ("queued", "running", "review", "done", "failed", "cancelled")
# Jobs run from seconds (a short clip) to hours (a film dub).
JOB_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
STAGE_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Histogram

        self.job_seconds = Histogram(
            "octavia_job_duration_seconds", "Wall time of one job attempt.", ["kind", "outcome"],
            buckets=JOB_BUCKETS, registry=registry,
        )  # fmt: skip
        self.stage_seconds = Histogram(
            "octavia_job_stage_duration_seconds", "Wall time of a pipeline stage that ran (not resumed).",
            ["kind", "stage"], buckets=STAGE_BUCKETS, registry=registry,
        )  # fmt: skip
        self.failures = Counter(
            "octavia_job_failures",
            "Jobs that ended failed, by error code.",
            ["kind", "code"],
            registry=registry,
        )
        self.retries = Counter(
            "octavia_job_retries", "Attempts re-queued after a transient error.", ["kind", "code"],
            registry=registry,
        )  # fmt: skip
        self.queue_wait = Histogram(
            "octavia_job_queue_wait_seconds", "From enqueue to a worker claiming the job.", ["kind"],
            buckets=WAIT_BUCKETS, registry=registry,
        )  # fmt: skip


class DbCollector:
    """Gauges computed from the jobs table (and the queue backend) on every scrape."""

    def __init__(self, db: Database, queue: JobQueue | None = None) -> None:
        self.db = db
        self.queue = queue

    def describe(self) -> Iterator[Metric]:
        # Defined so that registering does not run collect() (a DB query) at build time.
        return iter(self._families()[0])

    def _families(self) -> tuple[list[Any], Any, Any, Any, Any]:
        from prometheus_client.core import GaugeMetricFamily

        by_status = GaugeMetricFamily("octavia_jobs", "Jobs in the database by status.", labels=["status"])
        queued = GaugeMetricFamily("octavia_queue_length", "Jobs waiting for a worker (status queued).")
        backend = GaugeMetricFamily(
            "octavia_queue_backend_messages", "Messages in the Huey backend (pending, scheduled).",
            labels=["state"],
        )  # fmt: skip
        failed = GaugeMetricFamily(
            "octavia_jobs_failed",
            "Failed jobs in the database by kind and error code.",
            labels=["kind", "code"],
        )
        return [by_status, queued, backend, failed], by_status, queued, backend, failed

    def collect(self) -> Iterator[Metric]:
        from octavia.server import tables as t

        families, by_status, queued, backend, failed = self._families()
        j = t.jobs
        with self.db.read() as conn:
            counts: dict[str, int] = dict(
                conn.execute(sa.select(j.c.status, sa.func.count()).group_by(j.c.status)).all()
            )
            code = j.c.error["code"].as_string()
            fails = conn.execute(
                sa.select(j.c.kind, code, sa.func.count())
                .where(j.c.status == "failed")
                .group_by(j.c.kind, code)
            ).all()
        for status in STATUSES:
            by_status.add_metric([status], float(counts.get(status, 0)))
        queued.add_metric([], float(counts.get("queued", 0)))
        for kind, err, n in fails:
            failed.add_metric([str(kind), str(err or "unknown")], float(n))
        if self.queue is not None:
            try:
                backend.add_metric(["pending"], float(self.queue.pending()))
                backend.add_metric(["scheduled"], float(self.queue.scheduled()))
            except Exception as exc:  # noqa: BLE001 - a down queue must not break the scrape; /readyz reports it
                log.warning("metrics: queue backend unreachable: %s", exc)
        return iter(families)


def build_registry(db: Database, queue: JobQueue | None = None) -> tuple[CollectorRegistry, WorkerMetrics]:
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=True)
    registry.register(DbCollector(db, queue))
    return registry, WorkerMetrics(registry)


__all__ = ["DbCollector", "WorkerMetrics", "build_registry"]
