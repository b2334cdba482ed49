"""skelmo: ELMo contextual embeddings as scikit-learn transformers."""

from . import models, training
from ._bilm import BiLM, BiLMOutput, LstmState
from ._cache import activation_cache, clear_model_cache, load_bilm
from ._chars import batch_to_ids
from ._embed import ElmoEmbedder, EmbeddedBatch
from ._format import (
    ElmoOptions,
    ElmoWeights,
    ModelFileError,
    ModelFileNotFoundError,
    read_model,
    write_model,
)
from ._tokenize import tokenize
from ._vectorizers import ElmoTokenVectorizer, ElmoVectorizer
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
