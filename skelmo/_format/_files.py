"""Read, validate and write ELMo model files.

A published ELMo model is two files: ``options.json`` (the architecture) and a
weights HDF5 file whose dataset names follow the original TensorFlow code.
This module is the only place that knows those names. It returns weights in
their TensorFlow orientation; converting them for PyTorch is the job of
:mod:`skelmo._engine`.

Every problem with the files raises :class:`ModelFileError`, naming the file
and the key or dataset at fault: a corrupt or truncated file, weights that are
not finite, weights stored outside the file (links to other objects or files,
virtual datasets, external raw storage), and, for files :func:`write_model`
wrote, values that no longer match the SHA-256 checksum stored with each
dataset.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .._utils import replace_keeping_mode, same_file, temporary_path
from ._chars import MAX_CHARACTERS

__all__ = [
    "N_CHARACTER_ROWS",
    "ElmoOptions",
    "ElmoWeights",
    "HighwayWeights",
    "LstmCellWeights",
    "ModelFileError",
    "ModelFileNotFoundError",
    "check_model_file",
    "check_weights",
    "expected_shapes",
    "read_model",
    "read_options",
    "read_weights",
    "write_model",
]

# The character vocabulary of the ELMo tokenizer: 256 bytes and 5 markers.
N_CHARACTER_ROWS = 261
_ACTIVATIONS = ("relu", "tanh")
# Datasets in these groups belong to the biLM; any the options do not expect
# means the file holds a different architecture (more layers, filters, ...).
# Datasets elsewhere (a softmax, notes) take no part in the model and are
# ignored, as they always have been for files other tools wrote.
_MODEL_DATASET = re.compile(r"(char_embed|CNN|CNN_high_\d+|CNN_proj|RNN_\d+)(/|$)")
# write_model stores on every dataset the SHA-256 of its values (little-endian
# float32), and read_weights checks it where present: corrupted data then
# fails to load instead of loading with other values. Published files have no
# such attribute and are read as they are.
_CHECKSUM_ATTRIBUTE = "skelmo_sha256"
# HDF5 1.8 file format: unlike the earliest format, it checksums the file's
# metadata (superblock, object headers with their attributes), so a corrupted
# header is refused by HDF5 itself. Every HDF5 library since 1.8 (2008) reads it.
_LIBVER = ("v108", "v108")
# Why a dataset stored outside the file is refused: the model's identity (its
# manifest, an estimator's model_sha256_) is the SHA-256 of this file alone.
_STORED_IN_FILE = ("the weights must be stored in the file itself, the only file the model's "
                   "SHA-256 covers.")


class ModelFileError(ValueError):
    """A model file is missing, unreadable, or disagrees with its options.

    Attributes
    ----------
    path : str
        The file at fault.
    key : str or None
        The options key or HDF5 dataset at fault, when there is one.
    """

    def __init__(self, path: str | os.PathLike[str], message: str, key: str | None = None):
        self.path = str(path)
        self.key = key
        where = f"{self.path}" + (f" [{key}]" if key else "")
        super().__init__(f"{where}: {message}")


class ModelFileNotFoundError(ModelFileError, FileNotFoundError):
    """A model file does not exist."""


@dataclass(frozen=True)
class ElmoOptions:
    """The architecture of an ELMo biLM, as described by ``options.json``.

    Parameters
    ----------
    char_dim : int
        Width of the character embeddings.
    filters : tuple of (int, int)
        ``(width, n_channels)`` of each character convolution.
    n_highway : int
        Number of highway layers after the convolutions.
    activation : {"relu", "tanh"}
        Non-linearity applied to the convolution outputs.
    projection_dim : int
        Width of the token representation and of each LSTM output.
    cell_dim : int
        Width of each LSTM memory cell.
    n_layers : int
        Number of LSTM layers per direction.
    cell_clip, proj_clip : float or None
        Clipping of the memory cell and of the projected output.
    use_skip_connections : bool
        Whether LSTM layers after the first add their input to their output.
    n_characters : int, default=262
        Size of the character vocabulary declared in the options.
    extra : dict
        Every other entry of ``options.json``, kept so that writing the
        options back loses nothing.
    """

    char_dim: int
    filters: tuple[tuple[int, int], ...]
    n_highway: int
    activation: str
    projection_dim: int
    cell_dim: int
    n_layers: int
    cell_clip: float | None = None
    proj_clip: float | None = None
    use_skip_connections: bool = True
    n_characters: int = 262
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_filters(self) -> int:
        """Total number of convolution channels."""
        return sum(n for _, n in self.filters)

    @property
    def output_dim(self) -> int:
        """Width of every output layer: both directions side by side."""
        return 2 * self.projection_dim

    @property
    def uses_projection(self) -> bool:
        """Whether a linear projection maps the highway output to ``projection_dim``."""
        return self.n_filters != self.projection_dim

    @classmethod
    def from_dict(cls, data: Any, source: str | os.PathLike[str] = "<options>") -> ElmoOptions:
        """Validate a parsed ``options.json`` and build the options from it."""
        if not isinstance(data, dict):
            raise ModelFileError(source, "options must be a JSON object.")
        lstm = _section(data, "lstm", source)
        cnn = _section(data, "char_cnn", source)
        embedding = _section(cnn, "embedding", source, prefix="char_cnn.")
        filters_raw = _get(cnn, "filters", source, "char_cnn.")
        if (
            not isinstance(filters_raw, list)
            or not filters_raw
            or not all(
                isinstance(f, (list, tuple))
                and len(f) == 2
                and all(_is_int(v) and v > 0 for v in f)
                and f[0] <= MAX_CHARACTERS
                for f in filters_raw
            )
        ):
            raise ModelFileError(
                source,
                "must be a non-empty list of [width, n_channels] pairs of positive integers, "
                f"widths at most {MAX_CHARACTERS}, got {_shown(filters_raw)}.",
                "char_cnn.filters",
            )
        activation = _get(cnn, "activation", source, "char_cnn.")
        if activation not in _ACTIVATIONS:
            raise ModelFileError(
                source, f"must be one of {_ACTIVATIONS}, got {activation!r}.", "char_cnn.activation"
            )
        max_chars = _positive_int(cnn, "max_characters_per_token", source, "char_cnn.")
        if max_chars != MAX_CHARACTERS:
            raise ModelFileError(
                source,
                f"must be {MAX_CHARACTERS} (the ELMo character encoding), got {max_chars}.",
                "char_cnn.max_characters_per_token",
            )
        n_characters = _positive_int(cnn, "n_characters", source, "char_cnn.")
        if n_characters not in (N_CHARACTER_ROWS, N_CHARACTER_ROWS + 1):
            raise ModelFileError(
                source,
                f"must be {N_CHARACTER_ROWS + 1} (or {N_CHARACTER_ROWS} as written at training "
                f"time), got {n_characters}.",
                "char_cnn.n_characters",
            )
        skip = lstm.get("use_skip_connections")
        if skip is not None and not isinstance(skip, bool):
            raise ModelFileError(
                source, f"must be true or false, got {skip!r}.", "lstm.use_skip_connections"
            )
        known_lstm = {"dim", "projection_dim", "n_layers", "cell_clip", "proj_clip",
                      "use_skip_connections"}
        known_cnn = {"embedding", "filters", "n_highway", "activation",
                     "max_characters_per_token", "n_characters"}
        extra = {k: v for k, v in data.items() if k not in ("lstm", "char_cnn")}
        extra["lstm"] = {k: v for k, v in lstm.items() if k not in known_lstm}
        extra["char_cnn"] = {k: v for k, v in cnn.items() if k not in known_cnn}
        extra["char_cnn"]["embedding"] = {k: v for k, v in embedding.items() if k != "dim"}
        return cls(
            char_dim=_positive_int(embedding, "dim", source, "char_cnn.embedding."),
            filters=tuple((int(w), int(n)) for w, n in filters_raw),
            n_highway=_non_negative_int(cnn, "n_highway", source, "char_cnn."),
            activation=activation,
            projection_dim=_positive_int(lstm, "projection_dim", source, "lstm."),
            cell_dim=_positive_int(lstm, "dim", source, "lstm."),
            n_layers=_positive_int(lstm, "n_layers", source, "lstm."),
            cell_clip=_optional_clip(lstm, "cell_clip", source),
            proj_clip=_optional_clip(lstm, "proj_clip", source),
            use_skip_connections=bool(skip),
            n_characters=n_characters,
            extra=extra,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the options as the ``options.json`` object."""
        data: dict[str, Any] = {k: v for k, v in self.extra.items()
                                if k not in ("lstm", "char_cnn")}
        lstm: dict[str, Any] = dict(self.extra.get("lstm", {}))
        lstm.update(dim=self.cell_dim, projection_dim=self.projection_dim,
                    n_layers=self.n_layers, use_skip_connections=self.use_skip_connections)
        if self.cell_clip is not None:
            lstm["cell_clip"] = self.cell_clip
        if self.proj_clip is not None:
            lstm["proj_clip"] = self.proj_clip
        cnn: dict[str, Any] = {k: v for k, v in self.extra.get("char_cnn", {}).items()
                               if k != "embedding"}
        embedding = dict(self.extra.get("char_cnn", {}).get("embedding", {}))
        embedding["dim"] = self.char_dim
        cnn.update(
            embedding=embedding,
            filters=[list(f) for f in self.filters],
            n_highway=self.n_highway,
            activation=self.activation,
            max_characters_per_token=MAX_CHARACTERS,
            n_characters=self.n_characters,
        )
        data["lstm"] = lstm
        data["char_cnn"] = cnn
        return data


