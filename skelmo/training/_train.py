"""The training loop, learning-rate schedule, checkpoints and perplexity of skelmo.training."""

from __future__ import annotations

import json
import math
import numbers
import os
import pickle
import platform
import re
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from .._engine import resolve_device
from .._format import (
    ElmoOptions,
    ElmoWeights,
    ModelFileError,
    read_model,
    read_options,
    write_model,
)
from .._utils import (
    PRECISIONS,
    atomic_path,
    check_integer,
    check_progress,
    progress_bar,
    same_file,
    sha256_file,
)
from ..models import resolve_model
from ._data import EncodedText, Vocabulary, count_words, n_windows, read_corpus, windows
from ._model import LmSoftmax, TrainableBiLM

__all__ = ["Perplexity", "TrainingResult", "default_options", "evaluate_perplexity", "train"]

_CHECKPOINT = "checkpoint.pt"
_SOFTMAX = "softmax.pt"
_VOCABULARY = "vocab.txt"
_LOG = "training.json"
# What train() writes in a checkpoint and in the output layer's file; anything
# else there means the file is not one of skelmo's.
_CHECKPOINT_KEYS = ("config", "model", "softmax", "optimizer", "schedule", "h", "c", "rng",
                    "cuda_rng", "step", "history", "elapsed")
_SOFTMAX_KEYS = ("state", "cutoffs")
OPTIONS_FILE = "options.json"
WEIGHT_FILE = "weights.hdf5"


def default_options(**changes: Any) -> ElmoOptions:
    """The architecture :func:`train` uses unless told otherwise.

    The bundled model's: a small member of the published family, with a
    character CNN of 128 filters (relu), two highway layers, a projection to
    128 and two LSTM layers per direction (256 cells projected to 128, clipped
    at 3) with a residual connection. It trains about three times as fast as
    one with 512 filters and 512 cells (see the user guide's benchmarks).

    Parameters
    ----------
    **changes
        Fields of :class:`~skelmo.ElmoOptions` to change.

    Returns
    -------
    ElmoOptions

    Examples
    --------
    >>> from skelmo.training import default_options
    >>> default_options(n_layers=1).n_layers
    1
    """
    options = ElmoOptions(
        char_dim=16,
        filters=((1, 8), (2, 8), (3, 16), (4, 32), (5, 64)),
        n_highway=2,
        activation="relu",
        projection_dim=128,
        cell_dim=256,
        n_layers=2,
        cell_clip=3.0,
        proj_clip=3.0,
        use_skip_connections=True,
    )
    return replace(options, **changes)


