"""The biLM engine: run a model over tokens, fast and exactly.

Owns the PyTorch biLM (character encoder, LSTM stack), the conversion of the
published weights to PyTorch's layout, the LSTM initial-state policies,
batched embedding of tokenized sentences, the process-wide model and
activation caches, and the choice of device. It knows nothing of
scikit-learn, documents or named models.

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
    highway_and_projection,
)
from ._cache import (
    ActivationCache,
    activation_cache,
    clear_model_cache,
    load_bilm,
    load_bilm_with_identity,
    model_identity,
    model_sha256,
)
from ._device import resolve_device, torch_threads
from ._embed import ElmoEmbedder, EmbeddedBatch
from ._layout import conv_from_torch, conv_to_torch, highway_from_torch, highway_to_torch
from ._state import STATE_POLICIES, StatefulCarry, check_state_policy, warm_state

__all__ = [
    "FORGET_BIAS",
    "MIN_ROWS",
    "STATE_POLICIES",
    "ActivationCache",
    "BiLM",
    "BiLMOutput",
    "CharacterEncoder",
    "ElmoEmbedder",
    "EmbeddedBatch",
    "LstmStack",
    "LstmState",
    "StatefulCarry",
    "activation_cache",
    "check_state_policy",
    "clear_model_cache",
    "conv_from_torch",
    "conv_to_torch",
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
]
