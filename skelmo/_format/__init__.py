"""The ELMo file format and text encoding: what a model file and a token are.

Owns ``options.json`` and the weights HDF5 file (reading, validating,
writing, in the TensorFlow orientation the published files use), the
character ids a token becomes, and skelmo's word tokenizer and sentence
splitter (:func:`tokenize`, :func:`split_sentences` for text and
:func:`split_token_sentences` for tokens). Nothing here runs a model.

Imports: NumPy, h5py, torch (for :func:`batch_to_ids`'s tensor) and
:mod:`skelmo._utils` only; every other layer imports this one, through this
``__init__``.
"""

from ._chars import (
    BOS_IDS,
    BOS_TOKEN,
    EOS_IDS,
    EOS_TOKEN,
    MAX_CHARACTERS,
    PAD_ID,
    batch_to_ids,
    check_tokens,
    token_to_ids,
)
from ._files import (
    N_CHARACTER_ROWS,
    ElmoOptions,
    ElmoWeights,
    HighwayWeights,
    LstmCellWeights,
    ModelFileError,
    ModelFileNotFoundError,
    check_model_file,
    check_weights,
    expected_shapes,
    read_model,
    read_options,
    read_weights,
    write_model,
)
from ._sentences import split_sentences, split_token_sentences
from ._tokenize import tokenize

__all__ = [
    "BOS_IDS",
    "BOS_TOKEN",
    "EOS_IDS",
    "EOS_TOKEN",
    "MAX_CHARACTERS",
    "N_CHARACTER_ROWS",
    "PAD_ID",
    "ElmoOptions",
    "ElmoWeights",
    "HighwayWeights",
    "LstmCellWeights",
    "ModelFileError",
    "ModelFileNotFoundError",
    "batch_to_ids",
    "check_model_file",
    "check_tokens",
    "check_weights",
    "expected_shapes",
    "read_model",
    "read_options",
    "read_weights",
    "split_sentences",
    "split_token_sentences",
    "token_to_ids",
    "tokenize",
    "write_model",
]
