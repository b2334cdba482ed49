"""skelmo: ELMo contextual embeddings as scikit-learn transformers."""

from ._bilm import BiLM, BiLMOutput, LstmState
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

__version__ = "0.1.0"

__all__ = [
    "BiLM",
    "BiLMOutput",
    "ElmoEmbedder",
    "EmbeddedBatch",
    "ElmoOptions",
    "ElmoWeights",
    "LstmState",
    "ModelFileError",
    "ModelFileNotFoundError",
    "batch_to_ids",
    "read_model",
    "write_model",
]
