#!/usr/bin/env python
"""Throughput benchmark of skelmo's biLM on the published "original" ELMo architecture.

Builds a random model with the architecture of the published "original" ELMo
(about 370 MB of weights) in a temporary directory, a seeded synthetic
workload of tokenized sentences, and prints:

* model load time (``BiLM.from_files``) and the one-off warm-state derivation;
* tokens/second of ``ElmoEmbedder(state="warm").iter_batches`` over the workload;
* this machine's float32 matmul rate (torch.mm, 2048 x 2048) and the model's
  achieved FLOP/s (nominal, analytic FLOP count) as a share of it;
* resident memory (peak and current);
* a same-run comparison with a straightforward reference-style implementation
  (``benchmarks/_baseline_bilm.py``) on a subset of the workload, both from the
  zero state: tokens/second of each, their ratio, and the largest absolute
  difference between their outputs.

Usage::

    python benchmarks/bench_bilm.py            # full benchmark (a few minutes)
    python benchmarks/bench_bilm.py --small    # smoke test on a tiny architecture
    python benchmarks/bench_bilm.py --profile  # also profile one skelmo batch
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Benchmark the working tree's skelmo, and find the baseline next to this file.
sys.path[:0] = [str(_HERE.parent), str(_HERE)]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _machine import cpu_description  # noqa: E402

import skelmo  # noqa: E402
from skelmo import BiLM, ElmoEmbedder  # noqa: E402
from skelmo._engine import warm_state  # noqa: E402
from skelmo._format import MAX_CHARACTERS  # noqa: E402
from skelmo.testing import make_options, make_random_model  # noqa: E402

# The published "original" ELMo (elmo_2x4096_512_2048cnn_2xhighway).
ORIGINAL = dict(
    char_dim=16,
    filters=[[1, 32], [2, 32], [3, 64], [4, 128], [5, 256], [6, 512], [7, 1024]],
    n_highway=2,
    activation="relu",
    projection_dim=512,
    cell_dim=4096,
    n_layers=2,
    cell_clip=3.0,
    proj_clip=3.0,
    use_skip_connections=True,
)
# A tiny architecture of the same shape, to smoke-test this script quickly.
SMALL = dict(ORIGINAL, filters=[[1, 32], [2, 32], [3, 64]], projection_dim=64, cell_dim=256)

WIDTH = 46  # label column of the report


# --------------------------------------------------------------------- memory
def rss_mb() -> float:
    """Current resident set size (VmRSS) in MB."""
    return _proc_status_kb("VmRSS") / 1024.0


def hwm_mb() -> float:
    """Peak resident set size since the last reset (VmHWM) in MB."""
    return _proc_status_kb("VmHWM") / 1024.0


def _proc_status_kb(key: str) -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


_LIFE_PEAK_MB = 0.0  # whole-run peak RSS, kept across VmHWM resets


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0) to measure one phase's peak.

    The reset also resets the counter behind getrusage's ru_maxrss, so the
    peak so far is saved first and :func:`maxrss_mb` folds it back in.
    Returns False where the reset is not allowed.
    """
    global _LIFE_PEAK_MB
    _LIFE_PEAK_MB = max(_LIFE_PEAK_MB, maxrss_mb())
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _raw_maxrss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def maxrss_mb() -> float:
    """Peak RSS of the process over the whole run (getrusage ru_maxrss) in MB.

    ru_maxrss itself restarts from the current RSS when VmHWM is reset (see
    :func:`reset_hwm`); the peaks seen before each reset are included.
    """
    return max(_LIFE_PEAK_MB, _raw_maxrss_mb())


