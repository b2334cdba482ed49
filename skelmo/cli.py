"""The ``skelmo`` command line: embed sentences, manage models, train a biLM.

Run ``skelmo --help`` (or ``python -m skelmo --help``) for the subcommands and
``skelmo SUBCOMMAND --help`` for their options. Exit status: 0 on success,
1 on a runtime error (the message goes to stderr), 2 on a usage error, 130
when interrupted (Ctrl-C, SIGINT), 143 when terminated (SIGTERM, during
``skelmo embed`` and ``skelmo train``) and 141, with no message, when the
reader of the output went away (``skelmo models | head -1``).

Start-up is light: this module imports neither torch nor h5py; each
subcommand imports what it needs when it runs, so ``--help``, ``--version``
and usage errors answer at once, and a Ctrl-C while torch is being imported
ends with one line, like any other.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any

from ._utils import PRECISIONS, STATE_POLICIES, atomic_path, progress_bar, same_file

__all__ = ["main"]

_LAYERS = ("all", "top", "average", "mix")
_THREADS_HELP = ("torch CPU threads (default: torch's setting, one per core; on a shared or busy "
                 "machine 1 is often faster)")
# skelmo.models' MAX_TIMEOUT (one day), repeated here to keep start-up light.
_MAX_TIMEOUT = 86400.0


class CommandError(Exception):
    """A runtime error reported as one line on stderr, exit status 1."""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread while ``skelmo embed`` or ``train`` runs; exit 143.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on
    the way up stops it.
    """


_SIGNAL_EXCEPTIONS: dict[int, type[BaseException]] = {
    signal.SIGINT: KeyboardInterrupt,
    signal.SIGTERM: _Terminated,
}


