"""Validation of the documents given to the estimators."""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._format import check_tokens, split_sentences, split_token_sentences, tokenize

__all__ = [
    "DECODE_ERRORS",
    "INPUT_KINDS",
    "DocumentError",
    "DocumentTypeError",
    "DocumentValueError",
    "check_input_params",
    "documents_to_sentence_lists",
    "documents_to_token_lists",
    "read_documents",
    "to_token_lists",
]

Tokenizer = Callable[[str], Sequence[str]]
Preprocessor = Callable[[str], str]

#: The values of ``input``, as scikit-learn's text vectorizers take them.
INPUT_KINDS = ("content", "filename", "file")
#: The values of ``decode_error``, as scikit-learn's text vectorizers take them.
DECODE_ERRORS = ("strict", "ignore", "replace")


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

    def __reduce__(self) -> tuple:
        # Errors raised in a Dask or Spark worker are pickled back to the client.
        return type(self), (str(self), self.position)


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


def _check_tokenizer(tokenizer: Any) -> None:
    if tokenizer is not None and not callable(tokenizer):
        raise ValueError(f"tokenizer must be None or a callable str -> list of str, "
                         f"got {tokenizer!r}.")


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

    See Also
    --------
    read_documents : Unpacks ``X`` and reads files first, for
        :func:`documents_to_token_lists`.
    """
    _check_tokenizer(tokenizer)
    documents, index = _as_documents(X)
    return _tokenize_documents(documents, index, tokenizer)


def documents_to_token_lists(documents: Sequence[Any], index: pd.Index | None,
                             tokenizer: Tokenizer | None) -> list[list[str]]:
    """:func:`to_token_lists` for documents already unpacked by :func:`read_documents`.

    Parameters
    ----------
    documents : sequence
        The documents, one per item: str, token lists, or anything else (a
        missing value, a wrong type), which is reported as
        :func:`to_token_lists` reports it.
    index : pandas.Index or None
        The labels that error messages give the documents, as
        :func:`read_documents` returns them.
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
    _check_tokenizer(tokenizer)
    return _tokenize_documents(documents, index, tokenizer)


def _tokenize_documents(documents: Sequence[Any], index: pd.Index | None,
                        tokenizer: Tokenizer | None) -> list[list[str]]:
    return [_document_tokens(item, position, index, tokenizer)
            for position, item in enumerate(documents)]


