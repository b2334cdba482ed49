"""Peak memory of ElmoVectorizer.transform on many short documents.

Embeds N short synthetic documents (about 8 tokens each) with a random
model of output width 512 and prints, for several N, the growth of the peak
resident memory during ``transform`` next to the size of the output array,
with the activation cache off and on. Each measurement runs in a fresh
process, so memory kept by an earlier run cannot hide a later one's.

Usage: python benchmarks/bench_memory.py [--documents 25000 50000 100000]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import random
import tempfile
import time
from pathlib import Path

import skelmo
from skelmo import ElmoVectorizer
from skelmo.testing import make_random_model

MB = 1 << 20


def vm_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def documents(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(5000)]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(4, 12))) for _ in range(n)]


def measure(model: tuple[Path, Path], n: int, cache: bool, batch_size: int) -> tuple:
    """In a fresh process: (output MB, peak growth MB, cache MB, seconds)."""
    vectorizer = ElmoVectorizer(model=model, batch_size=batch_size, device="cpu",
                                progress=False, cache=cache)
    vectorizer.transform(["warm up"])  # model load and warm state are not counted
    docs = documents(n)
    gc.collect()
    reset_peak()
    before = vm_kb("VmRSS")
    start = time.perf_counter()
    out = vectorizer.transform(docs)
    seconds = time.perf_counter() - start
    growth = (vm_kb("VmHWM") - before) / 1024
    return out.nbytes / MB, growth, skelmo.activation_cache.nbytes / MB, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        model = make_random_model(tmp, seed=0, projection_dim=256, cell_dim=512)
        print(f"model: projection 256 (output width 512), cell 512; batch size {args.batch_size}")
        print("peak growth: peak resident memory during transform minus resident memory before")
        print(f"{'documents':>10} {'cache':>6} {'output MB':>10} {'peak growth MB':>15} "
              f"{'cache MB':>9} {'seconds':>8}")
        for n in args.documents:
            for cache in (False, True):
                with context.Pool(1) as pool:
                    out_mb, growth, cache_mb, seconds = pool.apply(
                        measure, (model, n, cache, args.batch_size))
                print(f"{n:>10,} {cache!s:>6} {out_mb:>10.0f} {growth:>15.0f} "
                      f"{cache_mb:>9.0f} {seconds:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
