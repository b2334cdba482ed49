"""Embed dask collections of documents on a Dask cluster.

Needs the ``dask`` extra: ``pip install "skelmo[dask]"``. Importing this module
works without it; calling its functions then raises an ImportError saying what
to install.

Each partition is embedded by one task, on whichever worker the scheduler
picks, with the estimator's own ``transform``: documents are sorted by length
within the partition and run through the biLM in batches of ``batch_size``,
and the biLM is loaded once per worker process (the process-wide model
cache), not once per task. Under the default state policy (``"warm"``) a
document's vectors do not depend on its partition, batch or worker, so the
results are bitwise those of a single-process ``transform``; a task re-run
after a worker failure gives the same values again.

Every worker needs the model at the same path (a shared file system, or a
copy at that path on each machine), or a registered model name, downloaded
by each machine on first use.

Layer
    An edge: it imports :mod:`skelmo._estimators` (the estimators and their
    interface for the edges), :mod:`skelmo._utils` and, when called, Dask itself.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from .._estimators import ElmoEstimatorBase, ElmoTokenVectorizer, check_distributable
from .._utils import import_optional
from ._tasks import (
    embed_partition,
    embed_partition_frame,
    empty_frame,
    frame_task,
    output_columns,
    partition_lengths,
    partition_shape,
)

__all__ = ["get_lengths", "transform"]

_INSTALL = (
    "skelmo.dask needs Dask, which is not installed: pip install 'skelmo[dask]' "
    "(or pip install 'dask[distributed,dataframe]')."
)


def _require(module: str) -> Any:
    return import_optional(module, _INSTALL)


def _collection_kind(documents: Any) -> str:
    """``"frame"`` for a dask Series or one-column DataFrame, ``"bag"`` for a Bag.

    A dask collection can only be of a type whose module is already imported,
    so the checks import nothing.
    """
    dd = sys.modules.get("dask.dataframe")
    if dd is not None and isinstance(documents, dd.DataFrame):
        if len(documents.columns) != 1:
            raise ValueError(
                f"Expected a single text column, got a dask DataFrame with "
                f"{len(documents.columns)} columns {list(documents.columns)[:5]}. Select the "
                "text column, e.g. ddf['text']."
            )
        _check_not_stringified(documents)
        return "frame"
    if dd is not None and isinstance(documents, dd.Series):
        _check_not_stringified(documents)
        return "frame"
    db = sys.modules.get("dask.bag")
    if db is not None and isinstance(documents, db.Bag):
        return "bag"
    raise TypeError(
        "Expected a dask Series, a one-column dask DataFrame or a dask Bag of documents, got "
        f"{type(documents).__module__}.{type(documents).__name__}. For documents in memory, "
        "call the estimator's transform."
    )


def _column_meta(documents: Any) -> Any:
    """The (empty) pandas Series of a dask Series or one-column DataFrame."""
    meta = documents._meta
    return meta.iloc[:, 0] if meta.ndim == 2 else meta


def _holds_token_lists(column: Any) -> bool:
    """Whether the first present document of a pandas column is a list (or tuple, array)."""
    import pandas as pd

    for item in column:
        if isinstance(item, (list, tuple, np.ndarray)):
            return True
        if not (item is None or item is pd.NA or (isinstance(item, float) and item != item)):
            return False
    return False


def _check_not_stringified(documents: Any) -> None:
    """Refuse token lists that Dask's string conversion has turned into their text.

    With pyarrow installed, Dask converts object columns to strings by default
    (``dataframe.convert-string``), token lists included: ``dd.from_pandas``
    of a Series of ``["the", "cat"]`` gives the text ``"['the', 'cat']"``,
    which would be tokenized and embedded as text. A collection built by
    ``dd.from_pandas`` still holds the pandas object it came from, so that
    case is recognised; other sources of strings cannot be, and the docstring
    of :func:`transform` tells how to keep token lists.
    """
    import pandas as pd

    dtype = _column_meta(documents).dtype
    if isinstance(dtype, np.dtype) or not pd.api.types.is_string_dtype(dtype):
        return  # object columns keep their lists; only pandas string dtypes are converted
    name = _column_meta(documents).name
    expr = getattr(documents, "expr", None)
    try:
        nodes = list(expr.walk()) if expr is not None else []
    except Exception:  # another Dask version: nothing to look at
        return
    for node in nodes:
        if type(node).__name__ != "FromPandas":
            continue
        try:
            converted = bool(node.operand("pyarrow_strings_enabled"))
            data = node.operand("frame")._data
        except Exception:
            continue
        if isinstance(data, pd.DataFrame):
            data = data[name] if name in data.columns else None
        if (converted and isinstance(data, pd.Series)
                and pd.api.types.is_object_dtype(data.dtype) and _holds_token_lists(data)):
            raise ValueError(
                "The documents are token lists that Dask turned into text: dd.from_pandas "
                "converted the lists of the pandas data to strings (such as \"['the', "
                "'cat']\"), as its 'dataframe.convert-string' setting does for object "
                "columns, and they would be embedded as that text. Build the collection "
                "with the setting off, e.g. with dask.config.set({'dataframe.convert-string': "
                "False}): dd.from_pandas(...), or pass a dask Bag of token lists "
                "(dask.bag.from_sequence)."
            )


def _check_estimator(estimator: Any, as_frame: bool) -> None:
    check_distributable(estimator, "For a Pipeline, embed with its ElmoVectorizer step, or wrap "
                                   "the pipeline in dask_ml.wrappers.ParallelPostFit (see the "
                                   "'Scaling out' guide).")
    if isinstance(estimator, ElmoTokenVectorizer):
        if estimator.output == "ragged":
            raise ValueError(
                "output='ragged' gives a list of arrays, which is not a dask array: use "
                "output='flat' (with get_lengths) or output='padded'."
            )
        if as_frame and estimator.output != "flat":
            raise ValueError(
                "as_frame=True needs output='flat' (one row per token); output='padded' gives "
                "a 3-d array, returned as a dask array with as_frame=False."
            )


def transform(estimator: ElmoEstimatorBase, documents: Any, *, as_frame: bool = False,
              known_chunks: bool = True) -> Any:
    """Embed a dask collection of documents, one task per partition.

    Parameters
    ----------
    estimator : ElmoVectorizer or ElmoTokenVectorizer
        Used as it is (fitted first if ``learn_mix=True``). Its parameters
        apply on the workers: ``batch_size``, ``device``, ``cache``, ...
        ``state="stateful"`` and ``output="ragged"`` are not supported.
    documents : dask Series, one-column dask DataFrame or dask Bag
        The documents, as str or as lists of tokens. Token lists in a dask
        Series or DataFrame must stay Python lists (an ``object`` column):
        see the Notes on Dask's string conversion.
    as_frame : bool, default=False
        Return a dask DataFrame instead of a dask array: for
        :class:`~skelmo.ElmoVectorizer`, one row per document with the
        columns of ``get_feature_names_out()``; for
        :class:`~skelmo.ElmoTokenVectorizer` (``output="flat"`` only), one
        row per token, with a ``position`` column (the token's position in
        its document) before the vector columns. The index is the input's
        (repeated per token); for a Bag, each document's position in it.
    known_chunks : bool, default=True
        For a dask array: count each partition's documents (and, for token
        outputs, tokens) first, so that the array's chunk sizes are known
        (what ``to_zarr``, slicing and ``rechunk`` need). Counting reads
        the input once more, and tokenizes it for token outputs, which is
        cheap beside the biLM. With False, chunk sizes are unknown (NaN),
        except for ``output="padded"`` without ``max_length``, which counts
        anyway to learn the longest document. A dask DataFrame needs no
        counting (a Bag's does, to number the documents).

    Returns
    -------
    dask.array.Array or dask.dataframe.DataFrame
        Lazy, float32: the rows of ``estimator.transform`` on the whole
        collection, in order. ``output="padded"`` pads to ``max_length`` or,
        when it is None, to the longest document of the collection (0 when no
        document has a token, as in ``estimator.transform``).

    Raises
    ------
    ImportError
        If Dask is not installed.
    ValueError
        For a collection made by ``dd.from_pandas`` from token lists that
        Dask's string conversion turned into text (see the Notes).

    Notes
    -----
    **Token lists and Dask's string conversion.** With pyarrow installed,
    Dask converts every ``object`` column to a string column by default (its
    ``dataframe.convert-string`` setting), and a list is converted to its
    text: ``dd.from_pandas`` of a Series of ``["the", "cat"]`` holds the
    string ``"['the', 'cat']"``, which an estimator tokenizes and embeds as
    text, without an error. Keep token lists as lists: build the Series with
    the conversion off, ``with dask.config.set({"dataframe.convert-string":
    False}): tokens = dd.from_pandas(...)``, or pass a dask Bag of token
    lists (``dask.bag.from_sequence``). A collection made by ``dd.from_pandas``
    from token lists with the conversion on is refused with a ValueError
    (its pandas data is still at hand to tell); strings that came from
    elsewhere (such as a text file or a Parquet string column) cannot be told
    apart from texts and are embedded as texts.

    This function computes right away, on the active scheduler, a small
    probe task (it learns the output width on a worker, loading the model
    there) and, when chunk sizes are needed, one counting task per
    partition; the embedding itself runs when the result is computed or
    written (``to_zarr``, ``to_parquet``). Each partition's documents are
    sorted by length, embedded with ``estimator.transform`` and put back in
    order; a task re-run after a failure gives the same values.

    Examples
    --------
    >>> import dask.dataframe as dd                           # doctest: +SKIP
    >>> from skelmo import ElmoVectorizer
    >>> from skelmo.dask import transform
    >>> texts = dd.read_parquet("texts/")["text"]             # doctest: +SKIP
    >>> vectors = transform(ElmoVectorizer(model="small"), texts)  # doctest: +SKIP
    >>> vectors.rechunk({0: 10_000}).to_zarr("vectors.zarr")  # doctest: +SKIP
    """
    dask = _require("dask")
    _check_estimator(estimator, as_frame)
    kind = _collection_kind(documents)
    padded = isinstance(estimator, ElmoTokenVectorizer) and estimator.output == "padded"
    flat = isinstance(estimator, ElmoTokenVectorizer) and estimator.output == "flat"
    count = (kind == "bag" and as_frame) or (not as_frame and (
        known_chunks or (padded and estimator.max_length is None)))
    model = dask.delayed(estimator, pure=True)

    if as_frame and kind == "frame":
        columns = dask.compute(dask.delayed(output_columns, pure=True)(model))[0]
        meta = empty_frame(columns, documents._meta.index, tokens=flat)
        return documents.map_partitions(frame_task, model, columns, meta=meta,
                                         enforce_metadata=False)

    parts = documents.to_delayed()
    probes = [dask.delayed(output_columns, pure=True)(model)]
    if count:
        probes += [dask.delayed(partition_shape, pure=True)(model, part, number)
                   for number, part in enumerate(parts)]
    columns, *shapes = dask.compute(*probes)
    offsets = np.concatenate([[0], np.cumsum([s.documents for s in shapes])]).astype(int)
    if as_frame:  # a bag: documents are numbered by position
        dd = _require("dask.dataframe")
        frames = [dask.delayed(embed_partition_frame, pure=True)(
            model, part, number, columns, int(offsets[number]))
            for number, part in enumerate(parts)]
        meta = empty_frame(columns, _position_index(), tokens=flat)
        return dd.from_delayed(frames, meta=meta, verify_meta=False)

    da = _require("dask.array")
    max_length = estimator.max_length if padded else None
    if padded and max_length is None:
        max_length = max((s.longest for s in shapes), default=0)
    blocks = []
    for number, part in enumerate(parts):
        shape = shapes[number] if shapes else None
        if shape is None:
            rows = np.nan
        else:
            rows = shape.tokens if flat else shape.documents
        value = dask.delayed(embed_partition, pure=True)(
            model, part, number, None if shape is None else int(offsets[number]),
            None if shape is None else shape.documents, max_length)
        dims = (rows, max_length, len(columns)) if padded else (rows, len(columns))
        blocks.append(da.from_delayed(value, shape=dims, dtype=np.float32))
    if not blocks:
        dims = (0, max_length or 0, len(columns)) if padded else (0, len(columns))
        return da.zeros(dims, dtype=np.float32)
    return da.concatenate(blocks, axis=0)


def get_lengths(estimator: ElmoTokenVectorizer, documents: Any) -> Any:
    """Number of tokens of each document of a dask collection.

    The lengths split the rows of ``transform`` with ``output="flat"`` into
    documents, as ``ElmoTokenVectorizer.get_lengths`` does in memory.

    Parameters
    ----------
    estimator : ElmoTokenVectorizer
        Its tokenizer is used; the model is not.
    documents : dask Series, one-column dask DataFrame or dask Bag
        As for :func:`transform` (token lists must stay lists).

    Returns
    -------
    dask.array.Array of shape (n_documents,), int64
        Lazy, with known chunk sizes (the documents are counted first).
    """
    dask = _require("dask")
    da = _require("dask.array")
    if not isinstance(estimator, ElmoTokenVectorizer):
        raise TypeError(f"Expected an ElmoTokenVectorizer, got {type(estimator).__name__}.")
    _collection_kind(documents)
    model = dask.delayed(estimator, pure=True)
    parts = documents.to_delayed()
    counts = dask.compute(*[dask.delayed(partition_shape, pure=True)(model, part, number)
                            for number, part in enumerate(parts)])
    blocks, offset = [], 0
    for number, (part, shape) in enumerate(zip(parts, counts)):
        value = dask.delayed(partition_lengths, pure=True)(model, part, number, offset)
        blocks.append(da.from_delayed(value, shape=(shape.documents,), dtype=np.int64))
        offset += shape.documents
    return da.concatenate(blocks) if blocks else da.zeros((0,), dtype=np.int64)


def _position_index() -> Any:
    import pandas as pd

    return pd.RangeIndex(0)
