"""``octavia serve`` (the HTTP API under uvicorn) and ``octavia worker`` (Huey consumers).

Both read the server settings (``OCTAVIA_*`` environment / config file). Heavy imports happen
inside the commands, so ``octavia --help`` stays instant.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from octavia.server.settings import ServerSettings

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _common(log_level: str, json_logs: bool, queue_name: str | None) -> ServerSettings:
    from octavia.server.logging import configure_logging
    from octavia.server.settings import load_server_settings

    configure_logging(log_level.upper(), json_logs=json_logs)
    if queue_name:
        # Through the environment so uvicorn's worker processes (which import the app anew) see it.
        os.environ["OCTAVIA_QUEUE_NAME"] = queue_name
    return load_server_settings()


def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(
        1, "--workers", "-w", min=1, help="API processes (see README: Running several server processes)."
    ),
    queue_name: str = typer.Option(
        None, envvar="OCTAVIA_QUEUE_NAME", help="Huey queue name (default octavia)."
    ),
    log_level: str = typer.Option("INFO", help=f"One of {', '.join(_LEVELS)}."),
    json_logs: bool = typer.Option(True, "--json-logs/--plain-logs", help="One JSON object per log line."),
    proxy_headers: bool = typer.Option(False, help="Trust X-Forwarded-* (only behind your own proxy)."),
) -> None:
    """Run the HTTP API (FastAPI under uvicorn)."""
    import uvicorn

    from octavia.server.db import migrate

    settings = _common(log_level, json_logs, queue_name)
    if settings.should_migrate():
        migrate(settings.db_url)  # once, here, rather than racing in every uvicorn worker
    uvicorn.run(
        "octavia.server.app:create_app", factory=True, host=host, port=port, workers=workers,
        log_config=None, proxy_headers=proxy_headers, access_log=False,
        http=_fast("httptools"), loop=_fast("uvloop"),
    )  # fmt: skip


def _fast(module: str) -> Any:
    """httptools / uvloop (the server extra installs both) when present, else uvicorn's default.

    uvicorn's pure-Python h11 parser and asyncio's own loop were a large share of each
    request's CPU; a partial install without them still serves."""
    from importlib.util import find_spec

    return module if find_spec(module) is not None else "auto"


def worker(
    workers: int = typer.Option(None, "--workers", "-w", min=1, help="Concurrent jobs (default: settings)."),
    worker_type: str = typer.Option("thread", "--worker-type", "-k", help="thread | process."),
    queue_name: str = typer.Option(
        None, envvar="OCTAVIA_QUEUE_NAME", help="Huey queue name (default octavia)."
    ),
    reaper_interval: float = typer.Option(5.0, min=0.1, help="Seconds between reaper passes."),
    metrics_port: int = typer.Option(0, help="Serve this worker's Prometheus metrics on this port (0: off)."),
    shutdown_timeout: float = typer.Option(
        600.0, help="On SIGTERM, wait this long for running jobs before interrupting them."
    ),
    log_level: str = typer.Option("INFO", help=f"One of {', '.join(_LEVELS)}."),
    json_logs: bool = typer.Option(True, "--json-logs/--plain-logs", help="One JSON object per log line."),
) -> None:
    """Run jobs from the queue (a Huey consumer) plus the reaper that re-queues jobs of dead workers.

    SIGTERM is graceful (running jobs finish, up to --shutdown-timeout); SIGINT stops at once.
    A job interrupted either way is picked up again by a reaper once its heartbeat is stale.
    """
    from octavia.errors import InputError

    if worker_type not in ("thread", "process"):
        raise InputError(f"--worker-type must be thread or process, not {worker_type!r}.")
    multiproc = worker_type == "process" and metrics_port > 0
    if multiproc and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        # Must be set before prometheus_client is imported: each forked worker writes its
        # samples to files here and the parent's HTTP server sums them.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="octavia-metrics-")
    settings = _common(log_level, json_logs, queue_name)
    run_consumer(
        settings, workers=workers or settings.worker_threads, worker_type=worker_type,
        reaper_interval=reaper_interval, metrics_port=metrics_port, shutdown_timeout=shutdown_timeout,
    )  # fmt: skip


def run_consumer(
    settings: ServerSettings, *, workers: int, worker_type: str, reaper_interval: float,
    metrics_port: int, shutdown_timeout: float,
) -> None:  # fmt: skip
    import logging

    from prometheus_client import CollectorRegistry, start_http_server

    from octavia.errors import InputError
    from octavia.server.db import Database
    from octavia.server.metrics import WorkerMetrics
    from octavia.server.reaper import ReaperThread
    from octavia.server.tasks import JobQueue, make_huey
    from octavia.server.worker import Worker

    log = logging.getLogger("octavia.worker")
    if settings.should_migrate():  # SQLite by default, as `octavia serve` does
        from octavia.server.db import migrate

        migrate(settings.db_url)
    huey = make_huey(settings)
    if huey.immediate:
        raise InputError("OCTAVIA_QUEUE=immediate runs jobs inside the API; there is nothing to consume.")
    queue = JobQueue(huey)
    parent = os.getpid()
    registry = CollectorRegistry()
    shared_metrics = WorkerMetrics(registry) if worker_type == "thread" else None
    per_process: dict[int, Worker] = {}

    def runner(job_id: str) -> None:
        # One Worker (so one set of loaded models) per process, built after any fork.
        pid = os.getpid()
        if pid not in per_process:
            metrics = shared_metrics or WorkerMetrics(CollectorRegistry())
            per_process[pid] = Worker(settings, queue=queue, metrics=metrics)
        per_process[pid](job_id)

    queue.set_runner(runner)
    reaper_db = Database.from_settings(settings)

    @huey.on_startup()
    def _after_fork() -> None:
        if os.getpid() != parent:  # never use the parent's pooled connections in a child
            reaper_db.engine.dispose(close=False)

    from octavia.server.storage import build_storage

    # The reaper also sweeps storage: expired uploads, retention, late bytes (storage_sweep.py).
    reaper = ReaperThread(
        reaper_db, settings, queue.enqueue, reaper_interval, build_storage(settings)
    ).start()
    if metrics_port:
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ and worker_type == "process":
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        start_http_server(metrics_port, registry=registry)
    log.info("worker starting: queue=%s workers=%s type=%s", settings.queue, workers, worker_type)
    consumer = huey.create_consumer(
        workers=workers, worker_type=worker_type, periodic=False, graceful_signal="TERM",
        shutdown_timeout=shutdown_timeout, max_delay=1.0,  # polling backends: pick up within ~1 s
    )  # fmt: skip
    try:
        consumer.run()
    finally:
        reaper.stop()
        reaper_db.dispose()
        log.info("worker stopped")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("worker")(worker)


__all__: list[Any] = ["register", "run_consumer", "serve", "worker"]