@dataclass
class HighwayWeights:
    """One highway layer, TensorFlow orientation (``x @ W + b``)."""

    w_carry: np.ndarray
    b_carry: np.ndarray
    w_transform: np.ndarray
    b_transform: np.ndarray


@dataclass
class LstmCellWeights:
    """One LSTM layer of one direction, TensorFlow orientation.

    ``kernel`` maps ``[input, previous output]`` to the four gates in the
    TensorFlow order (input, candidate, forget, output); ``projection`` maps
    the cell's output to ``projection_dim``.
    """

    kernel: np.ndarray
    bias: np.ndarray
    projection: np.ndarray


@dataclass
class ElmoWeights:
    """All weights of an ELMo biLM, in TensorFlow orientation.

    ``conv`` holds ``(kernel, bias)`` per filter with kernels of shape
    ``(1, width, char_dim, n_channels)``; ``projection`` is ``(W, b)`` or None
    when the model has no projection; ``lstm[direction][layer]`` with
    direction 0 forward and 1 backward.
    """

    char_embed: np.ndarray
    conv: list[tuple[np.ndarray, np.ndarray]]
    highway: list[HighwayWeights]
    projection: tuple[np.ndarray, np.ndarray] | None
    lstm: list[list[LstmCellWeights]]


def _lstm_prefix(direction: int, layer: int) -> str:
    return f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"


