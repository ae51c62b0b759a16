"""Translating timed text: segments (from Whisper) and cues (from subtitle files).

Fragments are joined into sentences (:mod:`octavia.pipeline.sentences`), translated in
batches, and split back onto the original timings. Terms the user asks to keep are replaced
by placeholders the models copy (two-digit numbers absent from the sentence: opus-mt models
and Apertium both pass numbers through); a sentence whose placeholders do not all come back
exactly once is translated again in pieces around the terms, so a kept term is never lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from octavia.errors import InputError, MissingDependency, ModelDownloadFailed, ModelNotAvailable
from octavia.pipeline.engines import LengthAwareTranslator, Translator
from octavia.pipeline.progress import ProgressCallback, ProgressEvent
from octavia.pipeline.sentences import Fragment, Sentence, group_sentences, place
from octavia.types import Cue, Segment

if TYPE_CHECKING:
    from octavia.config import Settings
    from octavia.pipeline.fitting.budget import LengthBudget
    from octavia.pipeline.models import ModelResolver

TRANSLATORS = ("auto", "marian", "hf", "apertium", "llm")
_LEADING_MARKUP = re.compile(r"^(?:\s*(?:\{[^{}\n]*\}|<[A-Za-z][^<>\n]*>))+")
_TRAILING_MARKUP = re.compile(r"(?:</[A-Za-z][^<>\n]*>\s*)+$")


# -- keep-terms --------------------------------------------------------------------------------
def _term_pattern(term: str) -> re.Pattern[str]:
    # Whole words only, so keeping "AI" does not touch "AIR"; case-sensitive, so keeping "Apple"
    # leaves "an apple" to be translated.
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)")


def protect(text: str, terms: Sequence[str]) -> tuple[str, dict[str, str]]:
    """Replace each kept term by a placeholder number; returns (text, placeholder → original)."""
    found: list[tuple[int, int, str]] = []
    for term in sorted({t for t in terms if t.strip()}, key=len, reverse=True):
        for m in _term_pattern(term).finditer(text):
            if not any(s < m.end() and m.start() < e for s, e, _ in found):
                found.append((m.start(), m.end(), m.group(0)))
    if not found:
        return text, {}
    numbers = (str(n) for n in range(11, 100) if n % 11 and str(n) not in text)
    mapping: dict[str, str] = {}
    out, last = [], 0
    for start, end, original in sorted(found):
        placeholder = next(numbers, None)
        if placeholder is None:  # a sentence full of numbers: protect the rest by splitting instead
            break
        mapping[placeholder] = original
        out += [text[last:start], placeholder]
        last = end
    out.append(text[last:])
    return "".join(out), mapping


def restore(text: str, mapping: dict[str, str]) -> str | None:
    """Put the kept terms back, or None when a placeholder is missing or duplicated."""
    for placeholder, original in mapping.items():
        pattern = re.compile(rf"(?<!\d){placeholder}(?!\d)")
        if len(pattern.findall(text)) != 1:
            return None
        text = pattern.sub(lambda _m, o=original: o, text)  # type: ignore[misc]
    return text


def _split_around_terms(text: str, terms: Sequence[str]) -> list[tuple[str, bool]]:
    """[(piece, is_term)], the fallback when placeholders do not survive translation."""
    alternatives = "|".join(
        _term_pattern(t).pattern for t in sorted(terms, key=len, reverse=True) if t.strip()
    )
    pieces: list[tuple[str, bool]] = []
    last = 0
    for m in re.finditer(alternatives, text):
        pieces.append((text[last : m.start()], False))
        pieces.append((m.group(0), True))
        last = m.end()
    pieces.append((text[last:], False))
    return [(p, t) for p, t in pieces if p.strip() or t]


def translate_texts(
    texts: Sequence[str], translator: Translator, *, source: str, target: str,
    keep_terms: Sequence[str] = (), batch_size: int | None = None, progress: ProgressCallback | None = None,
    max_chars: Sequence[int | None] | None = None, glossary: Mapping[str, str] | None = None,
) -> list[str]:  # fmt: skip
    """Translate whole sentences in batches, keeping ``keep_terms`` untranslated and rendering
    each ``glossary`` term (source → target) as the glossary says.

    With ``max_chars`` (one per text), a :class:`LengthAwareTranslator` aims each rendering at
    that length (dubbing); other translators ignore it.

    A translator that reads terms itself (``handles_terms``, the LLM) gets them as words through
    its ``with_terms``; the others get placeholders, which come back as the kept term or its
    glossary rendering.
    """
    rendering = {t: t for t in keep_terms if t.strip()}  # term → what the translation must hold
    rendering |= {k: v for k, v in (glossary or {}).items() if k.strip()}
    terms = list(rendering)
    if terms and getattr(translator, "handles_terms", False):
        translator = translator.with_terms(keep_terms, glossary)  # type: ignore[attr-defined]
        protected: list[tuple[str, dict[str, str]]] = [(t, {}) for t in texts]
    else:
        protected = [protect(t, terms) if terms else (t, {}) for t in texts]
    aim = max_chars is not None and isinstance(translator, LengthAwareTranslator)
    # Texts per call (and per progress step): what the translator asks for (Marian: a batch per
    # parallel worker), else 16.
    batch_size = batch_size or _texts_per_call(translator, source, target)
    out: list[str] = []
    for i in range(0, len(texts), batch_size):
        batch = [p for p, _ in protected[i : i + batch_size]]
        if aim:
            assert max_chars is not None and isinstance(translator, LengthAwareTranslator)
            limits = max_chars[i : i + batch_size]
            out.extend(translator.translate_within(batch, source=source, target=target, max_chars=limits))
        else:
            out.extend(translator.translate(batch, source=source, target=target))
        if progress is not None:
            progress(ProgressEvent("translate", min(i + batch_size, len(texts)), len(texts)))
    retry: list[int] = []
    for i, (translated, (_, mapping)) in enumerate(zip(out, protected, strict=True)):
        if mapping or terms:
            rendered = {p: rendering.get(o, o) for p, o in mapping.items()}
            restored = restore(translated, rendered) if mapping else translated
            if restored is None or any(_term_pattern(t).search(texts[i]) and not _term_pattern(rendering[t]).search(restored)
                                       for t in terms):  # fmt: skip
                retry.append(i)
            else:
                out[i] = restored
    for i in retry:
        pieces = _split_around_terms(texts[i], terms)
        plain = [p for p, is_term in pieces if not is_term]
        done = iter(translator.translate(plain, source=source, target=target) if plain else [])
        parts = [rendering.get(p.strip(), p.strip()) if is_term else next(done).strip()
                 for p, is_term in pieces]  # fmt: skip
        out[i] = " ".join(p for p in parts if p)
    return out


def _texts_per_call(translator: Translator, source: str, target: str) -> int:
    engine = translator.engine_for(source, target) if isinstance(translator, AutoTranslator) else translator
    return int(getattr(engine, "texts_per_call", 16))


# -- segments and cues -------------------------------------------------------------------------
def _translate_fragments(
    fragments: Sequence[Fragment], translator: Translator, *, source: str, target: str,
    keep_terms: Sequence[str], batch_size: int | None, progress: ProgressCallback | None,
    budget: LengthBudget | None = None, media_end: float | None = None,
    glossary: Mapping[str, str] | None = None,
) -> list[tuple[Sentence, list[Any]]]:  # fmt: skip
    sentences = group_sentences(fragments)
    todo = [s for s in sentences if s.text]
    # Dubbing: each sentence's time budget (its segments' windows + the gap it may borrow).
    limits = [budget.max_chars(fragments, s.indices, media_end=media_end) for s in todo] if budget else None
    translated = translate_texts([s.text for s in todo], translator, source=source, target=target,
                                 keep_terms=keep_terms, batch_size=batch_size, progress=progress,
                                 max_chars=limits, glossary=glossary)  # fmt: skip
    by_sentence = dict(zip((s.indices for s in todo), translated, strict=True))
    return [(s, place(fragments, s, by_sentence.get(s.indices, ""))) for s in sentences]


def translate_segments(
    segments: Sequence[Segment], translator: Translator, *, source: str, target: str,
    keep_terms: Sequence[str] = (), batch_size: int | None = None, progress: ProgressCallback | None = None,
    budget: LengthBudget | None = None, media_end: float | None = None,
    glossary: Mapping[str, str] | None = None,
) -> list[Segment]:  # fmt: skip
    """Translated segments on the original timings (see the module docstring).

    With ``budget`` (dubbing) a length-aware translator aims each sentence at what the voice
    can say within the sentence's time budget (:mod:`octavia.pipeline.fitting.budget`).

    One output segment per input segment, except that a segment whose share of a sentence's
    translation came out empty is merged into its neighbour (whose timing grows over it).
    Speakers are kept; word timings no longer apply and are dropped.
    """
    fragments = [Fragment(s.text, s.start, s.end, s.speaker) for s in segments]
    out: list[Segment] = []
    for _sentence, placed in _translate_fragments(fragments, translator, source=source, target=target,
                                                  keep_terms=keep_terms, batch_size=batch_size,
                                                  progress=progress, budget=budget,
                                                  media_end=media_end, glossary=glossary):  # fmt: skip
        for p in placed:
            first = segments[p.indices[0]]
            out.append(replace(first, start=p.start, end=p.end, text=p.text, words=()))
    return out


def _split_markup(text: str) -> tuple[str, str, str]:
    """(leading markup, plain text, trailing closing tags) of a cue's text."""
    from octavia.formats._markup import MARKUP_RE

    lead = _LEADING_MARKUP.match(text)
    head = lead.group(0).strip() if lead else ""
    trail = _TRAILING_MARKUP.search(text)
    tail = trail.group(0).strip() if trail else ""
    body = MARKUP_RE.sub("", text).replace("\\h", " ")
    return head, " ".join(body.split()), tail


