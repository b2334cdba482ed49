"""bfloat16 against float32: speed, closeness of the vectors, downstream accuracy.

1. Speed: ``ElmoEmbedder`` in float32 and in ``precision="bfloat16"`` on a random
   model of the published ``original`` architecture (``--architecture``), over
   the movie-review snippets, rounds interleaved, median tokens/s of each.
2. Closeness: the largest absolute difference and the mean cosine similarity of
   the token vectors (every layer) of the two precisions, for that model and for
   the bundled one.
3. Downstream, with the bundled model (or ``--model``): 5-fold accuracy on
   movie-review polarity (``ElmoVectorizer``, logistic regression) and part-of-
   speech accuracy on Brown (the gallery's tagger: 2,000 training sentences, 500
   test sentences), each in both precisions.

On a CPU without native bfloat16 (neither AVX512-BF16 nor AMX) the script says so
and stops: skelmo refuses ``precision="bfloat16"`` there.

Usage: python benchmarks/bench_bfloat16.py [--sentences 1000] [--rounds 3] [--skip-downstream]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from _machine import cpu_description
from bench_long_documents import ARCHITECTURES
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skelmo import BiLM, ElmoEmbedder, ElmoTokenVectorizer, ElmoVectorizer, tokenize
from skelmo._engine import bfloat16_supported
from skelmo.datasets import fetch_brown_pos, fetch_movie_reviews
from skelmo.models import resolve_model
from skelmo.testing import make_options, make_random_model

PRECISIONS = ("float32", "bfloat16")


def closeness(bilm: BiLM, sentences: list[list[str]]) -> tuple[float, float]:
    """Largest |difference| and mean cosine of every token vector of every layer."""
    exact = ElmoEmbedder(bilm).embed_sentences(sentences)
    low = ElmoEmbedder(bilm, precision="bfloat16").embed_sentences(sentences)
    a = np.concatenate([x.reshape(-1, x.shape[-1]) for x in exact])
    b = np.concatenate([x.reshape(-1, x.shape[-1]) for x in low])
    cosine = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1),
                                         1e-30)
    return float(np.abs(a - b).max()), float(cosine.mean())


def speed(bilm: BiLM, sentences: list[list[str]], rounds: int) -> dict[str, float]:
    tokens = sum(map(len, sentences))
    seconds: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for precision in PRECISIONS:  # warm-up: weight copies, warm state, word cache
        ElmoEmbedder(bilm, precision=precision).embed_sentences(sentences[:64])
    for _ in range(rounds):
        for precision in PRECISIONS:
            embedder = ElmoEmbedder(bilm, precision=precision)
            started = time.perf_counter()
            embedder.embed_sentences(sentences)
            seconds[precision].append(time.perf_counter() - started)
    return {p: tokens / statistics.median(s) for p, s in seconds.items()}


def downstream(model: str | None, seed: int) -> dict[str, dict[str, float]]:
    reviews = fetch_movie_reviews()
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    brown = fetch_brown_pos(tagset="universal")
    order = np.random.RandomState(0).permutation(len(brown.data))
    train, test = order[:2000], order[2000:2500]
    train_tags = np.array([t for i in train for t in brown.target[i]])
    test_tags = np.array([t for i in test for t in brown.target[i]])
    results: dict[str, dict[str, float]] = {}
    for precision in PRECISIONS:
        polarity = cross_val_score(
            make_pipeline(ElmoVectorizer(model=model, precision=precision, progress=False),
                          LogisticRegression(max_iter=2000)),
            reviews.data, reviews.target, cv=folds)
        tagger = make_pipeline(ElmoTokenVectorizer(model=model, output="flat",
                                                   precision=precision, progress=False),
                               StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
        tagger.fit([brown.data[i] for i in train], train_tags)
        pos = float(np.mean(tagger.predict([brown.data[i] for i in test]) == test_tags))
        results[precision] = {"polarity": float(polarity.mean()), "pos": pos}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="original")
    parser.add_argument("--model", help="model of the downstream tasks (default: bundled)")
    parser.add_argument("--skip-downstream", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {cpu_description()}")
    print(f"torch {torch.__version__}, {args.threads} threads")
    if not bfloat16_supported(torch.device("cpu")):
        print("this CPU has neither AVX512-BF16 nor AMX: skelmo refuses precision='bfloat16' "
              "here (bfloat16 products would be emulated, far slower than float32)")
        sys.exit(0)
    sentences = [tokenize(t) for t in fetch_movie_reviews().data[: args.sentences]]
    print(f"workload: {len(sentences):,} movie-review snippets, "
          f"{sum(map(len, sentences)):,} tokens; batch 64, state warm")
    with tempfile.TemporaryDirectory() as tmp:
        files = make_random_model(tmp, seed=0,
                                  options=make_options(**ARCHITECTURES[args.architecture]))
        bilm = BiLM.from_files(*files, device="cpu")
        rates = speed(bilm, sentences, args.rounds)
        print(f"{args.architecture} architecture, random weights: float32 "
              f"{rates['float32']:,.0f} tokens/s, bfloat16 {rates['bfloat16']:,.0f} tokens/s, "
              f"{rates['bfloat16'] / rates['float32']:.2f}x")
        difference, cosine = closeness(bilm, sentences[:300])
        print(f"  token vectors, 300 snippets: max |difference| {difference:.2e}, mean cosine "
              f"{cosine:.6f}")
    bundled = BiLM.from_files(*resolve_model(args.model), device="cpu")
    difference, cosine = closeness(bundled, sentences)
    print(f"{args.model or 'bundled model'}: max |difference| {difference:.2e}, mean cosine "
          f"{cosine:.6f} over {len(sentences):,} snippets")
    if args.skip_downstream:
        return
    results = downstream(args.model, args.seed)
    for task, label in (("polarity", "movie-review polarity, 5-fold"),
                        ("pos", "POS tagging on Brown, 500 test sentences")):
        low, exact = results["bfloat16"][task], results["float32"][task]
        print(f"{label}: float32 {exact:.4f}, bfloat16 {low:.4f} (difference "
              f"{low - exact:+.4f})")


if __name__ == "__main__":
    main()
