"""The Python API: one function per job kind. The CLI is a thin layer over these.

>>> import octavia
>>> result = octavia.subtitle("talk.mp4", to=["es"], formats=["srt", "vtt"])  # doctest: +SKIP
>>> result.outputs["subtitles.es.srt"]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from octavia.config import Settings
from octavia.pipeline.factory import Engines
from octavia.pipeline.jobs import JobResult, JobSpec, run_job
from octavia.pipeline.options import SubtitleOptions
from octavia.pipeline.progress import ProgressCallback


def work_dir_name(source: Path) -> str:
    """A stable per-source directory name, so a re-run finds its checkpoints."""
    import hashlib

    digest = hashlib.sha256(str(source.resolve()).encode()).hexdigest()[:10]
    return f"{source.stem}-{digest}"


def default_work_dir(source: Path, out_dir: Path) -> Path:
    return out_dir / ".octavia" / work_dir_name(source)


def run(
    kind: str,
    source: str | Path,
    *,
    to: Iterable[str] = (),
    language: str | None = None,
    formats: Iterable[str] = ("srt",),
    out_dir: str | Path | None = None,
    work_dir: str | Path | None = None,
    settings: Settings | None = None,
    engines: Engines | None = None,
    progress: ProgressCallback | None = None,
    options: Mapping[str, Any] | SubtitleOptions | None = None,
) -> JobResult:
    """Run one job of ``kind`` on ``source``; re-running with the same work dir resumes.

    ``options`` is the kind's options model (:mod:`octavia.pipeline.options`) or a mapping of
    its fields; either is validated here, before any work: a bad option is an InputError.
    """
    source = Path(source)
    out = Path(out_dir) if out_dir is not None else source.parent
    spec = JobSpec.create(kind, source, options=options, languages=tuple(to), source_language=language,
                          formats=tuple(formats))  # fmt: skip
    settings = settings or Settings()
    return run_job(
        spec,
        workdir=Path(work_dir) if work_dir is not None else default_work_dir(source, out),
        out_dir=out,
        engines=engines or Engines(settings),
        progress=progress,
    )


def subtitle(
    source: str | Path, *, to: Iterable[str] = (), formats: Iterable[str] = ("srt",), **kwargs: Any
) -> JobResult:
    """Speech in ``source`` → subtitles in the spoken language and in each language of ``to``."""
    return run("subtitle", source, to=to, formats=formats, **kwargs)


def translate_audio(source: str | Path, *, to: Iterable[str], **kwargs: Any) -> JobResult:
    """Speech in ``source`` → an audio file with the speech translated and re-spoken."""
    return run("translate-audio", source, to=to, **kwargs)


def dub(source: str | Path, *, to: Iterable[str], **kwargs: Any) -> JobResult:
    """A video → the same video with a dubbed audio track first, the original second, and soft subtitles."""
    return run("dub", source, to=to, **kwargs)