def translate_cues(
    cues: Sequence[Cue], translator: Translator, *, source: str, target: str,
    keep_terms: Sequence[str] = (), batch_size: int | None = None, progress: ProgressCallback | None = None,
    layout: Any = None, glossary: Mapping[str, str] | None = None,
) -> list[Cue]:  # fmt: skip
    """Translated cues keeping timing, style and ``extra``.

    Markup is kept out of the text sent to the model: the cue's leading markup (ASS override
    tags such as ``{\\i1}``, ``<i>``) goes back at the start, closing tags at the end; markup in
    the middle of a line is dropped. ASS drawings are shapes, not words, and pass through.
    Line breaks of the source do not fit the translation: with ``layout`` (a
    :class:`~octavia.formats.rules.LayoutRules`) each cue is re-broken into balanced lines.
    """
    from octavia.formats._markup import is_ass_drawing

    parts = [_split_markup(c.text) for c in cues]
    drawing = [is_ass_drawing(c.text) for c in cues]
    fragments = [
        Fragment("" if drawing[i] else body, c.start, c.end, (c.style, tuple(sorted(c.extra.items()))))
        for i, (c, (_, body, _)) in enumerate(zip(cues, parts, strict=True))
    ]
    out: list[Cue] = []
    for _sentence, placed in _translate_fragments(fragments, translator, source=source, target=target,
                                                  keep_terms=keep_terms, batch_size=batch_size,
                                                  progress=progress, glossary=glossary):  # fmt: skip
        for p in placed:
            i = p.indices[0]
            cue = cues[i]
            if drawing[i]:
                out.append(cue)
                continue
            head, _, tail = parts[i]
            body = p.text
            if layout is not None and body:
                from octavia.formats.linebreak import break_lines

                body = break_lines(body, layout)
            text = head + body + (parts[p.indices[-1]][2] if len(p.indices) > 1 else tail)
            out.append(replace(cue, start=p.start, end=p.end, text=text, extra=dict(cue.extra)))
    return out


