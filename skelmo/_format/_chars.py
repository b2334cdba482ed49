"""Text to ELMo character ids.

Every token becomes ``max_characters_per_token`` (50) integers: a begin-of-word
marker, the token's UTF-8 bytes (cut to 48), an end-of-word marker and padding.
All ids are shifted by one so that 0 can mean "no token here" (padding rows).
The sentence boundaries ``<S>`` and ``</S>`` have reserved character codes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

__all__ = [
    "BOS_IDS",
    "BOS_TOKEN",
    "EOS_IDS",
    "EOS_TOKEN",
    "MAX_CHARACTERS",
    "PAD_ID",
    "batch_to_ids",
    "check_tokens",
    "token_to_ids",
]

MAX_CHARACTERS = 50
BOS_TOKEN = "<S>"
EOS_TOKEN = "</S>"

# Character codes before the +1 shift: bytes take 0..255.
_BOS_CHAR = 256
_EOS_CHAR = 257
_BOW_CHAR = 258
_EOW_CHAR = 259
_PAD_CHAR = 260
#: The character id of the padding after a token's end-of-word marker.
PAD_ID = _PAD_CHAR + 1
_MAX_WORD_BYTES = MAX_CHARACTERS - 2


def _boundary_ids(char: int) -> np.ndarray:
    ids = np.full(MAX_CHARACTERS, PAD_ID, dtype=np.int64)
    ids[:3] = (_BOW_CHAR + 1, char + 1, _EOW_CHAR + 1)
    return ids


#: The 50 character ids of the sentence-boundary tokens ``<S>`` and ``</S>``.
BOS_IDS = _boundary_ids(_BOS_CHAR)
EOS_IDS = _boundary_ids(_EOS_CHAR)


def token_to_ids(token: str) -> np.ndarray:
    """Return the 50 character ids of one token as an int64 array.

    Parameters
    ----------
    token : str
        A single token. ``"<S>"`` and ``"</S>"`` map to the sentence-boundary
        codes, as in the reference implementation.

    Returns
    -------
    ids : ndarray of shape (50,)
        Character ids, already shifted by one (0 is reserved for padding).
    """
    if not isinstance(token, str):
        raise TypeError(f"A token must be a str, got {type(token).__name__}: {token!r}.")
    if token == BOS_TOKEN:
        return BOS_IDS.copy()
    if token == EOS_TOKEN:
        return EOS_IDS.copy()
    encoded = token.encode("utf-8", "ignore")[:_MAX_WORD_BYTES]
    ids = np.full(MAX_CHARACTERS, PAD_ID, dtype=np.int64)
    ids[0] = _BOW_CHAR + 1
    ids[1 : len(encoded) + 1] = np.frombuffer(encoded, dtype=np.uint8).astype(np.int64) + 1
    ids[len(encoded) + 1] = _EOW_CHAR + 1
    return ids


def batch_to_ids(batch: Iterable[Iterable[str]]) -> torch.Tensor:
    """Convert a batch of tokenized sentences to ELMo character ids.

    Parameters
    ----------
    batch : iterable of iterable of str
        Tokenized sentences, without sentence-boundary tokens (the biLM adds
        them). A bare str, or a sentence given as a str, raises ``TypeError``.

    Returns
    -------
    ids : torch.LongTensor of shape (n_sentences, max_tokens, 50)
        Character ids; rows past the end of a sentence are all zeros.

    Examples
    --------
    >>> from skelmo import batch_to_ids
    >>> ids = batch_to_ids([["Hello", "world"], ["Hi"]])
    >>> tuple(ids.shape)
    (2, 2, 50)
    >>> ids[0, 0, :7].tolist()
    [259, 73, 102, 109, 109, 112, 260]
    >>> int(ids[1, 1].abs().sum())
    0
    """
    if isinstance(batch, (str, bytes)):
        raise TypeError(
            "batch_to_ids expects a list of tokenized sentences, "
            f"got a single {type(batch).__name__}."
        )
    sentences = [check_tokens(sentence, f"Sentence {row}") for row, sentence in enumerate(batch)]
    max_tokens = max((len(sentence) for sentence in sentences), default=0)
    ids = np.zeros((len(sentences), max_tokens, MAX_CHARACTERS), dtype=np.int64)
    for row, sentence in enumerate(sentences):
        for col, token in enumerate(sentence):
            ids[row, col] = token_to_ids(token)
    return torch.from_numpy(ids)


def check_tokens(sentence: object, label: str) -> list[str]:
    """Return a tokenized sentence as a list of str, or raise a TypeError naming it.

    Parameters
    ----------
    sentence : iterable of str
        The tokens. A str is refused: it is text, not tokens.
    label : str
        How messages name the sentence, e.g. ``"Sentence 3"`` or ``"Document 3"``.

    Returns
    -------
    list of str
    """
    if isinstance(sentence, (str, bytes)):
        raise TypeError(
            f"{label} is a {type(sentence).__name__}; expected a list of tokens "
            "(split the text first)."
        )
    try:
        tokens = list(sentence)
    except TypeError:
        raise TypeError(f"{label} is a {type(sentence).__name__}, not a list of tokens.") from None
    for position, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(
                f"{label} has a token of type {type(token).__name__} ({token!r}). Token "
                f"{position} of {label[:1].lower()}{label[1:]} must be a str."
            )
    return tokens
