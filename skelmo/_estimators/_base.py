"""What both ELMo transformers share, and the interface the edges use to run them.

:class:`ElmoEstimatorBase` holds the model, layer, batching and caching logic
of :class:`~skelmo.ElmoVectorizer` and :class:`~skelmo.ElmoTokenVectorizer`.
The functions at the end of this module are how code outside the estimators
(the Dask tasks) validates an estimator, tokenizes its input and learns its
output width, without calling private methods.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._engine import (
    BiLM,
    ElmoEmbedder,
    activation_cache,
    check_state_policy,
    load_bilm_with_identity,
    model_sha256,
    torch_threads,
)
from .._utils import check_integer, check_progress, progress_bar
from ..models import resolve_model
from ._inputs import to_token_lists
from ._mix import check_layer, check_mix, output_width, pool_layers, softmax
from ._probe import learn_mix_weights

__all__ = [
    "ElmoEstimatorBase",
    "check_distributable",
    "check_params",
    "feature_width",
    "tokenize_documents",
]

# Inputs at least this long get a progress bar under progress="auto" when
# stderr is a terminal.
_PROGRESS_MIN_DOCUMENTS = 1000


class ElmoEstimatorBase(TransformerMixin, BaseEstimator):
    """What both ELMo transformers share: the model, layers, batching and caching."""

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
        check_state_policy(self.state)
        check_integer(self.batch_size, "batch_size")
        check_progress(self.progress)
        if not isinstance(self.cache, bool):
            raise ValueError(f"cache must be True or False, got {self.cache!r}.")
        if not isinstance(self.learn_mix, bool):
            raise ValueError(f"learn_mix must be True or False, got {self.learn_mix!r}.")
        check_integer(self.n_threads, "n_threads", none_ok=True)
        check_integer(self.random_state, "random_state", minimum=0, none_ok=True)

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

    def _prepare_transform(self, X: Any) -> tuple[BiLM, Hashable, int | str, np.ndarray, float,
                                                   list[list[str]]]:
        """Validate, then return the model, its identity, the layer setup and the tokens."""
        self._check_params()
        if self.learn_mix:
            check_is_fitted(self, "mix_weights_")
        files = resolve_model(self.model)
        bilm, model_id = self._bilm(files)
        layer, mix, gamma = self._layer_setup(bilm)
        self._check_fitted_model(*files)
        return bilm, model_id, layer, mix, gamma, self._tokens(X)

    def _tokens(self, X: Any) -> list[list[str]]:
        return to_token_lists(X, self.tokenizer)

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
            features = self._probe_features(bilm, model_id, self._tokens(X))
            self.mix_weights_, self.gamma_ = learn_mix_weights(
                features, y, random_state=self.random_state)
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
        documents: list[list[str]],
        kind: str,
        per_document: Callable[[torch.Tensor, torch.Tensor], list[Any]],
    ) -> Iterator[tuple[list[int], Any]]:
        """Yield ``(positions, value)`` for every distinct document.

        ``per_document(layers, mask)`` turns one batch of activations into one
        value per row. Values come from the activation cache when possible;
        identical documents are computed once.
        """
        use_cache = self.cache and self.state != "stateful" and activation_cache.max_bytes > 0
        pending: dict[tuple[str, ...], list[int]] = {}
        for position, tokens in enumerate(documents):
            pending.setdefault(tuple(tokens), []).append(position)
        todo: list[tuple[str, ...]] = []
        cached = activation_cache.get_many(
            [(kind, model_id, self.state, tokens) for tokens in pending]
        ) if use_cache else [None] * len(pending)
        for (tokens, positions), value in zip(pending.items(), cached):
            if value is None:
                todo.append(tokens)
            else:
                yield positions, value
        if not todo:
            return
        embedder = ElmoEmbedder(bilm, batch_size=self.batch_size, state=self.state)
        with progress_bar(self.progress, total=len(todo), desc=type(self).__name__,
                          unit="doc", auto_minimum=_PROGRESS_MIN_DOCUMENTS) as bar, \
                torch_threads(self.n_threads):
            for batch in embedder.iter_batches(todo):
                values = per_document(batch.layers, batch.mask)
                for index, value in zip(batch.indices, values):
                    tokens = todo[index]
                    if use_cache:
                        activation_cache.put((kind, model_id, self.state, tokens), value)
                    yield pending[tokens], value
                bar.update(len(batch.indices))

    def _pooled_layers(self, bilm: BiLM, model_id: Hashable, documents: list[list[str]]
                       ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """Per-layer mean and max of every document: ``(positions, mean, max)``."""

        def pool(layers: torch.Tensor, mask: torch.Tensor) -> list[tuple[np.ndarray, ...]]:
            mean, maximum = pool_layers(layers, mask)
            mean, maximum = mean.cpu().numpy(), maximum.cpu().numpy()
            return [(mean[row].copy(), maximum[row].copy()) for row in range(len(mean))]

        for positions, (mean, maximum) in self._compute(bilm, model_id, documents, "pooled",
                                                        pool):
            yield positions, mean, maximum

    def _token_layers(self, bilm: BiLM, model_id: Hashable, documents: list[list[str]]
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


def tokenize_documents(estimator: ElmoEstimatorBase, X: Any) -> list[list[str]]:
    """The token lists ``transform`` would embed for ``X``.

    Raises
    ------
    skelmo._estimators.DocumentError
        Naming the document at fault, with its ``position`` in ``X``.
    """
    return estimator._tokens(X)


def feature_width(estimator: ElmoEstimatorBase) -> int:
    """Width of one output row (one document, or one token), loading the model if needed."""
    estimator._check_params()
    bilm, _ = estimator._bilm()
    return output_width(check_layer(estimator.layer, bilm.n_layers), bilm.n_layers,
                        bilm.output_dim)