# -- choosing a translator ---------------------------------------------------------------------
class AutoTranslator:
    """Per pair: a Marian model when one is local or downloadable, else Apertium, else hosted HF.

    A candidate that is not available (not local, download failed, a package missing) is
    skipped; when one was skipped because fetching it *failed*, :meth:`fallback_note` says so,
    for the job summary.
    """

    def __init__(self, candidates: Sequence[tuple[str, Callable[[], Translator]]]) -> None:
        self._candidates = list(candidates)
        self._built: dict[str, Translator] = {}
        self._chosen: dict[tuple[str, str], Translator] = {}
        self._notes: dict[tuple[str, str], str] = {}

    def _choose(self, source: str, target: str) -> Translator:
        key = (source, target)
        if key in self._chosen:
            return self._chosen[key]
        reasons: list[str] = []
        failed: list[str] = []
        for name, build in self._candidates:
            try:
                engine = self._built.get(name) or build()
                self._built[name] = engine
                engine.engine_id(source, target)  # raises when the pair is not available
            except (ModelNotAvailable, MissingDependency, InputError) as exc:
                reasons.append(f"{name}: {exc.message}")
                if isinstance(exc, ModelDownloadFailed | MissingDependency):
                    failed.append(exc.message)
                continue
            self._chosen[key] = engine
            if failed:
                self._notes[key] = " ".join(failed) + f" Translated {source}→{target} with {name} instead."
            return engine
        raise ModelNotAvailable(
            f"No translator on this machine can translate {source}→{target}. " + " ".join(reasons),
            f"Run `octavia models pull marian {source}-{target}` on a connected machine, set a Hugging "
            "Face token (OCTAVIA_HF_TOKEN) for --translator hf, or install an Apertium pair.",
        )

    def engine_for(self, source: str, target: str) -> Translator:
        """The engine that translates this pair (chosen on first use)."""
        return self._choose(source, target)

    def fallback_note(self, source: str, target: str) -> str | None:
        """Why a better translator for the pair was passed over, when fetching it failed."""
        self._choose(source, target)
        return self._notes.get((source, target))

    def engine_id(self, source: str, target: str) -> str:
        return self._choose(source, target).engine_id(source, target)

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        return self._choose(source, target).translate(texts, source=source, target=target)

    def translate_within(
        self, texts: Sequence[str], *, source: str, target: str, max_chars: Sequence[int | None]
    ) -> list[str]:
        """Length-aware when the chosen engine is (:class:`LengthAwareTranslator`), else plain."""
        engine = self._choose(source, target)
        if isinstance(engine, LengthAwareTranslator):
            return engine.translate_within(texts, source=source, target=target, max_chars=max_chars)
        return engine.translate(texts, source=source, target=target)