# ------------------------------------------------------------ CPU contention
class CpuMonitor:
    """CPU time used by *other* processes while a phase runs, in cores.

    The machine's busy time (/proc/stat) minus this process's own CPU time
    (/proc/self/stat), divided by the wall time. Other work on a small machine
    (a test run, say) slows every figure here, badly so for OpenMP kernels whose
    threads wait for each other, so each timed phase reports it.
    """

    def __init__(self):
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start = self._sample()

    @staticmethod
    def _busy_jiffies() -> int:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal [guest guest_nice]
        return sum(fields[:8]) - fields[3] - fields[4]

    @staticmethod
    def _own_jiffies() -> int:
        with open("/proc/self/stat") as f:
            stat = f.read()
        fields = stat[stat.rindex(")") + 2 :].split()
        return int(fields[11]) + int(fields[12])  # utime, stime

    def _sample(self):
        try:
            return time.perf_counter(), self._busy_jiffies(), self._own_jiffies()
        except (OSError, ValueError, IndexError):
            return None

    def other_cores(self) -> float:
        """Average number of cores other processes kept busy since creation."""
        end = self._sample()
        if self._start is None or end is None:
            return float("nan")
        wall = end[0] - self._start[0]
        other = (end[1] - self._start[1]) - (end[2] - self._start[2])
        return max(0.0, other / self._tick / wall) if wall > 0 else float("nan")


def contention_note(monitor: CpuMonitor, warnings: list[str], phase: str) -> str:
    cores = monitor.other_cores()
    if cores == cores and cores > 0.15:  # not NaN, and more than noise
        warnings.append(f"{phase}: other processes used {cores:.2f} cores meanwhile")
        return f"  [other processes: {cores:.2f} cores]"
    return ""


# ------------------------------------------------------------------- workload
def make_workload(n_sentences: int, seed: int, vocab_size: int = 50_000,
                  zipf_s: float = 1.07, mean_length: float = 23.0,
                  sigma: float = 0.6, max_length: int = 80) -> list[list[str]]:
    """Seeded synthetic sentences: lognormal lengths, Zipf-distributed pseudo-words."""
    rng = np.random.default_rng(seed)
    # Distinct pseudo-words: lowercase strings of 2-12 letters.
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab: list[str] = []
    seen: set[str] = set()
    while len(vocab) < vocab_size:
        length = int(rng.integers(2, 13))
        word = "".join(rng.choice(letters, size=length))
        if word not in seen:
            seen.add(word)
            vocab.append(word)
    ranks = np.arange(1, vocab_size + 1, dtype=np.float64)
    probs = ranks ** -zipf_s
    probs /= probs.sum()
    # Lognormal lengths with the requested mean, clipped to [1, max_length].
    mu = np.log(mean_length) - sigma ** 2 / 2
    lengths = np.clip(np.rint(rng.lognormal(mu, sigma, size=n_sentences)), 1, max_length)
    lengths = lengths.astype(int)
    words = rng.choice(vocab_size, size=int(lengths.sum()), p=probs)
    sentences, start = [], 0
    for n in lengths:
        sentences.append([vocab[k] for k in words[start : start + n]])
        start += n
    return sentences


def workload_stats(sentences: list[list[str]]) -> dict:
    lengths = np.array([len(s) for s in sentences])
    return dict(sentences=len(sentences), tokens=int(lengths.sum()),
                mean=float(lengths.mean()), median=float(np.median(lengths)),
                max=int(lengths.max()), min=int(lengths.min()),
                distinct=len({w for s in sentences for w in s}))


# ---------------------------------------------------------------------- FLOPs
def flops_per_token(options) -> dict[str, float]:
    """Nominal FLOPs (2 per multiply-add) of one token position, by stage."""
    n_filters = sum(n for _, n in options.filters)
    char_cnn = sum(2 * w * options.char_dim * n * (MAX_CHARACTERS - w + 1)
                   for w, n in options.filters)
    # Per highway layer: transform and carry products, each F x F.
    highway = options.n_highway * 2 * (2 * n_filters * n_filters)
    projection = 2 * n_filters * options.projection_dim if options.uses_projection else 0
    p, c = options.projection_dim, options.cell_dim
    lstm = 2 * options.n_layers * (2 * (2 * p) * (4 * c) + 2 * c * p)
    return dict(char_cnn=char_cnn, highway=highway, projection=projection,
                encoder=char_cnn + highway + projection, lstm=lstm)


def nominal_flops(options, lengths) -> float:
    """Character encoder over the real tokens, LSTM over T + 2 positions per sentence."""
    per = flops_per_token(options)
    tokens = float(sum(lengths))
    return per["encoder"] * tokens + per["lstm"] * (tokens + 2 * len(lengths))


