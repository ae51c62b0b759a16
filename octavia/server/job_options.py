"""What a client may ask of a job: the server's subset of the options, checked at creation.

A job option that names a file or directory would let a client probe the worker's disk (and
read paths back in error messages, for free: a failed job is refunded). So the server takes
only :data:`~octavia.pipeline.options.SERVER_OPTIONS`, and every model or voice *name* must
be one this server has installed (in its model cache or an installed model pack), checked
here, before the job row and its credit reservation exist: anything else is a 422.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from octavia.config import Settings
from octavia.errors import InputError
from octavia.pipeline import catalogue
from octavia.pipeline.models import ModelResolver, ModelSpec
from octavia.pipeline.options import parse_server_options

#: A speaker of a multi-speaker Coqui model or a tts-server ("Claribel Dervla", "p225"):
#: words, never a path.
_SPEAKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _'-]{0,63}")
#: A speaker label of a review or cast ("Speaker 2", "Ana"): the same shape.
SPEAKER_LABEL = _SPEAKER
#: Engines whose voice option is a speaker name, not a Piper voice (which could be a path).
_SPEAKER_ENGINES = ("coqui", "tts-server")
_PIPER_NAME = re.compile(r"[a-z]{2,3}_[A-Z]{2}-[\w]+-[a-z_]+")


def validate_job_options(kind: str, options: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The options to store for a ``kind`` job, or an :class:`InputError` (422) naming the problem."""
    stored = parse_server_options(kind, options)
    if stored.get("translator") == "llm" and not (settings.llm_base_url and settings.llm_model):
        # The endpoint is the operator's (OCTAVIA_LLM_*), never the client's: no URL option exists.
        raise InputError("translator 'llm' is not enabled on this server.", "Use auto, marian or apertium.")
    resolver = _Resolver(settings)
    model = stored.get("whisper_model")
    if model is not None and model != "auto":
        _require_installed(resolver, "whisper", model, "whisper_model")
    asked = stored.get("tts")
    # The server's own default (OCTAVIA_TTS) may name a model by path; only the client's is checked.
    engine, _, tts_model = str(asked or settings.tts).partition(":")
    if asked and tts_model:
        if engine not in ("coqui", "kokoro", "piper"):
            raise InputError(
                f"tts {engine}:… takes no model name.",
                "Use coqui:MODEL, kokoro:VOICE, piper:VOICE or the engine alone.",
            )
        if engine == "kokoro":
            _require_kokoro_voice(resolver(), tts_model, "tts")
        else:
            _require_installed(resolver, engine, tts_model, "tts")
    voice = stored.get("voice")
    if voice is not None:
        if engine in _SPEAKER_ENGINES:
            if not _SPEAKER.fullmatch(voice):
                raise InputError("voice must be a speaker name (letters, digits, spaces, _ ' -).")
        elif engine == "kokoro" or (engine == "auto" and voice in _kokoro_voices(resolver())):
            _require_kokoro_voice(resolver(), voice, "voice")
        else:  # auto or piper: the voice chooses a Piper model, so it must be one installed here
            _require_installed(resolver, "piper", voice, "voice")
    for label, cast_voice in (stored.get("cast") or {}).items():  # speaker → voice: names, never paths
        if not _SPEAKER.fullmatch(label) or not _SPEAKER.fullmatch(cast_voice):
            raise InputError("cast maps speaker labels to voice names (letters, digits, spaces, _ ' -).")
        if engine == "kokoro":
            _require_kokoro_voice(resolver(), cast_voice, "voice")
        elif engine in ("auto", "piper") and _PIPER_NAME.fullmatch(cast_voice):
            _require_installed(resolver, "piper", cast_voice, "voice")
    return stored


class _Resolver:
    """The ModelResolver of ``settings``, built on first use: a model found installed a moment
    ago (``_installed``'s cache) needs none, and building one is ~15 µs of a job creation."""

    def __init__(self, settings: Settings) -> None:
        self.cache_dir = settings.models_dir
        self._settings = settings
        self._built: ModelResolver | None = None

    def __call__(self) -> ModelResolver:
        if self._built is None:
            self._built = ModelResolver.from_settings(self._settings)
        return self._built


def _kokoro_voices(resolver: ModelResolver) -> set[str]:
    from octavia.pipeline import kokoro

    return kokoro.installed_voices(resolver)


def _require_kokoro_voice(resolver: ModelResolver, name: str, option: str) -> None:
    offered = _kokoro_voices(resolver)
    if name not in offered:
        raise InputError(
            f"{option} {name!r} is not a Kokoro voice this server has installed.",
            f"Installed: {', '.join(sorted(offered)) or 'none'}.",
        )


@cache  # the catalogue is code: built once per engine, not on every job creation
def catalogue_specs(engine: str) -> dict[str, ModelSpec]:
    return {e.spec.name: e.spec for e in catalogue.entries(engine)}


def _require_installed(resolver: _Resolver, engine: str, name: str, option: str) -> None:
    specs = catalogue_specs(engine)
    spec = specs.get(name)
    if spec is None or not _installed(resolver, spec):
        offered = sorted(n for n, s in specs.items() if _installed(resolver, s))
        raise InputError(
            f"{option} {name!r} is not a {engine} model this server has installed.",
            f"Installed: {', '.join(offered) or 'none'}."
            + (
                " A Coqui or tts-server speaker needs tts=coqui or tts=tts-server."
                if option == "voice"
                else ""
            ),
        )


#: A model found installed is trusted this long, so a job creation costs no ``find_spec`` or
#: ``stat`` per model named. Only positive answers are kept: a model an operator installs is
#: offered at once, one removed is still accepted for up to this long (its job then fails on
#: the worker with the missing-model error and is refunded).
FOUND_TTL_S = 10.0
_found_until: dict[tuple[Path, str], float] = {}  # (models dir, spec key) → monotonic deadline


def _installed(lazy: _Resolver, spec: ModelSpec) -> bool:
    key, now = (lazy.cache_dir, spec.key), time.monotonic()
    if _found_until.get(key, 0.0) > now:
        return True
    # Presence only: a split pack is not assembled just to answer a job request.
    resolver = lazy()
    found = resolver.find_cached(spec) is not None or resolver.pack_for(spec) is not None
    if found:
        _found_until[key] = now + FOUND_TTL_S
    return found


def options_schema() -> dict[str, Any]:
    """The JSON schema of ``options`` in POST /v1/jobs: one self-contained schema per kind."""
    from octavia.pipeline.options import SERVER_OPTIONS

    kinds = []
    for kind, model in SERVER_OPTIONS.items():
        schema = model.model_json_schema()
        defs = schema.pop("$defs", {})
        schema = _inline(schema, defs)
        schema["title"] = f"{kind} options"
        kinds.append(schema)
    return {
        "anyOf": kinds,
        "description": "Per job kind (see each schema's title). Models and voices must be installed on the server.",
    }


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/X"}`` replaced by X (the models are not recursive)."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


__all__ = ["options_schema", "validate_job_options"]
