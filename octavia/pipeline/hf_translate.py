"""Hosted translation: Helsinki-NLP opus-mt models on the Hugging Face Inference API.

``POST {hf_api_url}/Helsinki-NLP/opus-mt-{source}-{target}`` with ``{"inputs": [...]}`` and a
Bearer token (``OCTAVIA_HF_TOKEN``) answers ``[{"translation_text": ...}, ...]``. A model
the service is still loading answers 503 with ``estimated_time``; that is waited for, not
counted as a failure. Pairs without a hosted model are translated through English.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import httpx

from octavia.errors import EngineError, ModelNotAvailable, OctaviaError
from octavia.pipeline.http_engine import HttpEngine
from octavia.pipeline.marian import PIVOT, REPO

if TYPE_CHECKING:
    from octavia.config import Settings

BATCH = 16


class HFTranslator(HttpEngine):
    """A :class:`~octavia.pipeline.engines.Translator` over the Hugging Face Inference API."""

    service = "The Hugging Face Inference API"
    token_setting = "OCTAVIA_HF_TOKEN (or hf_token in the config file)"

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self._missing: set[str] = set()  # repos the API said it does not have

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> HFTranslator:
        secret = settings.hf_token.get_secret_value() if settings.hf_token else None
        return cls(settings.hf_api_url, token=secret or None, **kwargs)

    def wait_hint(self, response: httpx.Response) -> float | None:
        if response.status_code != 503:
            return None
        body = _json(response)
        if isinstance(body, dict) and "loading" in str(body.get("error", "")).lower():
            return max(1.0, float(body.get("estimated_time") or 10.0))
        return None

    def error_for(self, response: httpx.Response) -> OctaviaError:
        if response.status_code == 404:
            return ModelNotAvailable(
                f"{self.service} has no model at {response.request.url}.",
                "Check the language codes; not every pair has an opus-mt model.",
            )
        return super().error_for(response)

    def engine_id(self, source: str, target: str) -> str:
        return f"hf:{self.base_url}/{REPO.format(source=source, target=target)}"

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        if source == target:
            return list(texts)
        direct = REPO.format(source=source, target=target)
        if direct not in self._missing:
            try:
                return self._translate(direct, texts)
            except ModelNotAvailable:
                if PIVOT in (source, target):
                    raise
                self._missing.add(direct)
        english = self._translate(REPO.format(source=source, target=PIVOT), texts)
        return self._translate(REPO.format(source=PIVOT, target=target), english)

    def _translate(self, repo: str, texts: Sequence[str]) -> list[str]:
        out = list(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        for k in range(0, len(todo), BATCH):
            idx = todo[k : k + BATCH]
            response = self.request("POST", repo, json={"inputs": [texts[i] for i in idx]})
            body = _json(response)
            if not isinstance(body, list) or len(body) != len(idx):
                raise EngineError(
                    f"{self.service} sent an unexpected answer for {repo}: {response.text[:200]}"
                )
            for i, item in zip(idx, body, strict=True):
                if isinstance(item, list) and item:  # some deployments nest one level deeper
                    item = item[0]
                if not isinstance(item, dict) or "translation_text" not in item:
                    raise EngineError(f"{self.service} answer lacks translation_text: {response.text[:200]}")
                out[i] = str(item["translation_text"])
        return out


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