# --------------------------------------------------------------------- matmul
def matmul_gflops(size: int = 2048, warmup: int = 3, repeats: int = 10) -> float:
    """Best float32 torch.mm rate in GFLOP/s."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=gen)
    b = torch.randn(size, size, generator=gen)
    out = torch.empty(size, size)
    for _ in range(warmup):
        torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2.0 * size ** 3 / best / 1e9


# ------------------------------------------------------------------ model I/O
def _write_model(directory: str, seed: int, arch: dict) -> None:
    make_random_model(directory, seed=seed, options=make_options(**arch))


def write_model_in_child(directory: str, seed: int, arch: dict) -> float:
    """Write the random model from a child process so that the writer's memory
    (float64 draws of every weight) stays out of this process's peak RSS."""
    start = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_write_model, args=(directory, seed, arch), daemon=True)
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise RuntimeError(f"writing the random model failed (exit code {proc.exitcode}).")
    return time.perf_counter() - start


# ------------------------------------------------------------------ reporting
def line(label: str, value: str) -> None:
    print(f"  {label:<{WIDTH}} {value}", flush=True)


def section(title: str) -> None:
    print(f"\n== {title} " + "=" * max(0, 70 - len(title)), flush=True)


def fmt_mb(mb: float) -> str:
    return f"{mb:,.0f} MB"


# ----------------------------------------------------------------- skelmo runs
def run_skelmo(bilm, sentences, batch_size: int, state: str, keep: bool = False):
    """Consume ``iter_batches`` fully; return (seconds, batches or None)."""
    embedder = ElmoEmbedder(bilm, batch_size=batch_size, state=state)
    kept = [] if keep else None
    start = time.perf_counter()
    for batch in embedder.iter_batches(sentences):
        if kept is not None:
            kept.append(batch)
    return time.perf_counter() - start, kept


def run_baseline(baseline, sentences, batch_size: int):
    """Input-order batches of ``batch_size`` (as the reference embedder does)."""
    outputs = []
    start = time.perf_counter()
    for first in range(0, len(sentences), batch_size):
        layers, lengths = baseline(sentences[first : first + batch_size])
        outputs.append((first, layers, lengths))
    return time.perf_counter() - start, outputs


def max_abs_difference(skelmo_batches, baseline_outputs) -> tuple[float, int]:
    """Largest |skelmo - baseline| over all layers and real tokens; tokens compared."""
    reference = {}
    for first, layers, lengths in baseline_outputs:
        for row, n in enumerate(lengths):
            reference[first + row] = layers[:, row, :n]
    worst, compared = 0.0, 0
    for batch in skelmo_batches:
        lengths = batch.mask.sum(dim=1).tolist()
        for row, (index, n) in enumerate(zip(batch.indices, lengths)):
            ours = batch.layers[:, row, :n]
            theirs = reference[index]
            if ours.shape != theirs.shape:
                raise AssertionError(f"sentence {index}: shapes {tuple(ours.shape)} "
                                     f"and {tuple(theirs.shape)} differ")
            worst = max(worst, float((ours - theirs).abs().max()) if n else 0.0)
            compared += n
    return worst, compared


def count_encoded_rows(bilm) -> dict[str, int]:
    """Count the rows skelmo runs through the character encoder from now on."""
    counter = {"rows": 0}
    encode = bilm.encode_distinct

    def counting(char_ids):
        counter["rows"] += int(char_ids.shape[0])
        return encode(char_ids)

    bilm.encode_distinct = counting
    return counter


