#!/usr/bin/env python
"""Inference throughput of skelmo beside AllenNLP's own ELMo, same weights, same run.

AllenNLP 2.10.1 pins an old torch and cannot be installed next to skelmo, so
this script fetches its wheel at run time (``pip download allennlp==2.10.1
--no-deps`` into a temporary directory), unpacks it, and imports the real
``allennlp/modules/elmo.py`` and the files it needs from it (the biLM:
``elmo_lstm.py``, ``lstm_cell_with_projection.py``, ``highway.py``,
``scalar_mix.py``, ``encoder_base.py``, ``nn/util.py``, ``nn/initializers.py``;
its input path ``batch_to_ids``: ``elmo_indexer.py``, ``token_indexer.py``,
``token_class.py``, ``fields/text_field.py``, ``instance.py``, ``batch.py``).
Only the framework around them is stubbed: the packages' ``__init__`` files,
``FromParams`` / ``Registrable``, ``cached_path`` (a local path is returned as
it is), ``Vocabulary`` (unused by the ELMo indexer), the six helpers of
``allennlp.common.util`` those files use (taken from the wheel's own source),
and ``spacy.tokens.Token`` (an ``isinstance`` check) where spaCy is missing.
Nothing of AllenNLP is stored in this repository.

Both run a random model of the published "original" architecture written by
:func:`skelmo.testing.make_random_model` (``options.json`` + ``weights.hdf5``,
the files AllenNLP reads), over the seeded workload of
``benchmarks/bench_bilm.py``, in input-order batches of 64 sentences:

* AllenNLP: ``Elmo(options_file, weight_file, num_output_representations=1,
  dropout=0)`` in eval mode under ``torch.no_grad()``, fed
  ``allennlp.modules.elmo.batch_to_ids(batch)`` (timed: it is AllenNLP's input
  path). Stateful, as AllenNLP's ``Elmo`` always is.
* skelmo: ``ElmoEmbedder(bilm, batch_size=64, state="stateful")`` (like with
  like), and ``state="warm"`` (skelmo's default) as a second row; with
  ``--precision bfloat16``, also ``state="stateful", precision="bfloat16"``.

Before timing, the character ids of both are compared on the whole workload,
and AllenNLP's layer activations (``Elmo._elmo_lstm(ids)["activations"]``,
``<S>`` and ``</S>`` included) are compared with skelmo's
(``keep_boundaries=True``) on the first batch from the zero state and on the
second, which continues from the state the first left. Then, for each of
``--rounds`` rounds, AllenNLP runs over the workload, then each skelmo row,
every run from a fresh state (AllenNLP's ``reset_states()``, a new skelmo
embedder with an emptied word-vector cache); the medians over rounds and
their ratios are printed.

If the wheel cannot be fetched, imported or made to load the model, the
reason is printed and skelmo is compared with its reference-style baseline
(``benchmarks/_baseline_bilm.py``, zero state per batch) instead; the ratio
lines say which baseline they are against.

Usage::

    python benchmarks/bench_allennlp.py                 # full comparison (many minutes)
    python benchmarks/bench_allennlp.py --small         # smoke test on a tiny architecture
    python benchmarks/bench_allennlp.py --precision bfloat16 --device cuda
"""

from __future__ import annotations

import argparse
import ast
import importlib
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Benchmark the working tree's skelmo, and find the other benchmarks next to this file.
sys.path[:0] = [str(_HERE.parent), str(_HERE)]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _machine import cpu_description  # noqa: E402
from bench_bilm import (  # noqa: E402
    ORIGINAL,
    CpuMonitor,
    contention_note,
    describe_model,
    line,
    make_workload,
    print_contention,
    section,
    workload_stats,
    write_model_in_child,
)

import skelmo  # noqa: E402
from skelmo import BiLM, ElmoEmbedder, batch_to_ids  # noqa: E402
from skelmo._engine import (  # noqa: E402
    DEFAULT_MAX_BATCH_TOKENS,
    PRECISIONS,
    warm_state,
    word_vector_cache,
)
from skelmo.testing import make_options  # noqa: E402

