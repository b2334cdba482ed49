"""Process-wide caches: loaded biLMs, and activations of documents already seen.

Model cache
    One :class:`~skelmo.BiLM` per (weights file identity, device), shared by
    every estimator, clone and copy in the process. A file's identity is its
    resolved path, size and modification time, so a rewritten file is loaded
    anew.

Activation cache
    Per-document results keyed by (what was computed, model identity, state
    policy, the document's tokens). Because the key holds the tokens, a
    different tokenizer can never be served another tokenizer's result. It is
    a least-recently-used store with a byte budget (``max_bytes``, 1 GiB by
    default; ``skelmo.activation_cache.max_bytes = 0`` turns it off for the
    process, ``cache=False`` on an estimator turns it off for that estimator).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._bilm import BiLM
from ._device import resolve_device

__all__ = ["ActivationCache", "activation_cache", "load_bilm", "clear_model_cache",
           "model_identity"]


def model_identity(options_file: str | os.PathLike[str],
                   weight_file: str | os.PathLike[str]) -> tuple[Hashable, ...]:
    """A key that changes whenever either model file changes."""
    parts: list[Hashable] = []
    for path in (Path(options_file), Path(weight_file)):
        try:
            stat = path.stat()
            parts.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
        except OSError:
            parts.append((str(path), None, None))
    return tuple(parts)


_models: dict[tuple[Hashable, ...], BiLM] = {}
_models_lock = threading.Lock()


def load_bilm(options_file: str | os.PathLike[str], weight_file: str | os.PathLike[str],
              device: str | torch.device = "cpu") -> BiLM:
    """Load a biLM once per process per (model files, device) and share it.

    Parameters
    ----------
    options_file, weight_file : str or path-like
    device : str or torch.device, default="cpu"
        ``"auto"`` picks CUDA when available.

    Returns
    -------
    BiLM
        The shared instance; treat it as read-only.
    """
    resolved = resolve_device(device)
    key = (model_identity(options_file, weight_file), str(resolved))
    with _models_lock:
        bilm = _models.get(key)
        if bilm is None:
            bilm = BiLM.from_files(options_file, weight_file, device=resolved)
            _models[key] = bilm
    return bilm


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
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

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

    def put(self, key: Hashable, value: Any) -> None:
        """Store ``value`` (an ndarray or tuple of ndarrays) under ``key``."""
        size = _nbytes(value)
        with self._lock:
            if size > self.max_bytes:
                return
            if key in self._entries:
                self.nbytes -= self._sizes.pop(key)
                del self._entries[key]
            self._entries[key] = value
            self._sizes[key] = size
            self.nbytes += size
            while self.nbytes > self.max_bytes:
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
    if isinstance(value, np.ndarray):
        return value.nbytes
    return sum(_nbytes(v) for v in value)


activation_cache = ActivationCache()