def expected_shapes(options: ElmoOptions) -> dict[str, tuple[int, ...]]:
    """Map every dataset the weights file must hold to its shape."""
    return dict(_expected_items(options))


def _expected_items(options: ElmoOptions) -> Iterator[tuple[str, tuple[int, ...]]]:
    """Every dataset the weights file must hold and its shape, one at a time.

    Lazy, so that a reader stops at the first dataset a file lacks instead of
    listing as many as a corrupt count (``"n_layers": 10000000000``) asks for.
    """
    yield "char_embed", (N_CHARACTER_ROWS, options.char_dim)
    for i, (width, channels) in enumerate(options.filters):
        yield f"CNN/W_cnn_{i}", (1, width, options.char_dim, channels)
        yield f"CNN/b_cnn_{i}", (channels,)
    n_filters = options.n_filters
    for k in range(options.n_highway):
        yield f"CNN_high_{k}/W_carry", (n_filters, n_filters)
        yield f"CNN_high_{k}/W_transform", (n_filters, n_filters)
        yield f"CNN_high_{k}/b_carry", (n_filters,)
        yield f"CNN_high_{k}/b_transform", (n_filters,)
    if options.uses_projection:
        yield "CNN_proj/W_proj", (n_filters, options.projection_dim)
        yield "CNN_proj/b_proj", (options.projection_dim,)
    gates = 4 * options.cell_dim
    for direction in range(2):
        for layer in range(options.n_layers):
            prefix = _lstm_prefix(direction, layer)
            yield f"{prefix}/W_0", (2 * options.projection_dim, gates)
            yield f"{prefix}/B", (gates,)
            yield f"{prefix}/W_P_0", (options.cell_dim, options.projection_dim)


