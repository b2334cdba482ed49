"""scikit-learn transformers that turn text into ELMo vectors."""

from __future__ import annotations

from collections.abc import Hashable, Iterator

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._engine import DEFAULT_MAX_BATCH_TOKENS, BiLM
from .._utils import check_integer
from ._base import Document, ElmoEstimatorBase, document_lengths, feature_width
from ._mix import POOLINGS, combine_layers, output_width

__all__ = ["ElmoTokenVectorizer", "ElmoVectorizer"]

_OUTPUTS = ("padded", "ragged", "flat")
# Bytes of pooled layers combined together (bounds transform's memory beyond
# its output).
_POOLED_CHUNK_BYTES = 8 << 20


class ElmoVectorizer(ElmoEstimatorBase):
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
    normalize : bool, default=False
        Scale every output row to unit Euclidean length (zero rows stay zero).
    dtype : {np.float32, np.float16, np.float64}, default=np.float32
        Type of the output.
    input : {"content", "filename", "file"}, default="content"
        As in :class:`~sklearn.feature_extraction.text.TfidfVectorizer`:
        ``"content"``, the items are the documents (str, bytes, or lists of
        str tokens); ``"filename"``, paths of files to read; ``"file"``,
        objects with a ``read`` method.
    encoding : str, default="utf-8"
        Decodes bytes (read from files or given as content).
    decode_error : {"strict", "ignore", "replace"}, default="strict"
        What to do with bytes that are not valid in ``encoding``: raise a
        ``ValueError`` naming the document, drop them, or replace them with
        U+FFFD.
    preprocessor : callable, default=None
        ``str -> str`` applied to every text document before tokenization
        (never to documents given as token lists).
    tokenizer : callable, default=None
        ``str -> list of str``; None means :func:`skelmo.tokenize`, which
        splits off punctuation and English clitics as ELMo's training text was. Documents given
        as lists of tokens are used as they are.
    split_sentences : bool, default=False
        Split each document into sentences (:func:`skelmo.split_sentences`
        for text, sentence-final punctuation for token lists) and run every
        sentence through the biLM as its own sequence under ``state``, as the
        published models were trained. The document's tokens stay in order.
    batch_size : int, default=64
        At most this many sentences per forward pass.
    max_batch_tokens : int, default=32768
        At most this many positions per forward pass (sentences times the
        longest one, ``<S>`` and ``</S>`` included): memory is bounded by it
        however long the documents are (a longer sentence runs alone). Results
        do not depend on it.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the LSTM's matrix products in bfloat16 with
        float32 accumulation, state and outputs, where the hardware has
        native bfloat16 (CUDA, CPUs with AVX512-BF16 or AMX), refused with a
        ValueError elsewhere. Faster than float32 with AMX and on an AMD CPU
        with AVX512-BF16, slower on an Intel one without AMX. Deterministic,
        close to but not equal to float32 (the user guide's benchmarks give
        the figures).
    n_threads : int, default=None
        Torch CPU threads while embedding; None leaves torch's setting (one
        per core). On a machine shared with other busy processes, or inside
        ``GridSearchCV(n_jobs=...)``, 1 is usually fastest (see the user
        guide's "Threads" section).
    state : {"warm", "zero", "stateful"}, default="warm"
        LSTM initial-state policy. Under ``"warm"`` and ``"zero"`` a
        document's vector never depends on the other documents. Under
        ``"stateful"`` each call runs its documents in order, the state carried
        from batch to batch from zeros at the start of the call, as
        ``ElmoEmbedder(state="stateful")`` does from its creation.
    progress : {"auto", True, False}, default="auto"
        Progress bar (tqdm); ``"auto"`` shows one for 1,000 documents or more
        when writing to a terminal.
    cache : bool, default=True
        Reuse activations of documents already embedded in this process
        (see ``skelmo.activation_cache``).
    memory : str, path-like or joblib.Memory, default=None
        A directory keeping every document's result on disk, across
        processes and runs (a ``joblib.Memory`` uses its ``location``), keyed
        by the model's content, ``state``, ``precision`` and the document's
        sentences and tokens. See the user guide's "Long documents and
        caching" for its size bound and how to clear it. Not used with
        ``state="stateful"``.
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
    model_sha256_ : str
        SHA-256 of the model's files at fit. Transforming with other files
        (replaced in place, or another ``model``) raises a ValueError saying
        so.

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

    Long documents sentence by sentence, unit rows in float64, results kept on
    disk for the next process:

    >>> long = ElmoVectorizer(model=model_dir, split_sentences=True, normalize=True,
    ...                       dtype="float64", max_batch_tokens=4096,
    ...                       memory=tempfile.mkdtemp())
    >>> Y = long.fit_transform(["It rained. We stayed in.", "Dogs bark ."])
    >>> Y.dtype, round(float((Y[0] ** 2).sum()), 6)
    (dtype('float64'), 1.0)

    Text files, read as ``TfidfVectorizer(input="filename")`` reads them:

    >>> import os
    >>> path = os.path.join(model_dir, "review.txt")
    >>> with open(path, "w", encoding="latin-1") as f:
    ...     _ = f.write("Tr\u00e8s bien .")
    >>> ElmoVectorizer(model=model_dir, input="filename", encoding="latin-1",
    ...                decode_error="replace", preprocessor=str.lower,
    ...                ).fit_transform([path]).shape
    (1, 32)
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
        normalize=False,
        dtype=np.float32,
        input="content",
        encoding="utf-8",
        decode_error="strict",
        preprocessor=None,
        tokenizer=None,
        split_sentences=False,
        batch_size=64,
        max_batch_tokens=DEFAULT_MAX_BATCH_TOKENS,
        device="auto",
        precision="float32",
        n_threads=None,
        state="warm",
        progress="auto",
        cache=True,
        memory=None,
        random_state=None,
    ):
        self.model = model
        self.layer = layer
        self.mix_weights = mix_weights
        self.gamma = gamma
        self.learn_mix = learn_mix
        self.pooling = pooling
        self.normalize = normalize
        self.dtype = dtype
        self.input = input
        self.encoding = encoding
        self.decode_error = decode_error
        self.preprocessor = preprocessor
        self.tokenizer = tokenizer
        self.split_sentences = split_sentences
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.device = device
        self.precision = precision
        self.n_threads = n_threads
        self.state = state
        self.progress = progress
        self.cache = cache
        self.memory = memory
        self.random_state = random_state

    def _check_params(self) -> None:
        self._check_common()
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {self.pooling!r}.")
        if not isinstance(self.normalize, bool):
            raise ValueError(f"normalize must be True or False, got {self.normalize!r}.")

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
        self._fit_mix(X, y, "learn_mix=True needs y: call fit(X, y).")
        return self

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``elmovectorizer0``, ``elmovectorizer1``, ...

        Their number follows the current ``layer`` and ``model``, so it is
        right after ``set_params`` too. Needs no fit, except with
        ``learn_mix=True``, where :meth:`transform` needs one as well.

        Parameters
        ----------
        input_features : None
            Ignored: the input is text.

        Returns
        -------
        ndarray of str objects
        """
        if self.learn_mix:
            check_is_fitted(self, "mix_weights_")
        prefix = type(self).__name__.lower()
        return np.asarray([f"{prefix}{i}" for i in range(feature_width(self))], dtype=object)

    def _probe_features(self, bilm: BiLM, model_id: Hashable,
                        documents: list[Document]) -> np.ndarray:
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
        ndarray of shape (n_samples, n_features)
            Of type ``dtype``.
        """
        self._check_params()
        return self._transform_documents(self._documents(X))

    def _transform_documents(self, documents: list[Document]) -> np.ndarray:
        bilm, model_id, layer, mix, gamma = self._prepare_transform()
        out = self._pooled(bilm, model_id, documents, layer, mix, gamma)
        if self.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            np.divide(out, norms, out=out, where=norms > 0)
        return out.astype(self._output_dtype(), copy=False)

    def _pooled(self, bilm: BiLM, model_id: Hashable, documents: list[Document],
                layer: int | str, mix: np.ndarray, gamma: float) -> np.ndarray:
        """One float32 row per document: the chosen layers, pooled."""
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

    def _pooled_chunks(self, bilm: BiLM, model_id: Hashable, documents: list[Document],
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

    def _per_layer(self, bilm: BiLM, model_id: Hashable, documents: list[Document],
                   pooling: str) -> np.ndarray:
        """Pooled layers of every document: float32 ``(n_samples, n_layers, dim)``."""
        features = np.zeros((len(documents), bilm.n_layers, bilm.output_dim), np.float32)
        for rows, pooled in self._pooled_chunks(bilm, model_id, documents, pooling):
            features[rows] = pooled
        return features


class ElmoTokenVectorizer(ElmoEstimatorBase):
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
    dtype : {np.float32, np.float16, np.float64}, default=np.float32
        Type of the output arrays.
    input : {"content", "filename", "file"}, default="content"
        As in :class:`~sklearn.feature_extraction.text.TfidfVectorizer`:
        ``"content"``, the items are the documents (str, bytes, or lists of
        str tokens); ``"filename"``, paths of files to read; ``"file"``,
        objects with a ``read`` method.
    encoding : str, default="utf-8"
        Decodes bytes (read from files or given as content).
    decode_error : {"strict", "ignore", "replace"}, default="strict"
        What to do with bytes that are not valid in ``encoding``: raise a
        ``ValueError`` naming the document, drop them, or replace them with
        U+FFFD.
    preprocessor : callable, default=None
        ``str -> str`` applied to every text document before tokenization
        (never to documents given as token lists).
    tokenizer : callable, default=None
    split_sentences : bool, default=False
        Split each document into sentences (:func:`skelmo.split_sentences`
        for text, sentence-final punctuation for token lists) and run every
        sentence through the biLM as its own sequence under ``state``, as the
        published models were trained. The document's tokens stay in order.
    batch_size : int, default=64
        At most this many sentences per forward pass.
    max_batch_tokens : int, default=32768
        At most this many positions per forward pass (sentences times the
        longest one, ``<S>`` and ``</S>`` included): memory is bounded by it
        however long the documents are (a longer sentence runs alone). Results
        do not depend on it.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default="auto"
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"`` runs the LSTM's matrix products in bfloat16 with
        float32 accumulation, state and outputs, where the hardware has
        native bfloat16 (CUDA, CPUs with AVX512-BF16 or AMX), refused with a
        ValueError elsewhere. Faster than float32 with AMX and on an AMD CPU
        with AVX512-BF16, slower on an Intel one without AMX. Deterministic,
        close to but not equal to float32 (the user guide's benchmarks give
        the figures).
    n_threads : int, default=None
        Torch CPU threads while embedding; None leaves torch's setting (one
        per core). On a machine shared with other busy processes, or inside
        ``GridSearchCV(n_jobs=...)``, 1 is usually fastest (see the user
        guide's "Threads" section).
    state : {"warm", "zero", "stateful"}, default="warm"
    progress : {"auto", True, False}, default="auto"
    cache : bool, default=True
    memory : str, path-like or joblib.Memory, default=None
        A directory keeping every document's result on disk, across
        processes and runs (a ``joblib.Memory`` uses its ``location``), keyed
        by the model's content, ``state``, ``precision`` and the document's
        sentences and tokens. See the user guide's "Long documents and
        caching" for its size bound and how to clear it. Not used with
        ``state="stateful"``.
    random_state : int, default=None

    Attributes
    ----------
    mix_weights_ : ndarray of shape (n_layers,)
    gamma_ : float
    n_layers_ : int
    model_sha256_ : str

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

    Sentence by sentence, in float16, the document's tokens still in order:

    >>> split = ElmoTokenVectorizer(model=model_dir, split_sentences=True, dtype="float16",
    ...                             output="ragged")
    >>> [(m.shape, m.dtype.name) for m in split.fit_transform(["It rained . We left ."])]
    [((6, 32), 'float16')]
    """

    _PROBE_SAMPLES = "tokens"

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
        dtype=np.float32,
        input="content",
        encoding="utf-8",
        decode_error="strict",
        preprocessor=None,
        tokenizer=None,
        split_sentences=False,
        batch_size=64,
        max_batch_tokens=DEFAULT_MAX_BATCH_TOKENS,
        device="auto",
        precision="float32",
        n_threads=None,
        state="warm",
        progress="auto",
        cache=True,
        memory=None,
        random_state=None,
    ):
        self.model = model
        self.layer = layer
        self.mix_weights = mix_weights
        self.gamma = gamma
        self.learn_mix = learn_mix
        self.output = output
        self.max_length = max_length
        self.dtype = dtype
        self.input = input
        self.encoding = encoding
        self.decode_error = decode_error
        self.preprocessor = preprocessor
        self.tokenizer = tokenizer
        self.split_sentences = split_sentences
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.device = device
        self.precision = precision
        self.n_threads = n_threads
        self.state = state
        self.progress = progress
        self.cache = cache
        self.memory = memory
        self.random_state = random_state

    def _check_params(self) -> None:
        self._check_common()
        if self.output not in _OUTPUTS:
            raise ValueError(f"output must be one of {_OUTPUTS}, got {self.output!r}.")
        check_integer(self.max_length, "max_length", none_ok=True)

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
                        documents: list[Document]) -> np.ndarray:
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
        self._check_params()
        return np.array(document_lengths(self._documents(X)), dtype=np.int64)

    def transform(self, X):
        """Embed every token of every document.

        Parameters
        ----------
        X : iterable of str or of list of str

        Returns
        -------
        ndarray or list of ndarray
            See the ``output`` parameter; of type ``dtype``.
        """
        self._check_params()
        return self._transform_documents(self._documents(X))

    def _transform_documents(self, documents: list[Document]) -> np.ndarray | list[np.ndarray]:
        bilm, model_id, layer, mix, gamma = self._prepare_transform()
        dtype = self._output_dtype()
        width = output_width(layer, bilm.n_layers, bilm.output_dim)
        lengths = document_lengths(documents)
        if self.output == "padded":
            longest = max(lengths, default=0)
            out = np.zeros((len(documents), self.max_length or longest, width), dtype)
        elif self.output == "flat":
            out = np.zeros((sum(lengths), width), dtype)
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
                    ragged[position] = vectors.astype(dtype)  # a copy, whatever the dtype
        return ragged if self.output == "ragged" else out
