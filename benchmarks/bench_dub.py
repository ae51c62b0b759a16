"""End-to-end `octavia dub` on a one-minute clip: real-time factor per stage, Piper vs Coqui,
and peak memory; and speaker diarization on a clip of four voices.

    .venv/bin/python benchmarks/bench_dub.py [--seconds 60] [--device cpu|cuda] [--engines piper,coqui]
    .venv/bin/python benchmarks/bench_dub.py --only diarization [--rounds 3]

The clip is the Spanish example looped to ``--seconds`` (video re-encoded once, untimed). It is
dubbed into English: Whisper base transcribes and translates the speech (``task=translate``),
then each TTS engine speaks, the clips are fitted and mixed over the ducked original, and the
video is muxed. The speech stages run once (a ``--review`` run, on CPU); each TTS engine then
resumes from a copy of that workspace in a fresh process, so its peak RSS is its own.

Coqui: no real Coqui voice can be downloaded offline, so the benchmark builds a **full-size**
random VITS (the default VitsArgs: the architecture and compute of the Coqui VITS voices, with
random weights and character input). Its speed is representative; its speech is not.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tortilla.es.mp4"

WORKER = r"""
import json, resource, sys, time
from pathlib import Path
clip, work, out, cache, tts, device = sys.argv[1:7]
from octavia.config import Settings
from octavia.pipeline.factory import Engines
from octavia.api import run
settings = Settings(cache_dir=Path(cache), device=device, offline=True)
options = {"whisper_model": "base"}
if tts == "prep":
    options["review"] = True
else:
    options.update(tts=tts.split(":")[0], tts_model=tts.split(":", 1)[1] if ":" in tts else None)
t = time.perf_counter()
r = run("dub", clip, to=["en"], out_dir=out, work_dir=work, settings=settings, engines=Engines(settings),
        options={k: v for k, v in options.items() if v is not None})
