"""What both ELMo transformers share, and the interface the edges use to run them.

:class:`ElmoEstimatorBase` holds the model, layer, batching and caching logic
of :class:`~skelmo.ElmoVectorizer` and :class:`~skelmo.ElmoTokenVectorizer`.
The functions at the end of this module are how code outside the estimators
(the Dask tasks) validates an estimator, tokenizes its input and learns its
output width, without calling private methods.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._engine import (
    BiLM,
    DiskCache,
    ElmoEmbedder,
    activation_cache,
    check_precision,
    check_state_policy,
    disk_cache_key,
    load_bilm_with_identity,
    model_sha256,
    torch_threads,
)
from .._utils import check_integer, check_progress, progress_bar
from ..models import resolve_model
from ._inputs import (
    check_input_params,
    documents_to_sentence_lists,
    documents_to_token_lists,
    read_documents,
)
from ._mix import check_layer, check_mix, output_width, pool_layers, softmax
from ._probe import learn_mix_weights

__all__ = [
    "Document",
    "ElmoEstimatorBase",
    "check_distributable",
    "check_params",
    "document_lengths",
    "feature_width",
    "tokenize_documents",
    "transform_documents",
]

#: A document as the biLM reads it: its sentences, each a tuple of tokens (one
#: sentence, the whole document, unless ``split_sentences=True``).
Document = tuple[tuple[str, ...], ...]

_OUTPUT_DTYPES = ("float16", "float32", "float64")

# Inputs at least this long get a progress bar under progress="auto" when
# stderr is a terminal.
_PROGRESS_MIN_DOCUMENTS = 1000

# Documents written to the ``memory`` cache together.
_DISK_WRITE_BATCH = 256


class ElmoEstimatorBase(TransformerMixin, BaseEstimator):
    """What both ELMo transformers share: the model, layers, batching and caching."""

    #: What one label of ``y`` is for under ``learn_mix``.
    _PROBE_SAMPLES = "documents"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = bool(self.learn_mix)
        # Strings in, float32 out: no input dtype is preserved.
        tags.transformer_tags.preserves_dtype = []
        tags.non_deterministic = self.state == "stateful"
        return tags

    # -- parameters ----------------------------------------------------------------------

    def _check_common(self) -> None:
        check_input_params(self.input, self.encoding, self.decode_error, self.preprocessor)
        check_state_policy(self.state)
        check_precision(self.precision)
        check_integer(self.batch_size, "batch_size")
        check_integer(self.max_batch_tokens, "max_batch_tokens")
        check_progress(self.progress)
        for name in ("cache", "learn_mix", "split_sentences"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}.")
        self._disk_cache()
        self._output_dtype()
        check_integer(self.n_threads, "n_threads", none_ok=True)
        check_integer(self.random_state, "random_state", minimum=0, none_ok=True)

    def _output_dtype(self) -> np.dtype:
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype.name not in _OUTPUT_DTYPES:
            raise ValueError(f"dtype must be one of np.float16, np.float32 or np.float64, "
                             f"got {self.dtype!r}.")
        return dtype

    def _disk_cache(self) -> DiskCache | None:
        """The persistent cache ``memory`` names, or None."""
        if self.memory is None or isinstance(self.memory, DiskCache):
            return self.memory
        if not isinstance(self.memory, (str, os.PathLike)) and not hasattr(self.memory,
                                                                            "location"):
            raise ValueError(f"memory must be None, a directory path, a joblib.Memory or a "
                             f"skelmo.DiskCache, got {self.memory!r}.")
        return DiskCache(self.memory)

    def _bilm(self, files: tuple[Path, Path] | None = None) -> tuple[BiLM, Hashable]:
        """The model (loaded through the process-wide cache) and its activation-cache key.

        ``files`` are the model's files when the caller has resolved them already.
        """
        options_file, weight_file = files or resolve_model(self.model)
        bilm, identity = load_bilm_with_identity(options_file, weight_file, self.device)
        return bilm, (identity, str(bilm.device))

    def _check_fitted_model(self, options_file: Path, weight_file: Path) -> None:
        """A fitted estimator's model must still be the one it was fitted on."""
        recorded = getattr(self, "model_sha256_", None)
        if recorded is None:
            return
        current = model_sha256(options_file, weight_file)
        if current != recorded:
            raise ValueError(
                f"This {type(self).__name__} was fitted on another model than the one at "
                f"{weight_file} now (SHA-256 {recorded[:12]}... at fit, {current[:12]}... "
                "now): the files were replaced or the model parameter changed. Call fit "
                "again, or restore the model it was fitted on."
            )

    def _layer_setup(self, bilm: BiLM) -> tuple[int | str, np.ndarray, float]:
        """Validated layer choice, softmax mix weights and gamma."""
        layer = check_layer(self.layer, bilm.n_layers)
        if hasattr(self, "mix_weights_") and self.learn_mix:
            weights, gamma = self.mix_weights_, self.gamma_
            if len(weights) != bilm.n_layers:
                raise ValueError(
                    f"The mix was learned for a model with {len(weights)} layers but this "
                    f"model has {bilm.n_layers}: call fit again after changing the model."
                )
        else:
            weights, gamma = check_mix(self.mix_weights, self.gamma, bilm.n_layers)
        return layer, softmax(weights), gamma

    def _prepare_transform(self) -> tuple[BiLM, Hashable, int | str, np.ndarray, float]:
        """Validate, then return the model, its cache identity and the layer setup."""
        self._check_params()
        if self.learn_mix:
            check_is_fitted(self, "mix_weights_")
        files = resolve_model(self.model)
        bilm, model_id = self._bilm(files)
        layer, mix, gamma = self._layer_setup(bilm)
        self._check_fitted_model(*files)
        return bilm, model_id, layer, mix, gamma

    def _documents(self, X: Any) -> list[Document]:
        """Read, preprocess, tokenize and (with ``split_sentences``) segment ``X``."""
        items, index = read_documents(X, input=self.input, encoding=self.encoding,
                                      decode_error=self.decode_error,
                                      preprocessor=self.preprocessor)
        if self.split_sentences:
            return [tuple(tuple(sentence) for sentence in sentences) for sentences in
                    documents_to_sentence_lists(items, index, self.tokenizer)]
        return [(tuple(tokens),) for tokens in documents_to_token_lists(items, index,
                                                                       self.tokenizer)]

    def _fit_mix(self, X: Any, y: Any, missing_y: str) -> BiLM:
        """Validate, then set ``mix_weights_``, ``gamma_``, ``n_layers_`` and ``model_sha256_``."""
        self._check_params()
        self.__dict__.pop("model_sha256_", None)  # a new fit may use another model
        files = resolve_model(self.model)
        bilm, model_id = self._bilm(files)
        check_layer(self.layer, bilm.n_layers)
        if self.learn_mix:
            if y is None:
                raise ValueError(missing_y)
            features = self._probe_features(bilm, model_id, self._documents(X))
            self.mix_weights_, self.gamma_ = learn_mix_weights(
                features, y, random_state=self.random_state, samples=self._PROBE_SAMPLES)
        else:
            self.mix_weights_, self.gamma_ = check_mix(self.mix_weights, self.gamma,
                                                       bilm.n_layers)
        self.n_layers_ = bilm.n_layers
        self.model_sha256_ = model_sha256(*files)
        return bilm

    # -- running the biLM ----------------------------------------------------------------

    def _compute(
        self,
        bilm: BiLM,
        model_id: Hashable,
        documents: list[Document],
        kind: str,
        per_document: Callable[[torch.Tensor, torch.Tensor], list[Any]],
    ) -> Iterator[tuple[list[int], Any]]:
        """Yield ``(positions, value)`` for every distinct document.

        ``per_document(layers, mask)`` turns one batch of activations into one
        value per row. Values come from the in-process activation cache, then
        from the ``memory`` cache, when possible; identical documents are
        computed once (except under ``"stateful"``, where each is computed in
        its place). A document of several sentences is put together from
        its sentences' activations, then given to ``per_document`` alone.
        """
        stateless = self.state != "stateful"
        use_cache = self.cache and stateless and activation_cache.max_bytes > 0
        disk = self._disk_cache() if stateless else None
        # Each distinct document with its positions. Under "stateful" a document's
        # vectors depend on what ran before it, so a repeat is computed again in its place.
        entries: list[tuple[Document, list[int]]]
        if stateless:
            grouped: dict[Document, list[int]] = {}
            for position, document in enumerate(documents):
                grouped.setdefault(document, []).append(position)
            entries = list(grouped.items())
        else:
            entries = [(document, [position]) for position, document in enumerate(documents)]
        keys = [(kind, model_id, self.state, self.precision, document)
                for document, _ in entries]
        cached = (activation_cache.get_many(keys) if use_cache else [None] * len(entries))
        missing = [k for k, value in enumerate(cached) if value is None]
        disk_keys: dict[int, bytes] = {}
        stored: dict[int, Any] = {}
        if disk is not None and missing:
            content = model_sha256(*resolve_model(self.model))
            disk_keys = {k: disk_cache_key(kind, content, self.state, self.precision,
                                           entries[k][0]) for k in missing}
            stored = dict(zip(missing, disk.get_many([disk_keys[k] for k in missing])))
        todo: list[int] = []  # entries to compute
        for k, value in enumerate(cached):
            if value is None:
                value = stored.get(k)
                if value is None:
                    todo.append(k)
                    continue
                if use_cache:
                    activation_cache.put(keys[k], value)
            yield entries[k][1], value
        if not todo:
            return
        written: list[tuple[bytes, Any]] = []

        def done(k: int, value: Any) -> tuple[list[int], Any]:
            if use_cache:
                activation_cache.put(keys[k], value)
            if disk is not None:
                written.append((disk_keys[k], value))
                if len(written) >= _DISK_WRITE_BATCH:
                    disk.put_many(written)
                    written.clear()
            return entries[k][1], value

        embedder = ElmoEmbedder(bilm, batch_size=self.batch_size,
                                max_batch_tokens=self.max_batch_tokens, state=self.state,
                                precision=self.precision)
        with progress_bar(self.progress, total=len(todo), desc=type(self).__name__,
                          unit="doc", auto_minimum=_PROGRESS_MIN_DOCUMENTS) as bar, \
                torch_threads(self.n_threads):
            if self.split_sentences:
                for index, layers in embedder.iter_documents(entries[k][0] for k in todo):
                    mask = layers.new_ones(1, layers.shape[1], dtype=torch.bool)
                    yield done(todo[index], per_document(layers.unsqueeze(1), mask)[0])
                    bar.update(1)
            else:
                for batch in embedder.iter_batches(entries[k][0][0] for k in todo):
                    values = per_document(batch.layers, batch.mask)
                    for index, value in zip(batch.indices, values):
                        yield done(todo[index], value)
                    bar.update(len(batch.indices))
        if disk is not None and written:
            disk.put_many(written)

    def _pooled_layers(self, bilm: BiLM, model_id: Hashable, documents: list[Document]
                       ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """Per-layer mean and max of every document: ``(positions, mean, max)``."""

        def pool(layers: torch.Tensor, mask: torch.Tensor) -> list[tuple[np.ndarray, ...]]:
            mean, maximum = pool_layers(layers, mask)
            mean, maximum = mean.cpu().numpy(), maximum.cpu().numpy()
            return [(mean[row].copy(), maximum[row].copy()) for row in range(len(mean))]

        for positions, (mean, maximum) in self._compute(bilm, model_id, documents, "pooled",
                                                        pool):
            yield positions, mean, maximum

    def _token_layers(self, bilm: BiLM, model_id: Hashable, documents: list[Document]
                      ) -> Iterator[tuple[list[int], np.ndarray]]:
        """Every layer of every token: ``(positions, array (n_layers, T, dim))``."""

        def split(layers: torch.Tensor, mask: torch.Tensor) -> list[np.ndarray]:
            lengths = mask.sum(dim=1).tolist()
            array = layers.cpu().numpy()
            return [array[:, row, :n].copy() for row, n in enumerate(lengths)]

        return self._compute(bilm, model_id, documents, "tokens", split)


# -- the interface of the edges (Dask tasks) ---------------------------------------------


def check_params(estimator: ElmoEstimatorBase) -> None:
    """Raise the estimator's own error if one of its parameters is invalid."""
    estimator._check_params()


def check_distributable(estimator: Any, pipeline_advice: str) -> None:
    """Raise unless ``estimator`` can embed documents spread over the tasks of a cluster.

    It must be an ELMo estimator with valid parameters, fitted if it learns its
    mix, and under a deterministic state policy (``"stateful"`` carries the
    state from batch to batch in input order, which no distributed job
    reproduces). ``pipeline_advice`` ends the message for anything else, such as
    a Pipeline.
    """
    if not isinstance(estimator, ElmoEstimatorBase):
        raise TypeError(
            f"Expected an ElmoVectorizer or ElmoTokenVectorizer, got {type(estimator).__name__}."
            f" {pipeline_advice}"
        )
    estimator._check_params()
    if estimator.learn_mix and not hasattr(estimator, "mix_weights_"):
        raise ValueError(
            f"This {type(estimator).__name__} has learn_mix=True and is not fitted yet: call "
            "fit(X, y) on a sample first."
        )
    if estimator.state == "stateful":
        raise ValueError(
            "state='stateful' carries the LSTM state from one batch to the next in input order, "
            "which a distributed job cannot reproduce: use state='warm' (the default) or 'zero'."
        )


def tokenize_documents(estimator: ElmoEstimatorBase, X: Any) -> list[Document]:
    """The documents ``transform`` would embed for ``X``: read, tokenized, segmented.

    Raises
    ------
    skelmo._estimators.DocumentError
        Naming the document at fault, with its ``position`` in ``X``.
    """
    return estimator._documents(X)


def document_lengths(documents: list[Document]) -> list[int]:
    """Number of tokens of each document of :func:`tokenize_documents`."""
    return [sum(map(len, document)) for document in documents]


def transform_documents(estimator: ElmoEstimatorBase, documents: list[Document]) -> Any:
    """``estimator.transform`` of documents :func:`tokenize_documents` returned."""
    return estimator._transform_documents(documents)


def feature_width(estimator: ElmoEstimatorBase) -> int:
    """Width of one output row (one document, or one token), loading the model if needed."""
    estimator._check_params()
    bilm, _ = estimator._bilm()
    return output_width(check_layer(estimator.layer, bilm.n_layers), bilm.n_layers,
                        bilm.output_dim)
