#!/usr/bin/env python
"""Training throughput of skelmo's biLM trainer against the trainer it replaced.

On the bundled model's architecture (:func:`skelmo.training.default_options`)
and a corpus (a seeded synthetic Zipfian one by default, or ``--corpus``),
prints for skelmo's training step and for the previous one
(``benchmarks/_baseline_train.py``: a Python loop over time steps under
autograd), measured in the same run, interleaved round by round:

* seconds per step (forward, backward, gradient clipping and Adam), median of
  the rounds, and tokens/s per direction (``batch * unroll`` tokens per step);
* the same for skelmo's step in mixed precision (``precision="bfloat16"``),
  unless ``--no-bfloat16``: meant for CPUs that compute bfloat16 natively
  (AVX512-BF16, AMX), which the machine line shows;
* the step's matrix-product FLOPs (counted by ``torch.utils.flop_counter``) per
  second, as a share of this machine's float32 matmul rate measured in the
  same run (a 2048 x 512 x 2048 product, the same threads);
* the learning curve: both trainers from the same initial weights over the
  same windows, mean loss per stretch of steps (dropout draws differ, so equal
  within noise is the expectation);
* each timed phase in which other processes (or the hypervisor's steal time)
  kept more than 0.15 cores busy, as ``bench_bilm.py`` does.

Usage::

    python benchmarks/bench_train.py                        # 128 x 20, 2 threads
    python benchmarks/bench_train.py --batch-size 64 --threads 1
    python benchmarks/bench_train.py --corpus train.txt     # real text
    python benchmarks/bench_train.py --device cuda          # skelmo's step only on CUDA
    python benchmarks/bench_train.py --small                # smoke test, tiny model
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE.parent), str(_HERE)]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _baseline_train import baseline_loss  # noqa: E402
from _machine import cpu_description  # noqa: E402
from _workload import make_documents  # noqa: E402
from bench_bilm import CpuMonitor, contention_note, print_contention  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from skelmo._engine import resolve_device  # noqa: E402
from skelmo._format import read_options  # noqa: E402
from skelmo.testing import make_options  # noqa: E402
from skelmo.training import default_options  # noqa: E402
from skelmo.training._data import Vocabulary, count_words, read_corpus, windows  # noqa: E402
from skelmo.training._model import LmSoftmax, TrainableBiLM  # noqa: E402
from skelmo.training._train import _features, _loss  # noqa: E402


def skelmo_loss(model, softmax, window, char_ids, targets, state):
    features, state = _features(model, window, char_ids, state)
    return _loss(softmax, features, window, targets), state


def skelmo_bfloat16_loss(model, softmax, window, char_ids, targets, state):
    features, state = _features(model, window, char_ids, state, precision="bfloat16")
    return _loss(softmax, features, window, targets, precision="bfloat16"), state


class Trainer:
    """One trainer's model, output layer and optimizer, stepping through windows."""

    def __init__(self, loss_fn, options, data, vocabulary, args, device):
        self.loss_fn, self.data, self.args, self.device = loss_fn, data, args, device
        self.model = TrainableBiLM(options, torch.Generator().manual_seed(0), 0.1).to(device)
        torch.manual_seed(0)  # the output layer's initial weights, then dropout
        self.softmax = LmSoftmax(options.projection_dim, len(vocabulary),
                                 LmSoftmax.default_cutoffs(len(vocabulary))).to(device)
        self.parameters = list(self.model.parameters()) + list(self.softmax.parameters())
        self.optimizer = torch.optim.Adam(self.parameters, lr=2e-3)
        self.state = self.model.zero_state(args.batch_size, device)
        self.char_ids = data.char_ids.to(device)
        self.targets = data.targets.to(device)
        self.stream = self._windows()

    def _windows(self):
        epoch = 0
        while True:
            yield from windows(self.data, self.args.batch_size, self.args.unroll_steps, 0, epoch)
            epoch += 1

    def step(self, window=None) -> float:
        window = next(self.stream) if window is None else window
        loss, self.state = self.loss_fn(self.model, self.softmax, window, self.char_ids,
                                        self.targets, self.state)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.parameters, 10.0)
        self.optimizer.step()
        return loss.item()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_rate(device) -> float:
    a = torch.randn(2048, 512, device=device)
    b = torch.randn(512, 2048, device=device)
    for _ in range(3):
        a @ b
    synchronize(device)
    reps, started = 20, time.perf_counter()
    for _ in range(reps):
        a @ b
    synchronize(device)
    return 2 * 2048 * 512 * 2048 * reps / (time.perf_counter() - started)


def step_flops(trainer) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        trainer.step()
    return counter.get_total_flops()