ALLENNLP_VERSION = "2.10.1"
ALLENNLP = f"AllenNLP {ALLENNLP_VERSION} Elmo"
BASELINE = "reference-style baseline (_baseline_bilm.py)"

# A tiny architecture for the smoke test. Its character CNN has 24 channels,
# not 16 = projection_dim: skelmo's format writes no CNN_proj datasets when
# the two are equal (the projection is the identity), and AllenNLP's loader
# always reads CNN_proj, so it refuses such a file.
SMALL = dict(char_dim=4, filters=[[1, 8], [2, 16]], n_highway=1, projection_dim=16,
             cell_dim=32)


# ------------------------------------------------------------- AllenNLP import
# Packages whose __init__ is replaced by an empty module: their real __init__
# files import most of the framework (and spaCy, transformers, ...). The
# submodules below them are still found in, and imported from, the wheel.
_STUB_PACKAGES = ("allennlp", "allennlp.common", "allennlp.data", "allennlp.data.fields",
                  "allennlp.data.token_indexers", "allennlp.data.tokenizers",
                  "allennlp.modules", "allennlp.nn")
# What the real files import from allennlp.common.util (which itself imports
# spaCy, dill, base58 and the config system): these definitions are taken
# from the wheel's own util.py.
_UTIL_DEFINITIONS = ("JsonDict", "ensure_list", "int_to_device", "is_distributed",
                     "is_global_primary", "lazy_groups_of", "pad_sequence_to_length")
_UTIL_IMPORT_ROOTS = ("typing", "itertools", "torch")
# What the real files import from those stubbed packages themselves, which
# the real __init__ files re-export from a submodule: (package, submodule, name).
_REEXPORTS = (("allennlp.data.tokenizers", "token_class", "Token"),
              ("allennlp.data.fields", "text_field", "TextField"))


def fetch_allennlp(directory: Path, wheel: str | None = None) -> Path:
    """Download (unless ``wheel`` is given) and unpack the AllenNLP wheel; return its root."""
    if wheel is None:
        command = [sys.executable, "-m", "pip", "download", f"allennlp=={ALLENNLP_VERSION}",
                   "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
                   "-q", "-d", str(directory)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RuntimeError(f"pip download failed: {exc}") from None
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise RuntimeError(f"pip download failed (exit {done.returncode}): {tail}")
        wheels = sorted(directory.glob(f"allennlp-{ALLENNLP_VERSION}-*.whl"))
        if not wheels:
            raise RuntimeError(f"pip download left no allennlp wheel in {directory}")
        wheel = str(wheels[0])
    root = directory / "unpacked"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(root, [n for n in archive.namelist() if n.startswith("allennlp/")])
    return root


def _stub_module(name: str, **attributes) -> types.ModuleType:
    module = types.ModuleType(name, "stub of bench_allennlp.py")
    module.__dict__.update(attributes)
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, module)
    return module