# -------------------------------------------------------------------- profile
def profile_one_batch(bilm, sentences, batch_size: int) -> None:
    """Profile one batch: stage times via module hooks, then torch.profiler's top ops."""
    from torch.profiler import ProfilerActivity, profile

    batch = sentences[:batch_size]
    embedder = ElmoEmbedder(bilm, batch_size=batch_size, state="warm")
    list(embedder.iter_batches(batch))  # warm up

    stage_time: dict[str, float] = {}
    starts: dict[str, float] = {}
    handles = []
    for name, module in (("char encoder (CNN+highway+proj)", bilm.char_encoder),
                         ("LSTM stack", bilm.lstm)):
        def pre(_m, _i, name=name):
            starts[name] = time.perf_counter()

        def post(_m, _i, _o, name=name):
            stage_time[name] = stage_time.get(name, 0.0) + time.perf_counter() - starts[name]
        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    start = time.perf_counter()
    list(embedder.iter_batches(batch))
    total = time.perf_counter() - start
    for h in handles:
        h.remove()

    n_tokens = sum(len(s) for s in batch)
    section(f"Profile of one skelmo batch ({len(batch)} sentences, {n_tokens} tokens)")
    line("batch total", f"{total:.3f} s")
    for name, seconds in stage_time.items():
        line(name, f"{seconds:.3f} s ({100 * seconds / total:.1f}%)")
    rest = total - sum(stage_time.values())
    line("everything else (ids, unique, glue)", f"{rest:.3f} s ({100 * rest / total:.1f}%)")

    with profile(activities=[ProfilerActivity.CPU], record_shapes=False) as prof:
        list(embedder.iter_batches(batch))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