def make_corpus(path: Path, n_sentences: int) -> Path:
    documents = make_documents(n_sentences, seed=0)
    path.write_text("\n".join(documents) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--unroll-steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds of --steps each")
    parser.add_argument("--steps", type=int, default=3, help="steps per trainer per round")
    parser.add_argument("--curve", type=int, default=60,
                        help="steps of the learning-curve comparison (0: skip)")
    parser.add_argument("--corpus", type=Path, help="one tokenized sentence per line")
    parser.add_argument("--options", type=Path,
                        help="options.json of another architecture (default: the bundled one)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-baseline", action="store_true", help="skelmo's step only")
    parser.add_argument("--no-bfloat16", action="store_true",
                        help="skip skelmo's mixed-precision (bfloat16) step")
    parser.add_argument("--small", action="store_true", help="tiny model, quick smoke test")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    if args.small:
        options = make_options(char_dim=4, filters=((1, 8), (2, 8)), n_highway=1,
                               projection_dim=16, cell_dim=32)
    else:
        options = read_options(args.options) if args.options else default_options()
    if args.small:
        args.rounds, args.steps, args.curve = 2, 2, min(args.curve, 10)
    # The baseline is a CPU design; on another device only skelmo's step runs.
    with_baseline = not args.no_baseline and device.type == "cpu"

    print(f"machine: {cpu_description()}")
    print(f"torch {torch.__version__}, {args.threads} threads, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    print(f"architecture: {options.n_filters} filters, {options.n_highway} highway, projection "
          f"{options.projection_dim}, {options.n_layers} x {options.cell_dim} LSTM cells per "
          f"direction; batch {args.batch_size} x {args.unroll_steps}")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = args.corpus or make_corpus(Path(tmp) / "corpus.txt", 20_000)
        vocabulary = Vocabulary.from_counts(count_words(corpus), 50000, 3)
        data = read_corpus(corpus, vocabulary)
    print(f"corpus: {'synthetic Zipfian text' if args.corpus is None else corpus}, "
          f"{data.n_tokens:,} tokens, vocabulary {len(vocabulary):,}")

    trainers = {"skelmo": Trainer(skelmo_loss, options, data, vocabulary, args, device)}
    if not args.no_bfloat16:
        trainers["skelmo-bf16"] = Trainer(skelmo_bfloat16_loss, options, data, vocabulary,
                                          args, device)
    if with_baseline:
        trainers["baseline"] = Trainer(baseline_loss, options, data, vocabulary, args, device)
    warnings: list[str] = []
    monitor = CpuMonitor()
    rate = matmul_rate(device)
    contention_note(monitor, warnings, "matmul rate")
    flops = {name: step_flops(t) for name, t in trainers.items()}
    for t in trainers.values():
        t.step()  # warm-up
    seconds = {name: [] for name in trainers}
    for number in range(1, args.rounds + 1):
        for name, trainer in trainers.items():
            synchronize(device)
            monitor = CpuMonitor()
            started = time.perf_counter()
            for _ in range(args.steps):
                trainer.step()
            synchronize(device)
            seconds[name].append((time.perf_counter() - started) / args.steps)
            contention_note(monitor, warnings, f"round {number} {name}")
    tokens = args.batch_size * args.unroll_steps
    print(f"matmul rate (2048 x 512 x 2048, float32): {rate / 1e9:.1f} GFLOP/s")
    print(f"{'trainer':11s} {'s/step':>8s} {'tokens/s/dir':>13s} {'GFLOP/step':>11s} "
          f"{'GFLOP/s':>8s} {'of matmul':>9s}")
    for name in trainers:
        step = statistics.median(seconds[name])
        achieved = flops[name] / step
        print(f"{name:11s} {step:8.3f} {tokens / step:13,.0f} {flops[name] / 1e9:11.1f} "
              f"{achieved / 1e9:8.1f} {achieved / rate:9.0%}")
    print_contention(warnings, "these figures are affected (other processes, or time the "
                     "hypervisor gave to other machines):")
    if with_baseline:
        for name in trainers:
            if name != "baseline":
                ratio = statistics.median(seconds["baseline"]) / statistics.median(seconds[name])
                print(f"speed-up of {name} over the baseline: {ratio:.2f}x (median seconds per "
                      f"step, {args.rounds} rounds of {args.steps} steps)")

    if args.curve and with_baseline:
        fresh = {name: Trainer(t.loss_fn, options, data, vocabulary, args, device)
                 for name, t in trainers.items()}
        windows_seen = [w for _, w in zip(range(args.curve), fresh["skelmo"].stream)]
        losses = {name: [t.step(w) for w in windows_seen] for name, t in fresh.items()}
        stretch = max(1, args.curve // 6)
        print(f"learning curve: mean loss per {stretch} steps ({stretch * tokens:,} tokens "
              "per direction), same initial weights and windows")
        for start in range(0, args.curve, stretch):
            cells = "  ".join(f"{name} {np.mean(losses[name][start:start + stretch]):.3f}"
                              for name in fresh)
            print(f"  steps {start + 1:4d}-{min(args.curve, start + stretch):4d}: {cells}")


if __name__ == "__main__":
    main()
