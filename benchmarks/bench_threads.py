#!/usr/bin/env python
"""Transform time with 1 and 2 torch threads, on a quiet machine and beside busy processes.

For the bundled model (``skelmo-en-small``) and a random model of the published
"original" shape, times ``ElmoVectorizer(n_threads=N).transform`` on a seeded
workload of review-length documents, with 0, 1 and 2 other processes each
keeping one core busy (a pure-Python loop, as another user's job would), and
prints the median of the repeats and the ratio of 2 threads to 1 thread
measured in the same run.

Usage::

    python benchmarks/bench_threads.py                 # both architectures (a few minutes)
    python benchmarks/bench_threads.py --skip-original # the bundled model only
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]

import torch  # noqa: E402
from _machine import cpu_description  # noqa: E402

import skelmo  # noqa: E402
from skelmo import ElmoVectorizer  # noqa: E402
from skelmo.testing import make_random_model  # noqa: E402

ORIGINAL = dict(
    char_dim=16,
    filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
    n_highway=2, activation="relu", projection_dim=512, cell_dim=4096, n_layers=2,
    cell_clip=3.0, proj_clip=3.0, use_skip_connections=True,
)
_BUSY = "while True:\n    pass\n"


def workload(n_documents: int, seed: int) -> list[str]:
    """Documents of 1 to 3 sentences of 8 to 30 words, from a 5,000-word vocabulary."""
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(5000)]
    documents = []
    for _ in range(n_documents):
        sentences = [" ".join(rng.choices(vocabulary, k=rng.randint(8, 30))) + " ."
                     for _ in range(rng.randint(1, 3))]
        documents.append(" ".join(sentences))
    return documents


def timed(model: str | None, documents: list[str], n_threads: int, repeats: int) -> float:
    """Median seconds of ``transform`` (the activation cache off, the model loaded first)."""
    vectorizer = ElmoVectorizer(model=model, n_threads=n_threads, cache=False, device="cpu")
    vectorizer.transform(documents[:2])  # load the model and derive the warm state
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        vectorizer.transform(documents)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(name: str, model: str | None, documents: list[str], repeats: int,
        busy_counts: list[int]) -> None:
    print(f"\n{name}: {len(documents)} documents, "
          f"{sum(len(skelmo.tokenize(d)) for d in documents):,} tokens, median of {repeats}")
    print(f"{'busy processes':>16} {'1 thread (s)':>14} {'2 threads (s)':>14} {'2 / 1':>8}")
    for busy in busy_counts:
        others = [subprocess.Popen([sys.executable, "-c", _BUSY]) for _ in range(busy)]
        try:
            time.sleep(0.5)
            one = timed(model, documents, 1, repeats)
            two = timed(model, documents, 2, repeats)
        finally:
            for process in others:
                process.kill()
                process.wait()
        print(f"{busy:>16} {one:>14.2f} {two:>14.2f} {two / one:>8.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=200,
                        help="documents for the bundled model (default: 200)")
    parser.add_argument("--original-documents", type=int, default=40,
                        help="documents for the original shape (default: 40)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2],
                        help="numbers of busy processes to run beside (default: 0 1 2)")
    parser.add_argument("--skip-original", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_description()}")
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, skelmo "
          f"{skelmo.__version__}, torch's default threads: {torch.get_num_threads()}")
    documents = workload(args.documents, args.seed)
    run("skelmo-en-small (bundled)", None, documents, args.repeats, args.busy)
    if not args.skip_original:
        with tempfile.TemporaryDirectory(prefix="skelmo-threads-") as tmp:
            make_random_model(tmp, seed=args.seed, **ORIGINAL)
            run('random weights, published "original" shape', tmp,
                documents[: args.original_documents], args.repeats, args.busy)
    return 0


if __name__ == "__main__":
    sys.exit(main())
