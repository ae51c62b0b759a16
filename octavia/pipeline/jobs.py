"""Jobs: what the CLI, the Python API and the server workers all run.

A :class:`JobSpec` says what to make from one source file; :func:`run_job` runs the job's
stages in a :class:`~octavia.pipeline.workspace.Workspace`, skipping every stage whose
checkpoint still matches, and returns a :class:`JobResult`. Job kinds are looked up by
name in :data:`KINDS` and imported only when used, so a kind whose module is not installed
(or not written yet) is reported as unavailable rather than breaking imports.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octavia.errors import InputError
from octavia.pipeline.factory import Engines, build_engines
from octavia.pipeline.options import OPTIONS, SubtitleOptions, parse_options
from octavia.pipeline.progress import (
    CancelCheck,
    ProgressCallback,
    ProgressEvent,
    cancellable,
    no_progress,
)
from octavia.pipeline.workspace import Workspace

#: kind → "module:function". The function takes a :class:`JobContext`.
KINDS: dict[str, str] = {
    "subtitle": "octavia.pipeline.stages:run_subtitle",
    "translate-audio": "octavia.pipeline.dubbing:run_translate_audio",
    "dub": "octavia.pipeline.dubbing:run_dub",
}


@dataclass(frozen=True)
class JobSpec:
    """One job on one source file.

    ``languages`` are the target languages (empty: subtitles in the spoken language only).
    ``options`` is the kind's typed model (:mod:`octavia.pipeline.options`); build it with
    :func:`~octavia.pipeline.options.parse_options`, or leave the default (all defaults).
    """

    kind: str
    source: Path
    languages: tuple[str, ...] = ()
    source_language: str | None = None
    formats: tuple[str, ...] = ("srt",)
    options: SubtitleOptions = field(default_factory=SubtitleOptions)

    def __post_init__(self) -> None:
        # The default (or another kind's model) becomes this kind's model, validated, so a
        # stage never meets options of the wrong kind. An unknown kind is run_job's to report.
        if self.kind in OPTIONS and type(self.options) is not OPTIONS[self.kind]:
            object.__setattr__(self, "options", parse_options(self.kind, self.options))

    @classmethod
    def create(
        cls, kind: str, source: Path, *, options: Mapping[str, Any] | SubtitleOptions | None = None,
        languages: tuple[str, ...] = (), source_language: str | None = None, formats: tuple[str, ...] = ("srt",),
    ) -> JobSpec:  # fmt: skip
        """A spec with ``options`` validated for ``kind`` (:class:`InputError` before any work)."""
        return cls(kind, source, languages, source_language, formats, parse_options(kind, options))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": str(self.source),
            "languages": list(self.languages),
            "source_language": self.source_language,
            "formats": list(self.formats),
            "options": self.options.model_dump(mode="json"),
        }


@dataclass
class JobResult:
    outputs: dict[str, Path]
    info: dict[str, Any]


@dataclass
class JobContext:
    """What a running job's stages share."""

    spec: JobSpec
    workspace: Workspace
    out_dir: Path
    engines: Engines
    progress: ProgressCallback = no_progress
    cancel: CancelCheck | None = None
    on_checkpoint: Callable[[str], None] | None = None
    outputs: dict[str, Path] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return self.spec.options.output_stem or Path(self.spec.source).stem

    def output_path(self, suffix: str) -> Path:
        return self.out_dir / f"{self.stem}{suffix}"

    def report(self, stage: str, completed: float, total: float | None = None, message: str = "") -> None:
        self.progress(ProgressEvent(stage, completed, total, message))


def _resolve_kind(kind: str) -> Callable[[JobContext], None] | None:
    target = KINDS.get(kind)
    if target is None:
        return None
    module_name, func = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # the kind's module itself is absent, not one of its imports
            return None
        raise
    fn = getattr(module, func, None)
    return fn if callable(fn) else None


def available_kinds() -> set[str]:
    return {k for k in KINDS if _resolve_kind(k) is not None}


def run_job(
    spec: JobSpec,
    *,
    workdir: Path,
    out_dir: Path,
    engines: Engines,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    on_checkpoint: Callable[[str], None] | None = None,
) -> JobResult:
    """Run ``spec``; resumable: completed stages in ``workdir`` are not run again."""
    fn = _resolve_kind(spec.kind)
    if fn is None:
        raise InputError(
            f"Job kind {spec.kind!r} is not available.",
            f"Available kinds: {', '.join(sorted(available_kinds())) or 'none'}.",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = JobContext(
        spec=spec,
        workspace=Workspace(workdir),
        out_dir=out_dir,
        engines=engines,
        # Every progress report is also a cancellation point (see progress.cancellable).
        progress=cancellable(progress or no_progress, cancel),
        cancel=cancel,
        on_checkpoint=on_checkpoint,
    )
    started = time.perf_counter()
    fn(ctx)
    ctx.info["seconds"] = round(time.perf_counter() - started, 3)
    return JobResult(outputs=dict(ctx.outputs), info=ctx.info)


__all__ = ["KINDS", "JobContext", "JobResult", "JobSpec", "available_kinds", "build_engines", "run_job"]