total = time.perf_counter() - t
stages = {k: v["seconds"] for k, v in r.info["stages"].items() if not v.get("resumed")}
print(json.dumps({"total": total, "duration": r.info["duration"], "stages": stages,
                  "segments": r.info["segments"], "timing": r.info.get("timing", {}),
                  "models": r.info.get("models", {}),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

DIARIZATION_WORKER = r"""
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, ".")
dest, cache, rounds = sys.argv[1:4]
from octavia.config import Settings
from octavia.pipeline.factory import Engines
from octavia.pipeline.diarization.stage import read_samples
from tests.diarization_clip import build_clip, diarization_error_rate
clip, turns = build_clip(Path(dest), rounds=int(rounds))
settings = Settings(cache_dir=Path(cache), device="cpu", offline=True)
engines = Engines(settings)
transcript = engines.whisper("tiny.en", "en").transcribe(clip, language="en", batch_size=None)
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
diarizer = engines.diarizer("d-vector")
load = time.perf_counter() - t
samples = read_samples(clip)
t = time.perf_counter()
segments, info = diarizer.diarize(samples, transcript.segments)
seconds = time.perf_counter() - t
given, _ = diarizer.diarize(samples, transcript.segments, speakers=4)
print(json.dumps({"duration": len(samples) / 16000, "load": load, "seconds": seconds, "info": info,
                  "auto": diarization_error_rate(turns, segments), "given": diarization_error_rate(turns, given),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_before_mb": rss_before}))
"""


def bench_diarization(root: Path, rounds: int) -> None:
    """Diarization error rate, real-time factor and peak RSS of the d-vector diarizer.

    The clip is the tests' four-voice clip (LibriVox reader, Piper joe, two espeak-ng voices;
    ``rounds`` turns each); Whisper tiny.en transcribes it first (untimed), in the same process.
    """
    proc = subprocess.run([sys.executable, "-c", DIARIZATION_WORKER, str(root / "four-voices"), str(root / "cache"),
                           str(rounds)], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"diarization worker failed: {proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    duration = res["duration"]
    print(f"diarization: {duration:.1f} s clip, 4 voices x {rounds} turns, d-vector engine on CPU")
    print(f"  model load {res['load']:.2f} s; diarize {res['seconds']:.2f} s, RTF {res['seconds'] / duration:.3f}; "
          f"{res['info']['windows']} windows")  # fmt: skip
    for name in ("auto", "given"):
        d = res[name]
        label = "count found" if name == "auto" else "--speakers 4"
        print(f"  {label:<13} DER {d['der']:.3f} (missed {d['missed']:.3f}, false alarm {d['false_alarm']:.3f}, "
              f"confusion {d['confusion']:.3f})")  # fmt: skip
    print(f"  speakers found: {res['info']['speakers']}; peak RSS {res['peak_rss_mb']:.0f} MB "
          f"({res['rss_before_mb']:.0f} MB after Whisper, before the diarizer)\n")  # fmt: skip


def worker(*args: str) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", WORKER, *args], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"worker failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def make_clip(dest: Path, seconds: float) -> Path:
    from octavia.pipeline.media import find_ffmpeg

    subprocess.run([find_ffmpeg(), "-loglevel", "error", "-y", "-stream_loop", "3", "-i", str(EXAMPLE),
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(dest)],
                   check=True)  # fmt: skip
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--device", default="cpu", help="device for the TTS engines (cpu or cuda)")
    parser.add_argument("--engines", default="piper,coqui")
    parser.add_argument("--only", choices=("all", "dub", "diarization"), default="all")
    parser.add_argument("--rounds", type=int, default=3, help="turns per voice in the diarization clip")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.only in ("all", "diarization"):
        with tempfile.TemporaryDirectory(prefix="bench-diarization-") as tmp:
            bench_diarization(Path(tmp), args.rounds)
    if args.only == "diarization":
        return
    with tempfile.TemporaryDirectory(prefix="bench-dub-") as tmp:
        root = Path(tmp)
        cache = root / "cache"
        clip = make_clip(root / "clip.mp4", args.seconds)
        prep_work = root / "work-prep"
        prep = worker(str(clip), str(prep_work), str(root / "out-prep"), str(cache), "prep", "cpu")
        duration = float(prep["duration"])  # type: ignore[arg-type]
        print(f"clip: {duration:.1f} s, {prep['segments']} segments; Whisper base on CPU")
        for stage, secs in prep["stages"].items():  # type: ignore[attr-defined]
            print(f"  {stage:<14} {secs:7.2f} s   RTF {secs / duration:.3f}")
        print(f"  peak RSS (speech stages): {prep['peak_rss_mb']:.0f} MB\n")
        rows = []
        for engine in args.engines.split(","):
            tts = engine
            if engine == "coqui":
                from tests.tts_factory import build_vits

                tts = "coqui:" + str(build_vits(root / "vits-full", full_size=True))
            work = root / f"work-{engine}"
            shutil.copytree(prep_work, work)
            res = worker(str(clip), str(work), str(root / f"out-{engine}"), str(cache), tts, args.device)
            rows.append((engine, res))
        speech = sum(prep["stages"].values())  # type: ignore[attr-defined]
        print(
            f"{'engine':<8}{'synthesize':>12}{'mix':>8}{'other':>8}{'TTS RTF':>9}{'dub RTF':>9}{'peak RSS':>10}"
        )
        for engine, res in rows:
            st = res["stages"]  # type: ignore[index]
            synth = st.get("synthesize:en", 0.0)  # type: ignore[union-attr]
            mix = st.get("mix:en", 0.0) + st.get("bed", 0.0)  # type: ignore[union-attr]
            other = float(res["total"]) - synth - mix  # type: ignore[arg-type]
            total = speech + float(res["total"])  # type: ignore[arg-type]
            print(f"{engine:<8}{synth:>11.2f}s{mix:>7.2f}s{other:>7.2f}s{synth / duration:>9.3f}"
                  f"{total / duration:>9.3f}{res['peak_rss_mb']:>8.0f}MB")  # fmt: skip
            fits = res["timing"]["en"]["segments"]  # type: ignore[index]
            sped = sum(1 for f in fits if f["factor"] > 1.0)
            print(
                f"        clips sped up: {sped}/{len(fits)}, max overflow {res['timing']['en']['max_overflow_s']} s"
            )  # type: ignore[index]
        print("\nother = model loading, muxing, subtitles, process overhead inside the job call;")
        print("dub RTF = (speech stages + the engine's run) / clip duration.")


if __name__ == "__main__":
    main()
