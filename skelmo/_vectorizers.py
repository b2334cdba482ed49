"""scikit-learn transformers that turn text into ELMo vectors."""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Hashable, Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._bilm import BiLM
from ._cache import activation_cache, load_bilm_with_identity
from ._embed import ElmoEmbedder
from ._inputs import to_token_lists
from ._mix import (
    POOLINGS,
    check_layer,
    check_mix,
    combine_layers,
    output_width,
    pool_layers,
    softmax,
)
from ._model_spec import resolve_model
from ._probe import learn_mix_weights
from ._state import check_state_policy

__all__ = ["ElmoTokenVectorizer", "ElmoVectorizer"]

# Inputs at least this long get a progress bar under progress="auto" when
# stderr is a terminal.
_PROGRESS_MIN_DOCUMENTS = 1000
_OUTPUTS = ("padded", "ragged", "flat")
# Bytes of pooled layers combined together (bounds transform's memory beyond
# its output).
_POOLED_CHUNK_BYTES = 8 << 20


class _ElmoBase(TransformerMixin, BaseEstimator):
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
        if not isinstance(self.batch_size, numbers.Integral) or isinstance(self.batch_size, bool) \
                or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}.")
        if not (self.progress is True or self.progress is False
                or (isinstance(self.progress, str) and self.progress == "auto")):
            raise ValueError(f"progress must be 'auto', True or False, got {self.progress!r}.")
        if not isinstance(self.cache, bool):
            raise ValueError(f"cache must be True or False, got {self.cache!r}.")
        if not isinstance(self.learn_mix, bool):
            raise ValueError(f"learn_mix must be True or False, got {self.learn_mix!r}.")

    def _bilm(self) -> tuple[BiLM, Hashable]:
        options_file, weight_file = resolve_model(self.model)
        bilm, identity = load_bilm_with_identity(options_file, weight_file, self.device)
        return bilm, (identity, str(bilm.device))

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
        bilm, model_id = self._bilm()
        layer, mix, gamma = self._layer_setup(bilm)
        return bilm, model_id, layer, mix, gamma, self._tokens(X)

    def _tokens(self, X: Any) -> list[list[str]]:
        return to_token_lists(X, self.tokenizer)

    def _fit_mix(self, X: Any, y: Any, missing_y: str) -> BiLM:
        """Validate, then set ``mix_weights_``, ``gamma_`` and ``n_layers_``."""
        self._check_params()
        bilm, model_id = self._bilm()
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
        bar = self._progress_bar(len(todo))
        try:
            for batch in embedder.iter_batches(todo):
                values = per_document(batch.layers, batch.mask)
                for index, value in zip(batch.indices, values):
                    tokens = todo[index]
                    if use_cache:
                        activation_cache.put((kind, model_id, self.state, tokens), value)
                    yield pending[tokens], value
                if bar is not None:
                    bar.update(len(batch.indices))
        finally:
            if bar is not None:
                bar.close()

    def _progress_bar(self, total: int):
        show = self.progress
        if show == "auto":
            show = total >= _PROGRESS_MIN_DOCUMENTS and sys.stderr.isatty()
        if not show:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if self.progress is True:
                raise ImportError("progress=True needs tqdm: pip install tqdm") from None
            return None
        return tqdm(total=total, desc=type(self).__name__, unit="doc")

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


