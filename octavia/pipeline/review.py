"""The editable transcript of ``octavia dub --review``: a plain-text file a person edits in any
editor, and that survives editing.

Each segment is one block: a header line ``[#12] 00:00:03.200 --> 00:00:05.900 | Speaker 1``
(its id, its timing for reference, and who says it), the original speech as a ``#`` note, then
the translated text. A ``[cast]`` section before the blocks lists each speaker's voice::

    [cast]
    Speaker 1 = es_ES-davefx-medium
    Speaker 2 -> Ana = jm_kumo

What is read back: each block's text (it may span several lines; an emptied block leaves that
segment silent; a deleted block keeps the machine translation), each block's speaker label
(edit it to move the line to another speaker), and the cast lines: ``LABEL = VOICE`` assigns a
voice, ``LABEL -> NEW`` renames a speaker everywhere (rename to another speaker's label to merge
the two). Notes and blank lines are ignored. Ids are what tie the text to its timing, so a
changed or unknown id is an error. Files written before speakers existed (no ``|`` label, no
cast section) read as they always did.

:func:`load_edits` / :func:`save_edits` expose the edits as data (:class:`ReviewEdits`), for the
web app's review API; :func:`load_review` is what the dub stage applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from octavia.errors import InputError
from octavia.pipeline.workspace import atomic_path
from octavia.types import Segment

HEADER = re.compile(r"^\[#(\d+)\](.*)$")
CAST_HEADER = "[cast]"
_CAST_LINE = re.compile(r"^(?P<label>[^=]+?)\s*(?:->\s*(?P<new>[^=]+?)\s*)?(?:=\s*(?P<voice>.*?))?\s*$")
MAX_LABEL = 80


class ReviewEdits(BaseModel):
    """What a person changed in a review file, as data (indices are 0-based segment indices)."""

    model_config = ConfigDict(extra="forbid")

    texts: dict[int, str] = Field(default_factory=dict, description="Segment → its (edited) text.")
    speakers: dict[int, str] = Field(default_factory=dict, description="Segment → its speaker label.")
    voices: dict[str, str] = Field(default_factory=dict, description="Speaker label → voice name.")
    renames: dict[str, str] = Field(default_factory=dict, description="Old speaker label → new label.")

    def final_label(self, label: str) -> str:
        """``label`` after renames (followed through chains, stopping at a cycle)."""
        seen = {label}
        while label in self.renames and self.renames[label] not in seen:
            label = self.renames[label]
            seen.add(label)
        return label

    def cast(self) -> dict[str, str]:
        """Final speaker label → voice; a merged speaker keeps its target's own voice line."""
        cast: dict[str, str] = {}
        for label, voice in self.voices.items():
            cast.setdefault(self.final_label(label), voice)
        cast.update({k: v for k, v in self.voices.items() if self.final_label(k) == k})
        return cast


