"""The work of :mod:`skelmo.dask` on one partition of documents.

Nothing here imports Dask: these functions take a partition (a pandas Series,
a one-column DataFrame or the items of a bag partition) and return NumPy or
pandas objects. They are pickled by reference, so a worker runs the code of
the skelmo installed on it, and they would serve any other engine too.

Every function loads the biLM through the process-wide model cache, so a
worker process loads each model once, whatever the number of partitions.
"""

from __future__ import annotations

import copy
from collections.abc import Hashable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from .._estimators import (
    Document,
    DocumentError,
    ElmoEstimatorBase,
    ElmoTokenVectorizer,
    document_lengths,
    feature_width,
    tokenize_documents,
    transform_documents,
)

__all__ = [
    "PartitionShape",
    "embed_partition",
    "embed_partition_frame",
    "empty_frame",
    "frame_task",
    "output_columns",
    "partition_lengths",
    "partition_shape",
]


class PartitionShape(NamedTuple):
    """Sizes of one partition."""

    documents: int
    #: Tokens in all documents (token estimators only, else 0).
    tokens: int
    #: Tokens in the longest document (token estimators only, else 0).
    longest: int


def output_columns(estimator: ElmoEstimatorBase) -> list[str]:
    """Names of the output columns, as ``get_feature_names_out`` spells them.

    Loads the model (through the model cache) to learn its width.
    """
    width = feature_width(estimator)
    prefix = type(estimator).__name__.lower()
    return [f"{prefix}{i}" for i in range(width)]


def _documents(partition: Any) -> Any:
    """A pandas partition as it is; the items of a bag partition as a list."""
    if isinstance(partition, (pd.Series, pd.DataFrame, np.ndarray, list)):
        return partition
    return list(partition)


def _where(number: int, offset: int | None, position: int) -> str:
    """Where in the collection document ``position`` of partition ``number`` is."""
    where = f"In partition {number} of the dask collection"
    if offset is None:
        return f"{where} (document {position} counting from the partition's start)"
    return f"{where}, whose document {position} is document {offset + position} of the collection"


def _tokens(estimator: ElmoEstimatorBase, documents: Any, number: int,
            offset: int | None) -> list[Document]:
    """Tokenize a partition; an error about a document also names the partition."""
    try:
        return tokenize_documents(estimator, documents)
    except DocumentError as error:
        raise type(error)(f"{_where(number, offset, error.position)}: {error}",
                          error.position) from error


def partition_shape(estimator: ElmoEstimatorBase, partition: Any, number: int) -> PartitionShape:
    """Count the documents (and, for token estimators, the tokens) of a partition."""
    documents = _documents(partition)
    if not isinstance(estimator, ElmoTokenVectorizer):
        return PartitionShape(len(documents), 0, 0)
    lengths = document_lengths(_tokens(estimator, documents, number, None))
    return PartitionShape(len(lengths), sum(lengths), max(lengths, default=0))


def partition_lengths(estimator: ElmoTokenVectorizer, partition: Any, number: int,
                      offset: int | None = None) -> np.ndarray:
    """Number of tokens of each document of a partition."""
    tokens = _tokens(estimator, _documents(partition), number, offset)
    return np.array(document_lengths(tokens), dtype=np.int64)


def _check_count(found: int, expected: int | None, number: int) -> None:
    if expected is not None and found != expected:
        raise RuntimeError(
            f"Partition {number} of the dask collection held {expected} documents when it was "
            f"counted and {found} now: the input changed between the two passes (a "
            "non-deterministic read or sample?). Persist or write the input first, or pass "
            "known_chunks=False."
        )


def _embed(estimator: ElmoEstimatorBase, tokens: list[Document],
           max_length: int | None) -> np.ndarray:
    """The estimator's ``transform`` of token lists, as a float32 array.

    ``transform`` itself sorts documents by length into batches; under the
    deterministic state policies a document's vectors do not depend on its
    batch.
    """
    if max_length == 0:
        # No document of the collection has a token: padded to the longest, every
        # document is (0, width), which max_length cannot say (it must be positive).
        values = _embed(estimator, tokens, None)
        return values[:, :0]
    if max_length is not None:
        estimator = copy.copy(estimator).set_params(max_length=max_length)
    return np.asarray(transform_documents(estimator, tokens), dtype=np.float32)


def embed_partition(estimator: ElmoEstimatorBase, partition: Any, number: int,
                    offset: int | None = None, expected: int | None = None,
                    max_length: int | None = None) -> np.ndarray:
    """Embed one partition: the estimator's ``transform`` output for it, as float32.

    Parameters
    ----------
    estimator : ElmoVectorizer or ElmoTokenVectorizer
    partition : pandas Series, one-column DataFrame or iterable of documents
    number : int
        The partition's number, for error messages.
    offset : int, optional
        Position of the partition's first document in the collection.
    expected : int, optional
        Number of documents counted in the partition earlier; a different
        number now is an error.
    max_length : int, optional
        Padded length of token outputs, overriding the estimator's; 0 when no
        document of the collection has a token.

    Returns
    -------
    ndarray, float32
    """
    tokens = _tokens(estimator, _documents(partition), number, offset)
    _check_count(len(tokens), expected, number)
    return _embed(estimator, tokens, max_length)


def embed_partition_frame(estimator: ElmoEstimatorBase, partition: Any, number: int,
                          columns: list[str], offset: int | None = None) -> pd.DataFrame:
    """Embed one partition as a DataFrame.

    One row per document (:class:`~skelmo.ElmoVectorizer`) or per token
    (:class:`~skelmo.ElmoTokenVectorizer` with ``output="flat"``, with a
    ``position`` column giving the token's position in its document). The
    index is the partition's index, repeated per token; for a partition
    without an index, the documents' positions in the collection from
    ``offset``.
    """
    documents = _documents(partition)
    tokens = _tokens(estimator, documents, number, offset)
    if isinstance(documents, (pd.Series, pd.DataFrame)):
        index: pd.Index = documents.index
    else:
        index = pd.RangeIndex(offset or 0, (offset or 0) + len(tokens))
    values = _embed(estimator, tokens, None)
    if not isinstance(estimator, ElmoTokenVectorizer):
        return pd.DataFrame(values, index=index, columns=columns, copy=False)
    lengths = np.array(document_lengths(tokens), dtype=np.int64)
    frame = pd.DataFrame(values, index=index.repeat(lengths), columns=columns, copy=False)
    positions = [np.arange(n, dtype=np.int32) for n in lengths]
    frame.insert(0, "position",
                 np.concatenate(positions) if positions else np.zeros(0, np.int32))
    return frame


def frame_task(partition: Any, estimator: ElmoEstimatorBase, columns: list[str],
               partition_info: dict[str, Hashable] | None = None) -> pd.DataFrame:
    """:func:`embed_partition_frame` in the argument order of ``map_partitions``."""
    number = int(partition_info["number"]) if partition_info else -1
    return embed_partition_frame(estimator, partition, number, columns)


def empty_frame(columns: list[str], index: pd.Index, tokens: bool) -> pd.DataFrame:
    """The (empty) meta of :func:`embed_partition_frame`'s output."""
    frame = pd.DataFrame(np.zeros((0, len(columns)), np.float32), index=index[:0],
                         columns=columns)
    if tokens:
        frame.insert(0, "position", np.zeros(0, np.int32))
    return frame