def _util_stub(source: str) -> dict:
    """The definitions of :data:`_UTIL_DEFINITIONS` (and the TypeVars they use),
    executed from the real ``allennlp/common/util.py``'s source."""
    kept = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            keep = all(a.name.split(".")[0] in _UTIL_IMPORT_ROOTS for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            keep = (node.module or "").split(".")[0] in _UTIL_IMPORT_ROOTS
        elif isinstance(node, ast.FunctionDef):
            keep = node.name in _UTIL_DEFINITIONS
        elif isinstance(node, ast.Assign):
            names = {t.id for t in node.targets if isinstance(t, ast.Name)}
            is_typevar = (isinstance(node.value, ast.Call)
                          and getattr(node.value.func, "id", None) == "TypeVar")
            keep = is_typevar or bool(names & set(_UTIL_DEFINITIONS))
        else:
            keep = False
        if keep:
            kept.append(node)
    namespace: dict = {"__name__": "allennlp.common.util"}
    exec(compile(ast.Module(kept, type_ignores=[]), "allennlp/common/util.py", "exec"),
         namespace)
    missing = [name for name in _UTIL_DEFINITIONS if name not in namespace]
    if missing:
        raise RuntimeError(f"allennlp/common/util.py defines no {', '.join(missing)}")
    return {name: namespace[name] for name in _UTIL_DEFINITIONS}


def import_allennlp(root: Path) -> tuple[types.ModuleType, list[str], list[str]]:
    """Import the real ``allennlp.modules.elmo`` from ``root`` with the framework stubbed.

    Returns the module, the stubs put in place, and the wheel's files imported.
    """
    if any(name == "allennlp" or name.startswith("allennlp.") for name in sys.modules):
        raise RuntimeError("an allennlp module is already imported in this process")
    stubs = []
    for name in _STUB_PACKAGES:
        _stub_module(name, __path__=[str(root.joinpath(*name.split(".")))], __package__=name)
        stubs.append(f"{name} (package __init__)")

    class FromParams:
        """Stub: configuration from parameters is not used here."""

    class Registrable(FromParams):
        """Stub: ``register`` leaves the class as it is."""

        @classmethod
        def register(cls, name, constructor=None, exist_ok=False):
            return lambda subclass: subclass

    sys.modules["allennlp.common"].FromParams = FromParams
    sys.modules["allennlp.common"].Registrable = Registrable
    stubs.append("allennlp.common.FromParams, allennlp.common.Registrable")

    def cached_path(url_or_filename, *args, **kwargs) -> str:
        path = Path(url_or_filename)
        if not path.exists():
            raise FileNotFoundError(f"cached_path stub: no local file {url_or_filename}")
        return str(path)

    _stub_module("allennlp.common.file_utils", cached_path=cached_path)
    stubs.append("allennlp.common.file_utils.cached_path (local paths only)")

    util_source = root.joinpath("allennlp", "common", "util.py").read_text(encoding="utf-8")
    _stub_module("allennlp.common.util", **_util_stub(util_source))
    stubs.append("allennlp.common.util (" + ", ".join(_UTIL_DEFINITIONS)
                 + ": the wheel's own definitions)")

    class Vocabulary:
        """Stub: the ELMo character indexer never looks anything up in it."""

        def __init__(self, *args, **kwargs):
            pass

    _stub_module("allennlp.data.vocabulary", Vocabulary=Vocabulary)
    stubs.append("allennlp.data.vocabulary.Vocabulary")

    spacy_stubbed = False
    try:
        importlib.import_module("spacy.tokens")
    except ImportError:
        class SpacyToken:
            """Stub: text_field.py only uses it in an isinstance check."""

        _stub_module("spacy", __path__=[])
        _stub_module("spacy.tokens", Token=SpacyToken)
        spacy_stubbed = True
        stubs.append("spacy.tokens.Token (spaCy is not installed)")
    try:
        for package, submodule, name in _REEXPORTS:
            real = importlib.import_module(f"{package}.{submodule}")
            setattr(sys.modules[package], name, getattr(real, name))
        elmo = importlib.import_module("allennlp.modules.elmo")
    finally:
        if spacy_stubbed:  # keep the fake spaCy out of everything imported later
            del sys.modules["spacy.tokens"], sys.modules["spacy"]
    real = sorted(
        str(Path(module.__file__).relative_to(root))
        for name, module in list(sys.modules.items())
        if name.startswith("allennlp.") and getattr(module, "__file__", None)
        and Path(module.__file__).is_relative_to(root)
    )
    return elmo, stubs, real


# ------------------------------------------------------------------- timings
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_allennlp(elmo, to_ids, batches, device: torch.device) -> float:
    """Seconds for AllenNLP's ``Elmo`` over every batch, from a fresh state."""
    elmo._elmo_lstm._elmo_lstm.reset_states()
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches:
            elmo(to_ids(batch).to(device))
    sync(device)
    return time.perf_counter() - start


def time_baseline(baseline, batches) -> float:
    start = time.perf_counter()
    for batch in batches:
        baseline(batch)
    return time.perf_counter() - start


def time_skelmo(bilm, sentences, batch_size: int, max_tokens: int, state: str,
                precision: str, device: torch.device) -> float:
    """Seconds for a fresh ``ElmoEmbedder`` over the workload, word-vector cache emptied."""
    for name in PRECISIONS:
        word_vector_cache(bilm, name).clear()
    embedder = ElmoEmbedder(bilm, batch_size=batch_size, max_batch_tokens=max_tokens,
                            state=state, precision=precision)
    sync(device)
    start = time.perf_counter()
    for _ in embedder.iter_batches(sentences):
        pass
    sync(device)
    return time.perf_counter() - start


# --------------------------------------------------------------- correctness
def compare_with_allennlp(elmo, to_ids, bilm, batches, batch_size: int, max_tokens: int,
                          device: torch.device) -> list[tuple[str, list[float]]]:
    """Per-layer max |AllenNLP - skelmo| of the first two batches, both stateful from zeros."""
    bilm_lm = elmo._elmo_lstm  # _ElmoBiLm
    bilm_lm._elmo_lstm.reset_states()
    embedder = ElmoEmbedder(bilm, batch_size=batch_size, max_batch_tokens=max_tokens,
                            state="stateful", keep_boundaries=True)
    results = []
    for number, batch in enumerate(batches[:2]):
        with torch.no_grad():
            out = bilm_lm(to_ids(batch).to(device))
        theirs = torch.stack(out["activations"]).float().cpu()
        ours = list(embedder.iter_batches(batch))
        if len(ours) != 1:
            raise AssertionError(f"skelmo split batch {number + 1} into {len(ours)}")
        if ours[0].layers.shape != theirs.shape:
            raise AssertionError(f"batch {number + 1}: shapes {tuple(ours[0].layers.shape)} "
                                 f"(skelmo) and {tuple(theirs.shape)} (AllenNLP) differ")
        if not torch.equal(ours[0].mask.cpu(), out["mask"].cpu()):
            raise AssertionError(f"batch {number + 1}: masks differ")
        diffs = (ours[0].layers.float().cpu() - theirs).abs().amax(dim=(1, 2, 3)).tolist()
        label = "from the zero state" if number == 0 else "carrying batch 1's state"
        results.append((f"batch {number + 1}, {len(batch)} sentences, {label}", diffs))
    return results


def compare_with_baseline(baseline, bilm, batch, batch_size: int, max_tokens: int
                          ) -> list[float]:
    """Per-layer max |baseline - skelmo| on one batch from the zero state, real tokens."""
    theirs, lengths = baseline(batch)
    embedder = ElmoEmbedder(bilm, batch_size=batch_size, max_batch_tokens=max_tokens,
                            state="stateful")
    (ours,) = list(embedder.iter_batches(batch))
    layers = ours.layers.float().cpu()
    worst = [0.0] * layers.shape[0]
    for row, n in enumerate(lengths):
        diff = (layers[:, row, :n] - theirs[:, row, :n]).abs().amax(dim=(1, 2)).tolist()
        worst = [max(w, d) for w, d in zip(worst, diff)]
    return worst


# ---------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentences", type=int, default=None,
                        help="sentences in the workload (default: 1000, 64 with --small)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds; medians are reported (default: 3, "
                             "1 with --small)")
    parser.add_argument("--batch-size", type=int, default=64, help="default: 64")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch.set_num_threads (default: 2)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="where both run (default: cpu)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="bfloat16: an extra skelmo row, stateful, in bfloat16 "
                             "(default: float32 only)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random weights and the workload (default: 0)")
    parser.add_argument("--wheel", default=None,
                        help="an allennlp-2.10.1 wheel already downloaded (default: pip "
                             "download it)")
    parser.add_argument("--small", action="store_true",
                        help="tiny architecture, 64 sentences, 1 round: smoke test")
    args = parser.parse_args(argv)
    if args.sentences is None:
        args.sentences = 64 if args.small else 1000
    if args.rounds is None:
        args.rounds = 1 if args.small else 3
    if min(args.sentences, args.rounds, args.batch_size, args.threads) < 1:
        parser.error("--sentences, --rounds, --batch-size and --threads must be positive.")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: CUDA is not available on this machine.")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"machine: {cpu_description()}", flush=True)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    arch = dict(ORIGINAL, **SMALL) if args.small else ORIGINAL
    options = make_options(**arch)
    warnings: list[str] = []

    section("Environment")
    line("python / torch / numpy", f"{platform.python_version()} / {torch.__version__} / "
                                   f"{np.__version__}")
    line("skelmo", f"{skelmo.__version__} ({Path(skelmo.__file__).parent})")
    line("torch threads (intra-op)", str(torch.get_num_threads()))
    line("device", str(device) + (f" ({torch.cuda.get_device_name(device)})"
                                  if device.type == "cuda" else ""))

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    tmp = Path(tempfile.mkdtemp(prefix="skelmo-bench-allennlp-"))
    try:
        section("Model" + (" (--small)" if args.small else ' (published "original" shape)'))
        write_s = write_model_in_child(str(tmp), args.seed, arch)
        options_file, weight_file = tmp / "options.json", tmp / "weights.hdf5"
        describe_model(options, weight_file, write_s)

        sentences = make_workload(args.sentences, args.seed)
        stats = workload_stats(sentences)
        batches = [sentences[i : i + args.batch_size]
                   for i in range(0, len(sentences), args.batch_size)]
        # skelmo cuts batches at max_batch_tokens too: make sure it cuts the same ones.
        max_tokens = max(DEFAULT_MAX_BATCH_TOKENS, args.batch_size * (stats["max"] + 2))
        section("Workload (bench_bilm.py's, seeded, synthetic)")
        line("sentences / tokens", f"{stats['sentences']:,} / {stats['tokens']:,}")
        line("length mean / median / min / max",
             f"{stats['mean']:.1f} / {stats['median']:.0f} / {stats['min']} / {stats['max']}")
        line("batches", f"{len(batches)} of up to {args.batch_size} sentences, input order")

        # ---- AllenNLP (or the fallback)
        section(f"AllenNLP {ALLENNLP_VERSION} (fetched at run time, never stored)")
        elmo = to_ids = baseline = None
        try:
            start = time.perf_counter()
            root = fetch_allennlp(tmp / "allennlp", args.wheel)
            fetch_s = time.perf_counter() - start
            allennlp_elmo, stubs, real = import_allennlp(root)
            line("wheel fetched and unpacked", f"{fetch_s:.1f} s"
                 + (f" ({args.wheel})" if args.wheel else " (pip download)"))
            line("files imported from the wheel", f"{len(real)}:")
            for path in real:
                line("", path)
            line("stubbed", f"{len(stubs)}:")
            for stub in stubs:
                line("", stub)
            start = time.perf_counter()
            elmo = allennlp_elmo.Elmo(str(options_file), str(weight_file),
                                      num_output_representations=1, dropout=0)
            elmo = elmo.eval().to(device)
            line("Elmo(...) load", f"{time.perf_counter() - start:.2f} s")
            to_ids = allennlp_elmo.batch_to_ids
        except Exception as exc:  # any failure: fall back, saying why
            print(f"\n  AllenNLP UNAVAILABLE: {type(exc).__name__}: {exc}", flush=True)
            print(f"  Falling back to skelmo's {BASELINE}: every ratio below is against "
                  "that baseline, NOT AllenNLP.", flush=True)
            elmo = None
        if elmo is None:
            from _baseline_bilm import BaselineBiLM

            baseline = BaselineBiLM(options_file, weight_file)
            if device.type == "cuda":
                line("note", "the baseline runs on the CPU")
        reference = ALLENNLP if elmo is not None else BASELINE

        # ---- skelmo
        section("skelmo")
        start = time.perf_counter()
        bilm = BiLM.from_files(options_file, weight_file, device=device)
        line("BiLM.from_files", f"{time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        warm_state(bilm)
        line("warm-state derivation (one-off, excluded)", f"{time.perf_counter() - start:.2f} s")
        rows = [("skelmo stateful", "stateful", "float32"), ("skelmo warm (default)", "warm",
                                                               "float32")]
        if args.precision == "bfloat16":
            try:
                ElmoEmbedder(bilm, precision="bfloat16")
                rows.append(("skelmo stateful bfloat16", "stateful", "bfloat16"))
            except ValueError as exc:
                line("bfloat16 row skipped", str(exc))

        # ---- correctness, before timing
        section("Correctness (before timing)")
        if elmo is not None:
            start = time.perf_counter()
            same = all(torch.equal(to_ids(batch), batch_to_ids(batch)) for batch in batches)
            ids_s = time.perf_counter() - start
            line("character ids, AllenNLP vs skelmo",
                 f"{'identical' if same else 'DIFFERENT'} on all {len(batches)} "
                 f"batch{'es' * (len(batches) > 1)}")
            if not same:
                warnings.append("AllenNLP's and skelmo's character ids differ")
            line("", f"(both batch_to_ids over the workload: {ids_s:.2f} s)")
            worst = 0.0
            line("max |AllenNLP - skelmo|, layers 0 / 1 / 2", "(both stateful, <S> and </S> "
                                                           "included)")
            for label, diffs in compare_with_allennlp(elmo, to_ids, bilm, batches,
                                                      args.batch_size, max_tokens, device):
                line(f"  {label}", " / ".join(f"{d:.3g}" for d in diffs))
                worst = max(worst, *diffs)
        else:
            diffs = compare_with_baseline(baseline, bilm, batches[0], args.batch_size,
                                          max_tokens)
            line("max |baseline - skelmo|, batch 1 (zero state)",
                 " / ".join(f"{d:.3g}" for d in diffs) + " (layers 0 / 1 / 2, real tokens)")
            worst = max(diffs)
        if worst > 1e-4:
            warnings.append(f"outputs differ by {worst:.3g} (> 1e-4)")
            print(f"\n  WARNING: outputs differ by {worst:.3g} (> 1e-4).", flush=True)

        # ---- interleaved rounds
        section(f"Interleaved rounds ({stats['tokens']:,} tokens, batch {args.batch_size}, "
                f"{args.threads} threads, {device})")
        times: dict[str, list[float]] = {reference: []}
        times.update({label: [] for label, _, _ in rows})
        for number in range(1, args.rounds + 1):
            print(f"  round {number}/{args.rounds}", flush=True)
            monitor = CpuMonitor()
            if elmo is not None:
                seconds = time_allennlp(elmo, to_ids, batches, device)
            else:
                seconds = time_baseline(baseline, batches)
            times[reference].append(seconds)
            line(f"  {reference}", f"{seconds:.2f} s, {stats['tokens'] / seconds:,.0f} tokens/s"
                 + contention_note(monitor, warnings, f"round {number} {reference}"))
            for label, state, precision in rows:
                monitor = CpuMonitor()
                seconds = time_skelmo(bilm, sentences, args.batch_size, max_tokens, state,
                                      precision, device)
                times[label].append(seconds)
                line(f"  {label}", f"{seconds:.2f} s, {stats['tokens'] / seconds:,.0f} "
                     "tokens/s" + contention_note(monitor, warnings, f"round {number} {label}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rate = {label: stats["tokens"] / statistics.median(seconds)
            for label, seconds in times.items()}
    section(f"Summary (median of {args.rounds} round{'s' * (args.rounds > 1)}"
            + (", --small architecture" if args.small else "") + ")")
    line("workload", f"{stats['sentences']:,} sentences, {stats['tokens']:,} tokens, batch "
                     f"{args.batch_size}, {args.threads} threads, {device}")
    for label, tokens_per_s in rate.items():
        line(label, f"{tokens_per_s:,.0f} tokens/s")
    for label, _, _ in rows:
        line(f"ratio {label} / {reference}", f"{rate[label] / rate[reference]:.2f}x")
    line("max abs difference (checked before timing)", f"{worst:.3g}")
    if elmo is None:
        print(f"\n  NOTE: AllenNLP could not be run; the ratios are against skelmo's {BASELINE} "
              "(zero state per batch), not AllenNLP.")
    print_contention(warnings, "these figures are affected:")
    return 0


if __name__ == "__main__":
    sys.exit(main())
