"""Octavia's transcription path vs bare faster-whisper, same model, same audio, one run.

Prints real-time factor (processing seconds / audio seconds) for each, the overhead ratio,
and peak memory (RSS high-water mark of a fresh subprocess per engine, so one does not
inherit the other's allocations).

    .venv/bin/python benchmarks/bench_transcribe.py [AUDIO] [--model base] [--repeat 3]

Octavia's path = probe + ffmpeg extraction to 16 kHz + checkpointing + faster-whisper with
word timestamps and VAD; the bare path = faster-whisper on the same file with the same options.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_AUDIO = ROOT / "examples" / "tortilla.es.mp4"

WORKER = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
mode, audio, model, repeat, cache = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
from octavia.config import Settings
from octavia.pipeline.factory import Engines
engines = Engines(Settings(cache_dir=Path(cache), device="cpu", offline=True))
resolved = engines.whisper_model(model, None)
times = []
if mode == "bare":
    from faster_whisper import WhisperModel
    m = WhisperModel(str(resolved.path), device="cpu", compute_type="int8")
    for _ in range(repeat):
        t = time.perf_counter()
        segs, info = m.transcribe(audio, beam_size=5, vad_filter=True, word_timestamps=True,
                                  condition_on_previous_text=False)
        n = len(list(segs)); times.append(time.perf_counter() - t); duration = info.duration
else:
    from octavia.api import run
    engines.whisper(model)  # load once, as a batch run does
    for _ in range(repeat):
        t = time.perf_counter()
        with tempfile.TemporaryDirectory() as work:
            r = run("subtitle", audio, out_dir=work, work_dir=work, engines=engines,
                    settings=engines.settings, options={"whisper_model": model})
        times.append(time.perf_counter() - t); duration = r.info["duration"]; n = r.info["segments"]
print(json.dumps({"best": min(times), "duration": duration, "segments": n,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(mode: str, audio: Path, model: str, repeat: int, cache: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, mode, str(audio), model, str(repeat), cache],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("audio", nargs="?", type=Path, default=DEFAULT_AUDIO)
    parser.add_argument("--model", default="base")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        # Both engines get the very same samples: decoders differ slightly (PyAV's resampler vs
        # ffmpeg's), and Whisper's temperature fallback can turn a tiny difference into a 2x
        # time difference, which would be measured as "overhead" when it is not.
        from octavia.pipeline.media import extract_audio

        common = extract_audio(args.audio, Path(cache) / "input.wav")
        bare = measure("bare", common, args.model, args.repeat, cache)
        octavia = measure("octavia", common, args.model, args.repeat, cache)
    print(
        f"audio: {args.audio.name} ({bare['duration']:.1f} s), model {args.model}, CPU int8, best of {args.repeat}"
    )
    print(f"{'engine':<22}{'seconds':>9}{'RTF':>8}{'segments':>10}{'peak RSS':>12}")
    for name, r in (("faster-whisper (bare)", bare), ("octavia subtitle", octavia)):
        rtf = r["best"] / r["duration"]
        print(f"{name:<22}{r['best']:>9.2f}{rtf:>8.3f}{r['segments']:>10.0f}{r['peak_rss_mb']:>9.0f} MB")
    print(f"overhead: octavia / bare = {octavia['best'] / bare['best']:.3f}x")


if __name__ == "__main__":
    main()
