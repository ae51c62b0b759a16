"""Coqui TTS (``coqui-tts``, import ``TTS``): local neural voices, multi-speaker models and
XTTS voice cloning.

Models are named as Coqui names them (``tts_models/es/css10/vits``) and found through the
model resolver: a directory the user gave (``--tts-model DIR`` holding ``config.json`` and a
checkpoint), the cache (``<cache>/models/coqui/<name with -- for />``), or a download with
Coqui's own model manager on connected machines. Every model, downloaded or built locally,
is loaded by one path: ``TTS(model_path=..., config_path=...)``.

XTTS v2 (voice cloning) is released under the Coqui Public Model License, which allows
**non-commercial use only**; it is downloaded only when ``COQUI_TOS_AGREED=1`` says the user
accepted it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from octavia.errors import EngineError, InputError, ModelNotAvailable
from octavia.pipeline.models import ModelResolver, ModelSpec, ResolvedModel

XTTS = "tts_models/multilingual/multi-dataset/xtts_v2"
XTTS_LICENCE = "CPML (Coqui Public Model License): non-commercial use only"
XTTS_LANGUAGES = frozenset("en es fr de it pt pl tr ru nl cs ar zh ja hu ko hi".split())
MULTI_SPEAKER = "tts_models/en/vctk/vits"

#: Single-speaker VITS voices (or the best single-speaker model) per target language.
DEFAULT_MODELS: dict[str, str] = {
    "en": "tts_models/en/ljspeech/vits",
    "es": "tts_models/es/css10/vits",
    "fr": "tts_models/fr/css10/vits",
    "de": "tts_models/de/thorsten/vits",
    "nl": "tts_models/nl/css10/vits",
    "it": "tts_models/it/mai_female/vits",
    "pt": "tts_models/pt/cv/vits",
    "pl": "tts_models/pl/mai_female/vits",
    "uk": "tts_models/uk/mai/vits",
    "hu": "tts_models/hu/css10/vits",
    "fi": "tts_models/fi/css10/vits",
    "el": "tts_models/el/cv/vits",
    "cs": "tts_models/cs/cv/vits",
    "da": "tts_models/da/cv/vits",
    "sv": "tts_models/sv/cv/vits",
    "ro": "tts_models/ro/cv/vits",
    "bg": "tts_models/bg/cv/vits",
    "hr": "tts_models/hr/cv/vits",
    "sk": "tts_models/sk/cv/vits",
    "sl": "tts_models/sl/cv/vits",
    "lt": "tts_models/lt/cv/vits",
    "lv": "tts_models/lv/cv/vits",
    "et": "tts_models/et/cv/vits",
    "ga": "tts_models/ga/cv/vits",
    "mt": "tts_models/mt/cv/vits",
    "ca": "tts_models/ca/custom/vits",
    "fa": "tts_models/fa/custom/glow-tts",
    "bn": "tts_models/bn/custom/vits-male",
    "tr": "tts_models/tr/common-voice/glow-tts",
    "ja": "tts_models/ja/kokoro/tacotron2-DDC",
    "zh": "tts_models/zh-CN/baker/tacotron2-DDC-GST",
}
_LICENCES = {XTTS: XTTS_LICENCE, MULTI_SPEAKER: "CC BY 4.0 (VCTK)"}
CHECKPOINT_NAMES = ("model_file.pth", "model_file.pth.tar", "model.pth", "checkpoint.pth")


def coqui_spec(name: str) -> ModelSpec:
    return ModelSpec(
        engine="coqui",
        name=name,
        repo_id=name,
        licence=_LICENCES.get(name, "see the model card (coqui-tts model list)"),
        description="Coqui XTTS v2 voice cloning" if name == XTTS else f"Coqui TTS {name}",
        required_files=("config.json",),
    )


def download_coqui(spec: ModelSpec, dest: Path) -> None:
    """Download with Coqui's model manager, then move the files into ``dest``."""
    if spec.name == XTTS and os.environ.get("COQUI_TOS_AGREED") != "1":
        raise ModelNotAvailable(
            f"{XTTS} is licensed under the {XTTS_LICENCE}; it is downloaded only after you accept it.",
            "Read https://coqui.ai/cpml, then set COQUI_TOS_AGREED=1 and run again.",
        )
    from TTS.utils.manage import ModelManager

    from octavia.pipeline._download import network_errors, quiet_tracebacks

    try:
        with quiet_tracebacks("TTS.utils.manage"):
            manager = ModelManager(output_prefix=dest / ".dl", progress_bar=True)
            model_file, config, _ = manager.download_model(spec.name)
    except (ValueError, KeyError) as exc:  # unknown model name, or a broken model list entry
        if isinstance(exc, network_errors()):  # a proxy's page where the hub's JSON was expected
            raise
        raise ModelNotAvailable(
            f"Coqui does not know the model {spec.name!r}.",
            "See `octavia models list --engine coqui`, or pass a model directory with --tts-model.",
        ) from exc
    folder = Path(config).parent if config else Path(model_file)
    for item in folder.iterdir():
        shutil.move(str(item), dest / item.name)
    shutil.rmtree(dest / ".dl", ignore_errors=True)


