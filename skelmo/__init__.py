"""skelmo: ELMo contextual embeddings as scikit-learn transformers.

The package is layered; each layer imports only the layers before it::

    _format  <-  _engine  <-  _estimators  <-  edges
    (files,      (biLM,        (ElmoVectorizer,  (cli, training, dask,
     tokens)      caches)       ElmoTokenVec.)    datasets, testing)
         ^------ models (registry, resolution, download) ------^

This module only re-exports the public names.
"""

from . import models, training
from ._engine import (
    BiLM,
    BiLMOutput,
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
    tokenize,
    write_model,
)
from .training import train

__version__ = "0.1.0"

__all__ = [
    "BiLM",
    "BiLMOutput",
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
    "tokenize",
    "train",
    "training",
    "write_model",
]
