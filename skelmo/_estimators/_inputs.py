"""Validation of the documents given to the estimators."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._format import check_tokens, tokenize

__all__ = ["DocumentError", "DocumentTypeError", "DocumentValueError", "to_token_lists"]

Tokenizer = Callable[[str], Sequence[str]]


class DocumentError(Exception):
    """An error about one input document (a mixin of the two errors below).

    Attributes
    ----------
    position : int
        The document's row in the input.
    """

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


class DocumentValueError(DocumentError, ValueError):
    """A document is missing or unusable."""


class DocumentTypeError(DocumentError, TypeError):
    """A document, or one of its tokens, has the wrong type."""


def _label(position: int, index: pd.Index | None) -> str:
    if index is None:
        return f"Document {position}"
    label = index[position]
    if isinstance(label, np.generic):
        label = label.item()  # "index 20", not "index np.int64(20)"
    if type(label) is int and label == position:
        return f"Document {position}"
    return f"Document {position} (index {label!r})"


def _as_documents(X: Any) -> tuple[Sequence[Any], pd.Index | None]:
    if isinstance(X, (str, bytes)):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    if isinstance(X, pd.DataFrame):
        if X.shape[1] != 1:
            raise ValueError(
                f"Expected a single text column, got a DataFrame with {X.shape[1]} columns. "
                "Select the text column (e.g. X['text'], or name it in a ColumnTransformer)."
            )
        X = X.iloc[:, 0]
    if isinstance(X, pd.Series):
        return X.tolist(), X.index
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        elif X.ndim != 1:
            raise ValueError(
                f"Expected a 1-d array of documents or an (n, 1) array, got shape {X.shape}."
            )
        return X.tolist(), None
    if isinstance(X, dict) or not hasattr(X, "__iter__"):
        raise TypeError(
            f"Expected an iterable of documents (list, array or pandas Series of str), "
            f"got {type(X).__name__}."
        )
    return list(X), None


def _is_missing(item: Any) -> bool:
    if item is None or item is pd.NA or item is pd.NaT:
        return True
    return isinstance(item, (float, np.floating)) and bool(np.isnan(item))


def to_token_lists(X: Any, tokenizer: Tokenizer | None) -> list[list[str]]:
    """Turn documents into token lists, with an error naming any bad document.

    Parameters
    ----------
    X : list, tuple, ndarray, pandas Series or one-column DataFrame
        Documents as str, or already tokenized as lists of str. The container
        decides: an array, Series or DataFrame column holds texts (an ``(n, 1)``
        array is a column of them, as ``ColumnTransformer`` passes it), while a
        list or tuple holds documents one per item, each a str or a token list.
        So ``[["a b"], ["c"]]`` is two token lists of one token each, whatever
        other rows the list holds: reading it by its shape would give a slice of
        token lists another meaning than the whole.
    tokenizer : callable or None
        Applied to str documents; None means :func:`skelmo.tokenize`.

    Returns
    -------
    list of list of str

    Raises
    ------
    DocumentValueError, DocumentTypeError
        Naming the document at fault, with its ``position``.
    """
    if tokenizer is not None and not callable(tokenizer):
        raise ValueError(f"tokenizer must be None or a callable str -> list of str, "
                         f"got {tokenizer!r}.")
    documents, index = _as_documents(X)
    result = []
    for position, item in enumerate(documents):
        if isinstance(item, str) and tokenizer is None:
            result.append(tokenize(item))  # gives str tokens: nothing to check
            continue
        if isinstance(item, str):
            tokens = tokenizer(item)
            if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
                raise DocumentTypeError(
                    f"The tokenizer returned a {type(tokens).__name__} for "
                    f"{_label(position, index).lower()}; it must return a list of str.",
                    position,
                )
        elif _is_missing(item):
            raise DocumentValueError(
                f"{_label(position, index)} is missing ({item!r}). Fill or drop missing "
                "texts first, e.g. X.fillna('') to embed them as empty documents.",
                position,
            )
        elif isinstance(item, (list, tuple, np.ndarray)):
            tokens = item
        else:
            raise DocumentTypeError(
                f"{_label(position, index)} has type {type(item).__name__} ({item!r}); expected "
                "a str or a list of str tokens.",
                position,
            )
        try:
            result.append(check_tokens(tokens, _label(position, index)))
        except TypeError as error:
            raise DocumentTypeError(str(error), position) from None
    return result
