"""End-to-end `octavia dub` on a one-minute clip: real-time factor per stage, Piper vs Coqui,
and peak memory.

    .venv/bin/python benchmarks/bench_dub.py [--seconds 60] [--device cpu|cuda] [--engines piper,coqui,kokoro]
    .venv/bin/python benchmarks/bench_dub.py --kokoro-only     # just the Kokoro stage (quick)

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


KOKORO_WORKER = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
language, count = sys.argv[1], int(sys.argv[2])
from octavia.pipeline.kokoro import KokoroSynthesizer, SAMPLE_RATE
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.packs import default_packs
sentences = {"es": "Mi hermano trabaja en un hospital grande de la ciudad, cerca del río.",
             "en": "The weather is lovely today, so we are going to walk along the river.",
             "it": "Domani andiamo al mercato a comprare frutta e verdura fresca."}[language]
with tempfile.TemporaryDirectory() as tmp:
    synth = KokoroSynthesizer(ModelResolver(Path(tmp), offline=True, packs=default_packs()))
    t = time.perf_counter()
    synth.model(); synth.speak("Hola.", language=language)  # assemble the pack, load the session
    load = time.perf_counter() - t
    t = time.perf_counter()
    audio = sum(len(synth.speak(sentences, language=language)) for _ in range(count)) / SAMPLE_RATE
    seconds = time.perf_counter() - t
print(json.dumps({"load_s": load, "synth_s": seconds, "audio_s": audio,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def kokoro_stage(language: str = "es", sentences: int = 5) -> dict[str, float]:
    """The Kokoro synthesis stage on its own, in a fresh process: pack assembly + session load,
    then ``sentences`` sentences spoken; RTF = synthesis seconds / seconds of speech made."""
    proc = subprocess.run([sys.executable, "-c", KOKORO_WORKER, language, str(sentences)],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"kokoro worker failed: {proc.stderr[-3000:]}")
    res: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    res["rtf"] = res["synth_s"] / res["audio_s"]
    print(f"kokoro ({language}, {sentences} sentences): load {res['load_s']:.2f} s, "
          f"{res['audio_s']:.1f} s of speech in {res['synth_s']:.2f} s, RTF {res['rtf']:.3f}, "
          f"peak RSS {res['peak_rss_mb']:.0f} MB")  # fmt: skip
    return res


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
    parser.add_argument("--kokoro-only", action="store_true", help="only the Kokoro stage measurement")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.kokoro_only:
        kokoro_stage()
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
        print("dub RTF = (speech stages + the engine's run) / clip duration.\n")
        kokoro_stage()


if __name__ == "__main__":
    main()
