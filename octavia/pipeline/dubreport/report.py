"""Writing the report beside the outputs, and ``--strict``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octavia.errors import OctaviaError
from octavia.pipeline.dubreport import html
from octavia.pipeline.dubreport.metrics import DEFAULT_MAX_ERROR
from octavia.pipeline.dubreport.verify import verify_stage
from octavia.pipeline.jobs import JobContext
from octavia.pipeline.workspace import atomic_path, write_json


class DubCheckFailed(OctaviaError):
    """``--strict``: some dubbed lines were not heard as they were meant (outputs are written)."""

    code = "dub_check_failed"


def write_report(
    ctx: JobContext, report: dict[str, Any], *, media_file: Path | None, duration: float
) -> None:
    """The report's two files beside the outputs, and its summary in the job's info."""
    target = report["language"]
    data = ctx.output_path(f".{target}.report.json")
    page = ctx.output_path(f".{target}.report.html")
    write_json(data, {**report, "media": media_file.name if media_file else None})
    title = f"Dub report: {ctx.stem} ({target})"
    with atomic_path(page) as tmp:
        text = html.render(report, title=title, media_name=media_file.name if media_file else None,
                           duration=duration)  # fmt: skip
        tmp.write_text(text, encoding="utf-8")
    ctx.outputs[f"report.{target}.json"] = data
    ctx.outputs[f"report.{target}.html"] = page
    ctx.info.setdefault("report", {})[target] = report


def check_strict(ctx: JobContext) -> None:
    """Fail, naming the flagged lines, when the job is strict and any line was flagged."""
    if not getattr(ctx.spec.options, "strict", False):
        return
    flagged = {t: r["flagged"] for t, r in ctx.info.get("report", {}).items() if r["flagged"]}
    if flagged:
        detail = "; ".join(
            f"{t}: lines {', '.join(f'#{i + 1}' for i in lines)}" for t, lines in flagged.items()
        )
        raise DubCheckFailed(
            f"Some dubbed lines were not heard as written (--strict): {detail}.",
            "See the report.html beside the outputs; edit those lines (--review / --resume), choose another "
            "voice, or raise --max-error.",
        )


__all__ = ["DEFAULT_MAX_ERROR", "DubCheckFailed", "check_strict", "verify_stage", "write_report"]
