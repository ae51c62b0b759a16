"""Fitting dubbed speech to the original timing: the old fit (speed-up, then truncation) against
the new one (length-aware translation, shorter renderings, global placement), side by side.

    .venv/bin/python benchmarks/bench_fit.py [--quick] [--sentences N] [--no-wer]

The clip set is made here: sentences spoken by espeak-ng as the "original" speech by a fast
speaker (230 words per minute), one segment per sentence, separated by short random gaps
(0.05-0.35 s, seeded); the dub voice is espeak-ng at an ordinary 175 wpm in the target
language. Three sets:

- en→es and es→en translated by Apertium (offline, rule-based, not length-aware: only the
  placement differs between BEFORE and AFTER);
- en→xx by the tiny toy Marian model the tests ship (tests/marian_factory.py), spoken with
  the Spanish espeak-ng voice: the n-best path (length-aware translation and shorter
  renderings) as well as the placement.

BEFORE is today's algorithm as it was (kept callable here: `old_fit`), AFTER is
octavia.pipeline.fitting. Per set: share of segments that fit at ≤ 1.15× and ≤ 1.25× (placed
whole, no overflow, factor at most that), mean speed factor, total overflow, truncated words
(old fit: words lost to the cut, in proportion to the cut duration, rounded up; the new fit
never cuts), and back-transcription WER (Whisper base from the offline pack, on the whole dub
track, against the text the dub speaks; not for the toy language). Figures taken on a shared,
loaded machine are noisy in time, not in these ratios.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octavia.pipeline import media  # noqa: E402
from octavia.pipeline.engines import LengthAwareTranslator, Translator  # noqa: E402
from octavia.pipeline.fitting.budget import LengthBudget  # noqa: E402
from octavia.pipeline.fitting.mixing import lay_down, load_clips, render  # noqa: E402
from octavia.pipeline.fitting.rate import speaking_rate  # noqa: E402
from octavia.pipeline.fitting.retry import Retranslate, shorten_long_clips  # noqa: E402
from octavia.pipeline.synthesis import synthesize_segments  # noqa: E402
from octavia.pipeline.translation import translate_texts  # noqa: E402
from octavia.types import Segment  # noqa: E402
from tests.espeak_synth import EspeakSynthesizer  # noqa: E402

SR = 48_000
MAX_SPEED, GENTLE, DRIFT, MARGIN = 1.25, 1.15, 0.75, 0.05

ENGLISH = [
    "Hello everyone, and welcome back to the kitchen.",
    "Today we are going to cook a potato omelette.",
    "First, we peel the potatoes and cut them into thin slices.",
    "Then we beat the eggs in a big bowl.",
    "We fry the potatoes in olive oil until they are golden.",
    "Finally, we mix everything and cook it over a low heat.",
    "The meeting has been moved to Thursday afternoon.",
    "Could you send me the report before the end of the week?",
    "I think the train leaves at half past seven.",
    "My sister lives in a small house near the river.",
    "We need to buy bread, milk and some fresh fruit.",
    "The children are playing in the garden.",
    "It was raining all morning, so we stayed at home.",
    "Please close the window when you leave the room.",
    "The museum opens at ten and closes at six.",
    "He has been working on this project for three years.",
    "Can you tell me where the nearest station is?",
    "The weather will be better tomorrow.",
    "She reads a book every evening before bed.",
    "We are very happy with the results of the test.",
    "The doctor said that I should drink more water.",
    "Our neighbours have a big black dog.",
    "I forgot my keys at the office yesterday.",
    "The new road will be finished next summer.",
]


@dataclass
class Metrics:
    segments: int
    fit_gentle: float
    fit_cap: float
    mean_factor: float
    total_overflow: float
    truncated_words: int
    wer: float | None


# -- BEFORE: today's fit, as it was (speed up to the cap, then truncate at the limit) -------------
def old_fit(segments: Sequence[Segment], audio: Sequence[Any], *, media_end: float, work: Path) -> tuple[list[dict[str, float]], list[tuple[float, Any]]]:  # fmt: skip
    import numpy as np

    with_clip = [i for i, a in enumerate(audio) if a is not None and a.size]
    fits, placed = [], []
    for pos, i in enumerate(with_clip):
        seg, dur = segments[i], audio[i].size / SR
        nxt = segments[with_clip[pos + 1]].start - MARGIN if pos + 1 < len(with_clip) else media_end
        limit = max(seg.start, min(nxt, media_end))
        available = limit - seg.start
        factor = 1.0 if dur <= available else min(dur / max(available, 1e-6), MAX_SPEED)
        samples = audio[i]
        if factor > 1.0005:
            src, dest = work / f"{i}.in.wav", work / f"{i}.fast.wav"
            media.write_wav(samples, src, SR)
            media.time_stretch(src, dest, factor)
            samples = media.decode_audio(dest, sample_rate=SR, channels=1)[:, 0]
        room = round(available * SR)
        fitted = samples.size / SR
        if samples.size > room:  # truncated, with a 30 ms fade
            samples = samples[:room].copy()
            n = min(samples.size, int(0.03 * SR))
            samples[samples.size - n :] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
        fits.append(
            {"index": i, "factor": factor, "fitted": fitted, "overflow_s": max(0.0, fitted - available)}
        )
        placed.append((seg.start, samples))
    return fits, placed


# -- the clip set ------------------------------------------------------------------------------
def timeline(texts: Sequence[str], language: str, synth: EspeakSynthesizer, clip_dir: Path, seed: int) -> tuple[list[Segment], float]:  # fmt: skip
    """Segments with the fast original speaker's real durations and short random gaps."""
    made = synthesize_segments([Segment(0, 1, t) for t in texts], synth, language=language, voice=None,
                               clip_dir=clip_dir)  # fmt: skip
    lengths = [a.size / SR for a in load_clips(made.clips, sample_rate=SR)]
    rng = random.Random(seed)
    segs, t = [], 0.3
    for text, length in zip(texts, lengths, strict=True):
        segs.append(Segment(round(t, 3), round(t + length, 3), text))
        t += length + rng.uniform(0.05, 0.35)
    return segs, t + 0.3