def _flatten(weights: ElmoWeights) -> Iterator[tuple[str, np.ndarray]]:
    yield "char_embed", weights.char_embed
    for i, (kernel, bias) in enumerate(weights.conv):
        yield f"CNN/W_cnn_{i}", kernel
        yield f"CNN/b_cnn_{i}", bias
    for k, high in enumerate(weights.highway):
        yield f"CNN_high_{k}/W_carry", high.w_carry
        yield f"CNN_high_{k}/W_transform", high.w_transform
        yield f"CNN_high_{k}/b_carry", high.b_carry
        yield f"CNN_high_{k}/b_transform", high.b_transform
    if weights.projection is not None:
        yield "CNN_proj/W_proj", weights.projection[0]
        yield "CNN_proj/b_proj", weights.projection[1]
    for direction, layers in enumerate(weights.lstm):
        for layer, cell in enumerate(layers):
            prefix = _lstm_prefix(direction, layer)
            yield f"{prefix}/W_0", cell.kernel
            yield f"{prefix}/B", cell.bias
            yield f"{prefix}/W_P_0", cell.projection


def _assemble(options: ElmoOptions, get: Callable[[str], np.ndarray]) -> ElmoWeights:
    conv = [(get(f"CNN/W_cnn_{i}"), get(f"CNN/b_cnn_{i}")) for i in range(len(options.filters))]
    highway = [
        HighwayWeights(
            w_carry=get(f"CNN_high_{k}/W_carry"),
            b_carry=get(f"CNN_high_{k}/b_carry"),
            w_transform=get(f"CNN_high_{k}/W_transform"),
            b_transform=get(f"CNN_high_{k}/b_transform"),
        )
        for k in range(options.n_highway)
    ]
    projection = (
        (get("CNN_proj/W_proj"), get("CNN_proj/b_proj")) if options.uses_projection else None
    )
    lstm = [
        [
            LstmCellWeights(
                kernel=get(f"{_lstm_prefix(d, layer)}/W_0"),
                bias=get(f"{_lstm_prefix(d, layer)}/B"),
                projection=get(f"{_lstm_prefix(d, layer)}/W_P_0"),
            )
            for layer in range(options.n_layers)
        ]
        for d in range(2)
    ]
    return ElmoWeights(get("char_embed"), conv, highway, projection, lstm)


def check_weights(options: ElmoOptions, weights: ElmoWeights,
                  source: str | os.PathLike[str] = "<weights>") -> None:
    """Raise :class:`ModelFileError` if ``weights`` do not fit ``options``.

    Every array must have the shape the options imply, a floating dtype, and
    only finite values once stored as float32.
    """
    flat = {name: np.asarray(array) for name, array in _flatten(weights)}
    expected = set()
    for name, shape in _expected_items(options):
        if name not in flat:
            raise ModelFileError(source, "dataset missing.", name)
        _check_array(flat[name], shape, source, name)
        _check_finite(_as_float32(flat[name]), source, name)
        expected.add(name)
    for name in flat:
        if name not in expected:
            raise ModelFileError(source, "dataset not expected by the options.", name)