def choose_model(
    resolver: ModelResolver, requested: str | None, language: str, *, clone: bool = False
) -> ResolvedModel:
    """A model directory (``requested`` a path), a Coqui model name, or the default for ``language``."""
    if requested and Path(requested).expanduser().exists():
        spec = ModelSpec(
            "coqui", Path(requested).name, licence="user-supplied", required_files=("config.json",)
        )
        return resolver.resolve(spec, user_path=requested)
    name = requested or (XTTS if clone else DEFAULT_MODELS.get(language))
    if name is None:
        raise InputError(
            f"No default Coqui voice is known for language {language!r}.",
            "Pass --tts-model with a Coqui model name or directory, or use --clone-voice (XTTS).",
        )
    return resolver.resolve(coqui_spec(name), download=download_coqui)


def has_model_for(resolver: ModelResolver, language: str) -> bool:
    """True when a default model for ``language`` is cached, or could be downloaded."""
    name = DEFAULT_MODELS.get(language)
    if name is None:
        return False
    return resolver.find_cached(coqui_spec(name)) is not None or not resolver.offline


def pick_device(device: str, *, cuda_available: bool | None = None) -> str:
    """``auto`` → cuda when torch sees a GPU, else cpu; ``cuda`` without a GPU is an error."""
    if cuda_available is None:
        import torch

        cuda_available = bool(torch.cuda.is_available())
    if device == "auto":
        return "cuda" if cuda_available else "cpu"
    if device == "cuda" and not cuda_available:
        raise InputError(
            "--device cuda was asked for, but torch sees no CUDA device.",
            "Use --device cpu, or install a CUDA build of torch with a working NVIDIA driver.",
        )
    if device not in ("cpu", "cuda"):
        raise InputError(f"Unknown device {device!r}.", "Use auto, cpu or cuda.")
    return device


