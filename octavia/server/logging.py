"""Structured JSON logs carrying the job id.

The worker sets :data:`job_id_var` while a job runs (:func:`job_context`); :class:`JobIdFilter`
copies it onto every record, so any library logging inside the job (Huey, SQLAlchemy, the
pipeline) is tagged without passing the id around. :class:`JsonFormatter` writes one JSON
object per line, which log shippers (journald, Loki, CloudWatch) parse without rules.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

job_id_var: ContextVar[str | None] = ContextVar("octavia_job_id", default=None)

# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "job_id"}


@contextmanager
def job_context(job_id: str) -> Iterator[None]:
    token = job_id_var.set(job_id)
    try:
        yield
    finally:
        job_id_var.reset(token)


class JobIdFilter(logging.Filter):
    """Adds ``record.job_id`` (None outside a job). Attach it to handlers, not loggers, so it
    sees records from every logger that propagates to them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            record.job_id = job_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "job_id": getattr(record, "job_id", None),
            "pid": record.process,
            "thread": record.threadName,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure_logging(level: str | int = "INFO", *, json_logs: bool = True) -> None:
    """Set up the root logger for a server or worker process (call once, at the edge).

    ``force=True`` replaces handlers a library may have installed; the Huey consumer only
    logs through the root logger once this has run (see QUEUE.md §8).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(JobIdFilter())
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(job_id)s] %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)


__all__ = ["JobIdFilter", "JsonFormatter", "configure_logging", "job_context", "job_id_var"]
