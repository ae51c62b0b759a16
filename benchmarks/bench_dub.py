"""End-to-end `octavia dub` on a one-minute clip: real-time factor per stage, Piper vs Coqui,
and peak memory; and speaker diarization on a clip of four voices.

    .venv/bin/python benchmarks/bench_dub.py [--seconds 60] [--device cpu|cuda] [--engines piper,coqui,kokoro]
                                             [--background auto|separate|duck] [--separation]
    .venv/bin/python benchmarks/bench_dub.py --kokoro-only     # just the Kokoro stage (quick)
    .venv/bin/python benchmarks/bench_dub.py --only diarization [--rounds 3]

The clip is the Spanish example looped to ``--seconds`` (video re-encoded once, untimed). It is
dubbed into English: Whisper base transcribes and translates the speech (``task=translate``),
then each TTS engine speaks, the clips are fitted and mixed over the bed (``--background``,
default auto: the background separated by Spleeter), and the video is muxed. The speech stages run once (a ``--review`` run, on CPU); each TTS engine then
resumes from a copy of that workspace in a fresh process, so its peak RSS is its own.

Coqui: no real Coqui voice can be downloaded offline, so the benchmark builds a **full-size**
random VITS (the default VitsArgs: the architecture and compute of the Coqui VITS voices, with
random weights and character input). Its speed is representative; its speech is not.

``--separation`` measures the separation stage alone instead: Spleeter on ``--seconds`` of LibriVox
speech over synthesised music (tests/separation_media.py), in a fresh process: seconds per
minute of audio, RTF, peak RSS, and the background's music and voice gains (least squares on
the known stems).
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
clip, work, out, cache, tts, device, background = sys.argv[1:8]
from octavia.config import Settings
from octavia.pipeline.factory import Engines
from octavia.api import run
settings = Settings(cache_dir=Path(cache), device=device, offline=True)
options = {"whisper_model": "base", "background": background}
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
                  "models": r.info.get("models", {}), "background": r.info.get("background"),
                  "report": {t: {"wer": v["wer"], "flagged": len(v["flagged"])} for t, v in r.info.get("report", {}).items()},
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


SEPARATION_WORKER = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
seconds, cache = float(sys.argv[1]), sys.argv[2]
from octavia.config import Settings
from octavia.pipeline import media
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.separation import spleeter
from tests import separation_media as sm
with tempfile.TemporaryDirectory() as tmp:
    known, mix = sm.write_stems(Path(tmp), seconds=seconds)
    del known
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = time.process_time()
    t = time.perf_counter()
    engine = spleeter.Spleeter(spleeter.resolve(ModelResolver.from_settings(Settings(cache_dir=Path(cache), offline=True))))
    loaded = time.perf_counter() - t
    engine.background(mix, Path(tmp) / "bg.wav")
    total = time.perf_counter() - t
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    music, voice = sm.gains(media.decode_audio(Path(tmp) / "bg.wav", sample_rate=sm.SR, channels=2), sm.stems(seconds))
print(json.dumps({"seconds": total, "cpu": cpu, "load": loaded, "peak_rss_mb": peak, "before_mb": base,
                  "music": music, "voice": voice}))
"""


