"""The same sentences and the same Marian weights through CTranslate2 and through transformers.

    .venv/bin/python benchmarks/bench_translate.py [--model HF_CHECKPOINT_DIR] [--sentences 64]

Without ``--model`` it uses the tiny toy Marian model the tests train (tests/marian_factory.py;
built on first use, about a minute): its figures measure per-call overhead far more than the
arithmetic of a real 75M-parameter opus-mt model, which the printout says. With ``--model``
pass a Helsinki-NLP checkpoint directory (config.json, *.spm, vocab.json, weights); it is
converted to CTranslate2 once into a temporary directory.

Both engines: CPU, beam size 4, batches of 16, the same thread count. "int8" is CTranslate2's
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def run_ct2(
    ct2_dir: Path, texts: list[str], compute_type: str, threads: int, repeat: int, fixed: int | None
) -> tuple[float, list[str]]:
    import ctranslate2
    import sentencepiece as spm

    # What MarianTranslator does, with the decoding length exposed for --opus-size.
    model = ctranslate2.Translator(
        str(ct2_dir), device="cpu", compute_type=compute_type, intra_threads=threads
    )
    src = spm.SentencePieceProcessor(model_file=str(ct2_dir / "source.spm"))
    tgt = spm.SentencePieceProcessor(model_file=str(ct2_dir / "target.spm"))
    lengths = {"min_decoding_length": fixed, "max_decoding_length": fixed} if fixed else {}

    def batch(chunk: list[str]) -> list[str]:
        tokens = [[*t, "</s>"] for t in src.encode(chunk, out_type=str)]
        results = model.translate_batch(tokens, beam_size=BEAM, max_batch_size=BATCH, **lengths)
        return [tgt.decode(r.hypotheses[0]) for r in results]

    return _timed(batch, texts, repeat)


def _timed(batch: Any, texts: list[str], repeat: int) -> tuple[float, list[str]]:
    batch(texts[:BATCH])  # load, warm up
    best, out = float("inf"), []
    for _ in range(repeat):
        t = time.perf_counter()
        out = []
        for i in range(0, len(texts), BATCH):
            out += batch(texts[i : i + BATCH])
        best = min(best, time.perf_counter() - t)
    return len(texts) / best, out


def run_transformers(
    hf_dir: Path, texts: list[str], int8: bool, threads: int, repeat: int, fixed: int | None
) -> tuple[float, list[str]]:
    import torch
    from transformers import MarianMTModel, MarianTokenizer

    torch.set_num_threads(threads)
    tok = MarianTokenizer.from_pretrained(str(hf_dir))
    model = MarianMTModel.from_pretrained(str(hf_dir)).eval()
    if int8:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)

    def batch(chunk: list[str]) -> list[str]:
        enc = tok(chunk, return_tensors="pt", padding=True)
        with torch.inference_mode():
            lengths = {"min_new_tokens": fixed, "max_new_tokens": fixed} if fixed else {"max_new_tokens": 256}
            gen = model.generate(**enc, num_beams=BEAM, **lengths)
        return list(tok.batch_decode(gen, skip_special_tokens=True))

    return _timed(batch, texts, repeat)


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
    parser.add_argument("--threads", type=int, default=min(4, os.cpu_count() or 1))
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
        print(
            f"{len(texts)} sentences, beam {BEAM}, batch {BATCH}, {args.threads} threads, CPU, best of {args.repeat}\n"
        )
        ref_speed, reference = run_transformers(hf_dir, texts, False, args.threads, args.repeat, fixed)
        rows = []
        for label, int8 in (("float32", False), ("int8", True)):
            hf_speed, _ = (
                (ref_speed, reference)
                if not int8
                else run_transformers(hf_dir, texts, True, args.threads, args.repeat, fixed)
            )
            ct_speed, ct_out = run_ct2(ct2_dir, texts, label, args.threads, args.repeat, fixed)
            agree = sum(a == b for a, b in zip(ct_out, reference, strict=True)) / len(texts)
            rows.append((label, ct_speed, hf_speed, ct_speed / hf_speed, agree))
        print(
            f"{'precision':<10}{'ctranslate2 sent/s':>20}{'transformers sent/s':>21}{'ratio':>8}{'agreement':>11}"
        )
        for label, ct, hf, ratio, agree in rows:
            print(f"{label:<10}{ct:>20.1f}{hf:>21.1f}{ratio:>7.1f}x{agree:>10.0%}")


if __name__ == "__main__":
    main()