def words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def back_wer(track: Any, said: str, language: str, whisper: Any, work: Path) -> float:
    path = work / "track.wav"
    media.write_wav(track, path, SR)
    small = media.extract_audio(path, work / "track16.wav")
    return wer(said, whisper.transcribe(small, language=language).text)


def measure_before(segs: list[Segment], texts: list[str], *, target: str, voice: str | None, synth: EspeakSynthesizer,
                   media_end: float, work: Path, whisper: Any) -> Metrics:  # fmt: skip
    spoken = [Segment(s.start, s.end, t) for s, t in zip(segs, texts, strict=True)]
    made = synthesize_segments(spoken, synth, language=target, voice=voice, clip_dir=work / "clips")
    audio = load_clips(made.clips, sample_rate=SR)
    fits, placed = old_fit(spoken, audio, media_end=media_end, work=work)
    lost = 0
    for f in fits:
        if f["overflow_s"] > 1e-9:
            lost += math.ceil(len(words(spoken[int(f["index"])].text)) * f["overflow_s"] / f["fitted"])
    ok = [f for f in fits if f["overflow_s"] <= 1e-9]
    track = lay_down(placed, round(media_end * SR), SR)
    said = " ".join(texts)
    return Metrics(
        len(fits), sum(f["factor"] <= GENTLE + 1e-3 for f in ok) / len(fits),
        sum(f["factor"] <= MAX_SPEED + 1e-3 for f in ok) / len(fits), sum(f["factor"] for f in fits) / len(fits),
        sum(f["overflow_s"] for f in fits), lost, back_wer(track, said, target, whisper, work) if whisper else None,
    )  # fmt: skip


def measure_after(segs: list[Segment], source_texts: list[str], translator: Translator, *, source: str, target: str,
                  voice: str | None, synth: EspeakSynthesizer, media_end: float, work: Path, whisper: Any,
                  cache: Path) -> tuple[Metrics, list[str]]:  # fmt: skip
    rate = speaking_rate(synth, language=target, voice=voice, cache_dir=cache)
    budget = LengthBudget(rate, GENTLE)
    limits: list[int | None] = [budget.max_chars(segs, [i], media_end=media_end) for i in range(len(segs))]
    texts = translate_texts(source_texts, translator, source=source, target=target, max_chars=limits)
    spoken = [Segment(s.start, s.end, t) for s, t in zip(segs, texts, strict=True)]
    made = synthesize_segments(spoken, synth, language=target, voice=voice, clip_dir=work / "clips")
    how = (Retranslate(translator, source, target, source_texts) if isinstance(translator, LengthAwareTranslator)
           else None)  # fmt: skip
    fitted = shorten_long_clips(spoken, made.clips, retranslate=how, synth=synth, voice=voice, clip_dir=work / "clips",
                                sample_rate=SR, media_end=media_end, max_speed=MAX_SPEED, gentle_speed=GENTLE,
                                max_drift=DRIFT)  # fmt: skip
    out = render(fitted.placement, fitted.audio, sample_rate=SR, work_dir=work / "stretch", media_end=media_end,
                 max_drift=DRIFT)  # fmt: skip
    recs = out.records
    # Truncated words, measured the same way as for BEFORE: played length short of the clip's.
    lost = sum(math.ceil(len(words(fitted.segments[r.index].text)) * max(0.0, r.clip_duration / r.factor
               - (r.placed_end - r.placed_start) - 0.03) / r.clip_duration) for r in recs)  # fmt: skip
    ok = [r for r in recs if r.overflow_s <= 1e-9]
    track = lay_down(out.clips, round(media_end * SR), SR)
    said = " ".join(s.text for s in fitted.segments)
    metrics = Metrics(
        len(recs), sum(r.factor <= GENTLE + 1e-3 for r in ok) / len(recs),
        sum(r.factor <= MAX_SPEED + 1e-3 for r in ok) / len(recs), sum(r.factor for r in recs) / len(recs),
        sum(r.overflow_s for r in recs), lost, back_wer(track, said, target, whisper, work) if whisper else None,
    )  # fmt: skip
    return metrics, [s.text for s in fitted.segments]