def separation(seconds: float, cache: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", SEPARATION_WORKER, str(seconds), str(cache)],
                          capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    if proc.returncode != 0:
        sys.exit(f"separation worker failed: {proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"separation (Spleeter 2stems, numpy) of {seconds:.0f} s of speech over music:")
    print(f"  {r['seconds']:.2f} s ({r['load']:.2f} s loading the weights) = {r['seconds'] / seconds * 60:.1f} s "
          f"per minute of audio, RTF {r['seconds'] / seconds:.3f}")  # fmt: skip
    # CPU time does not depend on how loaded the machine is: on 2 free cores, wall ≈ CPU ÷ 2 at best.
    print(f"  CPU time {r['cpu']:.1f} s (all threads) = {r['cpu'] / seconds:.3f} CPU-s per second of audio")
    print(f"  peak RSS {r['peak_rss_mb']:.0f} MB (the stems held by the worker: {r['before_mb']:.0f} MB)")
    print(f"  background: music gain {r['music']:.3f}, voice gain {r['voice']:.3f}")


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
    parser.add_argument("--background", default="auto", help="the bed: auto, separate, duck, keep, none")
    parser.add_argument("--separation", action="store_true", help="measure the separation stage alone")
    parser.add_argument("--kokoro-only", action="store_true", help="only the Kokoro stage measurement")
    parser.add_argument("--only", choices=("all", "dub", "diarization"), default="all")
    parser.add_argument("--rounds", type=int, default=3, help="turns per voice in the diarization clip")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.kokoro_only:
        kokoro_stage()
        return
    if args.only in ("all", "diarization"):
        with tempfile.TemporaryDirectory(prefix="bench-diarization-") as tmp:
            bench_diarization(Path(tmp), args.rounds)
    if args.only == "diarization":
        return
    with tempfile.TemporaryDirectory(prefix="bench-dub-") as tmp:
        root = Path(tmp)
        cache = root / "cache"
        if args.separation:
            separation(args.seconds, cache)
            return
        clip = make_clip(root / "clip.mp4", args.seconds)
        prep_work = root / "work-prep"
        prep = worker(
            str(clip), str(prep_work), str(root / "out-prep"), str(cache), "prep", "cpu", args.background
        )
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
            res = worker(str(clip), str(work), str(root / f"out-{engine}"), str(cache), tts, args.device,
                         args.background)  # fmt: skip
            rows.append((engine, res))
        speech = sum(prep["stages"].values())  # type: ignore[attr-defined]
        print(
            f"{'engine':<8}{'synthesize':>12}{'bed':>8}{'mix':>8}{'verify':>8}{'other':>8}{'TTS RTF':>9}"
            f"{'dub RTF':>9}{'peak RSS':>10}"
        )
        for engine, res in rows:
            st = res["stages"]  # type: ignore[index]
            synth = st.get("synthesize:en", 0.0)  # type: ignore[union-attr]
            bed = st.get("bed", 0.0)  # type: ignore[union-attr]
            mix = st.get("mix:en", 0.0)  # type: ignore[union-attr]
            verify = st.get("verify:en", 0.0)  # type: ignore[union-attr]
            other = float(res["total"]) - synth - mix - bed - verify  # type: ignore[arg-type]
            total = speech + float(res["total"])  # type: ignore[arg-type]
            print(f"{engine:<8}{synth:>11.2f}s{bed:>7.2f}s{mix:>7.2f}s{verify:>7.2f}s{other:>7.2f}s"
                  f"{synth / duration:>9.3f}{total / duration:>9.3f}{res['peak_rss_mb']:>8.0f}MB")  # fmt: skip
            print(f"        bed: {res['background']}")
            heard = res["report"].get("en")  # type: ignore[union-attr]
            if heard:  # the dub report: every placed line heard back by Whisper
                print(f"        report: back-transcription WER {heard['wer']:.1%}, {heard['flagged']} flagged, "
                      f"verification {60 * verify / duration:.1f} s per minute of dub")  # fmt: skip
            fits = res["timing"]["en"]["segments"]  # type: ignore[index]
            sped = sum(1 for f in fits if f["factor"] > 1.0)
            print(
                f"        clips sped up: {sped}/{len(fits)}, max overflow {res['timing']['en']['max_overflow_s']} s"
            )  # type: ignore[index]
        print("\nother = model loading, muxing, subtitles, process overhead inside the job call;")
        print("dub RTF = (speech stages + the engine's run) / clip duration; verify = the dub report's")
        print("back-transcription (--no-verify skips it).\n")
        kokoro_stage()


if __name__ == "__main__":
    main()