def _clock(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def _clean_label(label: str, where: str) -> str:
    label = " ".join(label.split())
    if not label or len(label) > MAX_LABEL or any(c in label for c in "=|[]#") or "->" in label:
        raise InputError(
            f"{where}: {label!r} is not a usable speaker label.",
            f"Use up to {MAX_LABEL} characters without = | [ ] # or ->, e.g. 'Speaker 2' or 'Ana'.",
        )
    return label


def render(original: Sequence[Segment], translated: Sequence[Segment], *, source: str, target: str,
           resume_hint: str, cast: Mapping[str, str] | None = None) -> str:  # fmt: skip
    speakers = dict.fromkeys(s.speaker for s in translated if s.speaker)
    lines = [
        f"# Octavia dub review: {source} -> {target}.",
        "# Edit the text under each [#id] line; keep the [#id] lines as they are.",
        "# Lines starting with # are notes (the original speech) and are ignored.",
        "# Empty a block's text to leave that line silent. Then run:",
        f"#   {resume_hint}",
        "",
    ]
    if speakers or cast:
        lines += [
            CAST_HEADER,
            "# SPEAKER = VOICE. Change a voice here; rename with SPEAKER -> NEW NAME = VOICE (renaming",
            "# to another speaker's name merges the two). Move one line to another speaker by editing",
            "# the label after | on its [#id] line.",
        ]
        for label in dict.fromkeys([*speakers, *(cast or {})]):
            voice = (cast or {}).get(str(label))
            lines.append(f"{label} = {voice}" if voice else f"{label}")
        lines.append("")
    for i, seg in enumerate(translated):
        who = f" | {seg.speaker}" if seg.speaker else ""
        lines.append(f"[#{i + 1}] {_clock(seg.start)} --> {_clock(seg.end)}{who}")
        if i < len(original) and original[i].text.strip():
            lines.append(f"# {original[i].text.strip()}")
        lines.extend([seg.text.strip(), ""])
    return "\n".join(lines)


def parse_edits(text: str, *, count: int | None = None, path: Path | str = "review") -> ReviewEdits:
    """Every edit in a review file's text; ``count`` (when known) bounds the ids."""
    edits = ReviewEdits()
    current: int | None = None
    in_cast = False
    body: list[str] = []

    def close() -> None:
        if current is not None:
            edits.texts[current] = " ".join(" ".join(body).split())

    for n, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        match = HEADER.match(stripped)
        if match:
            close()
            in_cast = False
            number = int(match.group(1))
            if number < 1 or (count is not None and number > count):
                raise InputError(
                    f"{path}:{n}: there is no segment [#{number}] (this job has 1-{count}).",
                    "Keep the [#id] lines as they were written; edit only the text under them.",
                )
            if number - 1 in edits.texts:
                raise InputError(f"{path}:{n}: segment [#{number}] appears twice.")
            current, body = number - 1, []
            _, bar, label = match.group(2).rpartition("|")
            if bar and label.strip():
                edits.speakers[current] = _clean_label(label, f"{path}:{n}")
        elif stripped.lower() == CAST_HEADER and current is None:
            in_cast = True
        elif stripped.startswith("#") or not stripped:
            continue
        elif in_cast:
            _cast_line(edits, stripped, f"{path}:{n}")
        elif current is None:
            raise InputError(f"{path}:{n}: text before the first [#id] line.", "Put text under a [#id] line.")
        else:
            body.append(stripped)
    close()
    return edits


def _cast_line(edits: ReviewEdits, line: str, where: str) -> None:
    match = _CAST_LINE.match(line)
    if match is None:  # the pattern accepts any line without a leading "="
        raise InputError(f"{where}: {line!r} is not a cast line.", "Write SPEAKER = VOICE.")
    label = _clean_label(match["label"], where)
    if match["new"]:
        edits.renames[label] = _clean_label(match["new"], where)
    if match["voice"]:
        edits.voices[label] = match["voice"].strip()


def parse(text: str, *, count: int, path: Path | str = "review") -> dict[int, str]:
    """Segment index (0-based) → edited text, for every block present in the file."""
    return parse_edits(text, count=count, path=path).texts


def apply_edits(segments: Sequence[Segment], edits: ReviewEdits) -> list[Segment]:
    """``segments`` with the edited text and speakers (renames and merges applied)."""
    out = []
    for i, seg in enumerate(segments):
        if i in edits.texts:
            seg = seg.with_text(edits.texts[i])
        label = edits.speakers.get(i, seg.speaker)
        if label is not None:
            label = edits.final_label(label)
        out.append(seg if label == seg.speaker else replace(seg, speaker=label))
    return out


def apply(segments: Sequence[Segment], edits: dict[int, str]) -> list[Segment]:
    return apply_edits(segments, ReviewEdits(texts=edits))


def load_edits(path: Path, *, count: int | None = None) -> ReviewEdits:
    """The edits in the review file ``path`` (none when it does not exist)."""
    if not path.exists():
        return ReviewEdits()
    return parse_edits(path.read_text(encoding="utf-8"), count=count, path=path)


def load_review(path: Path, segments: Sequence[Segment]) -> tuple[list[Segment], dict[str, str]]:
    """(``segments`` edited as in ``path``, speaker label → voice chosen there)."""
    edits = load_edits(path, count=len(segments))
    return apply_edits(segments, edits), edits.cast()


def load(path: Path, segments: Sequence[Segment]) -> list[Segment]:
    """``segments`` with the text (and speakers) edited in ``path`` (unchanged when it does not exist)."""
    return load_review(path, segments)[0]


def save_edits(path: Path, edits: ReviewEdits, *, original: Sequence[Segment], translated: Sequence[Segment],
               source: str, target: str, resume_hint: str, cast: Mapping[str, str] | None = None) -> None:  # fmt: skip
    """Write the review file for ``translated`` with ``edits`` applied (what a review API saves).

    ``cast`` is the cast the run chose (speaker → voice); the edits' voices override it.
    """
    count = len(translated)
    bad = [i for i in [*edits.texts, *edits.speakers] if not 0 <= i < count]
    if bad:
        raise InputError(f"There is no segment #{bad[0] + 1} (this job has 1-{count}).")
    for label in [*edits.speakers.values(), *edits.voices, *edits.renames, *edits.renames.values()]:
        _clean_label(label, "review edits")
    segments = apply_edits(translated, edits)
    voices = {edits.final_label(k): v for k, v in (cast or {}).items()}
    voices.update(edits.cast())
    text = render(original, segments, source=source, target=target, resume_hint=resume_hint, cast=voices)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
