"""What the persistent cache (``memory=``) and the per-model word cache save.

1. Persistent cache: one process embeds N movie-review snippets with
   ``ElmoVectorizer(memory=DIR)``; a second, fresh process embeds the same
   snippets with the same ``memory`` and reads every result from disk. Each
   prints its ``transform`` time (model loading excluded) and the number of
   biLM forward passes it ran.
2. Word cache: many small ``transform`` calls (``--calls`` calls of
   ``--per-call`` snippets, the activation cache off), with the word-vector
   cache that each loaded model keeps across calls, and with it turned off
   (``max_bytes = 0``): the character CNN then runs on every word of every call.

Usage: python benchmarks/bench_caches.py [--model DIR] [--documents 2000]
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time

import torch
from _machine import cpu_description

from skelmo import BiLM, ElmoVectorizer, load_bilm
from skelmo._engine import word_vector_cache
from skelmo.datasets import fetch_movie_reviews
from skelmo.models import resolve_model


def run_with_memory(model: str | None, memory: str, n: int, threads: int) -> tuple[float, int]:
    """In a fresh process: (transform seconds, biLM forward passes)."""
    torch.set_num_threads(threads)
    calls = 0
    original = BiLM.contextualize

    def counting(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        return original(self, *args, **kwargs)

    BiLM.contextualize = counting
    docs = fetch_movie_reviews().data[:n]
    vectorizer = ElmoVectorizer(model=model, memory=memory, cache=False, progress=False)
    ElmoVectorizer(model=model, cache=False).transform(["warm up ."])  # load, warm state
    calls = 0
    started = time.perf_counter()
    vectorizer.transform(docs)
    return time.perf_counter() - started, calls


def small_calls(model: str | None, calls: int, per_call: int, word_cache: bool) -> float:
    docs = fetch_movie_reviews().data
    bilm = load_bilm(*resolve_model(model), device="cpu")
    cache = word_vector_cache(bilm)
    cache.clear()
    cache.max_bytes = cache.max_bytes if word_cache else 0
    vectorizer = ElmoVectorizer(model=model, device="cpu", cache=False, progress=False)
    started = time.perf_counter()
    for k in range(calls):
        vectorizer.transform(docs[k * per_call : (k + 1) * per_call])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="model name or directory (default: the bundled one)")
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--per-call", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"machine: {cpu_description()}")
    print(f"torch {torch.__version__}, {args.threads} threads; model "
          f"{args.model or 'skelmo-en-small'}; movie-review snippets")
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as memory:
        for run in ("first process (computes, writes)", "second process (reads)"):
            with context.Pool(1) as pool:
                seconds, passes = pool.apply(run_with_memory,
                                             (args.model, memory, args.documents, args.threads))
            print(f"memory=DIR, {args.documents:,} documents, {run}: {seconds:.2f} s, "
                  f"{passes} biLM forward passes", flush=True)
    default = word_vector_cache(load_bilm(*resolve_model(args.model), device="cpu")).max_bytes
    timings = {}
    for word_cache in (False, True):
        timings[word_cache] = small_calls(args.model, args.calls, args.per_call, word_cache)
        word_vector_cache(load_bilm(*resolve_model(args.model), device="cpu")).max_bytes = default
        print(f"{args.calls} calls of {args.per_call} documents, word cache "
              f"{'on ' if word_cache else 'off'}: {timings[word_cache]:.2f} s "
              f"({1000 * timings[word_cache] / args.calls:.1f} ms per call)", flush=True)
    print(f"word cache across calls: {timings[False] / timings[True]:.2f}x faster")


if __name__ == "__main__":
    main()
