"""The ``skelmo`` command line: embed sentences, manage models, train a biLM.

Run ``skelmo --help`` (or ``python -m skelmo --help``) for the subcommands and
``skelmo SUBCOMMAND --help`` for their options. Exit status: 0 on success,
1 on a runtime error (the message goes to stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

from . import models
from ._engine import STATE_POLICIES, ElmoEmbedder, load_bilm
from ._estimators import check_mix, combine_layers, softmax
from ._format import expected_shapes, read_options
from ._utils import atomic_path, progress_bar
from .training import train

__all__ = ["main"]

_LAYERS = ("all", "top", "average", "mix")


class CommandError(Exception):
    """A runtime error reported as one line on stderr, exit status 1."""


def main(argv: list[str] | None = None) -> int:
    """Run the ``skelmo`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 runtime error, 2 usage error.

    Examples
    --------
    >>> from skelmo.cli import main
    >>> main(["models", "--help"])  # doctest: +ELLIPSIS
    usage: skelmo models ...
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("skelmo: error: a subcommand is required.", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except SystemExit as exc:  # parser.error() inside a subcommand
        return exc.code if isinstance(exc.code, int) else 2
    except KeyboardInterrupt:
        print("skelmo: interrupted.", file=sys.stderr)
        return 130
    except KeyError as exc:
        print(f"skelmo: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    except (CommandError, OSError, ValueError, RuntimeError, TypeError) as exc:
        print(f"skelmo: error: {exc}", file=sys.stderr)
        return 1


# -- arguments --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skelmo",
        description="ELMo embeddings: embed sentences, manage the named models and pretrain "
        "a biLM.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    embed = sub.add_parser(
        "embed", help="embed a file of sentences into an HDF5 file",
        description="Embed INPUT, one whitespace-tokenized sentence per line, into OUTPUT "
        "(HDF5, the layout of AllenNLP's `allennlp elmo`: one dataset per line index, "
        "'0', '1', ..., and 'sentence_to_index', a JSON map from sentence to index).",
    )
    embed.add_argument("input", metavar="INPUT", help="text file (UTF-8), or - for stdin")
    embed.add_argument("output", metavar="OUTPUT", help="HDF5 file to write")
    embed.add_argument("--model", "-m", metavar="MODEL",
                       help="registered model name (see `skelmo models`) or model directory; "
                       "(default: the bundled model, skelmo-en-small)")
    embed.add_argument("--layers", choices=_LAYERS, default="all",
                       help="all: (n_layers, T, dim) per sentence; top: the last layer; "
                       "average: the mean of the layers; mix: the scalar mix of "
                       "--mix-weights and --gamma, as layer='mix' in the estimators (default: "
                       "all)")
    embed.add_argument("--mix-weights", type=_numbers, metavar="W,W,...",
                       help="with --layers mix: one pre-softmax weight per layer (default: "
                       "equal weights)")
    embed.add_argument("--gamma", type=float, default=1.0,
                       help="with --layers mix: the scale of the mix (default: 1)")
    embed.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                       help="sentences per forward pass (default: 64)")
    embed.add_argument("--device", default="auto", metavar="DEVICE",
                       help="cpu, cuda, cuda:N or auto (default: auto, CUDA when available)")
    embed.add_argument("--state", choices=STATE_POLICIES, default="warm",
                       help="LSTM initial state policy (default: warm; stateful reproduces "
                       "the original implementation's order-dependent outputs)")
    embed.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    _progress_flag(embed)
    embed.set_defaults(run=_cmd_embed)

    listing = sub.add_parser("models", help="list the registered models",
                             description="List the registered models: output width, "
                             "expected size, and whether and where they are cached.")
    listing.add_argument("--cache-dir", metavar="DIR", help="cache directory "
                         "(default: $SKELMO_HOME or the platform's cache directory)")
    listing.set_defaults(run=_cmd_models)

    download = sub.add_parser("download", help="download a named model into the cache",
                              description="Download a named model, verify it and record its "
                              "checksums. Does nothing when it is already cached and intact.")
    download.add_argument("name", metavar="NAME", help="registered model name")
    download.add_argument("--force", action="store_true",
                          help="download again even if cached (repairs a damaged copy)")
    download.add_argument("--cache-dir", metavar="DIR", help="cache directory "
                          "(default: $SKELMO_HOME or the platform's cache directory)")
    download.add_argument("--timeout", type=_positive_float, default=60.0, metavar="SECONDS",
                          help="seconds to wait to connect and for each read (default: 60)")
    _progress_flag(download)
    download.set_defaults(run=_cmd_download)

    info = sub.add_parser("info", help="describe a model's architecture and files",
                          description="Describe a model: architecture, parameter count, "
                          "output width, files and sizes.")
    info.add_argument("model", metavar="MODEL", help="registered model name or model directory")
    info.set_defaults(run=_cmd_info)

    train = sub.add_parser("train", help="pretrain a biLM on a text corpus",
                           description="Pretrain a biLM on CORPUS (one tokenized sentence per "
                           "line, as skelmo.tokenize splits it) and export OUTPUT_DIR/options.json "
                           "and weights.hdf5. Run the same command again to resume an "
                           "interrupted run from its checkpoint.")
    train.add_argument("corpus", metavar="CORPUS")
    train.add_argument("output_dir", metavar="OUTPUT_DIR")
    train.add_argument("--heldout", metavar="FILE", help="held-out text: report its perplexity")
    train.add_argument("--options", metavar="FILE", help="options.json giving the architecture "
                       "(default: skelmo.training.default_options())")
    train.add_argument("--steps", type=_positive_int, metavar="N",
                       help="training steps in all (default: one pass per --epochs)")
    train.add_argument("--epochs", type=_positive_int, default=1, metavar="N")
    train.add_argument("--batch-size", type=_positive_int, default=64, metavar="N")
    train.add_argument("--unroll-steps", type=_positive_int, default=20, metavar="N")
    train.add_argument("--vocab-size", type=_positive_int, default=50000, metavar="N")
    train.add_argument("--min-count", type=_positive_int, default=3, metavar="N")
    train.add_argument("--learning-rate", type=_positive_float, default=2e-3, metavar="LR")
    train.add_argument("--warmup-steps", type=int, default=200, metavar="N")
    train.add_argument("--dropout", type=float, default=0.1, metavar="P")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", metavar="DEVICE",
                       help="cpu, cuda, cuda:N or auto (default: auto)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=500, metavar="N")
    train.add_argument("--no-resume", dest="resume", action="store_false",
                       help="start again even if OUTPUT_DIR holds a checkpoint")
    _progress_flag(train)
    train.set_defaults(run=_cmd_train)
    return parser


def _progress_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default="auto",
                        help="progress bar on stderr (needs tqdm; default: when stderr is "
                        "a terminal and tqdm is installed)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}") from None


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


# -- embed ------------------------------------------------------------------------------------


def _cmd_embed(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.overwrite:
        raise CommandError(f"{output} already exists; pass --overwrite to replace it.")
    if args.input != "-" and not Path(args.input).is_file():
        raise CommandError(f"{args.input}: no such input file.")
    if not output.parent.is_dir():
        raise CommandError(f"{output.parent}: the output directory does not exist.")
    options_file, weight_file = models.resolve_model(args.model)
    bilm = load_bilm(options_file, weight_file, device=args.device)
    select = _layer_selection(args, bilm.n_layers)
    embedder = ElmoEmbedder(bilm, batch_size=args.batch_size, state=args.state)
    sentence_to_index: dict[str, str] = {}
    with _open_input(args.input) as (source, label), atomic_path(output) as tmp, \
            h5py.File(tmp, "w") as fout, \
            progress_bar(args.progress, total=None, desc="embedding", unit="sentence") as bar:
        sentences = _sentences(source, label, sentence_to_index)
        for batch in embedder.iter_batches(sentences):
            layers = batch.layers.cpu().numpy()
            lengths = batch.mask.sum(dim=1).tolist()
            for row, (index, n) in enumerate(zip(batch.indices, lengths)):
                fout.create_dataset(str(index), data=select(layers[:, row, :n]))
            bar.update(len(batch.indices))
        fout.create_dataset("sentence_to_index", (1,), dtype=h5py.string_dtype(),
                            data=[json.dumps(sentence_to_index)])
    return 0


@contextmanager
def _open_input(name: str) -> Iterator[tuple[IO[bytes], str]]:
    if name == "-":
        yield sys.stdin.buffer, "<stdin>"
        return
    with open(name, "rb") as fin:
        yield fin, name


def _sentences(source: IO[bytes], label: str,
               sentence_to_index: dict[str, str]) -> Iterator[list[str]]:
    """Tokenized lines, read lazily; blank lines and invalid UTF-8 are errors."""
    for number, raw in enumerate(source, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{label}: line {number} is not valid UTF-8 ({exc.reason} at byte "
                f"{exc.start}); convert the file to UTF-8."
            ) from None
        sentence = line.strip()
        if not sentence:
            raise CommandError(
                f"{label}: line {number} is blank; every line must hold one sentence "
                "(remove the blank lines)."
            )
        sentence_to_index[sentence] = str(number - 1)
        yield sentence.split()


def _layer_selection(args: argparse.Namespace, n_layers: int) -> Any:
    """The function from one sentence's layers ``(n_layers, T, dim)`` to its output."""
    if args.layers == "all":
        return lambda layers: layers
    if args.layers == "top":
        return lambda layers: layers[-1]
    if args.layers == "average":
        return lambda layers: layers.mean(axis=0)
    weights, gamma = check_mix(args.mix_weights, args.gamma, n_layers)
    mix = softmax(weights)
    return lambda layers: combine_layers(np.moveaxis(layers, 0, 1), "mix", mix, gamma)


# -- models, download, info -------------------------------------------------------------------


def _cmd_models(args: argparse.Namespace) -> int:
    rows = [("NAME", "DIM", "WEIGHTS SIZE", "CACHED", "LOCATION")]
    for name in models.available_models(cache_dir=args.cache_dir):
        entry = models.lookup(name, cache_dir=args.cache_dir)
        if entry.downloads:
            cached = "yes" if models.is_downloaded(name, cache_dir=args.cache_dir) else "no"
            location = str(models.model_directory(name, cache_dir=args.cache_dir))
        else:
            cached = "local" if models.is_downloaded(name, cache_dir=args.cache_dir) \
                else "missing"
            location = entry.directory or str(entry.weights)
        size = _bytes(entry.weights_size) if entry.weights_size is not None else "unknown"
        rows.append((name, str(entry.dim) if entry.dim else "?", size, cached, location))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    return 0


def _cmd_download(args: argparse.Namespace) -> int:
    _, weight_file = models.download(
        args.name, cache_dir=args.cache_dir, force=args.force,
        progress=None if args.progress == "auto" else args.progress, timeout=args.timeout,
    )
    print(f"{args.name}: {weight_file.parent}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    print(f"model:        {args.model}")
    if not Path(args.model).is_dir():
        entry = models.lookup(args.model)
        if entry.description:
            print(f"description:  {entry.description}")
        if entry.downloads:
            print(f"options url:  {entry.options}")
            print(f"weights url:  {entry.weights}")
            if not models.is_downloaded(args.model):
                print(f"output width: {entry.dim if entry.dim else 'unknown'}")
                print(f"not downloaded: run `skelmo download {args.model}` for the details.")
                return 0
        options_file, weight_file = models.get_model_files(args.model, download=False)
    else:
        options_file, weight_file = models.resolve_model(args.model)
    options = read_options(options_file)
    n_parameters = sum(math.prod(shape) for shape in expected_shapes(options).values())
    filters = ", ".join(f"{width}x{channels}" for width, channels in options.filters)
    print(f"options:      {options_file} ({_bytes(options_file.stat().st_size)})")
    print(f"weights:      {weight_file} ({_bytes(weight_file.stat().st_size)})")
    print(f"characters:   embedding {options.char_dim}, filters (width x channels) {filters}; "
          f"{options.n_filters} channels, {options.activation}")
    print(f"highway:      {options.n_highway} layer{'s' if options.n_highway != 1 else ''}")
    projection = f"{options.n_filters} -> {options.projection_dim}" \
        if options.uses_projection else "none"
    print(f"projection:   {projection}")
    print(f"lstm:         {options.n_layers} layer{'s' if options.n_layers != 1 else ''} per "
          f"direction, cell {options.cell_dim}, projection {options.projection_dim}, "
          f"cell_clip {options.cell_clip}, proj_clip {options.proj_clip}, skip connections "
          f"{'yes' if options.use_skip_connections else 'no'}")
    print(f"output:       {options.n_layers + 1} layers of width {options.output_dim}")
    print(f"parameters:   {n_parameters:,}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    options = read_options(args.options) if args.options else None
    result = train(
        args.corpus, args.output_dir, heldout=args.heldout, options=options,
        vocab_size=args.vocab_size, min_count=args.min_count, epochs=args.epochs,
        max_steps=args.steps, batch_size=args.batch_size, unroll_steps=args.unroll_steps,
        learning_rate=args.learning_rate, warmup_steps=args.warmup_steps, dropout=args.dropout,
        seed=args.seed, device=args.device, checkpoint_every=args.checkpoint_every,
        resume=args.resume, progress=args.progress,
    )
    print(f"{result.model_dir}: {result.steps} steps in {result.seconds:.0f} s, training "
          f"perplexity {result.train_perplexity:.1f}")
    if result.heldout is not None:
        print(f"held-out perplexity: {result.heldout.mean:.1f} (forward "
              f"{result.heldout.forward:.1f}, backward {result.heldout.backward:.1f})")
    return 0


def _bytes(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} bytes"  # pragma: no cover
