"""The work of :mod:`skelmo.spark` on the Python workers.

Nothing here imports PySpark at module level: :func:`embed_batches` takes the
pandas batches that ``mapInPandas`` hands a Python worker for one partition
and yields them with one more column. It is pickled by reference, so a worker
runs the code of the skelmo installed in its interpreter.

The estimator's ``transform`` loads the biLM through the process-wide model
cache, so a Python worker loads each model once, however many batches and
tasks it runs (Spark reuses Python workers by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from .._estimators import (
    Document,
    DocumentError,
    ElmoEstimatorBase,
    ElmoTokenVectorizer,
    tokenize_documents,
    transform_documents,
)

__all__ = ["embed_batches"]


def _partition_id() -> int | None:
    """The Spark partition this task reads, or None outside a Spark task."""
    try:
        from pyspark import TaskContext
    except ImportError:  # pragma: no cover - the workers run PySpark
        return None
    context = TaskContext.get()
    return None if context is None else context.partitionId()


def _where(input_col: str, partition: int | None, row: int, position: int, size: int) -> str:
    """Where a document of a batch is, in words."""
    part = "a partition" if partition is None else f"partition {partition}"
    return (f"Column {input_col!r} of the Spark DataFrame, {part}, row {row} of the partition "
            f"(document {position} of an Arrow batch of {size} rows)")


def _documents(column: pd.Series) -> pd.Series:
    """The column with Spark's nulls as None, whichever pandas dtype Arrow gave it.

    pandas 3 reads a string column as ``str`` dtype, with NaN for nulls; an
    error about a null document then says ``None``, as Spark shows it.
    """
    if column.dtype == object:
        return column
    return column.astype(object).where(column.notna(), None)


def _vectors(estimator: ElmoEstimatorBase, documents: list[Document]) -> list[Any]:
    """One float32 value per document: a vector, or a list of token vectors."""
    if isinstance(estimator, ElmoTokenVectorizer):
        # The estimator was set to output="ragged" on the driver: one (n_tokens, width)
        # array per document, given to Arrow as a list of rows.
        return [list(np.asarray(matrix, dtype=np.float32)) for matrix in
                transform_documents(estimator, documents)]
    return list(np.asarray(transform_documents(estimator, documents), dtype=np.float32))


def embed_batches(batches: Iterator[pd.DataFrame], estimator: ElmoEstimatorBase,
                  input_col: str, output_col: str) -> Iterator[pd.DataFrame]:
    """Embed the documents of each batch of one partition, keeping every column.

    Parameters
    ----------
    batches : iterator of pandas DataFrame
        The Arrow batches of one partition, as ``mapInPandas`` gives them.
    estimator : ElmoVectorizer or ElmoTokenVectorizer
        Checked on the driver; an ``ElmoTokenVectorizer`` has ``output="ragged"``.
    input_col, output_col : str
        The column of documents, and the column added.

    Yields
    ------
    pandas DataFrame
        Each batch, rows in order, with ``output_col`` added: one float32
        vector per row, or one list of float32 token vectors per row.

    Raises
    ------
    skelmo._estimators.DocumentError
        For a document the estimator refuses, with the estimator's message
        prefixed by where the document is (column, partition, row).
    """
    partition = _partition_id()
    row = 0
    for batch in batches:
        size = len(batch)
        try:
            tokens = tokenize_documents(estimator, _documents(batch[input_col]))
        except DocumentError as error:
            where = _where(input_col, partition, row + error.position, error.position, size)
            raise type(error)(f"{where}: {error}", error.position) from error
        batch = batch.copy(deep=False)
        batch[output_col] = pd.Series(_vectors(estimator, tokens) if size else [],
                                      index=batch.index, dtype=object)
        row += size
        yield batch
