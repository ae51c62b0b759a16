"""The same sentences and the same Marian weights through CTranslate2 and through transformers.

    .venv/bin/python benchmarks/bench_translate.py [--model HF_CHECKPOINT_DIR] [--sentences 64]

Without ``--model`` it uses the tiny toy Marian model the tests train (tests/marian_factory.py;
built on first use, about a minute): its figures measure per-call overhead far more than the
arithmetic of a real 75M-parameter opus-mt model, which the printout says. With ``--model``
pass a Helsinki-NLP checkpoint directory (config.json, *.spm, vocab.json, weights); it is
converted to CTranslate2 once into a temporary directory.

Both engines: CPU, beam size 4, batches of 16 sentences sorted by length, the same cores
(default: those this process may use). CTranslate2 runs as MarianTranslator runs it: one worker
of one thread per core (``--workers`` to choose; ``--compare-workers 1`` adds the old single
worker to the same run), each call cut into a batch per worker. Each round runs every engine
once on all the sentences, so a shared machine's load hits all of them alike; the table shows
median speeds and the median of the per-round ratios. With ``--opus-size`` it also prints each
engine's useful GFLOP/s (from the model's shapes) beside torch's 2048² float32 product rate.
CTranslate2 reads its ``CT2_*`` variables once per process, so compare backends
(``CT2_USE_MKL=1``) by whole runs; the header prints what is set (docs/translation.md has what
they did on AMD). "int8" is CTranslate2's int8 compute type vs torch dynamic int8 quantization
of the Linear layers; "float32" is both unquantized. Agreement = share of sentences whose
outputs are identical to transformers float32 (meaningless with --opus-size: random weights
give near-tied scores, so beams diverge on rounding).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octavia.pipeline.marian import thread_plan, usable_cores  # noqa: E402

REAL_SENTENCES = [
    "The meeting has been moved to Thursday afternoon.",
    "Could you send me the report before the end of the week?",
    "We walked along the river until the sun went down.",
    "The new library opens next month in the city centre.",
    "She has been learning to play the piano since she was six.",
    "Please keep your luggage with you at all times.",
    "The weather forecast says it will rain tomorrow morning.",
    "He forgot his keys, so he had to wait outside for an hour.",
]
BEAM, BATCH = 4, 16


def sentences(tiny: bool, n: int) -> list[str]:
    if tiny:
        from tests import marian_factory as mf

        return mf.sentences(n, seed=4242)
    return [REAL_SENTENCES[i % len(REAL_SENTENCES)] for i in range(n)]


Batch = Callable[[list[str]], list[str]]


def ct2_engine(ct2_dir: Path, compute_type: str, threads: int, fixed: int | None, workers: int) -> Batch:
    import ctranslate2
    import sentencepiece as spm

    from octavia.pipeline.marian import thread_plan

    # What MarianTranslator does: ``workers`` parallel batches (0: its own choice, one worker of
    # one thread per core) sharing ``threads`` cores, no scores, each call cut into a batch of
    # at most BATCH per worker; the decoding length exposed.
    inter, intra = thread_plan("cpu", workers, 0 if workers == 0 else max(1, threads // workers))
    model = ctranslate2.Translator(
        str(ct2_dir), device="cpu", compute_type=compute_type, inter_threads=inter, intra_threads=intra
    )
    src = spm.SentencePieceProcessor(model_file=str(ct2_dir / "source.spm"))
    tgt = spm.SentencePieceProcessor(model_file=str(ct2_dir / "target.spm"))
    lengths = {"min_decoding_length": fixed, "max_decoding_length": fixed} if fixed else {}

    def batch(texts: list[str]) -> list[str]:
        out = []
        for i in range(0, len(texts), BATCH * inter):  # translate_texts: texts_per_call
            tokens = [[*t, "</s>"] for t in src.encode(texts[i : i + BATCH * inter], out_type=str)]
            size = min(BATCH, -(-len(tokens) // inter))  # a batch per worker
            results = model.translate_batch(tokens, beam_size=BEAM, max_batch_size=size, return_scores=False,
                                            **lengths)  # fmt: skip
            out += [tgt.decode(r.hypotheses[0]) for r in results]
        return out

    return batch


def hf_engine(hf_dir: Path, int8: bool, threads: int, fixed: int | None) -> Batch:
    import torch
    from transformers import MarianMTModel, MarianTokenizer

    torch.set_num_threads(threads)
    tok = MarianTokenizer.from_pretrained(str(hf_dir))
    model = MarianMTModel.from_pretrained(str(hf_dir)).eval()
    if int8:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    lengths = {"min_new_tokens": fixed, "max_new_tokens": fixed} if fixed else {"max_new_tokens": 256}

    def one(chunk: list[str]) -> list[str]:
        enc = tok(chunk, return_tensors="pt", padding=True)
        with torch.inference_mode():  # transformers' fastest eager mode: no autograd bookkeeping
            gen = model.generate(**enc, num_beams=BEAM, output_scores=False, **lengths)
        return list(tok.batch_decode(gen, skip_special_tokens=True))

    def batch(texts: list[str]) -> list[str]:
        # Batches of BATCH sentences of similar length, longest first, as CTranslate2 makes them
        # (torch's threads split each product; two Python threads each running a batch with
        # one torch thread measured no faster: generate's Python loop holds the GIL).
        ordered, order = by_length(texts)
        out = [o for i in range(0, len(ordered), BATCH) for o in one(ordered[i : i + BATCH])]
        restored = [""] * len(texts)
        for i, o in zip(order, out, strict=True):
            restored[i] = o
        return restored

    return batch


def by_length(texts: list[str]) -> tuple[list[str], list[int]]:
    """The texts longest first, and the original index of each."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    return [texts[i] for i in order], order


