"""Does ``split_sentences=True`` help downstream? 5-fold accuracy with and without it.

Two sentiment tasks from the VADER ground truth (the vaderSentiment 3.3.2 sdist on
PyPI): the movie-review polarity snippets of :func:`skelmo.datasets.fetch_movie_reviews`
(about one in ten has several sentences) and the tweets (4,200, about 45% of several
sentences), each labelled by the sign of its mean rating (0 ratings dropped). Features:
``ElmoVectorizer`` (bundled model unless ``--model``), logistic regression, the same
folds for both settings.

Usage: python benchmarks/bench_split_sentences.py [--model NAME_OR_DIR]
"""

from __future__ import annotations

import argparse
import io
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _machine import cpu_description
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skelmo import ElmoVectorizer, split_sentences
from skelmo.datasets import PackageSource, fetch_movie_reviews, fetch_package

VADER = PackageSource(registry="pypi", package="vaderSentiment", version="3.3.2",
                      filename="vaderSentiment-3.3.2.tar.gz",
                      sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9")


def tweets() -> tuple[list[str], np.ndarray]:
    """The VADER tweets with a non-zero mean rating, and the rating's sign."""
    with tempfile.TemporaryDirectory() as tmp:
        archive, _ = fetch_package(VADER, Path(tmp))
        with tarfile.open(archive) as outer:
            member = next(m for m in outer.getmembers()
                          if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
            inner_bytes = outer.extractfile(member).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        member = next(m for m in inner.getmembers() if m.name.endswith("tweets_GroundTruth.txt"))
        lines = inner.extractfile(member).read().decode("utf-8", "replace").splitlines()
    rows = [line.split("\t", 2) for line in lines if line.strip()]
    rows = [(text, float(score)) for _, score, text in rows if float(score) != 0]
    return [text for text, _ in rows], np.array([score > 0 for _, score in rows], dtype=int)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or directory (default: the bundled one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {cpu_description()}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; model "
          f"{args.model or 'skelmo-en-small'}")
    reviews = fetch_movie_reviews()
    tasks = {"movie-review polarity": (reviews.data, reviews.target), "tweets": tweets()}
    folds = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    print(f"{'task':22s} {'documents':>9s} {'several sentences':>17s} {'split':>5s} "
          f"{'accuracy':>15s} {'seconds':>7s}")
    for name, (texts, target) in tasks.items():
        several = sum(len(split_sentences(text)) > 1 for text in texts)
        for split in (False, True):
            pipeline = make_pipeline(ElmoVectorizer(model=args.model, split_sentences=split,
                                                    progress=False),
                                     LogisticRegression(max_iter=2000))
            started = time.perf_counter()
            scores = cross_val_score(pipeline, texts, target, cv=folds)
            print(f"{name:22s} {len(texts):>9,} {several:>17,} {split!s:>5s} "
                  f"{scores.mean():>8.4f} ± {scores.std():.3f} "
                  f"{time.perf_counter() - started:>7.0f}", flush=True)


if __name__ == "__main__":
    main()
