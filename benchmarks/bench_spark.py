#!/usr/bin/env python
"""Documents/second of skelmo.spark on a local Spark session with 1 and 2 task slots.

Runs the "Scaling out" Spark recipe end to end: a Parquet file of text is
read, embedded with ``ElmoVectorizer`` through :func:`skelmo.spark.transform`
and written back to Parquet, on ``local[1]``, then ``local[2]`` (a fresh
session each, one torch thread per Python worker). It prints, for each:

* the warm-up: a first small job, in which each Python worker imports torch
  and skelmo and loads the model (what the first task of a worker pays);
* documents/second of the timed job (read, repartition, embed, write; the
  median of ``--repeats`` runs in the same session, so that the JVM has
  warmed up), and the ratio to ``local[1]``;
* the peak resident memory (VmHWM, the process's whole life) of each Python
  worker that holds the model, reported by the workers themselves through a
  small ``mapInPandas`` after the job.

One baseline without Spark: one ``transform`` of every document in this
process with one torch thread; its output checks the written files (bitwise).
The workload is seeded synthetic text (pseudo-words from a Zipf law,
lognormal lengths of mean about 23 tokens).

Usage::

    python benchmarks/bench_spark.py                     # 400 documents, bundled model
    python benchmarks/bench_spark.py --documents 2000 --partitions 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]  # the working tree's skelmo, then _machine

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from _machine import cpu_description  # noqa: E402
from _workload import make_documents  # noqa: E402

from skelmo import ElmoVectorizer  # noqa: E402


def worker_memory(batches):
    """Run in the Python workers: pid, peak RSS and whether this process holds a model."""
    import resource

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak_kb = int(line.split()[1])
    except OSError:
        pass
    loaded = "skelmo._engine._cache" in sys.modules  # the model cache: imported on first use
    for _ in batches:
        pass
    yield pd.DataFrame({"pid": [os.getpid()], "peak_mb": [peak_kb / 1024],
                        "skelmo": [loaded]})


def session(slots: int):
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master(f"local[{slots}]").appName(f"bench-spark-{slots}")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.executorEnv.OMP_NUM_THREADS", "1")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def run(slots: int, texts_dir: str, out_dir: str, model: str | None, partitions: int,
        n_documents: int, repeats: int) -> dict:
    import skelmo.spark

    spark = session(slots)
    try:
        estimator = ElmoVectorizer(model=model, cache=False)
        start = time.perf_counter()
        warm = spark.createDataFrame(pd.DataFrame({"text": ["a warm up ."] * (4 * slots)}))
        skelmo.spark.transform(warm.repartition(slots), estimator, "text").collect()
        warm_up = time.perf_counter() - start

        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            documents = spark.read.parquet(texts_dir).repartition(partitions, "id")
            skelmo.spark.transform(documents, estimator, "text", output_col="vector") \
                .write.mode("overwrite").parquet(out_dir)
            times.append(time.perf_counter() - start)
        seconds = statistics.median(times)

        probe = spark.range(0, 8 * slots, numPartitions=8 * slots)
        memory = probe.mapInPandas(worker_memory, "pid long, peak_mb double, skelmo boolean") \
            .collect()
    finally:
        spark.stop()
    workers = {row["pid"]: row["peak_mb"] for row in memory if row["skelmo"]}
    return {"slots": slots, "warm_up": warm_up, "seconds": seconds, "times": times,
            "rate": n_documents / seconds, "workers": workers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=400)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--model", default=None, help="model (default: the bundled one)")
    parser.add_argument("--repeats", type=int, default=3, help="timed jobs per session")
    args = parser.parse_args()

    print(cpu_description())
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import pyspark

    texts = make_documents(args.documents)
    tokens = sum(len(text.split()) for text in texts)
    print(f"PySpark {pyspark.__version__}, torch {torch.__version__}; "
          f"{args.documents} documents, {tokens} tokens, {args.partitions} partitions, "
          f"model {args.model or 'bundled'}, load average {os.getloadavg()[0]:.1f}")

    torch.set_num_threads(1)
    start = time.perf_counter()
    expected = ElmoVectorizer(model=args.model, cache=False).transform(texts)
    baseline = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        texts_dir = str(Path(tmp) / "texts")
        os.mkdir(texts_dir)
        pd.DataFrame({"id": np.arange(len(texts)), "text": texts}).to_parquet(
            Path(texts_dir) / "part-0.parquet")
        results = []
        for slots in (1, 2):
            out_dir = str(Path(tmp) / f"vectors-{slots}")
            results.append(run(slots, texts_dir, out_dir, args.model, args.partitions,
                               len(texts), args.repeats))
            written = pd.read_parquet(out_dir).sort_values("id")
            got = np.array(written["vector"].tolist(), dtype=np.float32)
            assert np.array_equal(got, expected), "Spark's vectors differ from transform's"
            times = ", ".join(f"{t:.2f}" for t in results[-1]["times"])
            print(f"  local[{slots}]: jobs took {times} s; the written vectors equal the "
                  f"single-process transform (load average {os.getloadavg()[0]:.1f})")

    print()
    print("| | documents/s | seconds (median) | warm-up "
          "| peak RSS per Python worker with the model |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| one process, one `transform` | {len(texts) / baseline:.1f} | {baseline:.1f} "
          "| | |")
    for result in results:
        ratio = result["rate"] / results[0]["rate"]
        memory = ", ".join(f"{mb:,.0f} MB" for mb in sorted(result["workers"].values()))
        print(f"| `local[{result['slots']}]` | {result['rate']:.1f} ({ratio:.2f}×) "
              f"| {result['seconds']:.1f} | {result['warm_up']:.1f} s | {memory or '?'} |")


if __name__ == "__main__":
    main()
