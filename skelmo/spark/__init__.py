"""Embed a column of documents of a Spark DataFrame.

Needs the ``spark`` extra: ``pip install "skelmo[spark]"`` (PySpark and
PyArrow), and Java for Spark itself. Importing this module works without it;
calling :func:`transform` then raises an ImportError saying what to install.

:func:`transform` adds a column of ELMo vectors to a Spark DataFrame with
``mapInPandas``: each Arrow batch of each partition is tokenized and embedded
with the estimator's own ``transform`` in a Python worker, which loads the
biLM once (the process-wide model cache) and reuses it for the later batches
and tasks it runs. Under the default state policy (``"warm"``) a document's
vectors do not depend on its batch, partition or worker, so the results are
bitwise those of a single-process ``transform``, and a task re-run after a
failure gives the same values again.

The Python workers run the interpreter named by ``PYSPARK_PYTHON`` (by
default the ``python3`` on the ``PATH`` of each executor): set it to an
interpreter that has skelmo and PyArrow. Every executor needs the model at
the same path, or a registered model name (in the registry of each
executor's ``SKELMO_HOME``, downloaded by each machine on first use).

Layer
    An edge: it imports :mod:`skelmo._estimators` (the estimators and their
    interface for the edges), :mod:`skelmo._utils` and, when called, PySpark.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from .._estimators import ElmoEstimatorBase, ElmoTokenVectorizer, check_distributable
from .._utils import import_optional
from ._tasks import embed_batches

__all__ = ["transform"]

_INSTALL = (
    "skelmo.spark needs PySpark and PyArrow, which are not installed: "
    "pip install 'skelmo[spark]' (or pip install 'pyspark>=3.5' 'pyarrow>=14')."
)


def _require(module: str) -> Any:
    return import_optional(module, _INSTALL)


def _check_estimator(estimator: Any) -> None:
    check_distributable(estimator, "For a Pipeline, embed with its ElmoVectorizer step first, "
                                   "then apply the rest of the pipeline to the vectors.")


def _case_sensitive(df: Any) -> bool:
    """Whether the DataFrame's session tells column names apart by case.

    Spark's ``spark.sql.caseSensitive`` is false by default: ``text`` and
    ``TEXT`` then name the same column.
    """
    try:
        value = df.sparkSession.conf.get("spark.sql.caseSensitive", "false")
    except Exception:  # a DataFrame without a session conf to read: Spark's default
        return False
    return str(value).strip().lower() == "true"


def _same_name(a: str, b: str, case_sensitive: bool) -> bool:
    """Whether Spark's resolver takes ``a`` and ``b`` for the same column name.

    Case-insensitive resolution compares character by character, ignoring case,
    as Java's ``String.equalsIgnoreCase`` does.
    """
    if case_sensitive or len(a) != len(b):
        return a == b
    return all(x == y or x.upper() == y.upper() or x.lower() == y.lower()
               for x, y in zip(a, b))


def _check_columns(df: Any, input_col: str, output_col: str) -> str:
    """Check the columns; return ``input_col`` as the DataFrame spells it."""
    types = _require("pyspark.sql.types")
    if not hasattr(df, "mapInPandas") or not hasattr(df, "schema"):
        raise TypeError(
            f"Expected a Spark DataFrame, got {type(df).__module__}.{type(df).__name__}. For "
            "documents in memory, call the estimator's transform."
        )
    if not isinstance(input_col, str) or not isinstance(output_col, str):
        raise TypeError("input_col and output_col must be column names (str).")
    names = df.columns
    case_sensitive = _case_sensitive(df)
    matches = [name for name in names if _same_name(name, input_col, case_sensitive)]
    if not matches:
        raise ValueError(
            f"The DataFrame has no column {input_col!r} (input_col); its columns are {names}."
        )
    if len(matches) > 1:
        raise ValueError(
            f"input_col {input_col!r} is ambiguous: the DataFrame has columns {matches}, "
            "which are the same name to Spark when spark.sql.caseSensitive is false. Rename "
            "one, or pass the exact name with spark.sql.caseSensitive=true."
        )
    clashes = [name for name in names if _same_name(name, output_col, case_sensitive)]
    if clashes:
        same = "" if clashes[0] == output_col else (
            f" ({clashes[0]!r}, the same name to Spark: spark.sql.caseSensitive is false)")
        raise ValueError(
            f"The DataFrame already has a column {output_col!r}{same}: pass another "
            f"output_col, or drop it first (df.drop({clashes[0]!r}))."
        )
    column = matches[0]
    kind = df.schema[column].dataType
    text = isinstance(kind, types.StringType)
    tokens = isinstance(kind, types.ArrayType) and isinstance(kind.elementType,
                                                              types.StringType)
    if not (text or tokens):
        raise TypeError(
            f"Column {column!r} has type {kind.simpleString()}; expected string (texts) or "
            "array<string> (token lists)."
        )
    return column


def transform(df: Any, estimator: ElmoEstimatorBase, input_col: str,
              output_col: str = "elmo") -> Any:
    """Add a column of ELMo vectors to a Spark DataFrame.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        Any DataFrame with a column of documents.
    estimator : ElmoVectorizer or ElmoTokenVectorizer
        Used as it is (fitted first if ``learn_mix=True``); pickled with the
        task, as its parameters (not the weights). Its parameters apply on the
        Python workers: ``model``, ``batch_size``, ``device``, ``n_threads``,
        ``cache``, ... ``state="stateful"`` is not supported.
    input_col : str
        The column of documents: ``string`` (texts, tokenized by the
        estimator's tokenizer) or ``array<string>`` (token lists). A null
        document (or token) is an error, as in the estimator's ``transform``.
        Names are matched as the session matches them: ignoring case unless
        ``spark.sql.caseSensitive`` is true (Spark's default is false).
    output_col : str, default="elmo"
        Name of the column added; it must not exist yet, under the same
        rule (with the default settings, ``"elmo"`` clashes with ``"ELMO"``).

    Returns
    -------
    pyspark.sql.DataFrame
        Lazy: ``df`` with every column kept, the rows in the same order, and
        ``output_col`` added. Two outputs are supported:

        - :class:`~skelmo.ElmoVectorizer`: ``array<float>``, the row's
          document vector (the estimator's ``transform`` row for it);
        - :class:`~skelmo.ElmoTokenVectorizer`: ``array<array<float>>``, one
          vector per token of the row's document, in order (the
          ``output="ragged"`` arrays, whatever the estimator's ``output``
          and ``max_length``; an empty document gives an empty array).

        The values are the float32 values of the estimator's ``transform``,
        bit for bit.

    Raises
    ------
    ImportError
        If PySpark is not installed.
    TypeError, ValueError
        Right away, on the driver: for an estimator that is not an ELMo
        estimator, has invalid parameters, ``state="stateful"``, or
        ``learn_mix=True`` and is not fitted; for a missing or ambiguous
        ``input_col`` or an existing ``output_col``.

    Notes
    -----
    Nothing runs until an action (``write``, ``collect``, ``count``, ...).
    Then each partition's Arrow batches
    (``spark.sql.execution.arrow.maxRecordsPerBatch`` rows each) are
    tokenized and embedded in a Python worker by the estimator's
    ``transform``, which sorts each batch's documents by length into batches
    of ``batch_size`` and loads the model once per worker process. The other
    columns travel through Arrow and pandas unchanged; select the columns
    you need first if some type cannot.

    A document the estimator refuses (null, or not text) fails the task, and
    the job, with an exception (PySpark's ``PythonException``, or a
    ``Py4JJavaError``) whose message holds the estimator's message naming the
    document, after the column, partition and row where it is. Fill or drop
    nulls first: ``df.fillna("", subset=[input_col])`` embeds them as empty
    documents.

    The model is not loaded on the driver: the executors need it, the driver
    does not.

    Examples
    --------
    >>> from skelmo import ElmoVectorizer
    >>> from skelmo.spark import transform
    >>> texts = spark.read.parquet("data/texts/")                  # doctest: +SKIP
    >>> vectors = transform(texts, ElmoVectorizer(), "text")      # doctest: +SKIP
    >>> vectors.write.parquet("data/vectors/")                     # doctest: +SKIP
    """
    types = _require("pyspark.sql.types")
    _require("pyarrow")
    _check_estimator(estimator)
    input_col = _check_columns(df, input_col, output_col)
    if isinstance(estimator, ElmoTokenVectorizer):
        estimator = copy.copy(estimator).set_params(output="ragged")
        value_type = types.ArrayType(types.ArrayType(types.FloatType(), False), False)
    else:
        value_type = types.ArrayType(types.FloatType(), False)
    schema = types.StructType(list(df.schema.fields)
                              + [types.StructField(output_col, value_type, False)])
    task = functools.partial(embed_batches, estimator=estimator, input_col=input_col,
                             output_col=output_col)
    return df.mapInPandas(task, schema)
