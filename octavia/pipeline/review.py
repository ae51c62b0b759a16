"""The editable transcript of ``octavia dub --review``: a plain-text file a person edits in any
editor, and that survives editing.

Each segment is one block: a header line ``[#12] 00:00:03.200 --> 00:00:05.900`` (its id, and
its timing for reference), the original speech as a ``#`` note, then the translated text.
Only the text is read back: notes and blank lines are ignored, a block's text may span several
lines, an emptied block leaves that segment silent, and a deleted block keeps the machine
translation. Ids are what tie the text to its timing, so a changed or unknown id is an error.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from octavia.errors import InputError
from octavia.types import Segment

HEADER = re.compile(r"^\[#(\d+)\]")


def _clock(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def render(original: Sequence[Segment], translated: Sequence[Segment], *, source: str, target: str,
           resume_hint: str) -> str:  # fmt: skip
    lines = [
        f"# Octavia dub review: {source} -> {target}.",
        "# Edit the text under each [#id] line; keep the [#id] lines as they are.",
        "# Lines starting with # are notes (the original speech) and are ignored.",
        "# Empty a block's text to leave that line silent. Then run:",
        f"#   {resume_hint}",
        "",
    ]
    for i, seg in enumerate(translated):
        lines.append(f"[#{i + 1}] {_clock(seg.start)} --> {_clock(seg.end)}")
        if i < len(original) and original[i].text.strip():
            lines.append(f"# {original[i].text.strip()}")
        lines.extend([seg.text.strip(), ""])
    return "\n".join(lines)


def parse(text: str, *, count: int, path: Path | str = "review") -> dict[int, str]:
    """Segment index (0-based) → edited text, for every block present in the file."""
    edits: dict[int, str] = {}
    current: int | None = None
    body: list[str] = []

    def close() -> None:
        if current is not None:
            edits[current] = " ".join(" ".join(body).split())

    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        match = HEADER.match(stripped)
        if match:
            close()
            number = int(match.group(1))
            if not 1 <= number <= count:
                raise InputError(
                    f"{path}:{n}: there is no segment [#{number}] (this job has 1-{count}).",
                    "Keep the [#id] lines as they were written; edit only the text under them.",
                )
            if number - 1 in edits:
                raise InputError(f"{path}:{n}: segment [#{number}] appears twice.")
            current, body = number - 1, []
        elif stripped.startswith("#") or not stripped:
            continue
        elif current is None:
            raise InputError(f"{path}:{n}: text before the first [#id] line.", "Put text under a [#id] line.")
        else:
            body.append(stripped)
    close()
    return edits


def apply(segments: Sequence[Segment], edits: dict[int, str]) -> list[Segment]:
    return [seg.with_text(edits[i]) if i in edits else seg for i, seg in enumerate(segments)]


def load(path: Path, segments: Sequence[Segment]) -> list[Segment]:
    """``segments`` with the text edited in ``path`` (unchanged when the file does not exist)."""
    if not path.exists():
        return list(segments)
    return apply(segments, parse(path.read_text(encoding="utf-8"), count=len(segments), path=path))
