"""Translation with an LLM over any OpenAI-compatible chat-completions endpoint.

:mod:`~octavia.pipeline.llm.client` speaks the API, :mod:`~octavia.pipeline.llm.prompt` builds
the request, :mod:`~octavia.pipeline.llm.validate` checks the answer and
:mod:`~octavia.pipeline.llm.translator` puts them together (windows, retries, fallback).
"""

from octavia.pipeline.llm.client import ChatClient
from octavia.pipeline.llm.translator import LengthAwareTranslator, LLMTranslator, collect_fallbacks

__all__ = ["ChatClient", "LLMTranslator", "LengthAwareTranslator", "collect_fallbacks"]