def checkpoint_of(model_dir: Path) -> Path:
    """What ``TTS(model_path=...)`` takes: the directory for XTTS, else its checkpoint file."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("model") == "xtts":
        return model_dir
    for name in CHECKPOINT_NAMES:
        if (model_dir / name).exists():
            return model_dir / name
    found = sorted(model_dir.glob("*.pth*"))
    if len(found) != 1:
        raise ModelNotAvailable(
            f"{model_dir} holds no single Coqui checkpoint (*.pth).", "Re-download the model."
        )
    return found[0]


def _fix_paths(model_dir: Path) -> None:
    """Point file paths in the config (speakers, language ids) at this directory.

    Coqui writes absolute paths into config.json at download; a moved cache dir breaks them.
    """
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    changed = False
    for section in (config, config.get("model_args") or {}):
        for key in ("speakers_file", "d_vector_file", "language_ids_file"):
            value = section.get(key)
            if isinstance(value, str) and value and (model_dir / Path(value).name).exists():
                local = str(model_dir / Path(value).name)
                changed |= value != local
                section[key] = local
    if changed and os.access(config_path, os.W_OK):
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")


def _is_audio_path(voice: str | None) -> bool:
    return bool(voice) and Path(str(voice)).suffix.lower() in {".wav", ".flac", ".mp3", ".ogg", ".m4a"}


class CoquiSynthesizer:
    """One loaded Coqui model; ``voice`` is a speaker name, or an audio file to clone (XTTS)."""

    def __init__(self, model: ResolvedModel, *, device: str = "auto") -> None:
        self.model = model
        self.device_request = device
        self._tts: Any = None
        self._lock = threading.Lock()

    @property
    def tts(self) -> Any:
        with self._lock:
            if self._tts is None:
                from TTS.api import TTS

                device = pick_device(self.device_request)
                _fix_paths(self.model.path)
                checkpoint = checkpoint_of(self.model.path)
                tts = TTS(model_path=str(checkpoint), config_path=str(self.model.path / "config.json"),
                          progress_bar=False)  # fmt: skip
                self._tts = tts.to(device)
                self.device = device
        return self._tts

    def engine_id(self, language: str, voice: str | None) -> str:
        ident = voice or ""
        if _is_audio_path(voice):
            ident = "clone:" + hashlib.sha256(Path(str(voice)).read_bytes()).hexdigest()[:16]
        size = sum(p.stat().st_size for p in self.model.path.glob("*.pth*"))
        return f"coqui:{self.model.spec.name}:{size}:{ident}:{language}"

    def describe(self, language: str, voice: str | None) -> dict[str, str]:
        info = {**self.model.to_dict(), "engine": "coqui", "licence": self.model.spec.licence}
        if _is_audio_path(voice):
            info["voice"] = "cloned from the source speaker"
        elif voice:
            info["voice"] = voice
        return info

    def speakers(self) -> list[str]:
        return list(self.tts.speakers or []) if self.tts.is_multi_speaker else []

    def voices(self, language: str) -> list[str]:
        """A multi-speaker model's speakers (XTTS clones instead; a single voice lists none)."""
        if self.model.spec.name == XTTS:
            return []
        return self.speakers()

    def synthesize(self, text: str, out: Path, *, language: str, voice: str | None = None) -> Path:
        tts = self.tts
        kwargs: dict[str, Any] = {}
        is_xtts = getattr(tts.synthesizer.tts_config, "model", "") == "xtts"
        if _is_audio_path(voice):
            if not is_xtts:
                raise InputError(
                    f"The Coqui model {self.model.spec.name!r} cannot clone voices.",
                    f"Use --tts-model {XTTS} (non-commercial licence) for --clone-voice.",
                )
            kwargs["speaker_wav"] = str(voice)
        elif tts.is_multi_speaker:
            speakers = self.speakers()
            if voice and voice not in speakers:
                raise InputError(
                    f"The Coqui model {self.model.spec.name!r} has no speaker {voice!r}.",
                    f"Speakers: {', '.join(speakers[:20])}{' ...' if len(speakers) > 20 else ''}.",
                )
            kwargs["speaker"] = voice or speakers[0]
        if tts.is_multi_lingual or is_xtts:
            kwargs["language"] = "zh-cn" if is_xtts and language == "zh" else language
        try:
            tts.tts_to_file(text, file_path=str(out), **kwargs)
        except (RuntimeError, ValueError, KeyError) as exc:  # torch and tokenizer failures
            raise EngineError(f"Coqui TTS could not speak {text[:40]!r}: {exc}") from exc
        return out


def catalogue() -> list[object]:
    from octavia.pipeline.catalogue import CatalogueEntry

    names = dict.fromkeys([*DEFAULT_MODELS.values(), MULTI_SPEAKER, XTTS])
    return [CatalogueEntry(coqui_spec(n), download_coqui) for n in names]