def interleaved(
    engines: dict[str, Batch], texts: list[str], repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """Every round runs each engine once on all the texts, so load changes hit all of them."""
    times: dict[str, list[float]] = {name: [] for name in engines}
    outputs: dict[str, list[str]] = {}
    for run in engines.values():
        run(texts[:BATCH])  # load, warm up
    for _ in range(repeat):
        for name, run in engines.items():
            t = time.perf_counter()
            outputs[name] = run(texts)
            times[name].append(time.perf_counter() - t)
    return times, outputs


def useful_gflop(config: dict, src_lengths: list[int], steps: int, beam: int) -> float:
    """Arithmetic a Marian model must do to decode ``steps`` tokens per beam for each source
    (multiply-adds × 2, matrix products and attention scores; no padding, no re-computation).

    The same count for both engines, so "GFLOP/s" says how close each runs to the machine's
    own matrix-product speed (measured by :func:`gemm_peak`)."""
    d, f, v = config["d_model"], config["encoder_ffn_dim"], config["vocab_size"]
    enc_layers, dec_layers, dec_ffn = (
        config["encoder_layers"],
        config["decoder_layers"],
        config["decoder_ffn_dim"],
    )
    macs = 0
    for n in src_lengths:
        macs += enc_layers * n * (4 * d * d + 2 * d * f + 2 * n * d)  # projections, FFN, scores
        macs += dec_layers * n * 2 * d * d  # cross-attention keys and values, once per source
        for t in range(1, steps + 1):  # per decoding step, per beam
            per_layer = 4 * d * d + 2 * d * d + 2 * d * dec_ffn + 2 * t * d + 2 * n * d
            macs += beam * (dec_layers * per_layer + d * v)  # layers, then the output projection
    return 2 * macs / 1e9


def gemm_peak(threads: int) -> float:
    """The machine's float32 matrix-product speed in GFLOP/s (torch, 2048², ``threads`` threads)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * 2048**3 / best / 1e9


def opus_sized(tmp: Path) -> Path:
    """Random weights at opus-mt size (d_model 512, 6+6 layers, ~58k vocabulary), toy tokenizer."""
    import json
    import shutil

    import torch
    from transformers import MarianConfig, MarianMTModel

    from tests import marian_factory as mf

    tiny_hf, _ = mf.build("en", "xx")
    out = tmp / "opus-sized"
    shutil.copytree(tiny_hf, out, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "config.json"))
    vocab = json.loads((out / "vocab.json").read_text())
    vocab.pop("<pad>")
    for i in range(58_100 - len(vocab)):
        vocab[f"<extra_{i}>"] = len(vocab)
    vocab["<pad>"] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab))
    torch.manual_seed(0)
    config = MarianConfig(vocab_size=len(vocab), d_model=512, encoder_layers=6, decoder_layers=6,
                          encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048,
                          decoder_ffn_dim=2048, max_position_embeddings=512, pad_token_id=vocab["<pad>"],
                          eos_token_id=0, decoder_start_token_id=vocab["<pad>"], forced_eos_token_id=0)  # fmt: skip
    model = MarianMTModel(config)
    with torch.no_grad():
        model.get_input_embeddings().weight[vocab["<pad>"]].zero_()
    model.save_pretrained(out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, help="a transformers Marian checkpoint directory")
    parser.add_argument("--sentences", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--opus-size", action="store_true",
                        help="random weights at opus-mt size, fixed-length decoding (speed only)")  # fmt: skip
    parser.add_argument("--decode-tokens", type=int, default=24, help="decoding length with --opus-size")
    parser.add_argument("--threads", type=int, default=usable_cores())
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="CTranslate2 parallel batches (0: MarianTranslator's default, one per core)",
    )
    parser.add_argument("--compare-workers", type=int, default=None,
                        help="also run CTranslate2 with this many workers sharing --threads (1: the old default)")  # fmt: skip
    args = parser.parse_args()

    from octavia.pipeline.marian import convert_checkpoint

    tiny = args.model is None
    with tempfile.TemporaryDirectory() as tmp:
        fixed = None
        if args.opus_size:
            hf_dir = opus_sized(Path(tmp))
            ct2_dir = convert_checkpoint(hf_dir, Path(tmp) / "ct2")
            fixed, tiny = args.decode_tokens, True
            what = f"RANDOM weights at opus-mt size (512-dim, 6+6 layers, 58k vocabulary), every sentence decoded to exactly {fixed} tokens: a speed measure only, the text is noise"
        elif tiny:
            from tests import marian_factory as mf

            hf_dir, ct2_dir = mf.build("en", "xx")
            what = "the TINY toy model from tests/marian_factory.py (d_model=64, 1+1 layers): no real opus-mt model is available offline, so these figures are dominated by per-call overhead"
        else:
            hf_dir, ct2_dir = args.model, convert_checkpoint(args.model, Path(tmp) / "ct2")
            what = f"checkpoint {args.model}"
        texts = sentences(tiny, args.sentences)
        print(f"Model: {what}")
        env = {k: v for k, v in os.environ.items() if k.startswith(("CT2_", "OPENBLAS_", "OMP_", "MKL_"))}
        print(f"{len(texts)} sentences, beam {BEAM}, batch {BATCH} (sorted by length), {args.threads} threads, "
              f"CPU, {args.repeat} interleaved rounds, medians; environment: {env or 'none set'}\n")  # fmt: skip
        engines: dict[str, Batch] = {}
        for label in ("float32", "int8"):
            engines[f"ct2 {label}"] = ct2_engine(ct2_dir, label, args.threads, fixed, args.workers)
            if args.compare_workers is not None:
                engines[f"ct2 {label} ({args.compare_workers}w)"] = ct2_engine(
                    ct2_dir, label, args.threads, fixed, args.compare_workers
                )
            engines[f"hf {label}"] = hf_engine(hf_dir, label == "int8", args.threads, fixed)
        times, outputs = interleaved(engines, texts, args.repeat)
        reference = outputs["hf float32"]
        inter, intra = thread_plan(
            "cpu", args.workers, 0 if args.workers == 0 else max(1, args.threads // args.workers)
        )
        print(f"CTranslate2: {inter} worker(s) x {intra} thread(s)"
              + (f"; also {args.compare_workers} worker(s) sharing the threads" if args.compare_workers else ""))  # fmt: skip
        print(f"{'engine':<22}{'sent/s':>8}{'vs transformers':>17}{'agreement':>11}")
        n = len(texts)
        for name, ts in times.items():
            hf = times["hf " + name.split()[1]]
            ratio = median(h / c for c, h in zip(ts, hf, strict=True))  # per round: same load
            agree = sum(a == b for a, b in zip(outputs[name], reference, strict=True)) / n
            print(f"{name:<22}{n / median(ts):>8.1f}{ratio:>16.1f}x{agree:>10.0%}")
        if fixed is not None:
            roofline(hf_dir, ct2_dir, texts, fixed, times, args.threads)


def roofline(hf_dir: Path, ct2_dir: Path, texts: list[str], steps: int, times: dict[str, list[float]],
             threads: int) -> None:  # fmt: skip
    """Each engine's useful GFLOP/s beside the machine's float32 matrix-product speed: how much
    of the machine each engine's arithmetic uses (int8 products can go past the float32 rate)."""
    import json

    import sentencepiece as spm

    config = json.loads((hf_dir / "config.json").read_text())
    src = spm.SentencePieceProcessor(model_file=str(ct2_dir / "source.spm"))
    lengths = [len(t) + 1 for t in src.encode(texts, out_type=str)]  # + </s>
    work = useful_gflop(config, lengths, steps, BEAM)
    peak = gemm_peak(threads)
    print(f"\nUseful work: {work:.0f} GFLOP per round; this machine's float32 matrix product "
          f"(torch, 2048 x 2048, {threads} threads): {peak:.0f} GFLOP/s")  # fmt: skip
    print(f"{'engine':<22}{'GFLOP/s':>9}{'vs that product':>17}")
    for name, ts in times.items():
        rate = work / median(ts)
        print(f"{name:<22}{rate:>9.0f}{rate / peak:>16.0%}")


if __name__ == "__main__":
    main()
