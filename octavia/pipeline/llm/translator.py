"""The LLM translator: windows of sentences to a chat-completions server, checked, retried,
and on failure handed to a fallback translator.

Sentences go in windows (8 by default) with two neighbours on each side as context. An answer
that cannot be mapped back 1:1 (:mod:`octavia.pipeline.llm.validate`), misses a kept term or a
glossary rendering, or fails in transit (429/5xx after the client's own retries, a garbled
body) is asked again with a note of what was wrong, up to ``attempts`` times; then that window
is translated by the fallback (Marian where a model exists, else Apertium), and the fallback is
recorded (:func:`collect_fallbacks`). Auth errors and an unreachable server are not retried
here: they are configuration problems and reach the user at once.

Engines are shared by job threads, so per-job terms never become engine state:
:meth:`LLMTranslator.with_terms` returns a view that shares the client and the fallback.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from octavia.errors import EngineError, InputError, MissingDependency, ModelNotAvailable, TransientEngineError
from octavia.pipeline.engines import Translator
from octavia.pipeline.llm.client import ChatClient, MalformedAnswer
from octavia.pipeline.llm.prompt import (
    PROMPT_VERSION,
    Terms,
    Window,
    build_messages,
    response_schema,
    token_budget,
)
from octavia.pipeline.llm.validate import InvalidAnswer, parse_answer

if TYPE_CHECKING:
    from octavia.config import Settings

log = logging.getLogger(__name__)


@runtime_checkable
class LengthAwareTranslator(Translator, Protocol):
    """A translator that can aim at a character budget per sentence (the shared protocol)."""

    def translate_within(
        self, texts: Sequence[str], *, source: str, target: str, max_chars: Sequence[int | None]
    ) -> list[str]: ...


@dataclass(frozen=True)
class FallbackRecord:
    """One window the LLM could not translate, and who did instead."""

    first: int  # indices into the texts of the call
    last: int
    reason: str
    translator: str

    def describe(self, source: str, target: str) -> str:
        where = (
            f"sentence {self.first + 1}"
            if self.first == self.last
            else f"sentences {self.first + 1}–{self.last + 1}"
        )
        return f"The LLM's answers for {where} ({source}→{target}) were rejected ({self.reason}); {self.translator} translated them instead."


_COLLECTOR: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("llm_fallbacks", default=None)


@contextlib.contextmanager
def collect_fallbacks() -> Iterator[list[str]]:
    """Within the block, each window handed to the fallback adds a sentence to the yielded list
    (per call, not per engine: threads running other jobs collect their own)."""
    notes: list[str] = []
    token = _COLLECTOR.set(notes)
    try:
        yield notes
    finally:
        _COLLECTOR.reset(token)


class _Fallback:
    """The fallback translator, built on first need, once (a failed build is tried again)."""

    def __init__(self, build: Callable[[], Translator] | None) -> None:
        self._build = build
        self._engine: Translator | None = None
        self._lock = threading.Lock()

    def get(self) -> Translator | None:
        if self._build is None:
            return None
        with self._lock:
            if self._engine is None:
                self._engine = self._build()
            return self._engine


class LLMTranslator:
    """A :class:`~octavia.pipeline.engines.Translator` (and length-aware one) over an LLM."""

    #: Tells :func:`octavia.pipeline.translation.translate_texts` to pass terms as words, not placeholders.
    handles_terms = True

    def __init__(
        self, client: ChatClient, *, fallback: Callable[[], Translator] | None = None, window: int = 8,
        context: int = 2, attempts: int = 3, terms: Terms | None = None, _fallback: _Fallback | None = None,
    ) -> None:  # fmt: skip
        if window < 1 or attempts < 1:
            raise InputError("The LLM window and attempts must be at least 1.")
        self.client = client
        self.window = window
        self.context = context
        self.attempts = attempts
        self.terms = terms or Terms()
        self._fallback = _fallback or _Fallback(fallback)

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> LLMTranslator:
        return cls(ChatClient.from_settings(settings), **kwargs)

    def with_terms(
        self, keep: Sequence[str] = (), glossary: Mapping[str, str] | None = None
    ) -> LLMTranslator:
        """This translator for one call's kept terms and glossary (sharing client and fallback)."""
        terms = Terms(tuple(t for t in keep if t.strip()), dict(glossary or {}))
        return LLMTranslator(self.client, window=self.window, context=self.context, attempts=self.attempts,
                             terms=terms, _fallback=self._fallback)  # fmt: skip

    def engine_id(self, source: str, target: str) -> str:
        return f"llm:{self.client.host}/{self.client.model}:prompt{PROMPT_VERSION}:{source}-{target}"

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        return self.translate_within(texts, source=source, target=target, max_chars=[None] * len(texts))

    def translate_within(
        self, texts: Sequence[str], *, source: str, target: str, max_chars: Sequence[int | None]
    ) -> list[str]:
        if len(max_chars) != len(texts):
            raise InputError(f"{len(max_chars)} character budgets for {len(texts)} sentences.")
        if source == target:
            return list(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        out = ["" for _ in texts]
        for k in range(0, len(todo), self.window):
            idx = todo[k : k + self.window]
            window = Window(
                texts=tuple(texts[i] for i in idx),
                max_chars=tuple(max_chars[i] for i in idx),
                before=tuple(texts[i] for i in todo[max(0, k - self.context) : k]),
                after=tuple(texts[i] for i in todo[k + len(idx) : k + len(idx) + self.context]),
            )
            for i, text in zip(idx, self._window(window, idx, source, target), strict=True):
                out[i] = text
        return out

    # -- one window ----------------------------------------------------------------------------
    def _window(self, window: Window, idx: list[int], source: str, target: str) -> list[str]:
        problem: str | None = None
        for attempt in range(self.attempts):
            try:
                out = self._ask(window, source, target, problem, attempt)
            except InvalidAnswer as exc:
                problem = str(exc)
                log.info("LLM answer rejected (try %d of %d): %s", attempt + 1, self.attempts, problem)
                continue
            except (TransientEngineError, MalformedAnswer) as exc:
                problem = exc.message
                log.info("LLM request failed (try %d of %d): %s", attempt + 1, self.attempts, problem)
                continue
            return self._shorten(window, out, source, target)
        return self._fall_back(window, idx, source, target, problem or "no valid answer")

    def _ask(self, window: Window, source: str, target: str, problem: str | None, attempt: int) -> list[str]:
        messages = build_messages(window, source=source, target=target, terms=self.terms, problem=problem)
        content = self.client.complete(messages, schema=response_schema(window, target),
                                       max_tokens=token_budget(window),
                                       temperature=0.0 if attempt == 0 else 0.5)  # fmt: skip
        out = parse_answer(content, window)
        self._check_terms(window, out)
        return out

    def _check_terms(self, window: Window, out: list[str]) -> None:
        wanted = [(t, t) for t in self.terms.keep] + list(self.terms.glossary.items())
        for n, (src, text) in enumerate(zip(window.texts, out, strict=True)):
            for term, rendering in wanted:
                if _word(term).search(src) and rendering.casefold() not in text.casefold():
                    raise InvalidAnswer(f"translation {n + 1} lacks {rendering!r} (for {term!r})")

    def _shorten(self, window: Window, out: list[str], source: str, target: str) -> list[str]:
        """One more request for the sentences over budget; a shorter valid answer wins."""
        over = [i for i, (t, m) in enumerate(zip(out, window.max_chars, strict=True)) if m and len(t) > m]
        if not over:
            return out
        retry = Window(texts=tuple(window.texts[i] for i in over), max_chars=tuple(window.max_chars[i] for i in over),
                       before=window.before, after=window.after)  # fmt: skip
        problem = "; ".join(f"translation {n + 1} was {len(out[i])} characters, over its limit of "
                            f"{window.max_chars[i]}" for n, i in enumerate(over))  # fmt: skip
        try:
            shorter = self._ask(retry, source, target, problem, 1)
        except (InvalidAnswer, TransientEngineError, MalformedAnswer) as exc:
            log.info("LLM shortening rejected: %s", exc)
            return out
        result = list(out)
        for i, text in zip(over, shorter, strict=True):
            if len(text) < len(result[i]):
                result[i] = text
        return result

    def _fall_back(self, window: Window, idx: list[int], source: str, target: str, reason: str) -> list[str]:
        try:
            engine = self._fallback.get()
            if engine is None:
                raise ModelNotAvailable("No fallback translator was configured.")
            name = engine.engine_id(source, target)
        except (ModelNotAvailable, MissingDependency, InputError) as exc:
            raise EngineError(
                f"The LLM's answers for {len(window.texts)} sentences ({source}→{target}) were rejected "
                f"{self.attempts} times (last: {reason}), and no fallback translator is available: {exc.message}",
                "Use a stronger model (OCTAVIA_LLM_MODEL), or install a fallback: `octavia models pull "
                f"marian {source}-{target}` or an Apertium pair.",
            ) from exc
        record = FallbackRecord(idx[0], idx[-1], reason, name)
        log.warning(record.describe(source, target))
        notes = _COLLECTOR.get()
        if notes is not None:
            notes.append(record.describe(source, target))
        texts = list(window.texts)
        if self.terms:
            from octavia.pipeline.translation import translate_texts

            return translate_texts(texts, engine, source=source, target=target, keep_terms=self.terms.keep,
                                   glossary=self.terms.glossary)  # fmt: skip
        if isinstance(engine, LengthAwareTranslator):
            return engine.translate_within(
                texts, source=source, target=target, max_chars=list(window.max_chars)
            )
        return engine.translate(texts, source=source, target=target)


def _word(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")