def toy_marian() -> Translator:
    from octavia.pipeline.marian import MarianTranslator
    from octavia.pipeline.models import ModelResolver
    from tests.marian_factory import build

    _, ct2 = build("en", "xx")
    return MarianTranslator(ModelResolver(ct2, offline=True), model_dir=ct2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 sentences per set")
    parser.add_argument("--sentences", type=int, default=24)
    parser.add_argument("--no-wer", action="store_true", help="skip the Whisper back-transcription")
    args = parser.parse_args()
    n = 10 if args.quick else args.sentences
    from octavia.config import Settings
    from octavia.pipeline.apertium import ApertiumTranslator
    from octavia.pipeline.factory import Engines
    from tests.marian_factory import sentences as toy_sentences

    with tempfile.TemporaryDirectory(prefix="octavia-bench-fit-") as tmp:
        root = Path(tmp)
        whisper = None
        if not args.no_wer:
            settings = Settings(cache_dir=root / "cache", data_dir=root / "data", offline=True, device="cpu")
            whisper = Engines(settings).whisper("base")
        fast, dub = EspeakSynthesizer(230), EspeakSynthesizer(175)
        apertium = ApertiumTranslator()
        english = (ENGLISH * 3)[:n]
        spanish = apertium.translate(english, source="en", target="es")
        sets = [
            ("en→es Apertium", "en", "es", None, english, apertium, True),
            ("es→en Apertium", "es", "en", None, spanish, apertium, True),
            ("en→xx toy Marian", "en", "xx", "es", toy_sentences(n, seed=31), toy_marian(), False),
        ]
        rows = []
        for k, (name, source, target, voice, texts, translator, real) in enumerate(sets):
            work = root / f"set{k}"
            segs, end = timeline(texts, source, fast, work / "original", seed=k)
            plain = translator.translate(texts, source=source, target=target)
            before = measure_before(segs, plain, target=target, voice=voice, synth=dub, media_end=end,
                                    work=work / "before", whisper=whisper if real else None)  # fmt: skip
            (work / "before").mkdir(exist_ok=True)
            after, _ = measure_after(segs, texts, translator, source=source, target=target, voice=voice, synth=dub,
                                     media_end=end, work=work / "after", whisper=whisper if real else None,
                                     cache=root / "rates")  # fmt: skip
            rows.append((name, before, after))
            print(f"{name}: done", file=sys.stderr)
    print(f"\n{'set':<18} {'':<7} {'n':>3} {'≤1.15×':>7} {'≤1.25×':>7} {'mean×':>6} {'overflow s':>10} "
          f"{'cut words':>9} {'WER':>6}")  # fmt: skip
    for name, before, after in rows:
        for label, m in (("BEFORE", before), ("AFTER", after)):
            wer_s = f"{m.wer:.3f}" if m.wer is not None else "n/a"
            print(f"{name:<18} {label:<7} {m.segments:>3} {m.fit_gentle:>7.1%} {m.fit_cap:>7.1%} {m.mean_factor:>6.3f} "
                  f"{m.total_overflow:>10.2f} {m.truncated_words:>9} {wer_s:>6}")  # fmt: skip
    total = {lbl: [m for _, *ms in rows for m in [ms[i]]] for i, lbl in enumerate(("BEFORE", "AFTER"))}
    for label, ms in total.items():
        segs_n = sum(m.segments for m in ms)
        gentle = sum(m.fit_gentle * m.segments for m in ms) / segs_n
        print(f"{'all sets':<18} {label:<7} {segs_n:>3} {gentle:>7.1%} "
              f"{sum(m.fit_cap * m.segments for m in ms) / segs_n:>7.1%} "
              f"{sum(m.mean_factor * m.segments for m in ms) / segs_n:>6.3f} "
              f"{sum(m.total_overflow for m in ms):>10.2f} {sum(m.truncated_words for m in ms):>9}")  # fmt: skip


if __name__ == "__main__":
    main()