# ----------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=1000,
                        help="sentences in the workload (default: 1000)")
    parser.add_argument("--baseline-sentences", type=int, default=256,
                        help="first sentences of the workload used for the baseline "
                             "comparison (default: 100)")
    parser.add_argument("--batch-size", type=int, default=64, help="default: 64")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads (default: torch's default)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights and the workload (default: 0)")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="do not run the reference-style baseline")
    parser.add_argument("--small", action="store_true",
                        help="tiny architecture (projection 64, cell 256, 3 filters): smoke test")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one skelmo batch (stage times, top torch ops)")
    args = parser.parse_args(argv)
    if args.sentences < 1 or args.batch_size < 1 or args.baseline_sentences < 0:
        parser.error("--sentences and --batch-size must be positive, "
                     "--baseline-sentences non-negative.")
    return args


def print_contention(warnings: list[str], heading: str) -> None:
    """The closing verdict: each timed phase another process disturbed, or that none did."""
    if warnings:
        print(f"\n  WARNING: {heading}")
        for warning in warnings:
            print(f"    - {warning}")
    else:
        print("\n  Machine quiet during every timed phase (other processes < 0.15 cores).")


def describe_model(options, weight_file: Path, write_seconds: float) -> None:
    """Print the architecture and the size of the weights file."""
    line("architecture", f"char_dim {options.char_dim}, {len(options.filters)} filters "
                         f"({options.n_filters} channels), {options.n_highway} highway")
    line("", f"projection {options.projection_dim}, cell {options.cell_dim}, "
             f"{options.n_layers} layers x 2 directions, clips "
             f"{options.cell_clip}/{options.proj_clip}, skip {options.use_skip_connections}")
    line("weights file", f"{weight_file.stat().st_size / 1e6:,.1f} MB "
                         f"(written in {write_seconds:.1f} s by a child process)")


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    arch = SMALL if args.small else ORIGINAL
    options = make_options(**arch)
    results: dict[str, str] = {}
    warnings: list[str] = []

    section("Environment")
    line("python / torch / numpy", f"{platform.python_version()} / {torch.__version__} / "
                                   f"{np.__version__}")
    line("skelmo", f"{skelmo.__version__} ({Path(skelmo.__file__).parent})")
    line("CPU", cpu_description())
    line("torch threads (intra-op)", str(torch.get_num_threads()))
    line("RSS at start", fmt_mb(rss_mb()))

    # Turn SIGTERM / SIGHUP into SystemExit so that the finally clause below
    # removes the ~370 MB temporary model when the run is killed.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    tmp = tempfile.mkdtemp(prefix="skelmo-bench-")
    try:
        section("Model" + (" (--small)" if args.small else ' (published "original" shape)'))
        write_s = write_model_in_child(tmp, args.seed, arch)
        options_file, weight_file = Path(tmp, "options.json"), Path(tmp, "weights.hdf5")
        describe_model(options, weight_file, write_s)

        sentences = make_workload(args.sentences, args.seed)
        stats = workload_stats(sentences)
        section("Workload (seeded, synthetic)")
        line("sentences", f"{stats['sentences']:,}")
        line("tokens", f"{stats['tokens']:,}")
        line("length mean / median / min / max",
             f"{stats['mean']:.1f} / {stats['median']:.0f} / {stats['min']} / {stats['max']}")
        line("distinct words", f"{stats['distinct']:,} (Zipf over 50,000 pseudo-words)")

        section("Matmul rate of this machine (float32 torch.mm 2048x2048, best of 10)")
        monitor = CpuMonitor()
        peak_gflops = matmul_gflops()
        line("GFLOP/s", f"{peak_gflops:,.1f}"
             + contention_note(monitor, warnings, "matmul rate"))

        # ---- load
        section("skelmo")
        rss_before_load = rss_mb()
        reset_ok = reset_hwm()
        monitor = CpuMonitor()
        start = time.perf_counter()
        bilm = BiLM.from_files(options_file, weight_file)
        load_s = time.perf_counter() - start
        load_note = contention_note(monitor, warnings, "model load")
        rss_after_load = rss_mb()
        n_params = sum(p.numel() for p in bilm.parameters())
        line("parameters", f"{n_params:,} ({n_params * 4 / 1e6:,.1f} MB float32)")
        line("BiLM.from_files (file in page cache)", f"{load_s:.2f} s{load_note}")
        line("RSS before / after load", f"{fmt_mb(rss_before_load)} / {fmt_mb(rss_after_load)}")
        if reset_ok:
            line("peak RSS during load (VmHWM)", fmt_mb(hwm_mb()))

        # ---- warm state (also warms up every kernel)
        monitor = CpuMonitor()
        start = time.perf_counter()
        warm_state(bilm)
        warm_s = time.perf_counter() - start
        line("warm-state derivation (one-off)",
             f"{warm_s:.2f} s" + contention_note(monitor, warnings, "warm-state derivation"))

        # ---- full workload, warm state
        rss_before_run = rss_mb()
        reset_ok = reset_hwm()
        monitor = CpuMonitor()
        encoded = count_encoded_rows(bilm)
        run_s, _ = run_skelmo(bilm, sentences, args.batch_size, "warm")
        del bilm.encode_distinct  # back to the class's method
        run_note = contention_note(monitor, warnings, "skelmo full run")
        rss_after_run = rss_mb()
        tok_s = stats["tokens"] / run_s
        flops = nominal_flops(options, [len(s) for s in sentences])
        per = flops_per_token(options)
        achieved = flops / run_s / 1e9
        line(f"embed {stats['sentences']} sentences (warm, batch {args.batch_size})",
             f"{run_s:.2f} s{run_note}")
        line("throughput", f"{tok_s:,.0f} tokens/s ({stats['sentences'] / run_s:,.1f} "
                           f"sentences/s)")
        line("nominal GFLOP / position: encoder, LSTM",
             f"{per['encoder'] / 1e9:.4f}, {per['lstm'] / 1e9:.4f}")
        line("nominal GFLOP / real token (workload)", f"{flops / stats['tokens'] / 1e9:.4f}")
        line("achieved nominal GFLOP/s", f"{achieved:,.1f} "
                                         f"({100 * achieved / peak_gflops:.1f}% of matmul rate)")
        line("char-encoder rows computed (distinct words)",
             f"{encoded['rows']:,} for {stats['tokens'] + 2 * stats['sentences']:,} positions")
        line("RSS before / after run", f"{fmt_mb(rss_before_run)} / {fmt_mb(rss_after_run)}")
        if reset_ok:
            line("peak RSS during run (VmHWM)", fmt_mb(hwm_mb()))
        line("peak RSS of process so far (ru_maxrss)", fmt_mb(maxrss_mb()))
        results.update(
            load=f"{load_s:.2f} s", warm=f"{warm_s:.2f} s", tok_s=f"{tok_s:,.0f} tokens/s",
            gflops=f"{achieved:,.1f} GFLOP/s ({100 * achieved / peak_gflops:.1f}% of "
                   f"{peak_gflops:,.1f})",
            gflop_token=f"{flops / stats['tokens'] / 1e9:.4f}",
            maxrss=fmt_mb(maxrss_mb()),
        )

        if args.profile:
            profile_one_batch(bilm, sentences, args.batch_size)

        # ---- baseline comparison on a subset, zero state
        if not args.skip_baseline and args.baseline_sentences > 0:
            from _baseline_bilm import BaselineBiLM

            subset = sentences[: args.baseline_sentences]
            sub_tokens = sum(len(s) for s in subset)
            section(f"Baseline comparison (first {len(subset)} sentences, {sub_tokens:,} "
                    f"tokens, zero state, batch {args.batch_size})")
            monitor = CpuMonitor()
            sk_s, sk_batches = run_skelmo(bilm, subset, args.batch_size, "zero", keep=True)
            sk_note = contention_note(monitor, warnings, "skelmo subset run")
            rss_before_base = rss_mb()
            start = time.perf_counter()
            baseline = BaselineBiLM(options_file, weight_file)
            base_load_s = time.perf_counter() - start
            reset_ok = reset_hwm()
            monitor = CpuMonitor()
            base_s, base_out = run_baseline(baseline, subset, args.batch_size)
            base_note = contention_note(monitor, warnings, "baseline run")
            diff, compared = max_abs_difference(sk_batches, base_out)
            sk_tok_s, base_tok_s = sub_tokens / sk_s, sub_tokens / base_s
            sub_flops = nominal_flops(options, [len(s) for s in subset])
            line("skelmo", f"{sk_s:.2f} s, {sk_tok_s:,.0f} tokens/s, "
                           f"{sub_flops / sk_s / 1e9:,.1f} GFLOP/s{sk_note}")
            line("baseline (reference-style)", f"{base_s:.2f} s, {base_tok_s:,.0f} tokens/s, "
                                               f"{sub_flops / base_s / 1e9:,.1f} GFLOP/s"
                                               f"{base_note}")
            line("speed-up skelmo / baseline", f"{sk_tok_s / base_tok_s:.1f}x")
            line("max |skelmo - baseline| (all layers)",
                 f"{diff:.3g} over {compared:,} tokens x {bilm.n_layers} layers x "
                 f"{bilm.output_dim}")
            line("baseline weight load", f"{base_load_s:.2f} s")
            line("RSS before baseline load / after run",
                 f"{fmt_mb(rss_before_base)} / {fmt_mb(rss_mb())}")
            if reset_ok:
                line("peak RSS during baseline run (VmHWM)", fmt_mb(hwm_mb()))
            results.update(
                base=f"{base_tok_s:,.0f} tokens/s", sk_sub=f"{sk_tok_s:,.0f} tokens/s",
                ratio=f"{sk_tok_s / base_tok_s:.1f}x", diff=f"{diff:.3g}",
                subset=f"{len(subset)} sentences / {sub_tokens:,} tokens",
            )
            if diff > 1e-4:
                print(f"\n  WARNING: outputs differ by {diff:.3g} (> 1e-4).", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    section("Summary" + (" (--small architecture)" if args.small else ""))
    line("model load (BiLM.from_files)", results["load"])
    line("warm-state derivation (one-off, excluded)", results["warm"])
    line(f"skelmo warm, {stats['tokens']:,} tokens", results["tok_s"])
    line("nominal GFLOP per real token", results["gflop_token"])
    line("achieved", results["gflops"])
    if "ratio" in results:
        line(f"subset ({results['subset']}), zero state", "")
        line("  skelmo", results["sk_sub"])
        line("  baseline", results["base"])
        line("  skelmo / baseline", results["ratio"])
        line("  max abs difference", results["diff"])
    line("peak RSS, skelmo phases (ru_maxrss)", results["maxrss"])
    if "ratio" in results:
        line("peak RSS, whole run incl. baseline", fmt_mb(maxrss_mb()))
    line("", "(the random model is written by a child process, not counted)")
    print_contention(warnings, "the machine was not quiet; these figures are affected:")
    return 0


if __name__ == "__main__":
    sys.exit(main())
