"""Process-wide caches: loaded biLMs, and activations of documents already seen.

Model cache
    One :class:`~skelmo.BiLM` per (weights file identity, device), shared by
    every estimator, clone and copy in the process. A file's identity is its
    resolved path, inode, size and modification time, so a rewritten file is
    loaded anew (and the model loaded from its previous version is dropped).

Word-vector cache
    The character encoder's output for every distinct word a model has
    seen, kept on the model itself (so shared by every estimator, call and
    Dask partition that uses the loaded model), per precision, least recently
    used first out beyond a byte budget (:data:`WORD_CACHE_BYTES` per model,
    settable as ``word_vector_cache(bilm).max_bytes``).

Activation cache
    Per-document results keyed by (what was computed, model identity, state
    policy, the document's tokens). Because the key holds the tokens, a
    different tokenizer can never be served another tokenizer's result. It is
    a least-recently-used store with a byte budget (``max_bytes``, 1 GiB by
    default; ``skelmo.activation_cache.max_bytes = 0`` turns it off for the
    process, ``cache=False`` on an estimator turns it off for that estimator).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._utils import check_integer, sha256_file
from ._bilm import BiLM
from ._device import resolve_device

__all__ = [
    "WORD_CACHE_BYTES",
    "ActivationCache",
    "WordVectorCache",
    "activation_cache",
    "clear_model_cache",
    "load_bilm",
    "load_bilm_with_identity",
    "model_identity",
    "model_sha256",
    "word_vector_cache",
]


def model_identity(options_file: str | os.PathLike[str],
                   weight_file: str | os.PathLike[str]) -> tuple[Hashable, ...]:
    """A key that changes whenever either model file changes.

    The inode is part of it because the modification time alone misses a
    file replaced within the file system's timestamp granularity, or one
    copied with its timestamp preserved (``cp -p``, ``rsync -t``).
    """
    parts: list[Hashable] = []
    for path in (Path(options_file), Path(weight_file)):
        try:
            stat = path.stat()
            parts.append((str(path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns))
        except OSError:
            parts.append((str(path), None, None, None))
    return tuple(parts)


# model identity -> SHA-256 of the model's content, for files already read.
_digests: dict[tuple[Hashable, ...], str] = {}
_digests_lock = threading.Lock()


def model_sha256(options_file: str | os.PathLike[str],
                 weight_file: str | os.PathLike[str]) -> str:
    """A SHA-256 of a model's content: of its options file's and weights file's SHA-256.

    It names the model by what it is, not where it is: a copy elsewhere has
    the same digest, other files at the same paths another. Each version of
    the files is read once per process (keyed by :func:`model_identity`).
    """
    identity = model_identity(options_file, weight_file)
    with _digests_lock:
        digest = _digests.get(identity)
    if digest is None:
        parts = [sha256_file(options_file), sha256_file(weight_file)]
        digest = hashlib.sha256("\n".join(parts).encode("ascii")).hexdigest()
        with _digests_lock:
            _digests[identity] = digest
    return digest


def _paths(identity: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
    """The file paths of a model identity, without their versions."""
    return tuple(part[0] for part in identity)


# (model file paths, device) -> (identity of the files when loaded, model)
_models: dict[tuple[Hashable, ...], tuple[tuple[Hashable, ...], BiLM]] = {}
_models_lock = threading.Lock()


def load_bilm(options_file: str | os.PathLike[str], weight_file: str | os.PathLike[str],
              device: str | torch.device = "auto") -> BiLM:
    """Load a biLM once per process per (model files, device) and share it.

    Parameters
    ----------
    options_file, weight_file : str or path-like
    device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
        ``"auto"`` picks CUDA when available.

    Returns
    -------
    BiLM
        The shared instance; treat it as read-only.
    """
    return load_bilm_with_identity(options_file, weight_file, device)[0]


def load_bilm_with_identity(
    options_file: str | os.PathLike[str], weight_file: str | os.PathLike[str],
    device: str | torch.device = "auto",
) -> tuple[BiLM, tuple[Hashable, ...]]:
    """:func:`load_bilm`, also returning the identity of the files the model came from.

    Computing the identity separately could pair a model with the identity
    of a file rewritten in between; activation-cache keys need the pair.
    An older model loaded from the same paths is dropped from the cache.
    """
    resolved = resolve_device(device)
    identity = model_identity(options_file, weight_file)
    key = (_paths(identity), str(resolved))
    with _models_lock:
        held = _models.get(key)
        if held is None or held[0] != identity:
            held = (identity, BiLM.from_files(options_file, weight_file, device=resolved))
            _models[key] = held
    return held[1], held[0]


def clear_model_cache() -> None:
    """Drop every cached biLM (they are reloaded on next use)."""
    with _models_lock:
        _models.clear()


class ActivationCache:
    """A thread-safe LRU store of per-document arrays with a byte budget.

    Parameters
    ----------
    max_bytes : int, default=1 GiB
        Entries are evicted, least recently used first, to stay under this
        many bytes of array data. ``0`` disables the cache.
    """

    def __init__(self, max_bytes: int = 1 << 30):
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()
        self.nbytes = 0
        self._max_bytes = 0
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    @property
    def max_bytes(self) -> int:
        """The byte budget; lowering it evicts entries at once, ``0`` empties the cache."""
        return self._max_bytes

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        value = check_integer(value, "max_bytes", minimum=0)
        with self._lock:
            self._max_bytes = value
            self._evict()

    def get(self, key: Hashable) -> Any | None:
        """Return the cached value for ``key`` or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def get_many(self, keys: list[Hashable]) -> list[Any | None]:
        """Return the cached value (or None) of every key, under one lock."""
        with self._lock:
            values = [self._entries.get(key) for key in keys]
            for key, value in zip(keys, values):
                if value is not None:
                    self._entries.move_to_end(key)
            found = sum(value is not None for value in values)
            self.hits += found
            self.misses += len(values) - found
        return values

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value`` (an ndarray or tuple of ndarrays) under ``key``."""
        size = _nbytes(value)
        with self._lock:
            if key in self._entries:
                self.nbytes -= self._sizes.pop(key)
                del self._entries[key]
            if size <= self._max_bytes:
                self._entries[key] = value
                self._sizes[key] = size
                self.nbytes += size
            self._evict()

    def _evict(self) -> None:
        """Drop least recently used entries until within budget (lock held)."""
        while self.nbytes > self._max_bytes:
            old, _ = self._entries.popitem(last=False)
            self.nbytes -= self._sizes.pop(old)

    def clear(self) -> None:
        """Remove every entry and reset the hit counters."""
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self.nbytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def _nbytes(value: Any) -> int:
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return value.nbytes
    return sum(_nbytes(v) for v in value)


activation_cache = ActivationCache()


#: Default byte budget of each model's word-vector cache: 128 MiB holds about
#: 65,000 words of the published ``original`` model (512 floats each) and
#: 260,000 of the bundled one.
WORD_CACHE_BYTES = 128 << 20


class WordVectorCache(ActivationCache):
    """Token-layer vectors of distinct words, least recently used first out.

    An :class:`ActivationCache` keyed by word, holding one vector (a tensor)
    per word.

    Parameters
    ----------
    max_bytes : int, default=WORD_CACHE_BYTES
        Budget of the stored vectors; ``0`` keeps nothing.
    """

    def __init__(self, max_bytes: int = WORD_CACHE_BYTES):
        super().__init__(max_bytes)

    def vectors(self, words: list[str],
                encode: Callable[[list[str]], torch.Tensor]) -> torch.Tensor:
        """The vectors of distinct ``words``, one row each, in order.

        Words not held are passed to ``encode`` (once, together), which must
        return their vectors as rows; those are then kept.
        """
        values = self.get_many(words)
        missing = [i for i, value in enumerate(values) if value is None]
        if missing:
            for i, vector in zip(missing, encode([words[i] for i in missing])):
                values[i] = vector.clone()  # not a view holding the whole batch
                self.put(words[i], values[i])
        return torch.stack(values)

    def __getstate__(self) -> dict:
        # A copied or pickled model starts with an empty cache of the same budget.
        return {"max_bytes": self.max_bytes}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["max_bytes"])


_word_caches_lock = threading.Lock()


def word_vector_cache(bilm: BiLM, precision: str = "float32") -> WordVectorCache:
    """The word-vector cache of a loaded model at one precision (created on first use).

    It lives on the model object, so it goes when the model goes
    (:func:`clear_model_cache`, or a rewritten weights file).

    Parameters
    ----------
    bilm : BiLM
    precision : {"float32", "bfloat16"}, default="float32"

    Returns
    -------
    WordVectorCache
    """
    with _word_caches_lock:
        caches = bilm.__dict__.setdefault("_skelmo_word_caches", {})
        cache = caches.get(precision)
        if cache is None:
            cache = caches[precision] = WordVectorCache()
        return cache
