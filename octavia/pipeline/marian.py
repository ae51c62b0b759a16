"""Helsinki-NLP opus-mt (Marian) models run by CTranslate2, tokenized by SentencePiece.

A pair ``en``→``es`` means ``Helsinki-NLP/opus-mt-en-es``. Models live in the resolver's
cache as CTranslate2 directories (``model.bin``, ``source.spm``, ``target.spm``, vocabulary).
On a connected machine a missing pair is downloaded once (the transformers checkpoint, via
``huggingface_hub``) and converted with ``ctranslate2.converters.TransformersConverter``; that
step needs the ``convert`` extra (transformers + torch). Inference imports only ``ctranslate2``
and ``sentencepiece``.

Pairs with no direct model are translated through English (source→en→target) when both legs
exist. Models are loaded once per instance and kept per pair.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from octavia.errors import EngineError, InputError, MissingDependency, ModelDownloadFailed, ModelNotAvailable
from octavia.pipeline.models import Downloader, ModelResolver, ModelSpec, ResolvedModel

log = logging.getLogger(__name__)

REPO = "Helsinki-NLP/opus-mt-{source}-{target}"
REQUIRED_FILES = ("model.bin", "source.spm", "target.spm")
INFO_FILE = "octavia-marian.json"
PIVOT = "en"
#: Hypotheses decoded for a sentence whose best translation is too long for its time budget.
N_BEST = 8
#: Pairs `octavia models list` shows; any other opus-mt pair can be pulled by name too.
COMMON_PAIRS = tuple(
    f"{a}-{b}"
    for x in ("es", "fr", "de", "it", "pt", "nl", "ru", "zh", "ja", "ar")
    for a, b in (("en", x), (x, "en"))
)
# Files of a Helsinki-NLP checkpoint that conversion needs (not the TF/Flax weights).
CHECKPOINT_FILES = ["config.json", "*.spm", "vocab.json", "tokenizer_config.json", "pytorch_model.bin",
                    "model.safetensors", "generation_config.json", "special_tokens_map.json"]  # fmt: skip


def marian_spec(pair: str) -> ModelSpec:
    source, _, target = pair.partition("-")
    if not source or not target:
        raise InputError(f"{pair!r} is not a language pair.", "Write pairs as SOURCE-TARGET, e.g. en-es.")
    return ModelSpec(
        engine="marian",
        name=pair,
        repo_id=REPO.format(source=source, target=target),
        licence="CC-BY-4.0 (Helsinki-NLP OPUS-MT)",
        description=f"OPUS-MT {source}→{target} (CTranslate2 conversion)",
        required_files=REQUIRED_FILES,
    )


def convert_checkpoint(checkpoint: Path, out: Path, *, quantization: str | None = None) -> Path:
    """Convert a transformers Marian checkpoint directory into a CTranslate2 model directory."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as exc:  # pragma: no cover - ctranslate2 is a core dependency
        raise MissingDependency("ctranslate2 is not installed.", "pip install ctranslate2") from exc
    try:
        import transformers  # noqa: F401  (the converter imports it lazily; fail early and clearly)
    except ImportError as exc:
        raise MissingDependency(
            "Converting an opus-mt checkpoint needs transformers and torch.",
            "pip install 'octavia-media[convert]' (needed once per model; translating does not need it).",
        ) from exc
    files = [f for f in ("source.spm", "target.spm") if (checkpoint / f).exists()]
    converter = TransformersConverter(str(checkpoint), copy_files=files)
    converter.convert(str(out), quantization=quantization, force=True)
    info = {"checkpoint": str(checkpoint)}
    source_info = checkpoint / INFO_FILE
    if source_info.exists():
        info.update(json.loads(source_info.read_text()))
    (out / INFO_FILE).write_text(json.dumps(info))
    return out


def fetch_checkpoint(repo_id: str, dest: Path) -> str:
    """Download a transformers checkpoint from the Hugging Face Hub; returns its revision.

    Network and hub errors propagate as huggingface_hub raises them; the resolver maps them.
    """
    from huggingface_hub import snapshot_download

    from octavia.pipeline._download import hub_revision

    revision = hub_revision(repo_id)
    snapshot_download(repo_id, revision=revision, local_dir=dest, allow_patterns=CHECKPOINT_FILES)
    return revision


