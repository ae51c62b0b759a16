"""A client for OpenAI-compatible chat-completions endpoints (OpenAI, Ollama, llama.cpp, vLLM).

Built on :class:`~octavia.pipeline.http_engine.HttpEngine` (timeouts, backoff on 429/5xx, auth
errors). What it adds: the structured-output mode the server supports, found by asking. A
request first carries a JSON schema (``response_format: json_schema``); a server that rejects
that (HTTP 400/422 naming the response format or schema) is asked again in JSON mode
(``json_object``), and one that rejects that too with the prompt alone. The mode found is kept
for the process: it is a property of the server, not of a job.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx

from octavia.errors import EngineError, InputError, OctaviaError, TransientEngineError
from octavia.pipeline.http_engine import HttpEngine, _excerpt

if TYPE_CHECKING:
    from octavia.config import Settings

Mode = Literal["json_schema", "json_object", "prompt"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "prompt")
# Words in a 400 answer that mean "this response_format is not supported here".
_FORMAT_WORDS = ("response_format", "json_schema", "schema", "json_object", "grammar", "structured")


class Rejected(EngineError):
    """A final 4xx answer, with its status and body, so the caller can tell what was refused."""

    def __init__(self, message: str, hint: str | None, *, status: int, body: str) -> None:
        super().__init__(message, hint)
        self.status = status
        self.body = body


class MalformedAnswer(EngineError):
    """The server answered 200 with something that is not a chat completion with text."""


class ChatClient(HttpEngine):
    """``POST {base_url}/chat/completions`` with the structured-output mode the server takes."""

    service = "The LLM server"
    token_setting = "OCTAVIA_LLM_API_KEY (or llm_api_key in the config file)"

    def __init__(self, base_url: str, model: str, *, mode: Mode = "json_schema", **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.model = model
        self._mode: Mode = mode  # where the detection starts
        self._mode_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> ChatClient:
        if not settings.llm_base_url or not settings.llm_model:
            raise InputError(
                "The LLM translator is not configured.",
                "Set OCTAVIA_LLM_BASE_URL (e.g. http://localhost:11434/v1 for Ollama, "
                "https://api.openai.com/v1) and OCTAVIA_LLM_MODEL; OCTAVIA_LLM_API_KEY if the server needs one.",
            )
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        kwargs.setdefault("timeout", settings.llm_timeout)
        return cls(settings.llm_base_url, settings.llm_model, token=key or None, **kwargs)

    @property
    def host(self) -> str:
        """The server's host[:port], for engine ids and messages (never the key)."""
        return urlsplit(self.base_url).netloc or self.base_url

    @property
    def mode(self) -> Mode:
        return self._mode

    def error_for(self, response: httpx.Response) -> OctaviaError:
        status, body = response.status_code, response.text
        if status == 404:
            return Rejected(
                f"{self.service} at {self.host} answered 404 for model {self.model!r}: {_excerpt(response)}",
                "Check OCTAVIA_LLM_BASE_URL (it ends in /v1 on most servers) and OCTAVIA_LLM_MODEL "
                "(e.g. `ollama list` shows the model names).",
                status=status, body=body,
            )  # fmt: skip
        return Rejected(
            f"{self.service} at {self.host} answered HTTP {status}: {_excerpt(response)}", None,
            status=status, body=body,
        )  # fmt: skip

    def complete(
        self, messages: list[dict[str, str]], *, schema: dict[str, Any], max_tokens: int,
        temperature: float = 0.0,
    ) -> str:  # fmt: skip
        """The assistant's answer text, in the best structured mode the server supports."""
        while True:
            mode = self._mode
            body: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": temperature,
                                    "max_tokens": max_tokens, "stream": False}  # fmt: skip
            if mode == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "translations", "strict": True, "schema": schema},
                }
            elif mode == "json_object":
                body["response_format"] = {"type": "json_object"}
            try:
                response = self._post(body)
            except Rejected as exc:
                if mode != "prompt" and exc.status in (400, 422) and _names_format(exc.body):
                    self._downgrade(mode)
                    continue
                raise
            return _content(response, self.service)

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            return self.request("POST", "chat/completions", json=body)
        except TransientEngineError as exc:
            if isinstance(exc.__cause__, httpx.ConnectError):
                raise EngineError(
                    f"Could not connect to {self.service} at {self.base_url}: {exc.__cause__}.",
                    "Start the server (e.g. `ollama serve`, `llama-server -m MODEL.gguf`), check the "
                    "network, or set OCTAVIA_LLM_BASE_URL to where it listens.",
                ) from exc
            raise

    def _downgrade(self, rejected: Mode) -> None:
        with self._mode_lock:
            if self._mode == rejected:  # another thread may have moved on already
                self._mode = MODES[MODES.index(rejected) + 1]


def _names_format(body: str) -> bool:
    lowered = body.lower()
    return any(word in lowered for word in _FORMAT_WORDS)


def _content(response: httpx.Response, service: str) -> str:
    """``choices[0].message.content``; an answer without one is an :class:`EngineError`."""
    try:
        data = response.json()
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise MalformedAnswer(
            f"{service} sent an answer that is not a chat completion: {response.text[:200]}"
        ) from exc
    if not isinstance(content, str):
        raise MalformedAnswer(f"{service} sent no text content: {json.dumps(data)[:200]}")
    return content
