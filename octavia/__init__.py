"""Octavia: subtitles, translated subtitles, translated audio and dubbed video from speech.

The public API is imported lazily so ``import octavia`` (and ``octavia --help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from octavia._version import __version__

if TYPE_CHECKING:
    from octavia.api import dub, subtitle, translate_audio
    from octavia.pipeline.jobs import JobResult, JobSpec
    from octavia.pipeline.options import DubOptions, SubtitleOptions, TranslateAudioOptions

__all__ = [
    "DubOptions",
    "JobResult",
    "JobSpec",
    "SubtitleOptions",
    "TranslateAudioOptions",
    "__version__",
    "dub",
    "subtitle",
    "translate_audio",
]

_LAZY = {
    "subtitle": "octavia.api",
    "translate_audio": "octavia.api",
    "dub": "octavia.api",
    "JobSpec": "octavia.pipeline.jobs",
    "JobResult": "octavia.pipeline.jobs",
    "SubtitleOptions": "octavia.pipeline.options",
    "TranslateAudioOptions": "octavia.pipeline.options",
    "DubOptions": "octavia.pipeline.options",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'octavia' has no attribute {name!r}")