def _check_array(array: np.ndarray, shape: tuple[int, ...], source: Any, name: str) -> None:
    if tuple(array.shape) != shape:
        raise ModelFileError(
            source,
            f"has shape {tuple(array.shape)} but the options imply {shape}; "
            "the weights file does not match options.json.",
            name,
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise ModelFileError(source, f"has dtype {array.dtype}, expected float32.", name)


def _checksum(array: np.ndarray) -> str:
    """SHA-256 (hex) of a float32 array's values, little-endian, in C order."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


def _check_checksum(dataset: h5py.Dataset, array: np.ndarray, source: Any, name: str) -> None:
    """Compare ``array`` (``dataset`` as read) with the checksum stored beside it, if any."""
    try:
        if _CHECKSUM_ATTRIBUTE not in dataset.attrs:
            return
        stored = dataset.attrs[_CHECKSUM_ATTRIBUTE]
        stored = stored.decode("ascii") if isinstance(stored, bytes) else stored
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(
            source, f"its {_CHECKSUM_ATTRIBUTE} attribute cannot be read; the file is corrupt "
            f"({exc}).", name) from None
    if not isinstance(stored, str) or not re.fullmatch(r"[0-9a-f]{64}", stored):
        raise ModelFileError(
            source, f"its {_CHECKSUM_ATTRIBUTE} attribute is not a SHA-256 digest; the file is "
            "corrupt.", name)
    if stored != _checksum(array):
        raise ModelFileError(
            source,
            f"its values do not match the checksum written with them ({_CHECKSUM_ATTRIBUTE}); "
            "the file is corrupt, or was changed after it was written (write it with "
            "write_model, or delete the attribute to accept the change).",
            name,
        )


def _as_float32(array: Any) -> np.ndarray:
    """``array`` as float32; values too large for float32 become infinite, without a warning."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(array, dtype=np.float32)


def _check_finite(array: np.ndarray, source: Any, name: str) -> None:
    """Raise :class:`ModelFileError` if the float32 ``array`` holds NaN or infinite values."""
    n_bad = int(array.size - np.count_nonzero(np.isfinite(array)))
    if n_bad:
        raise ModelFileError(
            source,
            f"has {n_bad} value{'s' if n_bad != 1 else ''} not finite (NaN or infinite, "
            f"as float32) out of {array.size}; the weights are corrupt.",
            name,
        )


def read_options(path: str | os.PathLike[str]) -> ElmoOptions:
    """Read and validate an ``options.json`` file.

    Parameters
    ----------
    path : str or path-like
        The options file.

    Returns
    -------
    options : ElmoOptions

    Raises
    ------
    ModelFileNotFoundError
        If the file does not exist.
    ModelFileError
        If it is a directory, not JSON, not a JSON object, or a key is missing
        or invalid.
    """
    path = Path(path)
    check_model_file(path, "options")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        # ValueError: a JSONDecodeError, or an integer of more digits than
        # Python converts (sys.get_int_max_str_digits()).
        raise ModelFileError(path, f"not a valid JSON options file ({exc}).") from None
    except RecursionError:
        raise ModelFileError(
            path, "not a valid JSON options file (nested too deeply to be read).") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot be read ({exc.strerror or exc}).") from None
    return ElmoOptions.from_dict(data, path)


def read_weights(path: str | os.PathLike[str], options: ElmoOptions) -> ElmoWeights:
    """Read the weights HDF5 file of a model and check it against its options.

    Parameters
    ----------
    path : str or path-like
        The weights file.
    options : ElmoOptions
        The model's options; every dataset's shape is checked against them.

    Returns
    -------
    weights : ElmoWeights
        float32 arrays in TensorFlow orientation.

    Raises
    ------
    ModelFileNotFoundError
        If the file does not exist.
    ModelFileError
        If it is a directory or not a readable HDF5 file, or a dataset is
        missing, is not stored in the file itself, has the wrong shape or
        dtype, holds values that are not finite (as float32), does not match
        the checksum :func:`write_model` stored with it, or belongs to a layer
        the options do not have.

    Notes
    -----
    Every dataset the options expect must be reached through hard links only
    and keep its values in the file: a soft or external link (on the dataset
    or on a group above it), a virtual dataset or a dataset with external raw
    storage is refused, since it would let the weights change while the file,
    and so the model's SHA-256, stays the same.

    A dataset with a ``skelmo_sha256`` attribute (every dataset
    :func:`write_model` writes) must hold values whose SHA-256, as
    little-endian float32 in C order, is that attribute. Files without the
    attribute (the published ELMo files) are read without it.

    Datasets outside the biLM's groups (``char_embed``, ``CNN``,
    ``CNN_high_K``, ``CNN_proj``, ``RNN_K``), such as a softmax, are ignored.
    """
    path = Path(path)
    check_model_file(path, "weights")
    try:
        if not h5py.is_hdf5(path):
            raise ModelFileError(path, "not an HDF5 file.")
        with h5py.File(path, "r") as fin:
            arrays = {name: _read_dataset(fin, path, name, shape)
                      for name, shape in _expected_items(options)}
            found: list[str] = []
            fin.visititems(lambda name, obj: found.append(name)
                           if isinstance(obj, h5py.Dataset) else None)
            for name in found:
                if name not in arrays and _MODEL_DATASET.match(name):
                    raise ModelFileError(
                        path,
                        "dataset not expected by the options; the file does not match "
                        "options.json.",
                        name,
                    )
    except ModelFileError:
        raise
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelFileError(
            path, f"cannot be read as HDF5; the file may be truncated or corrupt ({exc})."
        ) from None
    return _assemble(options, arrays.__getitem__)


def _read_dataset(fin: h5py.File, path: Path, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One dataset of the weights file, checked, as float32."""
    dataset = _open_dataset(fin, path, name)
    if dataset is None:
        raise ModelFileError(path, "dataset missing; the file does not match options.json.", name)
    _check_array(dataset, shape, path, name)
    try:
        array = _as_float32(dataset[...])
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelFileError(
            path, f"cannot be read; the file may be truncated ({exc}).", name
        ) from None
    _check_finite(array, path, name)
    _check_checksum(dataset, array, path, name)
    return array


def _open_dataset(fin: h5py.File, path: Path, name: str) -> h5py.Dataset | None:
    """The dataset ``name``, reached through hard links and stored in the file, or None.

    None when some link on the way is absent or the path does not end at a
    dataset (another model's file). Each link is inspected before the object
    it points to is opened, so a link into another file is never followed.
    """
    parts = name.split("/")
    group: h5py.Group = fin
    obj: Any = fin
    for depth, part in enumerate(parts):
        where = "/".join(parts[: depth + 1])
        link = group.get(part, getlink=True)
        if link is None:
            return None
        if isinstance(link, h5py.ExternalLink):
            raise ModelFileError(
                path, f"is an external link to {link.path!r} in {link.filename!r}; "
                + _STORED_IN_FILE, where)
        if not isinstance(link, h5py.HardLink):
            target = f" to {link.path!r}" if isinstance(link, h5py.SoftLink) else ""
            raise ModelFileError(path, f"is a soft link{target}; " + _STORED_IN_FILE, where)
        try:
            obj = group[part]
        except KeyError as exc:
            # The link is there but HDF5 cannot open what it points to (a
            # metadata checksum fails, say): a corrupt file, not another model.
            raise ModelFileError(
                path, f"cannot be opened; the file is corrupt ({exc}).", where) from None
        if depth < len(parts) - 1:
            if not isinstance(obj, h5py.Group):
                return None
            group = obj
    if not isinstance(obj, h5py.Dataset):
        return None
    if obj.is_virtual:
        raise ModelFileError(
            path, "is a virtual dataset, its values mapped from other datasets or files; "
            + _STORED_IN_FILE, name)
    if obj.external is not None:
        files = sorted({os.fsdecode(entry[0]) for entry in obj.external})
        raise ModelFileError(
            path, f"keeps its values in external raw storage ({', '.join(files)}); "
            + _STORED_IN_FILE, name)
    return obj


def check_model_file(path: str | os.PathLike[str], what: str) -> None:
    """Raise unless ``path`` is a regular file (or a link to one).

    Parameters
    ----------
    path : str or path-like
    what : str
        The file's role for the message ("options", "weights").

    Raises
    ------
    ModelFileNotFoundError
        If nothing is there.
    ModelFileError
        If it is a directory or another kind of file (a device, a named pipe).
    """
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(path, f"is a directory, not the {what} file.")
    if not path.exists():
        raise ModelFileNotFoundError(path, f"{what} file not found.")
    if not path.is_file():
        raise ModelFileError(path, f"is not a regular file, so it cannot be the {what} file.")


def read_model(
    options_file: str | os.PathLike[str], weight_file: str | os.PathLike[str]
) -> tuple[ElmoOptions, ElmoWeights]:
    """Read and validate a model's options and weights.

    Parameters
    ----------
    options_file, weight_file : str or path-like
        The ``options.json`` and weights HDF5 files.

    Returns
    -------
    options : ElmoOptions
    weights : ElmoWeights

    Raises
    ------
    ModelFileError
        Naming the file, and the key or dataset, at fault.

    Examples
    --------
    >>> import tempfile
    >>> from skelmo import read_model
    >>> from skelmo.testing import make_random_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     options, weights = read_model(*make_random_model(tmp, n_layers=1))
    >>> options.n_layers, len(weights.lstm[0]), weights.char_embed.dtype
    (1, 1, dtype('float32'))
    """
    options = read_options(options_file)
    return options, read_weights(weight_file, options)


def write_model(
    options: ElmoOptions,
    weights: ElmoWeights,
    options_file: str | os.PathLike[str],
    weight_file: str | os.PathLike[str],
) -> None:
    """Write a model as ``options.json`` and a weights HDF5 file.

    The options and weights are validated first, and a model that
    :func:`read_model` would refuse (weights that are not finite included)
    raises :class:`ModelFileError` without writing anything; so do
    destinations that are directories, or that are one and the same file
    (one path twice, or two names of one file through symbolic or hard
    links), which would otherwise lose one of the two.

    Both files are then written in full under temporary names beside their
    destinations, and only then renamed into place: first the options, then
    the weights. A failure before the first rename (a full disk, a directory
    that cannot be created, an interrupt) leaves both destinations as they
    were, existing or not, and no temporary file behind. If the second
    rename fails, the old options are put back (or the new ones removed
    where there were none) before the error propagates. Two renames cannot
    be one atomic step, so what remains possible is: a process killed
    between them (``kill -9``, a power loss), or one reading the model at
    that instant, sees the new options beside the old weights; and, on a
    file system without hard links, a failed second rename leaves the new
    options beside the old weights. A replaced file keeps its permission
    bits; a new one gets those an ordinary ``open()`` gives. Missing
    directories are created, and stay when the write fails.

    The weights file uses the HDF5 1.8 file format, whose metadata is
    checksummed, and each dataset carries the SHA-256 of its values in a
    ``skelmo_sha256`` attribute, which :func:`read_weights` checks: a file
    damaged after writing fails to load rather than loading other weights.

    Parameters
    ----------
    options : ElmoOptions
    weights : ElmoWeights
        Must match ``options``.
    options_file, weight_file : str or path-like
        Destinations, two different files; missing directories are created.

    Raises
    ------
    ModelFileError
        If the options are invalid, the weights do not match them or are not
        all finite, a destination is a directory, or both destinations are
        the same file.
    OSError
        If writing or renaming fails; see above for what it leaves.
    """
    options_file, weight_file = Path(options_file), Path(weight_file)
    try:
        text = json.dumps(options.to_dict(), indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError, RecursionError) as exc:
        raise ModelFileError(options_file, f"options cannot be written as JSON ({exc}).") from None
    # Never write a model that read_model would refuse.
    ElmoOptions.from_dict(json.loads(text), options_file)
    check_weights(options, weights, weight_file)
    _check_destinations(options_file, weight_file)

    # Both files are complete under temporary names before either replaces
    # anything, so a failure until then leaves the destinations as they were.
    with temporary_path(options_file) as options_tmp, temporary_path(weight_file) as weights_tmp:
        options_tmp.write_text(text, encoding="utf-8")
        with h5py.File(weights_tmp, "w", libver=_LIBVER) as fout:
            for name, array in _flatten(weights):
                data = _as_float32(array)
                dataset = fout.create_dataset(name, data=data)
                dataset.attrs[_CHECKSUM_ATTRIBUTE] = np.bytes_(_checksum(data))
        _replace_both(options_tmp, options_file, weights_tmp, weight_file)


def _check_destinations(options_file: Path, weight_file: Path) -> None:
    """Refuse destinations that are directories, or one file named twice."""
    for path, what in ((options_file, "options"), (weight_file, "weights")):
        if path.is_dir():
            raise ModelFileError(
                path, f"is a directory; the {what} file cannot be written in its place.")
    if same_file(options_file, weight_file):
        raise ModelFileError(
            weight_file,
            f"is the same file as the options destination {options_file}; the options and "
            "the weights must be written to two different files.",
        )


def _replace_both(options_tmp: Path, options_file: Path, weights_tmp: Path,
                  weight_file: Path) -> None:
    """Rename the staged options, then the staged weights, into place.

    If the weights' rename fails, the options are put back first: the old
    file from a hard link kept beside it for the moment, or, where there was
    no old file, by removing the new one.
    """
    had_options = os.path.lexists(options_file)
    backup: Path | None = None
    try:
        backup = _hard_link_beside(options_file) if had_options else None
        replace_keeping_mode(options_tmp, options_file)
        try:
            replace_keeping_mode(weights_tmp, weight_file)
        except BaseException:
            # If putting the old options back fails too, their link stays
            # (a hidden .NAME.XXXXXXXX.old file) rather than being deleted.
            restore, backup = backup, None
            if restore is not None:
                os.replace(restore, options_file)
            elif not had_options:
                options_file.unlink(missing_ok=True)
            raise
    finally:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _hard_link_beside(path: Path) -> Path | None:
    """A new hidden hard link to ``path`` in its directory, or None where none can be made."""
    while True:
        link = path.parent / f".{path.name}.{secrets.token_hex(4)}.old"
        try:
            os.link(path, link, follow_symlinks=False)
        except FileExistsError:
            continue
        except (OSError, NotImplementedError):
            return None
        return link


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _section(data: dict[str, Any], name: str, source: Any, prefix: str = "") -> dict[str, Any]:
    value = _get(data, name, source, prefix)
    if not isinstance(value, dict):
        raise ModelFileError(source, "must be a JSON object.", prefix + name)
    return value


def _get(data: dict[str, Any], name: str, source: Any, prefix: str) -> Any:
    if name not in data:
        raise ModelFileError(source, "required key missing.", prefix + name)
    return data[name]


def _shown(value: Any) -> str:
    """``repr(value)`` for an error message, shortened when long."""
    if _is_int(value) and value.bit_length() > 600:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    text = repr(value)
    return text if len(text) <= 200 else f"{text[:160]}... ({len(text)} characters)"


def _positive_int(data: dict[str, Any], name: str, source: Any, prefix: str) -> int:
    value = _get(data, name, source, prefix)
    if not _is_int(value) or value <= 0:
        raise ModelFileError(
            source, f"must be a positive integer, got {_shown(value)}.", prefix + name)
    return int(value)


def _non_negative_int(data: dict[str, Any], name: str, source: Any, prefix: str) -> int:
    value = _get(data, name, source, prefix)
    if not _is_int(value) or value < 0:
        raise ModelFileError(
            source, f"must be a non-negative integer, got {_shown(value)}.", prefix + name
        )
    return int(value)


def _optional_clip(lstm: dict[str, Any], name: str, source: Any) -> float | None:
    value = lstm.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        # float(), not math.isfinite(value): an integer too large for a float
        # (10**400) raises OverflowError there and is as unusable as infinity.
        or not math.isfinite(_as_float(value))
        or value <= 0
    ):
        raise ModelFileError(
            source, f"must be a positive number, got {_shown(value)}.", f"lstm.{name}")
    return value


def _as_float(value: int | float) -> float:
    """``value`` as a float; infinite where it is too large for one."""
    try:
        return float(value)
    except OverflowError:
        return math.inf