def make_downloader(fetch: Callable[[str, Path], str] = fetch_checkpoint) -> Downloader:
    """A resolver download hook: fetch the checkpoint into a temporary directory, convert it."""

    def download(spec: ModelSpec, dest: Path) -> None:
        assert spec.repo_id is not None
        with tempfile.TemporaryDirectory(prefix="octavia-opus-mt-") as tmp:
            revision = fetch(spec.repo_id, Path(tmp))
            (Path(tmp) / INFO_FILE).write_text(json.dumps({"repo_id": spec.repo_id, "revision": revision}))
            try:
                convert_checkpoint(Path(tmp), dest)
            except (ValueError, RuntimeError, KeyError, TypeError) as exc:  # what converters raise
                raise ModelDownloadFailed(
                    f"Converting {spec.repo_id} to CTranslate2 failed: {exc}",
                    f"Pass a converted model with --model DIR, or report this checkpoint ({revision}).",
                ) from exc

    return download


download_marian = make_downloader()


@dataclass
class _Loaded:
    translator: Any  # ctranslate2.Translator
    source_sp: Any  # sentencepiece.SentencePieceProcessor
    target_sp: Any
    target_tokens: frozenset[str]  # `>>xx<<` language tokens of multilingual-target models


class MarianTranslator:
    """A :class:`~octavia.pipeline.engines.Translator` over opus-mt models in CTranslate2."""

    def __init__(
        self,
        resolver: ModelResolver,
        *,
        model_dir: str | Path | None = None,
        device: str = "cpu",
        compute_type: str = "default",
        inter_threads: int = 0,
        intra_threads: int = 0,
        beam_size: int = 4,
        max_batch_size: int = 16,
        batch_type: Literal["examples", "tokens"] = "examples",
        download: Downloader | None = download_marian,
    ) -> None:
        from octavia.pipeline.whisper import pick_device

        self.resolver = resolver
        self.model_dir = Path(model_dir).expanduser() if model_dir is not None else None
        self.device, self.compute_type = pick_device(device, compute_type)
        self.inter_threads, self.intra_threads = thread_plan(self.device, inter_threads, intra_threads)
        self.beam_size = beam_size
        self.max_batch_size = max_batch_size
        self.batch_type = batch_type
        self.download = download
        self._routes: dict[tuple[str, str], list[ResolvedModel]] = {}
        self._loaded: dict[Path, _Loaded] = {}

    @property
    def texts_per_call(self) -> int:
        """How many texts a caller should hand :meth:`translate` at once: a full batch for each
        parallel worker (``translate_texts`` reads this; fewer texts leave workers idle)."""
        return self.max_batch_size * self.inter_threads

    def _batch_limit(self, tokens: list[list[str]]) -> int:
        """``max_batch_size``, lowered so that every parallel worker gets a batch of this call."""
        if self.inter_threads == 1:
            return self.max_batch_size
        size = len(tokens) if self.batch_type == "examples" else sum(map(len, tokens))
        return max(1, min(self.max_batch_size, -(-size // self.inter_threads)))

    # -- which models ----------------------------------------------------------------------
    def local_pairs(self) -> list[str]:
        root = self.resolver.cache_dir / "marian"
        found = (
            [p.name for p in root.glob("*-*") if self.resolver.find_cached(marian_spec(p.name))]
            if root.is_dir()
            else []
        )
        return sorted(found)

    def _resolve(self, pair: str) -> ResolvedModel:
        return self.resolver.resolve(marian_spec(pair), download=self.download)

    def route(self, source: str, target: str) -> list[ResolvedModel]:
        """The model(s) that translate source→target: one direct model, or two through English."""
        key = (source, target)
        if key in self._routes:
            return self._routes[key]
        if self.model_dir is not None:
            spec = ModelSpec("marian", self.model_dir.name, required_files=REQUIRED_FILES)
            route = [self.resolver.resolve(spec, user_path=self.model_dir)]
        else:
            route = self._find_route(source, target)
        self._routes[key] = route
        return route

    def _find_route(self, source: str, target: str) -> list[ResolvedModel]:
        direct = f"{source}-{target}"
        try:
            return [self._resolve(direct)]
        except ModelNotAvailable as exc:
            direct_error = exc
        failed = isinstance(direct_error, ModelDownloadFailed)
        if PIVOT not in (source, target):
            try:
                return [self._resolve(f"{source}-{PIVOT}"), self._resolve(f"{PIVOT}-{target}")]
            except ModelNotAvailable as exc:
                failed = failed or isinstance(exc, ModelDownloadFailed)
        local = ", ".join(self.local_pairs()) or "none"
        pivot = f" nor through English ({source}-en + en-{target})" if PIVOT not in (source, target) else ""
        # A failed download stays a ModelDownloadFailed, so `auto` can say a better model was missed.
        error = ModelDownloadFailed if failed else ModelNotAvailable
        raise error(
            f"No opus-mt model translates {source}→{target} directly{pivot} on this machine. "
            f"Local pairs: {local}. ({direct_error.message})",
            f"On a connected machine run `octavia models pull marian {direct}` (or the two English legs), "
            "pass a converted model with --model DIR, or try --translator apertium or hf.",
        )

    def engine_id(self, source: str, target: str) -> str:
        legs = [f"{m.path}@{_revision(m.path)}" for m in self.route(source, target)]
        return f"marian:{'+'.join(legs)}:{self.compute_type}:beam{self.beam_size}"

    # -- running ---------------------------------------------------------------------------
    def _load(self, path: Path) -> _Loaded:
        if path in self._loaded:
            return self._loaded[path]
        import ctranslate2
        import sentencepiece as spm

        try:
            translator = ctranslate2.Translator(
                str(path), device=self.device, compute_type=self.compute_type,
                inter_threads=self.inter_threads, intra_threads=self.intra_threads,
            )  # fmt: skip
        except (RuntimeError, ValueError) as exc:
            raise EngineError(f"The Marian model at {path} could not be loaded: {exc}",
                              "Check that it is a CTranslate2 conversion of an opus-mt model.") from exc  # fmt: skip
        loaded = _Loaded(
            translator,
            spm.SentencePieceProcessor(model_file=str(path / "source.spm")),
            spm.SentencePieceProcessor(model_file=str(path / "target.spm")),
            _language_tokens(path),
        )
        self._loaded[path] = loaded
        return loaded

    def translate(self, texts: Sequence[str], *, source: str, target: str) -> list[str]:
        if source == target:
            return list(texts)
        out = list(texts)
        for model in self.route(source, target):
            out = self._translate_with(self._load(model.path), out, target)
        return out

    def translate_within(
        self, texts: Sequence[str], *, source: str, target: str, max_chars: Sequence[int | None]
    ) -> list[str]:
        """Like :meth:`translate`, but each sentence's rendering aims at ``max_chars[i]`` characters.

        The top hypothesis is kept when it fits (no extra cost then). Only sentences whose top
        hypothesis is too long are decoded again for an n-best list (:data:`N_BEST` beams with
        scores); the best-scoring hypothesis that fits wins, and the top one stays when none
        fits. Through English, the n-best choice is made on the last leg.
        """
        if len(max_chars) != len(texts):
            raise ValueError("one max_chars per text")
        if source == target:
            return list(texts)
        out = list(texts)
        route = self.route(source, target)
        for model in route[:-1]:
            out = self._translate_with(self._load(model.path), out, target)
        last = self._load(route[-1].path)
        pivoted = out
        out = self._translate_with(last, pivoted, target)
        over = [i for i, (t, limit) in enumerate(zip(out, max_chars, strict=True))
                if limit is not None and len(t) > limit and pivoted[i].strip()]  # fmt: skip
        if over:
            nbest = self._hypotheses(last, [pivoted[i] for i in over], target, N_BEST)
            for i, candidates in zip(over, nbest, strict=True):
                limit = max_chars[i]
                assert limit is not None
                out[i] = next((c for c in candidates if len(c) <= limit), out[i])
        return out

    def _tokens(self, model: _Loaded, texts: list[str], target: str) -> list[list[str]]:
        # The converted config has add_source_eos=false: Marian expects the "</s>" itself.
        tokens = [[*t, "</s>"] for t in model.source_sp.encode(texts, out_type=str)]
        prefix = f">>{target}<<"
        if model.target_tokens:
            if prefix not in model.target_tokens:
                raise InputError(f"This multilingual model cannot translate into {target!r}.",
                                 f"It knows: {', '.join(sorted(t[2:-2] for t in model.target_tokens))}.")  # fmt: skip
            tokens = [[prefix, *t] for t in tokens]
        return tokens

    def _hypotheses(self, model: _Loaded, texts: list[str], target: str, n: int) -> list[list[str]]:
        """Up to ``n`` renderings per text, best score first (beam search with n beams)."""
        try:
            tokens = self._tokens(model, texts, target)
            results = model.translator.translate_batch(
                tokens, beam_size=max(n, self.beam_size), num_hypotheses=n,
                return_scores=True, max_batch_size=self._batch_limit(tokens), batch_type=self.batch_type,
                max_decoding_length=512,
            )  # fmt: skip
        except RuntimeError as exc:
            raise EngineError(f"CTranslate2 failed while translating: {exc}") from exc
        out = []
        for result in results:
            ranked = sorted(zip(result.scores, result.hypotheses, strict=True), key=lambda sh: -sh[0])
            seen: dict[str, None] = {}
            for _, hyp in ranked:
                seen.setdefault(model.target_sp.decode(hyp), None)
            out.append(list(seen))
        return out

    def _translate_with(self, model: _Loaded, texts: list[str], target: str) -> list[str]:
        todo = [i for i, t in enumerate(texts) if t.strip()]
        if not todo:
            return list(texts)
        tokens = self._tokens(model, [texts[i] for i in todo], target)
        # Past max_batch_size CTranslate2 sorts the inputs longest first, cuts them into batches
        # of similar length (little padding) and returns results in input order. Sorting here
        # as well would only reshuffle equal lengths, and so the batches' make-up.
        try:
            results = model.translator.translate_batch(
                tokens, beam_size=self.beam_size,
                max_batch_size=self._batch_limit(tokens), batch_type=self.batch_type,
                max_decoding_length=512, return_scores=False,  # only the best hypothesis is read
            )  # fmt: skip
        except RuntimeError as exc:
            raise EngineError(f"CTranslate2 failed while translating: {exc}") from exc
        out = list(texts)
        for i, result in zip(todo, results, strict=True):
            out[i] = model.target_sp.decode(result.hypotheses[0])
        return out


#: Parallel CTranslate2 workers at most when none are asked for: each holds its own copy of
#: the model (about 125 MB more resident memory per worker for an int8 opus-mt model).
MAX_AUTO_WORKERS = 4


def thread_plan(device: str, inter_threads: int = 0, intra_threads: int = 0) -> tuple[int, int]:
    """(parallel batches, threads per batch) for CTranslate2; 0 means "choose".

    On a CPU the cores go to parallel workers of one thread each: decoding a batch is a chain
    of small matrix products, and splitting each across threads costs more in synchronisation
    than it gains (measured on 2 cores: 2 workers × 1 thread translated 2.2× (float32) and 1.7×
    (int8) as many sentences per second as 1 × 2; docs/translation.md). On a GPU one worker.
    CTranslate2's own default (4 threads per worker) oversubscribes a small machine.
    """
    cores = usable_cores()
    if inter_threads <= 0:
        per_worker = intra_threads if intra_threads > 0 else 1
        inter_threads = 1 if device != "cpu" else max(1, min(cores // per_worker, MAX_AUTO_WORKERS))
    return inter_threads, intra_threads if intra_threads > 0 else max(1, cores // inter_threads)


def usable_cores() -> int:
    """The cores this process may run on: its affinity mask (taskset, a container's cpuset).

    ``os.cpu_count()`` counts the host's cores, which overcounts inside a container.
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1  # pragma: no cover - macOS and Windows have no affinity call


def _revision(path: Path) -> str:
    info = path / INFO_FILE
    if info.exists():
        data = json.loads(info.read_text())
        return str(data.get("revision") or data.get("repo_id") or "local")
    return "local"


def _language_tokens(path: Path) -> frozenset[str]:
    for name in ("shared_vocabulary.json", "source_vocabulary.json"):
        vocab = path / name
        if vocab.exists():
            tokens = json.loads(vocab.read_text())
            return frozenset(t for t in tokens if t.startswith(">>") and t.endswith("<<"))
    return frozenset()


def pull(resolver: ModelResolver, pair: str) -> ResolvedModel:
    return resolver.resolve(marian_spec(pair), download=download_marian)


def catalogue() -> list[object]:
    from octavia.pipeline.catalogue import CatalogueEntry

    return [CatalogueEntry(marian_spec(pair), download_marian) for pair in COMMON_PAIRS]
