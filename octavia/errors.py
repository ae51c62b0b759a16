"""The exception tree of Octavia.

Every error the core raises on purpose is an :class:`OctaviaError`. Each carries a
``message`` (what went wrong) and a ``hint`` (what the user can do about it). The edges
(CLI, HTTP API, worker) turn them into one message each; the core never prints.

::

    OctaviaError
    ├── InputError            bad input file, bad option value, unknown language pair
    ├── MissingDependency     an optional package or the ffmpeg binary is not installed
    ├── ModelNotAvailable     a model is neither on disk nor downloadable
    │   └── ModelDownloadFailed    a download (or its conversion) failed: network, hub, proxy
    ├── FFmpegError           ffmpeg ran and failed
    ├── EngineError           an engine (local or hosted) failed while running
    │   └── TransientEngineError   worth retrying (timeouts, HTTP 429/5xx)
    ├── InsufficientCredits   the account balance does not cover a job
    └── Cancelled             the job was cancelled while running
"""

from __future__ import annotations


class OctaviaError(Exception):
    """Base class of every error Octavia raises on purpose."""

    #: A short machine-readable name, used in JSON output and HTTP problem documents.
    code = "octavia_error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"

    def to_dict(self) -> dict[str, str | None]:
        return {"error": self.code, "message": self.message, "hint": self.hint}


class InputError(OctaviaError):
    """The input (a file, an option, a language pair) cannot be used. Retrying will not help."""

    code = "input_error"


class MissingDependency(OctaviaError):
    """An optional package or external binary is required but not installed."""

    code = "missing_dependency"


class ModelNotAvailable(OctaviaError):
    """A model could not be found locally and could not be downloaded."""

    code = "model_not_available"


class ModelDownloadFailed(ModelNotAvailable):
    """Fetching a model failed: no network, a refused or timed-out connection, a TLS error,
    a proxy's web page where the model was expected, a hub error, or a failed conversion.

    A subclass of :class:`ModelNotAvailable`, so ``auto`` choices fall back to what is local.
    """

    code = "model_download_failed"


class FFmpegError(OctaviaError):
    """ffmpeg ran and exited with an error."""

    code = "ffmpeg_error"


class EngineError(OctaviaError):
    """A transcription, translation or synthesis engine failed."""

    code = "engine_error"


class TransientEngineError(EngineError):
    """An engine failed in a way that may succeed when retried (timeout, rate limit, 5xx)."""

    code = "transient_engine_error"


class InsufficientCredits(OctaviaError):
    """The account's credit balance does not cover the job."""

    code = "insufficient_credits"

    def __init__(self, message: str, hint: str | None = None, *, shortfall: int = 0) -> None:
        super().__init__(message, hint)
        self.shortfall = shortfall


class Cancelled(OctaviaError):
    """The job was cancelled by its owner while it ran."""

    code = "cancelled"


__all__ = [
    "Cancelled",
    "EngineError",
    "FFmpegError",
    "InputError",
    "InsufficientCredits",
    "MissingDependency",
    "ModelDownloadFailed",
    "ModelNotAvailable",
    "OctaviaError",
    "TransientEngineError",
]