def main(argv: list[str] | None = None) -> int:
    """Run the ``skelmo`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit status: 0 success, 1 runtime error, 2 usage error, 130
        interrupted (SIGINT), 143 terminated (SIGTERM), 141 standard output
        closed by its reader (a broken pipe).

    Examples
    --------
    >>> from skelmo.cli import main
    >>> main(["models", "--help"])  # doctest: +ELLIPSIS
    usage: skelmo models ...
    0
    """
    # Everything, the subcommands' imports of torch and h5py included, runs inside this try.
    try:
        status = _main(argv)
        if sys.stdout is not None:
            sys.stdout.flush()  # a reader gone away shows here at the latest, not at exit
        return status
    except BrokenPipeError:
        # `skelmo models | head -1`: stop quietly, as command-line tools do, with the status
        # a shell reports for SIGPIPE.
        _discard_stdout()
        return 141
    except KeyboardInterrupt:
        print("skelmo: interrupted.", file=sys.stderr)
        return 130
    except _Terminated:
        print("skelmo: terminated.", file=sys.stderr)
        return 143


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("skelmo: error: a subcommand is required.", file=sys.stderr)
        return 2
    try:
        return args.run(args)
    except SystemExit as exc:  # parser.error() inside a subcommand
        return exc.code if isinstance(exc.code, int) else 2
    except BrokenPipeError:  # handled by main()
        raise
    except KeyError as exc:
        print(f"skelmo: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 1
    except (CommandError, OSError, ValueError, RuntimeError, TypeError, ArithmeticError,
            ImportError) as exc:
        print(f"skelmo: error: {exc}", file=sys.stderr)
        return 1


def _discard_stdout() -> None:
    """Point standard output at the null device: nothing more goes to a closed pipe.

    Python flushes ``sys.stdout`` once more at exit; without this, what is left in
    its buffer would fail there too, with an "Exception ignored" message.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):  # no file behind sys.stdout
        pass


def _version() -> str:
    # The top-level package is always imported before this module. Reading its __version__
    # from sys.modules keeps the layering of docs/layout.md: the command line imports the
    # layers, never the package that re-exports them.
    return sys.modules[__name__.rpartition(".")[0]].__version__


# -- arguments --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skelmo",
        description="ELMo embeddings: embed sentences, manage the named models and pretrain "
        "a biLM.",
    )
    parser.add_argument("--version", action="version", version=f"skelmo {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    embed = sub.add_parser(
        "embed", help="embed a file of sentences into an HDF5 file",
        description="Embed INPUT, one whitespace-tokenized sentence per line, into OUTPUT "
        "(HDF5, the layout of AllenNLP's `allennlp elmo`: one dataset per line index, "
        "'0', '1', ..., and 'sentence_to_index', a JSON map from sentence to index). "
        "OUTPUT is written under a temporary name and renamed into place when complete: "
        "interrupted (Ctrl-C, SIGTERM) or failed, the command leaves OUTPUT as it was.",
    )
    embed.add_argument("input", metavar="INPUT", help="text file (UTF-8), or - for stdin")
    embed.add_argument("output", metavar="OUTPUT", help="HDF5 file to write")
    embed.add_argument("--model", "-m", metavar="MODEL", type=_model_argument,
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
    embed.add_argument("--gamma", type=float,
                       help="with --layers mix: the scale of the mix (default: 1)")
    embed.add_argument("--batch-size", type=_positive_int, default=64, metavar="N",
                       help="at most N sentences per forward pass (default: 64)")
    embed.add_argument("--max-batch-tokens", type=_positive_int, default=32768, metavar="N",
                       help="at most N positions per forward pass, sentences times the "
                       "longest one: bounds memory, not the results (default: 32768)")
    embed.add_argument("--split-sentences", action="store_true",
                       help="split each line at its sentence-final punctuation and run every "
                       "sentence as its own sequence; the line's dataset still holds its "
                       "tokens in order")
    embed.add_argument("--device", default="auto", metavar="DEVICE",
                       help="cpu, cuda, cuda:N or auto (default: auto, CUDA when available)")
    embed.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="bfloat16: the LSTM's products in bfloat16, on CUDA or a CPU with "
                       "AVX512-BF16 or AMX (default: float32)")
    embed.add_argument("--state", choices=STATE_POLICIES, default="warm",
                       help="LSTM initial state policy (default: warm; stateful reproduces "
                       "the original implementation's order-dependent outputs)")
    embed.add_argument("--overwrite", action="store_true",
                       help="replace OUTPUT if it exists (never the input file)")
    embed.add_argument("--threads", type=_positive_int, metavar="N", help=_THREADS_HELP)
    _progress_flag(embed)
    embed.set_defaults(run=_cmd_embed, usage_error=embed.error)

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
    download.add_argument("--timeout", type=_timeout, default=60.0, metavar="SECONDS",
                          help="seconds to wait to connect and for each read, at most 86400 "
                          "(default: 60)")
    _progress_flag(download)
    download.set_defaults(run=_cmd_download)

    info = sub.add_parser("info", help="describe a model's architecture and files",
                          description="Describe a model: architecture, parameter count, "
                          "output width, files and sizes.")
    info.add_argument("model", metavar="MODEL", type=_model_argument,
                      help="registered model name or model directory")
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
                       "(default: skelmo.training.default_options(), or that of --init-model)")
    train.add_argument("--init-model", metavar="MODEL", type=_model_argument,
                       help="continue the pretraining of MODEL (a registered name such as "
                       "'small', or a model directory) instead of starting from random "
                       "weights; the architecture is MODEL's")
    train.add_argument("--output-warmup-steps", type=_non_negative_int, metavar="N",
                       help="steps in which only the new output layer learns (default: 200 "
                       "with --init-model, else 0)")
    train.add_argument("--steps", type=_positive_int, metavar="N",
                       help="training steps in all (default: one pass per --epochs)")
    train.add_argument("--epochs", type=_positive_int, default=1, metavar="N")
    train.add_argument("--batch-size", type=_positive_int, default=64, metavar="N")
    train.add_argument("--unroll-steps", type=_positive_int, default=20, metavar="N")
    train.add_argument("--vocab-size", type=_positive_int, default=50000, metavar="N")
    train.add_argument("--min-count", type=_positive_int, default=3, metavar="N")
    train.add_argument("--learning-rate", type=_positive_float, default=2e-3, metavar="LR")
    train.add_argument("--warmup-steps", type=_non_negative_int, default=200, metavar="N")
    train.add_argument("--dropout", type=float, default=0.1, metavar="P")
    train.add_argument("--seed", type=_non_negative_int, default=0)
    train.add_argument("--device", default="auto", metavar="DEVICE",
                       help="cpu, cuda, cuda:N or auto (default: auto)")
    train.add_argument("--threads", type=_positive_int, metavar="N", help=_THREADS_HELP)
    train.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="bfloat16: mixed precision, for CPUs with AVX512-BF16 or AMX and "
                       "recent GPUs; faster than float32 with AMX, slower on Intel CPUs "
                       "without it (default: float32)")
    train.add_argument("--checkpoint-every", type=_positive_int, default=500, metavar="N")
    train.add_argument("--stop-at-step", type=_positive_int, metavar="N",
                       help="stop at step N and export the model then; run the same command "
                       "without it to continue the schedule")
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
    return _integer_at_least(text, 1, "a positive integer")


def _non_negative_int(text: str) -> int:
    return _integer_at_least(text, 0, "a non-negative integer")


def _integer_at_least(text: str, minimum: int, kind: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
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


def _timeout(text: str) -> float:
    value = _positive_float(text)
    if value > _MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"expected at most {_MAX_TIMEOUT:g} seconds (one day), got {text!r}")
    return value


def _model_argument(text: str) -> str:
    if not text:
        raise argparse.ArgumentTypeError(
            "expected a registered name (see `skelmo models`) or a model directory ('.' for "
            "the current one), got ''")
    return text


# -- embed ------------------------------------------------------------------------------------


def _cmd_embed(args: argparse.Namespace) -> int:
    if args.layers != "mix":
        given = [option for option, value in (("--mix-weights", args.mix_weights),
                                              ("--gamma", args.gamma)) if value is not None]
        if given:
            args.usage_error(f"{' and '.join(given)} apply only with --layers mix (got "
                             f"--layers {args.layers}); add --layers mix or drop them.")
    output = Path(args.output)
    _check_embed_paths(args.input, output, args.overwrite)
    with _Signals() as signals:
        try:
            return _embed(args, output, signals)
        except BaseException:
            if signals.received is not None:
                # Whatever the signal's exception became on its way up (a library may wrap
                # it), the run was interrupted: report it as such.
                raise _SIGNAL_EXCEPTIONS[signals.received]() from None
            raise


def _embed(args: argparse.Namespace, output: Path, signals: _Signals) -> int:
    """Embed INPUT into OUTPUT; the rename of the finished file is the point of no return."""
    import h5py

    from . import models
    from ._engine import ElmoEmbedder, load_bilm, torch_threads
    from ._format import split_token_sentences

    with torch_threads(args.threads):
        options_file, weight_file = models.resolve_model(args.model)
        bilm = load_bilm(options_file, weight_file, device=args.device)
        select = _layer_selection(args, bilm.n_layers)
        try:
            embedder = ElmoEmbedder(bilm, batch_size=args.batch_size, state=args.state,
                                    max_batch_tokens=args.max_batch_tokens,
                                    precision=args.precision)
        except ValueError as error:
            raise CommandError(str(error)) from None
        sentence_to_index: dict[str, str] = {}
        with _open_input(args.input) as (source, label):
            # From here on no exception is raised from outside this module: none between the
            # creation of the temporary file and the with-block that removes it again, none
            # inside h5py or torch where it could be dropped.
            signals.writing()
            with atomic_path(output) as tmp:
                signals.check()
                with h5py.File(tmp, "w") as fout, progress_bar(
                        args.progress, total=None, desc="embedding", unit="sentence") as bar:
                    lines = _sentences(source, label, sentence_to_index, signals.check)
                    split = split_token_sentences if args.split_sentences else _whole
                    for index, layers in embedder.iter_documents(split(line) for line in lines):
                        signals.check()
                        fout.create_dataset(str(index), data=select(layers.cpu().numpy()))
                        bar.update(1)
                    fout.create_dataset("sentence_to_index", (1,), dtype=h5py.string_dtype(),
                                        data=[json.dumps(sentence_to_index)])
                # The last statement before atomic_path renames the file into place: a signal
                # recorded by now stops the rename.
                signals.last_check()
    if signals.received is not None:
        print(f"skelmo: {output} was complete when the signal arrived; kept it.",
              file=sys.stderr)
    return 0


def _check_embed_paths(input_name: str, output: Path, overwrite: bool) -> None:
    """Refuse, before anything is loaded, an OUTPUT that cannot or must not be written."""
    if output.is_dir():
        raise CommandError(f"{output} is a directory; OUTPUT is the HDF5 file to write "
                           f"(for example {output / 'embeddings.hdf5'}).")
    if input_name == "-" and sys.stdin is None:
        raise CommandError("INPUT is - but standard input is closed; give the sentences on "
                           "standard input (skelmo embed - OUTPUT < FILE) or pass the file "
                           "as INPUT.")
    if input_name != "-":
        # Anything readable will do: a file, a named pipe (<(...)), /dev/stdin.
        if Path(input_name).is_dir():
            raise CommandError(f"{input_name} is a directory; INPUT is the text file to embed, "
                               "one sentence per line.")
        if not Path(input_name).exists():
            raise CommandError(f"{input_name}: no such input file.")
    if _is_the_input(input_name, output):
        what = "standard input" if input_name == "-" else input_name
        raise CommandError(f"{output} is the input file ({what}); the input is never "
                           "replaced: choose another OUTPUT.")
    if output.exists() and not output.is_file():
        raise CommandError(f"{output} is not a regular file (a device, a named pipe or a "
                           "socket): OUTPUT must be a regular file to be overwritten, or a "
                           "new one. Choose another OUTPUT.")
    if output.exists() and not overwrite:
        raise CommandError(f"{output} already exists; pass --overwrite to replace it.")
    if not output.parent.is_dir():
        raise CommandError(f"{output.parent}: the output directory does not exist.")


def _is_the_input(input_name: str, output: Path) -> bool:
    """Whether OUTPUT is the input file: the same path, a symbolic link or a hard link."""
    try:
        if input_name == "-":
            # Standard input redirected from OUTPUT.
            return output.exists() and os.path.samestat(os.fstat(sys.stdin.fileno()),
                                                        os.stat(output))
        return same_file(input_name, output)
    except (AttributeError, OSError, RuntimeError, ValueError):
        # No file behind stdin (a pipe stands in for it), or a path that cannot be resolved
        # (a symbolic link loop: the checks that follow report it).
        return False


class _Signals:
    """SIGINT and SIGTERM as exceptions in the main thread for the duration of a with-block.

    The handler records the first signal and raises its exception
    (KeyboardInterrupt for SIGINT, _Terminated for SIGTERM), at once while
    the command prepares (imports, loading the model). Once the output is
    being written it raises only when the interrupted code is this module's
    (a read of standard input, for one), since elsewhere (a weak-reference
    callback inside h5py or torch, a ``__del__``) Python may print the
    exception and drop it; the writing loop calls :meth:`check` at every step
    instead, and once more right before the output is renamed into place, so
    no signal is lost. After that last check signals are recorded only. The
    previous handlers are restored on exit. Outside the main thread (where no
    handler can be set) this does nothing.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._anywhere = True
        self._done = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNAL_EXCEPTIONS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        if self._done:
            return
        if self._anywhere or (frame is not None and frame.f_globals is globals()):
            self._anywhere = False
            raise _SIGNAL_EXCEPTIONS[self.received]()

    def writing(self) -> None:
        """From now on raise only in this module's code; raise for a signal recorded so far."""
        self._anywhere = False
        self.check()

    def check(self) -> None:
        """Raise the exception of a signal recorded earlier, if any."""
        if self.received is not None:
            raise _SIGNAL_EXCEPTIONS[self.received]()

    def last_check(self) -> None:
        """Raise for a signal recorded so far; from now on record signals only.

        Stopping the handler's raising first leaves no moment in which a signal is
        neither seen here nor recorded for the caller.
        """
        self._done = True
        self.check()


@contextmanager
def _open_input(name: str) -> Iterator[tuple[IO[bytes], str]]:
    if name == "-":
        yield sys.stdin.buffer, "<stdin>"
        return
    with open(name, "rb") as fin:
        yield fin, name


def _sentences(source: IO[bytes], label: str, sentence_to_index: dict[str, str],
               check: Callable[[], None]) -> Iterator[list[str]]:
    """Tokenized lines, read lazily; blank lines and invalid UTF-8 are errors.

    ``check`` is called before each line and raises to stop the run.
    """
    for number, raw in enumerate(source, start=1):
        check()
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CommandError(
                f"{label}: line {number} is not valid UTF-8 ({exc.reason} at byte "
                f"{exc.start}); convert the file to UTF-8."
            ) from None
        if number == 1:
            line = line.removeprefix("\ufeff")  # a byte order mark is no part of the text
        sentence = line.strip()
        if not sentence:
            raise CommandError(
                f"{label}: line {number} is blank; every line must hold one sentence "
                "(remove the blank lines)."
            )
        sentence_to_index[sentence] = str(number - 1)
        yield sentence.split()


def _whole(tokens: list[str]) -> list[list[str]]:
    """A line as one sentence."""
    return [tokens]


def _layer_selection(args: argparse.Namespace, n_layers: int) -> Any:
    """The function from one sentence's layers ``(n_layers, T, dim)`` to its output."""
    if args.layers == "all":
        return lambda layers: layers
    if args.layers == "top":
        return lambda layers: layers[-1]
    if args.layers == "average":
        return lambda layers: layers.mean(axis=0)
    import numpy as np

    from ._estimators import check_mix, combine_layers, softmax

    weights, gamma = check_mix(args.mix_weights, 1.0 if args.gamma is None else args.gamma,
                               n_layers)
    mix = softmax(weights)
    return lambda layers: combine_layers(np.moveaxis(layers, 0, 1), "mix", mix, gamma)


# -- models, download, info -------------------------------------------------------------------


def _cmd_models(args: argparse.Namespace) -> int:
    from . import models

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
    from . import models

    _, weight_file = models.download(
        args.name, cache_dir=args.cache_dir, force=args.force,
        progress=None if args.progress == "auto" else args.progress, timeout=args.timeout,
    )
    print(f"{args.name}: {weight_file.parent}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from . import models
    from ._format import expected_shapes, read_model

    header = [f"model:        {args.model}"]
    path = Path(args.model)
    if path.is_dir():
        options_file, weight_file = models.resolve_model(args.model)
    elif args.model in models.available_models():
        entry = models.lookup(args.model)
        if entry.description:
            header.append(f"description:  {entry.description}")
        if entry.downloads:
            header.append(f"options url:  {entry.options}")
            header.append(f"weights url:  {entry.weights}")
            if not models.is_downloaded(args.model):
                print("\n".join(header))
                print(f"output width: {entry.dim if entry.dim else 'unknown'}")
                print(f"not downloaded: run `skelmo download {args.model}` for the details "
                      "(a copy downloaded with --cache-dir DIR is found with SKELMO_HOME=DIR).")
                return 0
        options_file, weight_file = models.get_model_files(args.model, download=False)
    elif path.exists():
        raise CommandError(f"{path} is a file, not a model directory; pass the directory "
                           "that holds options.json and the weights file.")
    else:
        raise CommandError(f"{args.model}: no such model directory, and not a registered "
                           "model name. Registered names: "
                           f"{', '.join(models.available_models())}. (--cache-dir applies to "
                           "`skelmo models` and `skelmo download` only: for a model registered "
                           "or downloaded there, set SKELMO_HOME=DIR.)")
    # Every dataset is read and checked against the options: a truncated or damaged
    # weights file fails here, before anything is printed.
    options, _ = read_model(options_file, weight_file)
    print("\n".join(header))
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
    from ._engine import torch_threads
    from ._format import read_options
    from .training import train

    options = read_options(args.options) if args.options else None
    # SIGTERM (a job scheduler's stop) checkpoints the run as Ctrl-C does.
    with _Signals(), torch_threads(args.threads):
        result = train(
            args.corpus, args.output_dir, heldout=args.heldout, options=options,
            init_model=args.init_model, output_warmup_steps=args.output_warmup_steps,
            vocab_size=args.vocab_size, min_count=args.min_count, epochs=args.epochs,
            max_steps=args.steps, batch_size=args.batch_size, unroll_steps=args.unroll_steps,
            learning_rate=args.learning_rate, warmup_steps=args.warmup_steps,
            dropout=args.dropout, seed=args.seed, device=args.device, precision=args.precision,
            checkpoint_every=args.checkpoint_every, stop_at_step=args.stop_at_step,
            resume=args.resume,
            progress=args.progress,
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