class ElmoVectorizer(ClassNamePrefixFeaturesOutMixin, _ElmoBase):
    """Embed documents as ELMo vectors: one pooled vector per document.

    Each document is tokenized, run through a biLM, and its token vectors
    are pooled (mean over real tokens by default) after choosing or mixing
    the model's layers.

    Parameters
    ----------
    model : str, path-like or (str, str), default=None
        None uses the small English model that ships with skelmo
        (``"skelmo-en-small"``, see the model card); the published
        ``"original"`` model is the choice for accuracy. Otherwise a
        registered name (:func:`skelmo.models.available_models`, downloaded on
        first use), a directory holding ``options.json`` and one weights
        ``.hdf5`` file, or an ``(options_file, weight_file)`` pair. The model
        is loaded once per process and device and shared by every estimator.
    layer : int, "mix" or "all", default="mix"
        ``0`` is the character-based token layer, ``1..n`` the LSTM layers;
        ``"mix"`` is the scalar mix ``gamma * sum_k softmax(mix_weights)_k *
        layer_k``; ``"all"`` concatenates every layer.
    mix_weights : array-like of shape (n_layers,), default=None
        Pre-softmax weights of the mix; None means equal weights.
    gamma : float, default=1.0
        Scale of the mix.
    learn_mix : bool, default=False
        If True, :meth:`fit` learns the mix weights and gamma with a linear
        probe on ``y`` (logistic loss for class labels, squared loss for a
        continuous target), exposed as ``mix_weights_`` and ``gamma_``.
    pooling : {"mean", "max"}, default="mean"
        Pooling over a document's real tokens (never padding or the
        sentence-boundary tokens). An empty document gives a zero vector.
    tokenizer : callable, default=None
        ``str -> list of str``; None means :func:`skelmo.tokenize`, which
        splits off punctuation and English clitics as ELMo's training text was. Documents given
        as lists of tokens are used as they are.
    batch_size : int, default=64
        Documents per forward pass; memory grows with it, not with the input.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    state : {"warm", "zero", "stateful"}, default="warm"
        LSTM initial-state policy. Under ``"warm"`` and ``"zero"`` a
        document's vector never depends on the other documents.
    progress : {"auto", True, False}, default="auto"
        Progress bar (tqdm); ``"auto"`` shows one for 1,000 documents or more
        when writing to a terminal.
    cache : bool, default=True
        Reuse activations of documents already embedded in this process
        (see ``skelmo.activation_cache``).
    random_state : int, default=None
        Seed of the probe used by ``learn_mix``.

    Attributes
    ----------
    mix_weights_ : ndarray of shape (n_layers,)
        Pre-softmax mix weights in use (learned when ``learn_mix=True``).
    gamma_ : float
        Mix scale in use.
    n_layers_ : int
        Number of layers of the model, the token layer included.

    Examples
    --------
    >>> import tempfile
    >>> from skelmo import ElmoVectorizer
    >>> from skelmo.testing import make_random_model
    >>> model_dir = tempfile.mkdtemp()
    >>> _ = make_random_model(model_dir)
    >>> vectorizer = ElmoVectorizer(model=model_dir)
    >>> X = vectorizer.fit_transform(["The cat sat on the mat .", "Dogs bark ."])
    >>> X.shape, X.dtype
    ((2, 32), dtype('float32'))
    """

    def __init__(
        self,
        *,
        model=None,
        layer="mix",
        mix_weights=None,
        gamma=1.0,
        learn_mix=False,
        pooling="mean",
        tokenizer=None,
        batch_size=64,
        device="auto",
        state="warm",
        progress="auto",
        cache=True,
        random_state=None,
    ):
        self.model = model
        self.layer = layer
        self.mix_weights = mix_weights
        self.gamma = gamma
        self.learn_mix = learn_mix
        self.pooling = pooling
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = device
        self.state = state
        self.progress = progress
        self.cache = cache
        self.random_state = random_state

    def _check_params(self) -> None:
        self._check_common()
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")

    def fit(self, X, y=None):
        """Check the parameters and, with ``learn_mix=True``, learn the layer mix.

        Parameters
        ----------
        X : iterable of str or of list of str
            Documents (only used with ``learn_mix=True``).
        y : array-like of shape (n_samples,), default=None
            Target of the probe; required with ``learn_mix=True``.

        Returns
        -------
        self
        """
        bilm = self._fit_mix(X, y, "learn_mix=True needs y: call fit(X, y).")
        self._n_features_out = output_width(check_layer(self.layer, bilm.n_layers),
                                            bilm.n_layers, bilm.output_dim)
        return self

    def _probe_features(self, bilm: BiLM, model_id: Hashable,
                        documents: list[list[str]]) -> np.ndarray:
        return self._per_layer(bilm, model_id, documents, self.pooling)

    def transform(self, X):
        """Embed documents.

        Parameters
        ----------
        X : iterable of str or of list of str
            A list, tuple, array or pandas Series of documents, or a
            one-column DataFrame.

        Returns
        -------
        ndarray of shape (n_samples, n_features), float32
        """
        bilm, model_id, layer, mix, gamma, documents = self._prepare_transform(X)
        if layer == "mix" and self.pooling == "max":
            # The max of a mix is not the mix of the maxima: mix every token first.
            out = np.zeros((len(documents), bilm.output_dim), dtype=np.float32)
            for positions, tokens in self._token_layers(bilm, model_id, documents):
                mixed = combine_layers(np.moveaxis(tokens, 0, 1), "mix", mix, gamma)
                out[positions] = mixed.max(axis=0) if len(mixed) else 0.0
            return out
        out = np.zeros((len(documents), output_width(layer, bilm.n_layers, bilm.output_dim)),
                       dtype=np.float32)
        for rows, pooled in self._pooled_chunks(bilm, model_id, documents, self.pooling):
            out[rows] = combine_layers(pooled, layer, mix, gamma)
        return out

    def _pooled_chunks(self, bilm: BiLM, model_id: Hashable, documents: list[list[str]],
                       pooling: str) -> Iterator[tuple[list[int], np.ndarray]]:
        """Pooled layers ``(rows, array (len(rows), n_layers, dim))`` in bounded chunks.

        Stacking many documents at once keeps the per-document overhead low;
        the chunk size bounds the memory beyond the output.
        """
        chunk = max(1, _POOLED_CHUNK_BYTES // (4 * bilm.n_layers * bilm.output_dim))
        rows: list[int] = []
        values: list[np.ndarray] = []
        for positions, mean, maximum in self._pooled_layers(bilm, model_id, documents):
            value = mean if pooling == "mean" else maximum
            rows.extend(positions)
            values.extend([value] * len(positions))
            if len(rows) >= chunk:
                yield rows, np.stack(values)
                rows, values = [], []
        if rows:
            yield rows, np.stack(values)

    def _per_layer(self, bilm: BiLM, model_id: Hashable, documents: list[list[str]],
                   pooling: str) -> np.ndarray:
        """Pooled layers of every document: float32 ``(n_samples, n_layers, dim)``."""
        features = np.zeros((len(documents), bilm.n_layers, bilm.output_dim), np.float32)
        for rows, pooled in self._pooled_chunks(bilm, model_id, documents, pooling):
            features[rows] = pooled
        return features


class ElmoTokenVectorizer(_ElmoBase):
    """Embed documents as sequences of ELMo token vectors.

    Parameters
    ----------
    model : str, path-like or (str, str), default=None
        As in :class:`ElmoVectorizer`.
    layer : int, "mix" or "all", default="mix"
        As in :class:`ElmoVectorizer`.
    mix_weights : array-like of shape (n_layers,), default=None
    gamma : float, default=1.0
    learn_mix : bool, default=False
        If True, :meth:`fit` learns the mix with a linear probe on token
        labels: ``y`` holds one label per token, in document order (the
        rows of ``output="flat"``).
    output : {"padded", "ragged", "flat"}, default="padded"
        ``"padded"``: float32 array ``(n_samples, length, dim)`` zero-padded,
        with ``length`` the longest document or ``max_length``;
        ``"ragged"``: a list of ``(n_tokens_i, dim)`` arrays;
        ``"flat"``: ``(total tokens, dim)`` rows in document order.
        :meth:`get_lengths` gives each document's number of tokens.
    max_length : int, default=None
        Pad or truncate every document to this many tokens (``"padded"``
        only; the biLM still reads the whole document).
    tokenizer : callable, default=None
    batch_size : int, default=64
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    state : {"warm", "zero", "stateful"}, default="warm"
    progress : {"auto", True, False}, default="auto"
    cache : bool, default=True
    random_state : int, default=None

    Attributes
    ----------
    mix_weights_ : ndarray of shape (n_layers,)
    gamma_ : float
    n_layers_ : int

    Examples
    --------
    >>> import tempfile
    >>> from skelmo import ElmoTokenVectorizer
    >>> from skelmo.testing import make_random_model
    >>> model_dir = tempfile.mkdtemp()
    >>> _ = make_random_model(model_dir)
    >>> tokens = ElmoTokenVectorizer(model=model_dir, layer=2)
    >>> docs = ["The cat sat .", "Dogs bark ."]
    >>> tokens.fit_transform(docs).shape
    (2, 4, 32)
    >>> tokens.get_lengths(docs)
    array([4, 3])
    >>> tokens.set_params(output="flat").transform(docs).shape
    (7, 32)
    """

    def __init__(
        self,
        *,
        model=None,
        layer="mix",
        mix_weights=None,
        gamma=1.0,
        learn_mix=False,
        output="padded",
        max_length=None,
        tokenizer=None,
        batch_size=64,
        device="auto",
        state="warm",
        progress="auto",
        cache=True,
        random_state=None,
    ):
        self.model = model
        self.layer = layer
        self.mix_weights = mix_weights
        self.gamma = gamma
        self.learn_mix = learn_mix
        self.output = output
        self.max_length = max_length
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = device
        self.state = state
        self.progress = progress
        self.cache = cache
        self.random_state = random_state

    def _check_params(self) -> None:
        self._check_common()
        if self.output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {self.output!r}.")
        if self.max_length is not None and (
            not isinstance(self.max_length, numbers.Integral)
            or isinstance(self.max_length, bool) or self.max_length < 1
        ):
            raise ValueError(
                f"max_length must be None or a positive integer, got {self.max_length!r}."
            )

    def fit(self, X, y=None):
        """Check the parameters and, with ``learn_mix=True``, learn the layer mix.

        Parameters
        ----------
        X : iterable of str or of list of str
        y : array-like of shape (total tokens,), default=None
            One label per token in document order; required with
            ``learn_mix=True``.

        Returns
        -------
        self
        """
        self._fit_mix(X, y, "learn_mix=True needs y (one label per token): call fit(X, y).")
        return self

    def _probe_features(self, bilm: BiLM, model_id: Hashable,
                        documents: list[list[str]]) -> np.ndarray:
        """Every token's layers, documents one after another: ``(tokens, n_layers, dim)``."""
        per_document: list[np.ndarray | None] = [None] * len(documents)
        for positions, tokens in self._token_layers(bilm, model_id, documents):
            for position in positions:
                per_document[position] = tokens
        if not documents:
            return np.zeros((0, bilm.n_layers, bilm.output_dim), np.float32)
        return np.concatenate([np.moveaxis(t, 0, 1) for t in per_document], axis=0)

    def get_lengths(self, X) -> np.ndarray:
        """Number of tokens of each document (before ``max_length``).

        Parameters
        ----------
        X : iterable of str or of list of str

        Returns
        -------
        ndarray of shape (n_samples,), int
        """
        return np.array([len(tokens) for tokens in self._tokens(X)], dtype=np.int64)

    def transform(self, X):
        """Embed every token of every document.

        Parameters
        ----------
        X : iterable of str or of list of str

        Returns
        -------
        ndarray or list of ndarray
            See the ``output`` parameter.
        """
        bilm, model_id, layer, mix, gamma, documents = self._prepare_transform(X)
        width = output_width(layer, bilm.n_layers, bilm.output_dim)
        lengths = [len(tokens) for tokens in documents]
        if self.output == "padded":
            longest = max(lengths, default=0)
            out = np.zeros((len(documents), self.max_length or longest, width), np.float32)
        elif self.output == "flat":
            out = np.zeros((sum(lengths), width), np.float32)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(int)
        else:
            ragged: list[np.ndarray | None] = [None] * len(documents)
        for positions, tokens in self._token_layers(bilm, model_id, documents):
            vectors = combine_layers(np.moveaxis(tokens, 0, 1), layer, mix, gamma)
            for position in positions:
                if self.output == "padded":
                    n = min(len(vectors), out.shape[1])
                    out[position, :n] = vectors[:n]
                elif self.output == "flat":
                    out[offsets[position] : offsets[position + 1]] = vectors
                else:
                    ragged[position] = vectors.copy()
        return ragged if self.output == "ragged" else out