def make_translator(
    name: str, settings: Settings, resolver: ModelResolver, *, model_dir: str | None = None
) -> Translator:
    """A translator by name: auto | marian | hf | apertium | llm."""

    def marian() -> Translator:
        from octavia.pipeline.marian import MarianTranslator

        return MarianTranslator(resolver, model_dir=model_dir, device=settings.device,
                                compute_type=settings.compute_type)  # fmt: skip

    def hf() -> Translator:
        from octavia.pipeline.hf_translate import HFTranslator

        return HFTranslator.from_settings(settings)

    def apertium() -> Translator:
        from octavia.pipeline.apertium import ApertiumTranslator

        return ApertiumTranslator()

    def llm() -> Translator:
        from octavia.pipeline.llm import LLMTranslator

        # A window the LLM cannot answer well goes to what is local: Marian, else Apertium.
        return LLMTranslator.from_settings(
            settings, fallback=lambda: AutoTranslator([("marian", marian), ("apertium", apertium)])
        )

    builders: dict[str, Callable[[], Translator]] = dict(marian=marian, hf=hf, apertium=apertium, llm=llm)
    if name == "auto":
        order = ["marian", "apertium"] + (["hf"] if settings.hf_token else [])
        return AutoTranslator([(n, builders[n]) for n in order])
    if name not in builders:
        raise InputError(f"Unknown translator {name!r}.", f"Use one of: {', '.join(TRANSLATORS)}.")
    return builders[name]()
