"""A base for hosted engines spoken to over HTTP (Hugging Face inference, a TTS server, ...).

One place decides timeouts, retries and what each failure means:

* 401/403 → :class:`EngineError` naming the setting that holds the token;
* 429 and 5xx, timeouts, dropped connections → retried with exponential backoff (a
  ``Retry-After`` header wins), then :class:`TransientEngineError` when retries run out;
* other 4xx → :class:`EngineError` with the start of the response body;
* a subclass may say how long to wait for a specific answer (:meth:`HttpEngine.wait_hint`),
  e.g. a model that the service is still loading.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from octavia.errors import EngineError, OctaviaError, TransientEngineError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when is not None else None


class HttpEngine:
    """HTTP plumbing shared by hosted engines; subclasses add the service's own requests."""

    #: How the service is named in messages.
    service = "the hosted service"
    #: The setting (environment variable) that holds the credentials, named in auth errors.
    token_setting = "a token"

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 1.0,
        max_delay: float = 60.0,
        max_wait: float = 300.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retries = retries
        self.backoff = backoff
        self.max_delay = max_delay
        self.max_wait = max_wait  # total seconds spent waiting on wait_hint() answers
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    def close(self) -> None:
        self._client.close()

    def wait_hint(self, response: httpx.Response) -> float | None:
        """Seconds to wait before asking again, for answers that mean "not yet" (not an error)."""
        return None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempt, waited = 0, 0.0
        while True:
            try:
                response = self._client.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt >= self.retries:
                    raise TransientEngineError(
                        f"{self.service} did not answer ({type(exc).__name__}: {exc}) after {attempt + 1} tries.",
                        "Check the network or the service's status, then retry.",
                    ) from exc
                self._pause(self._delay(attempt, None), f"{type(exc).__name__}")
                attempt += 1
                continue
            if response.is_success:
                return response
            hint = self.wait_hint(response)
            if hint is not None and waited + hint <= self.max_wait:
                waited += hint
                self._pause(hint, f"HTTP {response.status_code} (service says wait)")
                continue
            self._raise_for_auth(response)
            if response.status_code in RETRY_STATUS:
                if attempt >= self.retries:
                    raise TransientEngineError(
                        f"{self.service} answered HTTP {response.status_code} {attempt + 1} times: "
                        f"{_excerpt(response)}",
                        "The service is busy or failing; retry later.",
                    )
                self._pause(self._delay(attempt, response), f"HTTP {response.status_code}")
                attempt += 1
                continue
            raise self.error_for(response)

    def error_for(self, response: httpx.Response) -> OctaviaError:
        """The error for a final, non-retryable answer; subclasses refine it (e.g. 404)."""
        return EngineError(f"{self.service} answered HTTP {response.status_code}: {_excerpt(response)}")

    def _raise_for_auth(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            what = "no token was sent" if not self.token else "the token was rejected"
            raise EngineError(
                f"{self.service} refused the request (HTTP {response.status_code}): {what}.",
                f"Set {self.token_setting} to a valid token with access to this model.",
            )

    def _delay(self, attempt: int, response: httpx.Response | None) -> float:
        told = retry_after(response) if response is not None else None
        if told is not None:
            return min(told, self.max_delay)
        return min(self.backoff * 2.0**attempt, self.max_delay)

    def _pause(self, seconds: float, why: str) -> None:
        log.info("%s: %s; retrying in %.1f s", self.service, why, seconds)
        self._sleep(seconds)


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "") if text else response.reason_phrase
