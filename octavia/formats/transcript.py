"""The transcript as JSON (``--format json``): what subtitles are made from, with who said it.

``{"language", "duration", "segments": [{"start", "end", "text", "speaker", "words": [{"start",
"end", "text", "probability"}]}]}``: times in seconds, ``speaker`` null without diarization,
``words`` empty for a translation (its words are not timed).
"""

from __future__ import annotations

import json
from typing import Any

from octavia.errors import InputError
from octavia.types import Transcript


def dumps_transcript(transcript: Transcript) -> str:
    data: dict[str, Any] = {
        "language": transcript.language,
        "duration": transcript.duration,
        "speakers": sorted({s.speaker for s in transcript.segments if s.speaker}, key=_speaker_order),
        "segments": [
            {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text, "speaker": s.speaker,
             "words": [{"start": round(w.start, 3), "end": round(w.end, 3), "text": w.text,
                        "probability": round(w.probability, 4)} for w in s.words]}
            for s in transcript.segments
        ],
    }  # fmt: skip
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def loads_transcript(text: str) -> Transcript:
    try:
        data = json.loads(text)
        return Transcript.from_dict({"language": data["language"], "duration": data.get("duration", 0.0),
                                     "segments": data["segments"]})  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"Not an Octavia transcript JSON: {exc}.", "Write one with --format json.") from exc


def _speaker_order(label: str) -> tuple[int, str]:
    """ "Speaker 2" before "Speaker 10"; other names after, alphabetically."""
    head, _, number = label.rpartition(" ")
    return (int(number), head) if number.isdigit() else (1 << 30, label)