@dataclass(frozen=True)
class Perplexity:
    """Perplexity of the two language models on some text.

    Attributes
    ----------
    forward, backward : float
        Per-direction perplexity (the exponential of the mean negative
        log-likelihood per predicted token; ``</S>`` and unknown words count).
    mean : float
        The exponential of the average of the two mean losses, as the
        original ELMo training reports it.
    n_tokens : int
        Tokens predicted in each direction.
    """

    forward: float
    backward: float
    mean: float
    n_tokens: int


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` did.

    Attributes
    ----------
    model_dir : Path
        Holds ``options.json`` and ``weights.hdf5``, the vocabulary, the
        output layer, the last checkpoint and ``training.json``.
    steps : int
        Training steps taken in all (resumed runs included).
    train_perplexity : float
        Running perplexity over the last steps.
    heldout : Perplexity or None
        Held-out perplexity of the exported model, when held-out text was given.
    seconds : float
        Wall-clock time in all, resumed runs included (the final held-out
        evaluation excluded).
    """

    model_dir: Path
    steps: int
    train_perplexity: float
    heldout: Perplexity | None
    seconds: float


def train(
    corpus: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    heldout: str | os.PathLike[str] | None = None,
    options: ElmoOptions | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    init_model: Any = None,
    output_warmup_steps: int | None = None,
    vocab_size: int = 50000,
    min_count: int = 3,
    epochs: int = 1,
    max_steps: int | None = None,
    batch_size: int = 64,
    unroll_steps: int = 20,
    learning_rate: float = 2e-3,
    warmup_steps: int = 200,
    clip_norm: float = 10.0,
    dropout: float = 0.1,
    seed: int = 0,
    device: str = "auto",
    precision: str = "float32",
    checkpoint_every: int = 500,
    stop_at_step: int | None = None,
    resume: bool = True,
    progress: bool | str = "auto",
    callback: Callable[[int, float], None] | None = None,
) -> TrainingResult:
    """Pretrain a biLM on a corpus and export it in the published format.

    The forward and backward language models are trained together on a
    shared character encoder and a shared (adaptive) softmax, with Adam, a
    linear warm-up then cosine decay of the learning rate, and gradient
    clipping. Text is read in windows of ``unroll_steps`` tokens with the LSTM
    state carried across windows, so the model learns to read a sentence
    after other text, as in the original ELMo training.

    A checkpoint is written every ``checkpoint_every`` steps and when the run
    stops between two steps on an exception (Ctrl-C, a failing ``callback``;
    SIGTERM too under ``skelmo train``). Calling :func:`train` again with the
    same arguments and corpus text resumes from it and gives the same model as
    an uninterrupted run (on the same device and number of threads). Nothing
    in ``output_dir`` but the checkpoint changes before the run ends: the
    model files and the vocabulary are written together at the end.
    Checkpoints hold only tensors and plain values, and are read with
    ``torch.load(weights_only=True)``: reading one never runs code from it.

    Parameters
    ----------
    corpus : str or path-like
        UTF-8 text, one tokenized sentence per line.
    output_dir : str or path-like
        Where the model, its vocabulary and the checkpoint are written.
    heldout : str or path-like, default=None
        Held-out text in the same format; its perplexity is measured on the
        exported model at the end.
    options : ElmoOptions, dict or path-like, default=None
        The architecture: an :class:`~skelmo.ElmoOptions`, a dict in the
        layout of ``options.json``, or the path of an ``options.json``. None
        means :func:`default_options`, or ``init_model``'s architecture.
    init_model : str, path-like or (options_file, weight_file), default=None
        Continue the pretraining of this model instead of starting from
        random weights: anything the estimators' ``model`` accepts (a
        registered name, the published models included, a directory, or
        the two files). Its architecture is used (an ``options`` that differs
        is an error) and its biLM weights are the starting point. The output
        layer, which model files do not hold, is new, for this corpus's
        vocabulary; it is trained alone first (see ``output_warmup_steps``).
        None trains from scratch.
    output_warmup_steps : int, default=None
        Steps at the start in which only the output layer learns and the biLM
        weights stay fixed, so that the gradients of a new, random output
        layer do not disturb a pretrained biLM. None means 200 with
        ``init_model`` (capped at a fifth of the steps) and 0 without. The
        biLM's own learning-rate warm-up starts after them.
    vocab_size, min_count : int, default=50000, 3
        The softmax predicts the ``vocab_size`` most frequent words seen at
        least ``min_count`` times; others are predicted as ``<UNK>``. The
        model still reads every word through its characters.
    epochs : int, default=1
        Passes over the corpus, each in a new seeded order.
    max_steps : int, default=None
        Stop after this many steps in all (the learning-rate schedule spans
        them); None trains for ``epochs``.
    batch_size, unroll_steps : int, default=64, 20
        Parallel rows of text and tokens per row per step.
    learning_rate, warmup_steps, clip_norm, dropout : float, int, float, float
        Optimisation settings.
    seed : int, default=0
        Fixes the initial weights, the sentence order and dropout.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the matrix products and convolutions of training
        in bfloat16 (mixed precision: the weights, the optimizer, the LSTM
        state and cell arithmetic and every log-softmax stay float32, and the
        exported weights are float32).
        For hardware that computes in bfloat16 natively (CPUs with
        AVX512-BF16 or AMX, recent GPUs). The benchmarks page measures it:
        faster on an AMD CPU with AVX512-BF16 and on AMX Xeons, slower than
        float32 on an Intel Xeon without AMX. Elsewhere, use float32.
    checkpoint_every : int, default=500
    stop_at_step : int, default=None
        Stop at this step, before the end of the schedule, and export the
        model as it is then: for a run longer than one sitting. The schedule
        (learning-rate decay) still spans every step, and running again
        without it (or with a later step) continues the run from its
        checkpoint. ``training.json`` records the steps taken and planned.
    resume : bool, default=True
        Continue from the checkpoint in ``output_dir`` if there is one. It
        must come from a run with the same arguments.
    progress : {"auto", True, False}, default="auto"
        Progress bar with the running perplexity (tqdm); ``"auto"`` shows it
        when stderr is a terminal and tqdm is installed.
    callback : callable, default=None
        Called as ``callback(step, loss)`` after every step.

    Returns
    -------
    TrainingResult

    Raises
    ------
    ValueError
        Before any training: if an argument is out of its range or not a
        plain number or string, the corpus or held-out text is empty, not
        UTF-8 or too small for the batch, ``options`` conflicts with
        ``init_model``, an input (the corpus, the held-out text, the options
        file, ``init_model``'s files) is one of the files training writes in
        ``output_dir``, ``output_dir`` holds a model that :func:`train` did
        not write, or the checkpoint in ``output_dir`` comes from a run with
        other arguments or another corpus text.
    FloatingPointError
        If the loss stops being finite (the run diverged): nothing is
        exported, and the last checkpoint written before stays.
    ModelFileError
        If the checkpoint in ``output_dir`` is not one :func:`train` wrote
        (unreadable, or holding anything but tensors and plain values).
    """
    check_progress(progress)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, "
                         f"got {precision!r}.")
    if not isinstance(resume, bool):
        raise ValueError(f"resume must be True or False, got {resume!r}.")
    learning_rate = _check_real(learning_rate, "learning_rate", ">= 0")
    clip_norm = _check_real(clip_norm, "clip_norm", "> 0")
    dropout = _check_real(dropout, "dropout", "in [0, 1)")
    vocab_size, min_count, epochs, batch_size, unroll_steps, checkpoint_every = (
        check_integer(value, name) for value, name in (
            (vocab_size, "vocab_size"), (min_count, "min_count"), (epochs, "epochs"),
            (batch_size, "batch_size"), (unroll_steps, "unroll_steps"),
            (checkpoint_every, "checkpoint_every")))
    max_steps = check_integer(max_steps, "max_steps", none_ok=True)
    warmup_steps = check_integer(warmup_steps, "warmup_steps", minimum=0)
    seed = check_integer(seed, "seed", minimum=0)
    if seed >= 2**63:
        raise ValueError(f"seed must be below 2**63, got {seed}.")
    output_warmup_steps = check_integer(output_warmup_steps, "output_warmup_steps", minimum=0,
                                        none_ok=True)
    stop_at_step = check_integer(stop_at_step, "stop_at_step", none_ok=True)
    output_dir = Path(output_dir)
    inputs = {"corpus": corpus, "heldout": heldout}
    if isinstance(options, (str, os.PathLike)):
        inputs["options"] = options
    options = _as_options(options)
    start_weights, start_identity = None, None
    if init_model is not None:
        options, start_weights, start_identity = _starting_model(init_model, options)
        inputs["init_model"] = start_identity["options"]
        inputs["init_model's weights"] = start_identity["weights"]
    elif options is None:
        options = default_options()
    _check_output_dir(output_dir, inputs)
    torch_device = resolve_device(device)
    # Plain JSON types only, so that the checkpoint loads with weights_only=True.
    config = _plain({
        "corpus": str(Path(corpus).resolve()), "corpus_sha256": sha256_file(corpus),
        "options": options.to_dict(),
        "init_model": start_identity, "output_warmup_steps": output_warmup_steps,
        "vocab_size": vocab_size, "min_count": min_count, "epochs": epochs,
        "max_steps": max_steps, "batch_size": batch_size, "unroll_steps": unroll_steps,
        "learning_rate": learning_rate, "warmup_steps": warmup_steps, "clip_norm": clip_norm,
        "dropout": dropout, "seed": seed, "precision": precision,
    })
    started = time.perf_counter()
    vocabulary = Vocabulary.from_counts(count_words(corpus), vocab_size, min_count)
    data = read_corpus(corpus, vocabulary)
    per_epoch = n_windows(data, batch_size, unroll_steps)
    if per_epoch == 0:
        raise ValueError(f"{corpus}: {data.n_tokens} tokens is too little text for "
                         f"batch_size={batch_size} and unroll_steps={unroll_steps}.")
    if heldout is not None:
        # Read now, so that a wrong held-out file is reported before the training, not after.
        _heldout_rows(read_corpus(heldout, vocabulary), heldout, batch_size, unroll_steps)
    total_steps = max_steps if max_steps is not None else epochs * per_epoch
    if output_warmup_steps is None:
        output_warmup_steps = min(200, total_steps // 5) if start_weights is not None else 0
    frozen_steps = min(output_warmup_steps, total_steps)
    last_step = total_steps if stop_at_step is None else min(stop_at_step, total_steps)

    generator = torch.Generator().manual_seed(seed)
    model = TrainableBiLM(options, generator, dropout)
    if start_weights is not None:
        model.load_weights(start_weights)
    model.to(torch_device)
    torch.manual_seed(seed)  # dropout
    softmax = LmSoftmax(options.projection_dim, len(vocabulary),
                        LmSoftmax.default_cutoffs(len(vocabulary))).to(torch_device)
    parameters = list(model.parameters()) + list(softmax.parameters())
    # A plain float: the optimizer's state (a NumPy scalar here would not load back).
    optimizer = torch.optim.Adam([{"params": list(model.parameters())},
                                  {"params": list(softmax.parameters())}],
                                 lr=float(learning_rate))
    # The biLM's schedule starts when the output layer's warm-up ends.
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, [
        lambda step: (0.0 if step < frozen_steps else _learning_rate_factor(
            step - frozen_steps, warmup_steps, total_steps - frozen_steps)),
        lambda step: _learning_rate_factor(step, warmup_steps, total_steps),
    ])
    state = model.zero_state(batch_size, torch_device)
    step, history, elapsed = 0, [], 0.0
    checkpoint_path = output_dir / _CHECKPOINT
    if resume and checkpoint_path.exists():
        saved = _load_plain(checkpoint_path, torch_device, "checkpoint", _CHECKPOINT_KEYS)
        try:
            same_run = bool(saved["config"] == config)
        except (RuntimeError, TypeError, ValueError):  # tensors where plain values belong
            same_run = False
        if not same_run:
            differ = sorted(k for k in config if not isinstance(saved["config"], dict)
                            or saved["config"].get(k) != config[k])
            changed = "corpus text" if differ == ["corpus_sha256"] else ", ".join(differ)
            raise ValueError(
                f"{checkpoint_path} comes from a run with other arguments ({changed}); pass "
                "the same arguments to resume it, resume=False to start again, or another "
                "output_dir.")
        try:
            model.load_state_dict(saved["model"])
            softmax.load_state_dict(saved["softmax"])
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            state = (saved["h"].to(torch_device), saved["c"].to(torch_device))
            torch.set_rng_state(saved["rng"])
            if torch_device.type == "cuda" and saved["cuda_rng"] is not None:
                torch.cuda.set_rng_state(saved["cuda_rng"], torch_device)
            step, history, elapsed = saved["step"], saved["history"], saved["elapsed"]
            if not (_is_int(step) and isinstance(history, list)
                    and isinstance(elapsed, (int, float))):
                raise TypeError("step, history or elapsed of the wrong type")
        except (RuntimeError, TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            raise ModelFileError(checkpoint_path,
                                 f"not a checkpoint written by skelmo.train ({exc}); remove it, "
                                 "or pass resume=False to start again.") from None

    def save_checkpoint() -> None:
        _atomic_torch_save({
            "config": config, "model": model.state_dict(), "softmax": softmax.state_dict(),
            "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
            "h": state[0].cpu(), "c": state[1].cpu(), "rng": torch.get_rng_state(),
            "cuda_rng": (torch.cuda.get_rng_state(torch_device)
                         if torch_device.type == "cuda" else None),
            "step": step, "history": history,
            "elapsed": elapsed + time.perf_counter() - started,
        }, checkpoint_path)

    char_ids = data.char_ids.to(torch_device)
    targets = data.targets.to(torch_device)
    running = None
    model.train()
    softmax.train()
    output_dir.mkdir(parents=True, exist_ok=True)
    # True while the weights, the optimizer and the schedule are being moved to the next
    # step: a checkpoint written then would hold half a step.
    updating = False
    try:
        with progress_bar(progress, total=total_steps, initial=step, desc="training",
                          unit="step") as bar:
            while step < last_step:
                epoch, start = divmod(step, per_epoch)
                if start == 0:
                    state = model.zero_state(batch_size, torch_device)
                for window in windows(data, batch_size, unroll_steps, seed, epoch, start):
                    if step >= last_step:
                        break
                    # While the output layer warms up, the biLM only reads: no
                    # gradient, so Adam neither moves it nor gathers statistics.
                    with torch.set_grad_enabled(step >= frozen_steps):
                        features, next_state = _features(model, window, char_ids, state,
                                                         precision)
                    loss = _loss(softmax, features, window, targets, precision)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    value = loss.item()
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"training diverged at step {step + 1}: the loss is {value}. Lower "
                            f"learning_rate (it is {learning_rate:g}) and start again "
                            "(resume=False, or another output_dir); the checkpoint in "
                            f"{output_dir} is the last one written before.")
                    torch.nn.utils.clip_grad_norm_(parameters, clip_norm)
                    with _signals_held():
                        updating = True
                        if learning_rate == 0:
                            # Adam skips a parameter without a gradient; a zero step would
                            # still turn -0.0 weights into 0.0.
                            optimizer.zero_grad(set_to_none=True)
                        optimizer.step()
                        schedule.step()
                        step += 1
                        state = next_state
                        history.append(round(value, 5))
                        updating = False
                    running = value if running is None else 0.98 * running + 0.02 * value
                    bar.update(1)
                    bar.set_postfix(ppl=f"{_perplexity(running):.1f}")
                    if callback is not None:
                        callback(step, value)
                    if step % checkpoint_every == 0:
                        save_checkpoint()
    except FloatingPointError:
        raise
    except BaseException:
        # Interrupted (Ctrl-C, SIGTERM under the command line, a failing callback): keep
        # every step done, unless an error broke off the update of one (a signal waits
        # for the update to end, and a second one for this checkpoint to be written).
        if not updating:
            with _signals_held():
                save_checkpoint()
        raise
    save_checkpoint()
    model.eval()
    write_model(options, model.to_weights(), output_dir / OPTIONS_FILE,
                output_dir / WEIGHT_FILE)
    _atomic_torch_save({"state": softmax.state_dict(), "cutoffs": softmax.cutoffs},
                       output_dir / _SOFTMAX)
    with atomic_path(output_dir / _VOCABULARY) as tmp:
        vocabulary.save(tmp)
    seconds = elapsed + time.perf_counter() - started
    recent = history[-100:]
    train_ppl = _perplexity(sum(recent) / len(recent)) if recent else float("nan")
    result_heldout = (evaluate_perplexity(output_dir, heldout, batch_size=batch_size,
                                          unroll_steps=unroll_steps, device=device)
                      if heldout is not None else None)
    _write_log(output_dir / _LOG, config, step, int(total_steps), train_ppl, result_heldout,
               seconds, torch_device, len(vocabulary), data)
    return TrainingResult(output_dir, step, train_ppl, result_heldout, seconds)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for the duration of the block, then deliver them.

    Python handlers only (the default Ctrl-C one, the command line's): one that
    arrives in the block is recorded and its handler called once the block ends,
    so the exception it raises cannot cut a step's update in half. Outside the
    main thread, or for a signal without a Python handler, this changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[tuple[int, Any]] = []

    def record(signum: int, frame: Any) -> None:
        received.append((signum, frame))

    held = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler):
            held[signum] = handler
            signal.signal(signum, record)
    try:
        yield
    finally:
        for signum, handler in held.items():
            signal.signal(signum, handler)
        for signum, frame in received:
            held[signum](signum, frame)


def evaluate_perplexity(
    model_dir: str | os.PathLike[str],
    text: str | os.PathLike[str],
    *,
    batch_size: int = 64,
    unroll_steps: int = 20,
    device: str = "auto",
) -> Perplexity:
    """Perplexity of a trained model's language models on held-out text.

    The biLM is read from the exported ``options.json`` and ``weights.hdf5``
    (so the files themselves are measured), the output layer and vocabulary
    from the files :func:`train` writes beside them. Text is read as in
    training (sentences in file order, state carried, no dropout); the last
    partial window of each row is left out.

    Parameters
    ----------
    model_dir : str or path-like
        A directory written by :func:`train`.
    text : str or path-like
        One tokenized sentence per line.
    batch_size, unroll_steps : int, default=64, 20
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"

    Returns
    -------
    Perplexity

    Raises
    ------
    FileNotFoundError
        If ``model_dir`` lacks a file :func:`train` writes.
    ModelFileError
        If the model files are invalid, or the output layer's file is not one
        :func:`train` wrote. It is read with ``torch.load(weights_only=True)``:
        reading it never runs code from it.
    """
    model_dir = Path(model_dir)
    missing = [n for n in (OPTIONS_FILE, WEIGHT_FILE, _VOCABULARY, _SOFTMAX)
               if not (model_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{model_dir} is not a directory written by skelmo.train "
                                f"(missing: {', '.join(missing)}).")
    torch_device = resolve_device(device)
    options, weights = read_model(model_dir / OPTIONS_FILE, model_dir / WEIGHT_FILE)
    model = TrainableBiLM(options, torch.Generator().manual_seed(0), dropout=0.0)
    model.load_weights(weights)
    vocabulary = Vocabulary.load(model_dir / _VOCABULARY)
    softmax_path = model_dir / _SOFTMAX
    saved = _load_plain(softmax_path, torch.device("cpu"), "output layer", _SOFTMAX_KEYS)
    try:
        softmax = LmSoftmax(options.projection_dim, len(vocabulary), saved["cutoffs"])
        softmax.load_state_dict(saved["state"])
    except (RuntimeError, TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        raise ModelFileError(softmax_path, "not an output layer written by skelmo.train "
                             f"for this model and vocabulary ({exc}).") from None
    model.to(torch_device).eval()
    softmax.to(torch_device).eval()
    data = read_corpus(text, vocabulary)
    batch_size = _heldout_rows(data, text, batch_size, unroll_steps)
    char_ids, targets = data.char_ids.to(torch_device), data.targets.to(torch_device)
    state = model.zero_state(batch_size, torch_device)
    sums, count = torch.zeros(2, dtype=torch.float64), 0
    with torch.no_grad():
        for window in windows(data, batch_size, unroll_steps, seed=0, epoch=0, shuffle=False):
            features, state = _features(model, window, char_ids, state)
            log_p = _log_probs(softmax, features, window, targets)
            sums += log_p.sum(dim=1).double().cpu()
            count += log_p.shape[1]
    mean_nll = (-sums / count).tolist()
    return Perplexity(forward=math.exp(mean_nll[0]), backward=math.exp(mean_nll[1]),
                      mean=math.exp(sum(mean_nll) / 2), n_tokens=count)


def _heldout_rows(data: EncodedText, path: Any, batch_size: int, unroll_steps: int) -> int:
    """The rows :func:`evaluate_perplexity` reads ``data`` in; an error if it has no window.

    Short texts get fewer rows, so that every row holds at least two windows.
    """
    stream = data.n_tokens + 2 * len(data.sentences)
    rows = max(1, min(batch_size, stream // (2 * unroll_steps + 2)))
    if n_windows(data, rows, unroll_steps) == 0:
        raise ValueError(f"{path}: too little text to measure a perplexity ({data.n_tokens} "
                         f"tokens; at least {unroll_steps + 1} tokens with the sentence "
                         f"boundaries are needed with unroll_steps={unroll_steps}).")
    return rows


def _perplexity(mean_nll: float) -> float:
    """``exp(mean_nll)``, infinite where that overflows."""
    return math.exp(mean_nll) if mean_nll < 709.0 else math.inf


def _check_real(value: Any, name: str, bounds: str) -> float:
    """``value`` as a float if it is a finite real number within ``bounds``, else raise."""
    valid = (isinstance(value, numbers.Real) and not isinstance(value, bool)
             and math.isfinite(value))
    if valid:
        value = float(value)
        valid = {">= 0": value >= 0, "> 0": value > 0, "in [0, 1)": 0 <= value < 1}[bounds]
    if not valid:
        raise ValueError(f"{name} must be a finite number {bounds}, got {value!r}.")
    return value


#: Every file :func:`train` writes in its output directory.
_WRITTEN = (_CHECKPOINT, OPTIONS_FILE, WEIGHT_FILE, _SOFTMAX, _VOCABULARY, _LOG)


def _check_output_dir(output_dir: Path, inputs: Mapping[str, Any]) -> None:
    """Refuse an output directory where training would overwrite an input or another model.

    ``inputs`` names the files training reads (None for an argument not
    given).
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"output_dir {output_dir} is a file, not a directory.")
    written = [output_dir / name for name in _WRITTEN]
    for name, path in inputs.items():
        if path is None:
            continue
        for target in written:
            if same_file(path, target):
                raise ValueError(
                    f"{name} {path} is {target}, a file training writes; train into another "
                    "output_dir (or move the file out of it).")
    if output_dir.is_dir():
        # A model directory holds one weights file: another one would make the result
        # ambiguous to load.
        others = sorted(p.name for pattern in ("*.hdf5", "*.h5") for p in output_dir.glob(pattern)
                        if p.name != WEIGHT_FILE and not p.name.startswith("."))
        if others:
            raise ValueError(
                f"{output_dir} holds other weights files ({', '.join(others)}); the model "
                "training writes there could not be loaded by its directory; train into "
                "another output_dir.")
    has_model = any((output_dir / n).exists() for n in (OPTIONS_FILE, WEIGHT_FILE))
    from_training = any((output_dir / n).exists() for n in (_CHECKPOINT, _LOG))
    if has_model and not from_training:
        raise ValueError(
            f"{output_dir} holds a model that skelmo.train did not write there (no "
            f"{_CHECKPOINT} or {_LOG} beside it), which training would overwrite; train "
            "into another output_dir.")


def _features(model: TrainableBiLM, window: Any, char_ids: torch.Tensor,
              state: tuple[torch.Tensor, torch.Tensor], precision: str = "float32"
              ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Both directions' top-layer outputs for a window, time-major: (2, steps, batch, proj).

    With ``precision="bfloat16"`` the matrix products and convolutions run in
    bfloat16 (autocast, and the recurrence's own products); weights, state,
    gates and outputs stay float32.
    """
    device = char_ids.device
    forward, backward = window.forward.to(device), window.backward.to(device)
    inputs = torch.stack([forward[:, :-1], backward[:, :-1]]).transpose(1, 2)
    low = precision == "bfloat16"
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=low):
        # Each distinct word of the window goes through the character encoder once.
        distinct, position = torch.unique(inputs, return_inverse=True)
        x = model.encode(char_ids[distinct])[position]
        outputs, h, c = model.run_stacks(x, state, torch.bfloat16 if low else None)
    return outputs.float(), (h.detach(), c.detach())


def _log_probs(softmax: LmSoftmax, features: torch.Tensor, window: Any,
               targets: torch.Tensor, matmul_dtype: torch.dtype | None = None) -> torch.Tensor:
    """Log-probability of each direction's next words, shape (2, batch * steps)."""
    device = features.device
    # One pass through the shared output layer for both directions.
    next_words = torch.stack([window.forward[:, 1:],
                              window.backward[:, 1:]]).transpose(1, 2).to(device)
    log_p = softmax.log_prob(features.reshape(-1, features.shape[-1]),
                             targets[next_words].reshape(-1), matmul_dtype)
    return log_p.view(2, -1)


def _loss(softmax: LmSoftmax, features: torch.Tensor, window: Any,
          targets: torch.Tensor, precision: str = "float32") -> torch.Tensor:
    """The training loss: the mean of the two directions' mean negative log-likelihoods."""
    matmul_dtype = torch.bfloat16 if precision == "bfloat16" else None
    return -_log_probs(softmax, features, window, targets, matmul_dtype).mean()


# The fields of ElmoOptions that define the network (the others are notes).
_ARCHITECTURE = ("char_dim", "filters", "n_highway", "activation", "n_characters",
                 "projection_dim", "cell_dim", "n_layers", "cell_clip", "proj_clip",
                 "use_skip_connections")


def _as_options(options: Any) -> ElmoOptions | None:
    """``options`` as an ElmoOptions: given as one, as a dict, or as an ``options.json`` path."""
    if options is None or isinstance(options, ElmoOptions):
        return options
    if isinstance(options, Mapping):
        return ElmoOptions.from_dict(dict(options))
    if isinstance(options, (str, os.PathLike)):
        return read_options(options)
    raise TypeError(f"options must be an ElmoOptions, a dict in the layout of options.json or "
                    f"the path of an options.json file, got {type(options).__name__}.")


def _starting_model(init_model: Any, options: ElmoOptions | None
                    ) -> tuple[ElmoOptions, ElmoWeights, dict[str, Any]]:
    """The architecture, weights and identity of the model that training continues."""
    try:
        options_file, weight_file = resolve_model(init_model)
    except ModelFileError:
        raise
    except ValueError as exc:  # the argument itself: say which one
        raise ValueError(f"init_model: {exc}") from None
    model_options, weights = read_model(options_file, weight_file)
    differ = [] if options is None else [
        name for name in _ARCHITECTURE
        if getattr(options, name) != getattr(model_options, name)]
    if differ:
        raise ValueError(
            f"options differ from init_model's architecture ({', '.join(differ)}); continued "
            "pretraining keeps the architecture of init_model, so leave options out.")
    identity = {"options": str(options_file), "weights": str(weight_file),
                "weights_sha256": sha256_file(weight_file)}
    return model_options, weights, identity


def _learning_rate_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def _plain(value: Any) -> Any:
    """``value`` as JSON types: dicts with str keys, lists, str, int, float, bool and None.

    NumPy scalars become Python numbers and tuples lists; anything else is a
    :class:`ValueError`.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    raise ValueError(f"{value!r} (a {type(value).__name__}) is not a number, string, list or "
                     "dict; the training arguments and the options must be plain JSON values.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _load_plain(path: Path, device: torch.device, kind: str,
                keys: tuple[str, ...]) -> dict[str, Any]:
    """Read a file :func:`train` wrote with ``torch.save``, without unpickling any object.

    Parameters
    ----------
    path : Path
        The file.
    device : torch.device
        Where its tensors go.
    kind : str
        What the file is, for the error message ("checkpoint", "output layer").
    keys : tuple of str
        The keys it must hold.

    Returns
    -------
    dict

    Raises
    ------
    ModelFileError
        If the file cannot be read with ``torch.load(weights_only=True)`` (it is
        corrupt, or holds objects other than tensors and plain values, as a
        file crafted to run code when unpickled does), or lacks a key.
    """
    article = "an" if kind[0] in "aeiou" else "a"
    what = f"not {article} {kind} written by skelmo.train"
    try:
        with warnings.catch_warnings():
            # torch warns about pickle protocols before it refuses a file.
            warnings.simplefilter("ignore", UserWarning)
            saved = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message ends with how to allowlist globals: not advice to pass on.
        found = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\. |\n\n|$)", str(exc), re.S)
        detail = f" ({found.group(1)})" if found and found.group(1) else ""
        raise ModelFileError(
            path,
            f"{what}: it holds something other than tensors and plain values{detail}. "
            "skelmo reads these files with torch.load(weights_only=True) and never unpickles "
            "objects, so a file that needs more (one crafted to run code, say) is refused.",
        ) from None
    except Exception as exc:  # torch raises many types for a corrupt or truncated archive
        raise ModelFileError(path, f"{what}: it cannot be read ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'empty file'}).",
                             ) from None
    if not isinstance(saved, dict):
        raise ModelFileError(path, f"{what}: it holds a {type(saved).__name__}, not a dict.")
    missing = [k for k in keys if k not in saved]
    if missing:
        raise ModelFileError(path, f"{what}: keys missing: {', '.join(missing)}.")
    return saved


def _atomic_torch_save(obj: Mapping[str, Any], path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(dict(obj), tmp)


def _write_log(path: Path, config: dict[str, Any], steps: int, planned_steps: int,
               train_ppl: float, heldout: Perplexity | None, seconds: float,
               device: torch.device, n_words: int, data: EncodedText) -> None:
    record = {
        "config": config, "steps": steps, "planned_steps": planned_steps,
        "vocabulary_size": n_words,
        "corpus_tokens": data.n_tokens, "corpus_sentences": len(data.sentences),
        "train_perplexity": train_ppl,
        "heldout_perplexity": None if heldout is None else {
            "forward": heldout.forward, "backward": heldout.backward, "mean": heldout.mean,
            "tokens": heldout.n_tokens},
        "training_seconds": round(seconds, 1),
        "device": str(device),
        "hardware": {"cpu_threads": torch.get_num_threads(), "machine": platform.machine(),
                     "cuda": torch.cuda.get_device_name(device) if device.type == "cuda"
                     else None},
        "torch": torch.__version__,
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