def _document_tokens(item: Any, position: int, index: pd.Index | None,
                     tokenizer: Tokenizer | None) -> list[str]:
    """The tokens of one document (or of one of its sentences), checked."""
    if isinstance(item, str) and tokenizer is None:
        return tokenize(item)  # gives str tokens: nothing to check
    if isinstance(item, str):
        tokens = tokenizer(item)
        if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
            raise DocumentTypeError(
                f"The tokenizer returned a {type(tokens).__name__} for "
                f"d{_label(position, index)[1:]}; it must return a list of str.",
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
        return check_tokens(tokens, _label(position, index))
    except TypeError as error:
        raise DocumentTypeError(str(error), position) from None


def documents_to_sentence_lists(documents: Sequence[Any], index: pd.Index | None,
                                tokenizer: Tokenizer | None) -> list[list[list[str]]]:
    """:func:`documents_to_token_lists` with every document split into sentences.

    A text is split by :func:`skelmo.split_sentences` and each sentence
    tokenized; a token list is split at its sentence-final punctuation by
    :func:`skelmo._format.split_token_sentences`. A document without tokens
    is one empty sentence.

    Parameters
    ----------
    documents : sequence
    index : pandas.Index or None
    tokenizer : callable or None

    Returns
    -------
    list of list of list of str
        Per document, its sentences' tokens, in order.

    Raises
    ------
    DocumentValueError, DocumentTypeError
        Naming the document at fault (not the sentence), with its ``position``.
    """
    _check_tokenizer(tokenizer)
    result = []
    for position, item in enumerate(documents):
        if isinstance(item, str):
            sentences = [_document_tokens(sentence, position, index, tokenizer)
                         for sentence in split_sentences(item)]
        else:
            sentences = split_token_sentences(_document_tokens(item, position, index,
                                                               tokenizer))
        result.append(sentences or [[]])
    return result


def _options(values: Sequence[str]) -> str:
    return ", ".join(repr(value) for value in values)


def check_input_params(input: str, encoding: str, decode_error: str,
                       preprocessor: Preprocessor | None) -> None:
    """Check the text-input parameters, which mean what they mean in scikit-learn.

    ``input``, ``encoding``, ``decode_error`` and ``preprocessor`` are those of
    :class:`sklearn.feature_extraction.text.TfidfVectorizer`; see
    :func:`read_documents` for what they do.

    Parameters
    ----------
    input : {"content", "filename", "file"}
        What each document is: its text, a path to it, or a file object.
    encoding : str
        The name of a text encoding known to Python (see :mod:`codecs`), used
        to decode bytes.
    decode_error : {"strict", "ignore", "replace"}
        What to do with bytes that do not decode.
    preprocessor : callable or None
        A function str -> str applied to each text before tokenization.

    Raises
    ------
    ValueError
        Naming the parameter at fault and the values it takes.
    """
    if not isinstance(input, str) or input not in INPUT_KINDS:
        raise ValueError(f"input must be one of {_options(INPUT_KINDS)}, got {input!r}.")
    if not isinstance(encoding, str):
        raise ValueError(f"encoding must be a str naming a text encoding, such as 'utf-8' or "
                         f"'latin-1', got {encoding!r}.")
    try:
        codecs.lookup(encoding)
    except (LookupError, ValueError):
        raise ValueError(f"encoding={encoding!r} is not an encoding known to Python; pass the "
                         "name of a text encoding, such as 'utf-8' or 'latin-1' (see the "
                         "standard encodings of the codecs module).") from None
    try:
        b"a".decode(encoding, "ignore")
    except LookupError:  # a codec, but not bytes -> str: 'rot13', 'base64', 'zlib'...
        raise ValueError(f"encoding={encoding!r} is not a text encoding; pass the name of one, "
                         "such as 'utf-8' or 'latin-1'.") from None
    except UnicodeError:  # a text encoding without this error handler ('idna')
        pass
    if not isinstance(decode_error, str) or decode_error not in DECODE_ERRORS:
        raise ValueError(f"decode_error must be one of {_options(DECODE_ERRORS)}, "
                         f"got {decode_error!r}.")
    if preprocessor is not None and not callable(preprocessor):
        raise ValueError(f"preprocessor must be None or a callable str -> str, "
                         f"got {preprocessor!r}.")


def _source(label: str, name: Any) -> str:
    """``label``, naming the file too where there is one: "Document 2, file 'a.txt',"."""
    return f"{label}, file {name!r}," if isinstance(name, str) else label


def _decode(data: bytes, position: int, index: pd.Index | None, name: Any, encoding: str,
            decode_error: str) -> str:
    try:
        return data.decode(encoding, decode_error)
    except UnicodeError as error:
        if decode_error == "strict":
            advice = ("Pass encoding= the encoding the text is in (such as "
                      "encoding='latin-1'), or decode_error='replace' to replace the bytes "
                      "that do not decode (decode_error='ignore' drops them).")
        else:
            advice = "Pass encoding= the encoding the text is in."
        raise DocumentValueError(
            f"{_source(_label(position, index), name)} cannot be decoded with "
            f"encoding={encoding!r}: {error}. {advice}",
            position,
        ) from None


def _read_content(item: Any, position: int, index: pd.Index | None, encoding: str,
                  decode_error: str) -> Any:
    if isinstance(item, bytes):
        return _decode(item, position, index, None, encoding, decode_error)
    return item  # a str, a token list, or something to_token_lists reports


def _read_filename(item: Any, position: int, index: pd.Index | None, encoding: str,
                   decode_error: str) -> str:
    label = _label(position, index)
    if not isinstance(item, (str, os.PathLike)):
        raise DocumentTypeError(
            f"{label} has type {type(item).__name__} ({item!r}); with input='filename' each "
            "document must be a path (a str or os.PathLike).",
            position,
        )
    path = os.fspath(item)
    name = os.fsdecode(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except (OSError, ValueError) as error:  # ValueError: a null character in the path
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        advice = (" With input='filename' each document is the path to a text file; pass "
                  "input='content' for the texts themselves."
                  if isinstance(error, FileNotFoundError) else "")
        raise DocumentValueError(f"{label}: cannot read file {name!r}: {reason}.{advice}",
                                 position) from None
    return _decode(data, position, index, name, encoding, decode_error)


def _read_file(item: Any, position: int, index: pd.Index | None, encoding: str,
               decode_error: str) -> str:
    label = _label(position, index)
    read = getattr(item, "read", None)
    if not callable(read):
        raise DocumentTypeError(
            f"{label} has type {type(item).__name__} ({item!r}), which has no read() method; "
            "with input='file' each document must be a file object, such as open(path, 'rb') "
            "(input='content' takes texts, input='filename' paths).",
            position,
        )
    name = getattr(item, "name", None)
    source = _source(label, name)
    try:
        data = read()
    except (OSError, ValueError) as error:  # ValueError: a closed file, a text file's decoding
        advice = (" Open the file in binary mode ('rb') so that encoding= and decode_error= "
                  "apply, or with the encoding its text is in."
                  if isinstance(error, UnicodeDecodeError) else "")
        raise DocumentValueError(f"{source} cannot be read: {error}.{advice}",
                                 position) from None
    if isinstance(data, bytes):
        return _decode(data, position, index, name, encoding, decode_error)
    if not isinstance(data, str):
        raise DocumentTypeError(
            f"{source} gave a {type(data).__name__} from read(); with input='file' read() "
            "must return bytes or str.",
            position,
        )
    return data


_READERS = {"content": _read_content, "filename": _read_filename, "file": _read_file}


def read_documents(
    X: Any,
    *,
    input: str = "content",
    encoding: str = "utf-8",
    decode_error: str = "strict",
    preprocessor: Preprocessor | None = None,
) -> tuple[list[Any], pd.Index | None]:
    """Unpack, read, decode and preprocess documents as scikit-learn's vectorizers do.

    ``input``, ``encoding``, ``decode_error`` and ``preprocessor`` mean what
    they mean in :class:`sklearn.feature_extraction.text.TfidfVectorizer`
    (its ``decode`` step, then its preprocessor), so the result is the text
    that vectorizer would tokenize. Then :func:`documents_to_token_lists`
    tokenizes it.

    Parameters
    ----------
    X : list, tuple, ndarray, pandas Series or one-column DataFrame
        The documents, unpacked as :func:`to_token_lists` unpacks them.
    input : {"content", "filename", "file"}, default="content"
        ``"content"``: each document is a str, bytes (decoded), or, beyond
        scikit-learn, an already tokenized list of str, which passes through
        untouched. ``"filename"``: each document is a path (str or
        :class:`os.PathLike`) to a file, read as bytes and decoded.
        ``"file"``: each document has a ``read()`` method returning bytes
        (decoded) or str.
    encoding : str, default="utf-8"
        The text encoding bytes are decoded with.
    decode_error : {"strict", "ignore", "replace"}, default="strict"
        What to do with bytes that do not decode: raise, drop them, or replace
        each with U+FFFD, as :meth:`bytes.decode` does.
    preprocessor : callable or None, default=None
        A function str -> str applied to each text after decoding (before
        tokenization, as in scikit-learn). It is not applied to token lists,
        which are already past that step.

    Returns
    -------
    documents : list
        One item per document: its text, or its token list. Missing values
        (None, NaN, ``pd.NA``) and, with ``input="content"``, items of other
        types are left as they are, for :func:`documents_to_token_lists` to
        report as :func:`to_token_lists` does.
    index : pandas.Index or None
        The index of a Series or DataFrame ``X``, which error messages name
        documents by; pass it to :func:`documents_to_token_lists`.

    Raises
    ------
    ValueError
        For a bad parameter (see :func:`check_input_params`) or container.
    DocumentValueError
        For a document that does not decode with ``decode_error="strict"``,
        or a file that cannot be read, naming the document (and the file).
    DocumentTypeError
        For a path that is not a str or os.PathLike, a file object without
        ``read()``, or a preprocessor that does not return a str, naming the
        document.
    """
    check_input_params(input, encoding, decode_error, preprocessor)
    documents, index = _as_documents(X)
    read = _READERS[input]
    result = []
    for position, item in enumerate(documents):
        if _is_missing(item):
            result.append(item)
            continue
        document = read(item, position, index, encoding, decode_error)
        if preprocessor is not None and isinstance(document, str):
            processed = preprocessor(document)
            if not isinstance(processed, str):
                raise DocumentTypeError(
                    f"{_label(position, index)}: the preprocessor returned a "
                    f"{type(processed).__name__}; it must return a str.",
                    position,
                )
            document = processed
        result.append(document)
    return result, index
