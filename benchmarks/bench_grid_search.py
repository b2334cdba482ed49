"""What a layer grid search costs on top of embedding the corpus once.

Builds a random model with the published "small" architecture and a seeded
synthetic labelled corpus, then times

1. one ``ElmoVectorizer`` transform of every document (activation cache cleared),
2. ``GridSearchCV(Pipeline([elmo, LogisticRegression]), {"elmo__layer": [0, 1, 2, "mix"]},
   cv=5)`` fitted with the activation cache cleared at the start,
3. the classifier work alone, two ways: the time spent inside the
   LogisticRegression's ``fit``/``predict``/``score`` during that very search
   (used for the ratio, as it shares the search's conditions), and a
   ``GridSearchCV`` of LogisticRegression over precomputed features with the
   same folds (a cross-check),

and prints ``(search - classifier) / transform``: with the activation cache the
search should run the biLM once per distinct document, so this stays close to 1
(the target is at most 1.5). It also prints how many sentences went through the
biLM, counted by a wrapper around ``BiLM.contextualize``.

On a shared machine pass ``--threads 1``: it limits torch and the BLAS
libraries, whose spinning threads otherwise make timings swing by 10x.

Usage: python benchmarks/bench_grid_search.py [--docs 2000] [--threads N]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

import skelmo
from skelmo import BiLM, ElmoVectorizer, activation_cache
from skelmo._engine import warm_state
from skelmo.testing import make_random_model

LAYERS = [0, 1, 2, "mix"]
# The smallest published ELMo architecture (2x1024_128_2048cnn_1xhighway).
ARCHITECTURE = dict(
    char_dim=16,
    filters=((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024)),
    n_highway=1,
    projection_dim=128,
    cell_dim=1024,
)

_TOPICS = {
    0: "market price bank stock trade money profit loss shares fund rate tax".split(),
    1: "team game match goal season coach player score league win cup fans".split(),
    2: "rain storm wind snow cloud sun weather cold heat flood river coast".split(),
}
_COMMON = ("the a of to in and on for with was is at by from said new after "
           "more than this that year week day people city . ,").split()


def make_corpus(n_docs: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Short documents whose label (0, 1, 2) is the topic most of their content words come from."""
    rng = random.Random(seed)
    docs, labels = [], []
    for i in range(n_docs):
        label = i % len(_TOPICS)
        words = [rng.choice(_TOPICS[label]) for _ in range(rng.randint(2, 5))]
        words += [rng.choice(_TOPICS[rng.randrange(len(_TOPICS))])
                  for _ in range(rng.randint(0, 2))]
        words += [rng.choice(_COMMON) for _ in range(rng.randint(2, 8))]
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(label)
    return docs, np.array(labels)


@contextmanager
def count_bilm_sentences() -> Iterator[dict[str, int]]:
    """Count sentences run through any ``BiLM`` inside the block."""
    counter = {"sentences": 0, "calls": 0}
    contextualize = BiLM.contextualize

    def counting_contextualize(self, tokens, *args, **kwargs):
        counter["sentences"] += int(tokens.shape[0])
        counter["calls"] += 1
        return contextualize(self, tokens, *args, **kwargs)

    BiLM.contextualize = counting_contextualize
    try:
        yield counter
    finally:
        BiLM.contextualize = contextualize


class TimedLogisticRegression(LogisticRegression):
    """LogisticRegression adding the time of its fit, predict and score to ``seconds``."""

    seconds = 0.0  # shared by every clone (the search runs with n_jobs=1)

    def fit(self, X, y, sample_weight=None):
        start = time.perf_counter()
        try:
            return super().fit(X, y, sample_weight=sample_weight)
        finally:
            TimedLogisticRegression.seconds += time.perf_counter() - start

    def predict(self, X):
        start = time.perf_counter()
        try:
            return super().predict(X)
        finally:
            TimedLogisticRegression.seconds += time.perf_counter() - start

    def score(self, X, y, sample_weight=None):
        start = time.perf_counter()
        try:
            return super().score(X, y, sample_weight=sample_weight)
        finally:
            TimedLogisticRegression.seconds += time.perf_counter() - start


def precomputed_search_seconds(model_dir: str, docs: list[str], y: np.ndarray, cv) -> float:
    """The search's classifier work on precomputed features: same folds, same refit."""
    total, best_score, best_features = 0.0, -np.inf, None
    for layer in LAYERS:
        features = ElmoVectorizer(model=model_dir, layer=layer).transform(docs)  # from the cache
        start = time.perf_counter()
        scores = cross_validate(LogisticRegression(max_iter=1000), features, y, cv=cv)
        total += time.perf_counter() - start
        if scores["test_score"].mean() > best_score:
            best_score, best_features = scores["test_score"].mean(), features
    start = time.perf_counter()
    LogisticRegression(max_iter=1000).fit(best_features, y)  # GridSearchCV's refit
    return total + time.perf_counter() - start


def main(n_docs: int, threads: int | None) -> None:
    if threads is not None:
        torch.set_num_threads(threads)
    with threadpool_limits(threads) if threads is not None else nullcontext():
        run(n_docs)


def run(n_docs: int) -> None:
    docs, y = make_corpus(n_docs)
    n_distinct = len({tuple(doc.split()) for doc in docs})
    with tempfile.TemporaryDirectory() as model_dir:
        options_file, weight_file = make_random_model(model_dir, seed=0, **ARCHITECTURE)
        start = time.perf_counter()
        warm_state(skelmo.load_bilm(options_file, weight_file, "auto"))
        load = time.perf_counter() - start

        activation_cache.clear()
        with count_bilm_sentences() as transform_runs:
            start = time.perf_counter()
            ElmoVectorizer(model=model_dir).transform(docs)
            transform = time.perf_counter() - start

        activation_cache.clear()
        cv = StratifiedKFold(n_splits=5)
        search = GridSearchCV(
            Pipeline([("elmo", ElmoVectorizer(model=model_dir)),
                      ("clf", TimedLogisticRegression(max_iter=1000))]),
            {"elmo__layer": LAYERS}, cv=cv, n_jobs=1,
        )
        TimedLogisticRegression.seconds = 0.0
        with count_bilm_sentences() as search_runs:
            start = time.perf_counter()
            search.fit(docs, y)
            searched = time.perf_counter() - start
        classifier = TimedLogisticRegression.seconds

        precomputed = precomputed_search_seconds(model_dir, docs, y, cv)

    ratio = (searched - classifier) / transform
    print(f"model: {ARCHITECTURE}, seed 0; torch threads: {torch.get_num_threads()}")
    print(f"documents: {len(docs)} ({n_distinct} distinct), "
          f"tokens: {sum(len(d.split()) for d in docs)}")
    print(f"model load + warm state (once per process): {load:8.2f} s")
    print(f"one transform of all documents:             {transform:8.2f} s "
          f"({transform_runs['sentences']} biLM sentences)")
    print(f"GridSearchCV fit (4 layers x 5 folds+refit): {searched:8.2f} s "
          f"({search_runs['sentences']} biLM sentences in {search_runs['calls']} calls)")
    print(f"  of which LogisticRegression fit/predict:  {classifier:8.2f} s")
    print(f"  the rest (ELMo, cache, sklearn):          {searched - classifier:8.2f} s")
    print(f"classifier search on precomputed features:  {precomputed:8.2f} s (cross-check)")
    print(f"(search - classifier) / transform:          {ratio:8.2f} (target <= 1.5)")
    print(f"best params: {search.best_params_}, "
          f"mean test scores: {np.round(search.cv_results_['mean_test_score'], 3).tolist()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000, help="number of documents")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    main(args.docs, args.threads)
