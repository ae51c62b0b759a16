"""Choosing a speech synthesizer, and speaking translated segments into cached clips.

Clips are stored under a clip cache directory by a hash of (text, voice, engine id), so a
re-run after editing one line re-synthesizes only that line, and a re-run with another voice
or model never reuses a stale clip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from octavia.errors import InputError, MissingDependency, ModelDownloadFailed
from octavia.pipeline.engines import Synthesizer
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.progress import CancelCheck, ProgressCallback, ProgressEvent, check_cancelled
from octavia.pipeline.workspace import atomic_path
from octavia.types import Segment

if TYPE_CHECKING:
    from octavia.config import Settings

ENGINES = ("auto", "coqui", "kokoro", "piper", "tts-server")


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def make_synthesizer(name: str, language: str, settings: Settings, resolver: ModelResolver) -> Synthesizer:
    """Build the synthesizer ``name`` names: ``auto``, ``coqui[:MODEL]``, ``kokoro[:VOICE]``,
    ``piper[:VOICE]``, ``tts-server``.

    ``auto`` picks Coqui where it is installed and has a voice for ``language`` (cached, or
    downloadable on a connected machine), else Kokoro where its model is here and it speaks the
    language (see :func:`_kokoro_suits`), else Piper where a voice for it is on this machine
    (or downloadable), else fails naming what to install. When the Coqui voice cannot be
    fetched, ``auto`` speaks with a local Piper voice instead and says so (``describe``).
    """
    engine, _, model = name.partition(":")
    if engine == "auto":
        engine = _auto_engine(language, resolver)
        if engine == "coqui":
            return _coqui_or_local_piper(language, settings, resolver)
    if engine == "coqui":
        if not _installed("TTS"):
            raise MissingDependency("Coqui TTS is not installed.", "pip install 'octavia-media[coqui]'")
        from octavia.pipeline import coqui

        resolved = coqui.choose_model(resolver, model or None, language)
        return coqui.CoquiSynthesizer(resolved, device=settings.device)
    if engine == "kokoro":
        return _kokoro(language, resolver, model or None)
    if engine == "piper":
        if not _installed("piper"):
            raise MissingDependency("Piper is not installed.", "pip install 'octavia-media[piper]'")
        from octavia.pipeline.piper import PiperSynthesizer

        synth = PiperSynthesizer(resolver, default_voice=model or None)
        synth.resolve(language, None)  # fail now, with the resolver's message, if no voice exists
        return synth
    if engine == "tts-server":
        url = settings.tts_server_url
        if not url:
            raise InputError(
                "--tts tts-server needs the server's URL.", "Set OCTAVIA_TTS_SERVER_URL or --tts-server-url."
            )
        from octavia.pipeline.tts_server import TtsServerSynthesizer

        return TtsServerSynthesizer(url)
    raise InputError(f"Unknown TTS engine {name!r}.", f"Use one of: {', '.join(ENGINES)}.")


def _coqui_or_local_piper(language: str, settings: Settings, resolver: ModelResolver) -> Synthesizer:
    """``auto``'s Coqui choice, falling back to a Piper voice on this machine when the Coqui
    model cannot be had (the download failed, or converting/loading needs a missing package)."""
    try:
        return make_synthesizer("coqui", language, settings, resolver)
    except (ModelDownloadFailed, MissingDependency) as exc:
        if _kokoro_suits(language, resolver):
            from octavia.pipeline.kokoro import KokoroSynthesizer

            note = f"{exc.message} Spoke {language!r} with Kokoro instead."
            return KokoroSynthesizer(resolver, fallback_note=note)
        if not _installed("piper"):
            raise
        from octavia.pipeline.piper import PiperSynthesizer, has_local_voice

        if not has_local_voice(resolver, language):
            raise
        note = f"{exc.message} Spoke {language!r} with a Piper voice on this machine instead."
        synth = PiperSynthesizer(resolver, fallback_note=note)
        synth.resolve(language, None)
        return synth


def _auto_engine(language: str, resolver: ModelResolver) -> str:
    if _installed("TTS"):
        from octavia.pipeline import coqui

        if coqui.has_model_for(resolver, language):
            return "coqui"
    if _kokoro_suits(language, resolver):
        return "kokoro"
    if _installed("piper"):
        from octavia.pipeline import piper

        if piper.has_local_voice(resolver, language) or (
            not resolver.offline and language in piper.DEFAULT_VOICES
        ):
            return "piper"
    raise MissingDependency(
        f"No text-to-speech voice for {language!r} is available on this machine.",
        _voice_hint(language),
    )


def _kokoro(language: str, resolver: ModelResolver, voice: str | None) -> Synthesizer:
    if not _installed("piper") or not _installed("onnxruntime"):
        raise MissingDependency(
            "Kokoro needs piper-tts (its espeak-ng phonemizer) and onnxruntime.",
            "pip install 'octavia-media[offline]'",
        )
    from octavia.pipeline.kokoro import KokoroSynthesizer

    synth = KokoroSynthesizer(resolver, default_voice=voice)
    synth.voice_for(language, None)  # fail now: no such language or voice, or no model offline
    return synth


def _kokoro_suits(language: str, resolver: ModelResolver) -> bool:
    """``auto`` takes Kokoro when its model is on this machine and it speaks ``language`` well
    (checked offline), except where a native Piper voice is here and Kokoro has only its
    accented offline voices for the language (English with the Piper pack, until native
    Kokoro voices are pulled)."""
    if not _installed("piper") or not _installed("onnxruntime"):
        return False
    from octavia.pipeline import kokoro, kokoro_text, piper

    lang = kokoro_text.LANGUAGES.get(language)
    if lang is None or not lang.checked or not kokoro.available(resolver):
        return False
    return kokoro.has_native_voice(resolver, language) or not piper.has_local_voice(resolver, language)


def _voice_hint(language: str) -> str:
    """The concrete commands that would give ``language`` a voice here."""
    from octavia.pipeline.coqui import DEFAULT_MODELS
    from octavia.pipeline.kokoro_text import LANGUAGES
    from octavia.pipeline.piper import DEFAULT_VOICES

    fixes = []
    if language in DEFAULT_MODELS:
        fixes.append(f"`octavia models pull coqui {DEFAULT_MODELS[language]}` (needs octavia-media[coqui])")
    if language in DEFAULT_VOICES:
        fixes.append(f"`octavia models pull piper {DEFAULT_VOICES[language][0]}`")
    local = "pass --tts piper --voice PATH.onnx with a Piper voice for that language."
    if language in LANGUAGES:  # Kokoro speaks it, but auto did not trust its phonemes (or it is missing)
        local += " Kokoro speaks it too: --tts kokoro (pip install 'octavia-media[offline]')."
    if not fixes:
        return local[0].upper() + local[1:]
    return f"Run {' or '.join(fixes)} on a connected machine, or {local}"


def describe(synth: Synthesizer, language: str, voice: str | None) -> dict[str, str]:
    """What the run used, for ``--json`` and the CLI summary (engine, model, source)."""
    how = getattr(synth, "describe", None)
    info = how(language, voice) if how is not None else {"engine": type(synth).__name__}
    return {k: str(v) for k, v in info.items()}


def clip_key(text: str, voice: str | None, engine_id: str) -> str:
    blob = json.dumps([text, voice or "", engine_id], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass
class SynthesisResult:
    clips: list[Path | None]  # None: a segment with no text to speak
    synthesized: int
    cached: int


def synthesize_segments(
    segments: Sequence[Segment],
    synth: Synthesizer,
    *,
    language: str,
    voice: str | None,
    clip_dir: Path,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    voices: Sequence[str | None] | None = None,
) -> SynthesisResult:
    """Speak each segment's text into ``clip_dir``, reusing clips whose key already exists.

    ``voices`` (one per segment, e.g. a cast's voice per speaker) overrides ``voice``.
    """
    if voices is not None and len(voices) != len(segments):
        raise InputError(f"{len(voices)} voices were given for {len(segments)} segments.")
    clip_dir.mkdir(parents=True, exist_ok=True)
    engine_ids: dict[str | None, str] = {}
    clips: list[Path | None] = []
    made = reused = 0
    for i, seg in enumerate(segments):
        check_cancelled(cancel)
        text = " ".join(seg.text.split())
        if not text:
            clips.append(None)
            continue
        said_by = voices[i] if voices is not None else voice
        if said_by not in engine_ids:
            engine_ids[said_by] = synth.engine_id(language, said_by)
        clip = clip_dir / f"{clip_key(text, said_by, engine_ids[said_by])}.wav"
        if clip.exists():
            reused += 1
        else:
            with atomic_path(clip) as tmp:
                synth.synthesize(text, tmp, language=language, voice=said_by)
            made += 1
        clips.append(clip)
        if progress is not None:
            progress(ProgressEvent("synthesize", i + 1, len(segments)))
    return SynthesisResult(clips, made, reused)
