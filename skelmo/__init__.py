"""skelmo: ELMo contextual embeddings as scikit-learn transformers.

The package is layered; each layer imports only the layers before it::

    _format  <-  _engine  <-  _estimators  <-  edges
    (files,      (biLM,        (ElmoVectorizer,  (cli, training, dask,
     tokens)      caches)       ElmoTokenVec.)    datasets, testing)
         ^------ models (registry, resolution, download) ------^

This module only re-exports the public names. They are imported on first use
(PEP 562), so that ``import skelmo`` and the start of the ``skelmo`` command
do not import torch and h5py; ``from skelmo import ElmoVectorizer`` and
``skelmo.ElmoVectorizer`` work as for any attribute.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "BiLM",
    "BiLMOutput",
    "DiskCache",
    "ElmoEmbedder",
    "ElmoOptions",
    "ElmoTokenVectorizer",
    "ElmoVectorizer",
    "ElmoWeights",
    "EmbeddedBatch",
    "LstmState",
    "ModelFileError",
    "ModelFileNotFoundError",
    "activation_cache",
    "batch_to_ids",
    "clear_model_cache",
    "load_bilm",
    "models",
    "read_model",
    "split_sentences",
    "tokenize",
    "train",
    "training",
    "write_model",
]

# The subpackage each public name comes from; a name equal to its subpackage is the
# subpackage itself. The imports below under TYPE_CHECKING say the same for type checkers
# (and for tests/test_layout.py, which reads the imports of every module).
_SOURCES: dict[str, str] = {
    "BiLM": "_engine",
    "BiLMOutput": "_engine",
    "DiskCache": "_engine",
    "ElmoEmbedder": "_engine",
    "EmbeddedBatch": "_engine",
    "LstmState": "_engine",
    "activation_cache": "_engine",
    "clear_model_cache": "_engine",
    "load_bilm": "_engine",
    "ElmoTokenVectorizer": "_estimators",
    "ElmoVectorizer": "_estimators",
    "ElmoOptions": "_format",
    "ElmoWeights": "_format",
    "ModelFileError": "_format",
    "ModelFileNotFoundError": "_format",
    "batch_to_ids": "_format",
    "read_model": "_format",
    "split_sentences": "_format",
    "tokenize": "_format",
    "write_model": "_format",
    "models": "models",
    "train": "training",
    "training": "training",
}

if TYPE_CHECKING:
    from . import models, training
    from ._engine import (
        BiLM,
        BiLMOutput,
        DiskCache,
        ElmoEmbedder,
        EmbeddedBatch,
        LstmState,
        activation_cache,
        clear_model_cache,
        load_bilm,
    )
    from ._estimators import ElmoTokenVectorizer, ElmoVectorizer
    from ._format import (
        ElmoOptions,
        ElmoWeights,
        ModelFileError,
        ModelFileNotFoundError,
        batch_to_ids,
        read_model,
        split_sentences,
        tokenize,
        write_model,
    )
    from .training import train


def __getattr__(name: str) -> Any:
    """Import a public name on first access (PEP 562) and keep it in the module."""
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    # import_module rather than ``from . import models``: that statement asks this module
    # for the attribute first, which would call __getattr__ again.
    module = importlib.import_module(f"{__name__}.{source}")
    value = module if name == source else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's attributes, the public names not yet imported included."""
    return sorted({*globals(), *__all__})
