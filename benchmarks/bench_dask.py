#!/usr/bin/env python
"""Documents/second of skelmo.dask on a local Dask cluster of 1 and 2 workers.

Runs the "Scaling out" recipe end to end: Parquet files of text are read,
embedded with ``ElmoVectorizer`` through :func:`skelmo.dask.transform` and
written back to Parquet, on a ``dask.distributed.LocalCluster`` of one, then
two, single-threaded worker processes (one torch thread each), in the same
run. It prints, for each cluster size:

* the one-off cost on each worker of loading the model and deriving its warm
  state (done before the timed job, as the first task on a worker would);
* documents/second of the job (read, probe, embed, write), and the speed-up
  over one worker;
* the peak resident memory of every worker process (VmHWM, its whole life:
  imports, model, activations, Dask's buffers);
* the CPU time each worker process used during the job, and the client
  process's (which also runs the scheduler of a LocalCluster): on a machine
  whose cores are busy with other work, workers get less than a core each,
  and CPU seconds per document show the cost that does not depend on it.

Two single-process baselines without Dask, with one torch thread: one
``transform`` of every document, and one per partition (what the workers do,
minus Dask). Each call to ``transform`` runs the character encoder once per
distinct word of that call, so many small partitions cost more than one large
call; the second baseline separates that effect from Dask's overhead. The
first baseline's output checks the written files (bitwise).

The machine's load average is printed around each phase: on a shared machine
the figures move with the neighbours' load.

Usage::

    python benchmarks/bench_dask.py                    # published "small" architecture
    python benchmarks/bench_dask.py --arch original    # the original ELMo (slower)
    python benchmarks/bench_dask.py --no-malloc-trim   # workers with glibc's malloc defaults
    python benchmarks/bench_dask.py --documents 200 --arch tiny   # smoke test
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

# Benchmark the working tree's skelmo, and find the shared workload next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
from _workload import make_documents

_FILTERS = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024))
ARCHITECTURES = {
    # elmo_2x1024_128_2048cnn_1xhighway
    "small": {"char_dim": 16, "filters": _FILTERS, "n_highway": 1, "projection_dim": 128,
              "cell_dim": 1024},
    # elmo_2x4096_512_2048cnn_2xhighway
    "original": {"char_dim": 16, "filters": _FILTERS, "n_highway": 2, "projection_dim": 512,
                 "cell_dim": 4096},
    "tiny": {},  # skelmo.testing's default test model
}


# ------------------------------------------------------------------ workload
def _write_model(directory: str, arch: str) -> None:
    from skelmo.testing import make_random_model

    make_random_model(directory, seed=0, **ARCHITECTURES[arch])


# ------------------------------------------------------------- on the workers
def _worker_warm_up(model_dir: str) -> dict[str, float]:
    """Import what the job needs, load the model and derive its warm state.

    All one-off costs of a worker's first task, kept out of the timed job.
    """
    import dask.dataframe  # noqa: F401  (reading and writing Parquet)
    import pyarrow.parquet  # noqa: F401
    import torch

    from skelmo import ElmoVectorizer

    torch.set_num_threads(1)
    start = time.perf_counter()
    ElmoVectorizer(model=model_dir, cache=False, progress=False).transform(["warm up"])
    return {"seconds": time.perf_counter() - start, "rss_mb": _status_mb("VmRSS"),
            "cpu": _cpu_seconds()}


def _worker_after() -> dict[str, float]:
    return {"peak_mb": _status_mb("VmHWM"), "cpu": _cpu_seconds()}


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process so far."""
    times = os.times()
    return times.user + times.system


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ----------------------------------------------------------------------- runs
def baseline(model_dir: str, documents: list[str],
             partitions: int) -> tuple[float, float, np.ndarray]:
    """Single process, one torch thread: (seconds whole, seconds by partition, vectors)."""
    import torch

    from skelmo import ElmoVectorizer
    from skelmo.dask._tasks import embed_partition

    torch.set_num_threads(1)
    vectorizer = ElmoVectorizer(model=model_dir, cache=False, progress=False)
    vectorizer.transform(["warm up"])
    start = time.perf_counter()
    vectors = vectorizer.transform(documents)
    whole = time.perf_counter() - start
    start = time.perf_counter()
    for number, part in enumerate(np.array_split(np.array(documents, dtype=object),
                                                 partitions)):
        embed_partition(vectorizer, part.tolist(), number)
    return whole, time.perf_counter() - start, vectors


