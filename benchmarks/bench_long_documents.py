"""Peak memory and speed of ElmoVectorizer on long documents, per max_batch_tokens.

Embeds documents of 300-3,000 tokens (real English text by default: the held-out
part of the bundled model's corpus, or any ``--text`` file of one sentence per
line, cut into documents of seeded random lengths) with a random model of the
published ``original`` architecture (``--architecture``), and prints for
every ``max_batch_tokens`` setting the growth of peak resident memory during
``transform`` and the tokens per second, each run in a fresh process; then
the same with ``split_sentences=True``. Ratios compare within one run only.

Usage:
    python benchmarks/bench_long_documents.py --text build/small-english/corpus/heldout.txt
    python benchmarks/bench_long_documents.py --documents 500 --settings 2048 8192 32768
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import tempfile
import time
from pathlib import Path

import torch
from _machine import cpu_description
from bench_memory import reset_peak, vm_kb

from skelmo import ElmoVectorizer, tokenize
from skelmo.testing import make_options, make_random_model

ARCHITECTURES = {
    # The published "original" model: 2048 filters, 2 highway, projection 512, 4096 cells.
    "original": dict(char_dim=16, filters=((1, 32), (2, 32), (3, 64), (4, 128), (5, 256),
                                           (6, 512), (7, 1024)),
                     n_highway=2, projection_dim=512, cell_dim=4096, n_layers=2,
                     cell_clip=3.0, proj_clip=3.0),
    # The bundled model's shape (projection 128, 256 cells).
    "small": dict(char_dim=16, filters=((1, 8), (2, 8), (3, 16), (4, 32), (5, 64)),
                  n_highway=2, projection_dim=128, cell_dim=256, n_layers=2,
                  cell_clip=3.0, proj_clip=3.0),
}


def long_documents(text: Path | None, n: int, seed: int = 0) -> list[str]:
    """``n`` documents of 300-3,000 tokens cut from ``text``'s sentences, in order."""
    rng = random.Random(seed)
    if text is None:
        words = [f"w{i}" for i in range(20_000)]
        sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 40))) + " ."
                     for _ in range(n * 120)]
    else:
        sentences = [line.strip() for line in text.read_text(encoding="utf-8").splitlines()
                     if line.strip()]
    documents, start = [], 0
    for _ in range(n):
        target, parts, count = rng.randint(300, 3000), [], 0
        while count < target:
            sentence = sentences[start % len(sentences)]
            start += 1
            parts.append(sentence)
            count += len(tokenize(sentence))
        documents.append(" ".join(parts))
    return documents


def measure(model: tuple[Path, Path], docs: list[str], max_batch_tokens: int,
            split: bool, threads: int) -> tuple[float, float, int]:
    """In a fresh process: (peak growth MB, seconds, tokens)."""
    torch.set_num_threads(threads)
    vectorizer = ElmoVectorizer(model=model, device="cpu", progress=False, cache=False,
                                max_batch_tokens=max_batch_tokens, split_sentences=split)
    vectorizer.transform(["warm up ."])  # model load and warm state are not counted
    tokens = int(sum(len(tokenize(d)) for d in docs))
    gc.collect()
    reset_peak()
    before = vm_kb("VmRSS")
    start = time.perf_counter()
    vectorizer.transform(docs)
    seconds = time.perf_counter() - start
    return (vm_kb("VmHWM") - before) / 1024, seconds, tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--text", type=Path, help="one sentence per line (default: synthetic)")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="original")
    parser.add_argument("--settings", type=int, nargs="+", default=[2048, 8192, 32768],
                        help="max_batch_tokens values")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    docs = long_documents(args.text, args.documents)
    lengths = [len(tokenize(d)) for d in docs]
    print(f"machine: {cpu_description()}")
    print(f"torch {torch.__version__}, {args.threads} threads")
    print(f"workload: {len(docs)} documents of {min(lengths):,}-{max(lengths):,} tokens "
          f"({sum(lengths):,} in all) from {args.text or 'synthetic text'}")
    print(f"model: random weights, {args.architecture} architecture "
          f"({ARCHITECTURES[args.architecture]['cell_dim']} cells, projection "
          f"{ARCHITECTURES[args.architecture]['projection_dim']}); batch_size 64")
    print("peak growth: peak resident memory during transform minus resident memory before")
    print(f"{'split_sentences':>15} {'max_batch_tokens':>16} {'peak growth MB':>15} "
          f"{'seconds':>8} {'tokens/s':>9}")
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        model = make_random_model(tmp, seed=0,
                                  options=make_options(**ARCHITECTURES[args.architecture]))
        for split in (False, True):
            for setting in args.settings:
                with context.Pool(1) as pool:
                    growth, seconds, tokens = pool.apply(
                        measure, (model, docs, setting, split, args.threads))
                print(f"{split!s:>15} {setting:>16,} {growth:>15.0f} {seconds:>8.1f} "
                      f"{tokens / seconds:>9.0f}", flush=True)


if __name__ == "__main__":
    main()
