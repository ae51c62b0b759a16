"""The same sentences and the same Marian weights through CTranslate2 and through transformers.

    .venv/bin/python benchmarks/bench_translate.py [--model HF_CHECKPOINT_DIR] [--sentences 64]

Without ``--model`` it uses the tiny toy Marian model the tests train (tests/marian_factory.py;
built on first use, about a minute): its figures measure per-call overhead far more than the
arithmetic of a real 75M-parameter opus-mt model, which the printout says. With ``--model``
pass a Helsinki-NLP checkpoint directory (config.json, *.spm, vocab.json, weights); it is
converted to CTranslate2 once into a temporary directory.

Both engines: CPU, beam size 4, the same batches of 16 sentences sorted by length, the same
thread count (default: the cores this process may use). Each round runs every engine once on
the same batches, so a shared machine's load hits all of them alike; the table shows median
speeds and the median of the per-round ratios. CTranslate2 reads its ``CT2_*`` variables once
per process, so compare backends (``CT2_USE_MKL=1``) by whole runs; the header prints what is
set (docs/translation.md has what they did on AMD). "int8" is CTranslate2's
int8 compute type vs torch dynamic int8 quantization of the Linear layers; "float32" is both
unquantized. Agreement = share of sentences whose outputs are identical to transformers float32 (meaningless
with --opus-size: random weights give near-tied scores, so beams diverge on rounding).
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

from octavia.pipeline.marian import usable_cores  # noqa: E402

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


def ct2_engine(ct2_dir: Path, compute_type: str, threads: int, fixed: int | None) -> Batch:
    import ctranslate2
    import sentencepiece as spm

    # What MarianTranslator does (threads, no scores), with the decoding length exposed.
    model = ctranslate2.Translator(
        str(ct2_dir), device="cpu", compute_type=compute_type, inter_threads=1, intra_threads=threads
    )
    src = spm.SentencePieceProcessor(model_file=str(ct2_dir / "source.spm"))
    tgt = spm.SentencePieceProcessor(model_file=str(ct2_dir / "target.spm"))
    lengths = {"min_decoding_length": fixed, "max_decoding_length": fixed} if fixed else {}

    def batch(chunk: list[str]) -> list[str]:
        tokens = [[*t, "</s>"] for t in src.encode(chunk, out_type=str)]
        results = model.translate_batch(
            tokens, beam_size=BEAM, max_batch_size=BATCH, return_scores=False, **lengths
        )
        return [tgt.decode(r.hypotheses[0]) for r in results]

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

    def batch(chunk: list[str]) -> list[str]:
        enc = tok(chunk, return_tensors="pt", padding=True)
        with torch.inference_mode():  # transformers' fastest eager mode: no autograd bookkeeping
            gen = model.generate(**enc, num_beams=BEAM, output_scores=False, **lengths)
        return list(tok.batch_decode(gen, skip_special_tokens=True))

    return batch


def chunks(texts: list[str]) -> tuple[list[list[str]], list[int]]:
    """Batches of similar length for both engines (longest first), and how to restore order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    ordered = [texts[i] for i in order]
    return [ordered[i : i + BATCH] for i in range(0, len(ordered), BATCH)], order


def interleaved(
    engines: dict[str, Batch], texts: list[str], repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    """Every round runs each engine once on the same batches, so load changes hit all of them."""
    batches, order = chunks(texts)
    times: dict[str, list[float]] = {name: [] for name in engines}
    outputs: dict[str, list[str]] = {}
    for run in engines.values():
        run(batches[0])  # load, warm up
    for _ in range(repeat):
        for name, run in engines.items():
            t = time.perf_counter()
            out = [o for b in batches for o in run(b)]
            times[name].append(time.perf_counter() - t)
            restored = [""] * len(texts)
            for i, o in zip(order, out, strict=True):
                restored[i] = o
            outputs[name] = restored
    return times, outputs


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
        engines = {
            "ct2 float32": ct2_engine(ct2_dir, "float32", args.threads, fixed),
            "hf float32": hf_engine(hf_dir, False, args.threads, fixed),
            "ct2 int8": ct2_engine(ct2_dir, "int8", args.threads, fixed),
            "hf int8": hf_engine(hf_dir, True, args.threads, fixed),
        }
        times, outputs = interleaved(engines, texts, args.repeat)
        reference = outputs["hf float32"]
        print(
            f"{'precision':<10}{'ctranslate2 sent/s':>20}{'transformers sent/s':>21}{'ratio':>8}{'agreement':>11}"
        )
        for label in ("float32", "int8"):
            ct, hf = times[f"ct2 {label}"], times[f"hf {label}"]
            ratio = median(h / c for c, h in zip(ct, hf, strict=True))  # per round: same load
            agree = sum(a == b for a, b in zip(outputs[f"ct2 {label}"], reference, strict=True)) / len(texts)
            n = len(texts)
            print(f"{label:<10}{n / median(ct):>20.1f}{n / median(hf):>21.1f}{ratio:>7.1f}x{agree:>10.0%}")


if __name__ == "__main__":
    main()