def on_cluster(n_workers: int, model_dir: str, source: str, target: str,
               malloc_trim: bool) -> dict:
    """Run the recipe on a fresh LocalCluster; return its figures."""
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from skelmo import ElmoVectorizer
    from skelmo.dask import transform

    settings = {}
    if not malloc_trim:
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 (and puts it in this
        # process's environment too); None leaves glibc's default.
        os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        settings["distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"] = None
    with dask.config.set(settings), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        warm = client.run(_worker_warm_up, model_dir)
        load_before = os.getloadavg()[0]
        client_cpu = _cpu_seconds()
        start = time.perf_counter()
        texts = dd.read_parquet(source, index="doc_id")["text"]
        vectors = transform(ElmoVectorizer(model=model_dir, cache=False, progress=False),
                            texts, as_frame=True)
        vectors.to_parquet(target)
        seconds = time.perf_counter() - start
        client_cpu = _cpu_seconds() - client_cpu
        after = client.run(_worker_after)
    cpu = [after[w]["cpu"] - warm[w]["cpu"] for w in warm]
    return {"seconds": seconds, "warm": list(warm.values()),
            "peaks": [after[w]["peak_mb"] for w in warm], "cpu": cpu, "client_cpu": client_cpu,
            "load": (load_before, os.getloadavg()[0])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="small")
    parser.add_argument("--documents", type=int, default=1200)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-malloc-trim", action="store_true",
                        help="start workers without Dask's MALLOC_TRIM_THRESHOLD_=65536")
    args = parser.parse_args(argv)

    import dask.dataframe as dd
    import torch

    print(f"python {sys.version.split()[0]}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = str(Path(tmp) / "model")
        writer = multiprocessing.get_context("spawn").Process(
            target=_write_model, args=(model_dir, args.arch))
        writer.start()
        writer.join()
        documents = make_documents(args.documents)
        source = str(Path(tmp) / "texts")
        frame = pd.DataFrame({"doc_id": np.arange(len(documents)), "text": documents})
        dd.from_pandas(frame, npartitions=args.partitions).to_parquet(source, write_index=False)
        n_tokens = sum(len(d.split()) for d in documents)
        print(f"model: random, '{args.arch}' architecture; {len(documents)} documents, "
              f"{n_tokens} tokens (mean {n_tokens / len(documents):.1f}), "
              f"{args.partitions} Parquet partitions")
        trim = "unset" if args.no_malloc_trim else "65536 (Dask's default)"
        print(f"workers: single-threaded processes, MALLOC_TRIM_THRESHOLD_ {trim}")

        whole, by_partition, expected = baseline(model_dir, documents, args.partitions)
        print("\nsingle process, no Dask, 1 torch thread:")
        print(f"  one transform of every document   {len(documents) / whole:8.1f} documents/s "
              f"({whole:.1f} s)")
        print(f"  one transform per partition       {len(documents) / by_partition:8.1f} "
              f"documents/s ({by_partition:.1f} s)")

        print(f"\n{'workers':>7} {'documents/s':>12} {'speed-up':>9} {'seconds':>8} "
              f"{'warm-up per worker':>19} {'peak RSS per worker':>20} "
              f"{'CPU s per worker':>17} {'client CPU s':>12} {'doc/CPU-s':>9} "
              f"{'load avg':>11}")
        first = None
        for n_workers in args.workers:
            target = str(Path(tmp) / f"vectors-{n_workers}")
            result = on_cluster(n_workers, model_dir, source, target,
                                malloc_trim=not args.no_malloc_trim)
            written = pd.read_parquet(target).sort_index()  # files come in name order
            if not (written.index.tolist() == list(range(len(documents)))
                    and np.array_equal(written.to_numpy(), expected)):
                raise SystemExit(f"{n_workers} workers: the written vectors differ from the "
                                 "single-process transform")
            rate = len(documents) / result["seconds"]
            first = first or rate
            warm = ", ".join(f"{w['seconds']:.1f} s" for w in result["warm"])
            peaks = ", ".join(f"{p:,.0f} MB" for p in result["peaks"])
            load = "{:.1f} -> {:.1f}".format(*result["load"])
            cpu = ", ".join(f"{c:.1f}" for c in result["cpu"])
            per_cpu = len(documents) / sum(result["cpu"])
            print(f"{n_workers:>7} {rate:>12.1f} {rate / first:>8.2f}x {result['seconds']:>8.1f} "
                  f"{warm:>19} {peaks:>20} {cpu:>17} {result['client_cpu']:>12.1f} "
                  f"{per_cpu:>9.1f} {load:>11}")
        print("\nwarm-up: imports, model load and warm-state derivation on each worker, before "
              "the timed job.")
        print("\nThe written vectors equal the single-process transform bitwise.")


if __name__ == "__main__":
    main()
