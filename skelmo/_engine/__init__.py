"""The biLM engine: run a model over tokens, fast and exactly.

Owns the PyTorch biLM (character encoder, LSTM stack), the conversion of the
published weights to PyTorch's layout, the LSTM initial-state policies,
batched embedding of tokenized sentences, the process-wide model and
activation caches, the persistent on-disk cache, and the choice of device.
It knows nothing of scikit-learn, documents or named models.

Imports: torch, NumPy, :mod:`skelmo._format` and :mod:`skelmo._utils` only.
Other layers import it through this ``__init__``.
"""

from ._bilm import (
    FORGET_BIAS,
    MIN_ROWS,
    BiLM,
    BiLMOutput,
    CharacterEncoder,
    LstmStack,
    LstmState,
    character_columns,
    convolutions_max,
    highway_and_projection,
)
from ._cache import (
    WORD_CACHE_BYTES,
    ActivationCache,
    WordVectorCache,
    activation_cache,
    clear_model_cache,
    load_bilm,
    load_bilm_with_identity,
    model_identity,
    model_sha256,
    word_vector_cache,
)
from ._device import (
    PRECISIONS,
    bfloat16_supported,
    check_precision,
    check_precision_on,
    resolve_device,
    torch_threads,
)
from ._disk_cache import DiskCache, disk_cache_key
from ._embed import DEFAULT_MAX_BATCH_TOKENS, ElmoEmbedder, EmbeddedBatch, batch_tokens
from ._layout import (
    conv_from_torch,
    conv_to_matrix,
    conv_to_torch,
    highway_from_torch,
    highway_to_torch,
)
from ._state import STATE_POLICIES, StatefulCarry, check_state_policy, warm_state

__all__ = [
    "DEFAULT_MAX_BATCH_TOKENS",
    "FORGET_BIAS",
    "MIN_ROWS",
    "PRECISIONS",
    "STATE_POLICIES",
    "WORD_CACHE_BYTES",
    "ActivationCache",
    "BiLM",
    "BiLMOutput",
    "CharacterEncoder",
    "DiskCache",
    "ElmoEmbedder",
    "EmbeddedBatch",
    "LstmStack",
    "LstmState",
    "StatefulCarry",
    "WordVectorCache",
    "activation_cache",
    "batch_tokens",
    "bfloat16_supported",
    "character_columns",
    "check_precision",
    "check_precision_on",
    "check_state_policy",
    "clear_model_cache",
    "conv_from_torch",
    "conv_to_matrix",
    "conv_to_torch",
    "convolutions_max",
    "disk_cache_key",
    "highway_and_projection",
    "highway_from_torch",
    "highway_to_torch",
    "load_bilm",
    "load_bilm_with_identity",
    "model_identity",
    "model_sha256",
    "resolve_device",
    "torch_threads",
    "warm_state",
    "word_vector_cache",
]
