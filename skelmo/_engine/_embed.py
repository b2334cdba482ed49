"""Batched inference: sentences in, per-sentence layer activations out."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._format import BOS_TOKEN, EOS_TOKEN, check_tokens, token_to_ids
from .._utils import check_integer
from ._bilm import BiLM
from ._state import StatefulCarry, check_state_policy, warm_state

__all__ = ["ElmoEmbedder", "EmbeddedBatch"]

# Sentences are sorted by length within windows of this many batches, so
# that batches hold sentences of similar length while the input streams.
_SORT_WINDOW_BATCHES = 32

# Token representations kept between batches (least recently used dropped):
# a word is run through the character encoder once however often it recurs.
_WORD_CACHE_SIZE = 50_000


@dataclass
class EmbeddedBatch:
    """Activations of one batch.

    Attributes
    ----------
    indices : list of int
        Position of each row's sentence in the input.
    layers : Tensor of shape (n_layers + 1, batch, time, dim)
        Zero at padded positions.
    mask : BoolTensor of shape (batch, time)
    """

    indices: list[int]
    layers: torch.Tensor
    mask: torch.Tensor


class ElmoEmbedder:
    """Run a biLM over tokenized sentences, in batches.

    Parameters
    ----------
    bilm : BiLM
        The model, already on its device.
    batch_size : int, default=64
        Sentences per forward pass. Memory grows with it, not with the input.
    state : {"warm", "zero", "stateful"}, default="warm"
        LSTM initial-state policy (see :mod:`skelmo._engine._state`). Under
        ``"warm"`` and ``"zero"`` a sentence's vectors do not depend on the
        other sentences, their order or the batch size. ``"stateful"``
        reproduces the original implementation: batches run in input order
        and carry their state into the next batch, across calls.
    keep_boundaries : bool, default=False
        Keep the ``<S>`` and ``</S>`` positions in the outputs.

    Examples
    --------
    >>> import tempfile
    >>> from skelmo import BiLM, ElmoEmbedder
    >>> from skelmo.testing import make_random_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     bilm = BiLM.from_files(*make_random_model(tmp))
    >>> embedder = ElmoEmbedder(bilm, batch_size=2)
    >>> vectors = embedder.embed_sentences([["A", "short", "one"], ["Hi"]])
    >>> [v.shape for v in vectors]
    [(3, 3, 32), (3, 1, 32)]
    """

    def __init__(self, bilm: BiLM, *, batch_size: int = 64, state: str = "warm",
                 keep_boundaries: bool = False):
        self.bilm = bilm
        self.batch_size = check_integer(batch_size, "batch_size")
        self.state = check_state_policy(state)
        self.keep_boundaries = keep_boundaries
        self._carry = StatefulCarry(bilm) if state == "stateful" else None
        self._words: OrderedDict[str, torch.Tensor] = OrderedDict()

    def reset_state(self) -> None:
        """Forget the carried LSTM state (``state="stateful"`` only)."""
        if self._carry is not None:
            self._carry.reset()

    def iter_batches(self, sentences: Iterable[Sequence[str]]) -> Iterator[EmbeddedBatch]:
        """Embed sentences batch by batch, in processing order.

        Parameters
        ----------
        sentences : iterable of sequence of str
            Tokenized sentences; consumed lazily.

        Yields
        ------
        EmbeddedBatch
            ``indices`` tells where each row belongs in the input.
        """
        for indices, batch in self._plan(sentences):
            yield self._run(indices, batch)

    def embed_sentences(self, sentences: Iterable[Sequence[str]]) -> list[np.ndarray]:
        """Embed sentences; one float32 array ``(n_layers + 1, T_i, dim)`` each, in input order.

        Parameters
        ----------
        sentences : iterable of sequence of str

        Returns
        -------
        list of ndarray
        """
        results: dict[int, np.ndarray] = {}
        for batch in self.iter_batches(sentences):
            lengths = batch.mask.sum(dim=1).tolist()
            layers = batch.layers.cpu().numpy()
            for row, (index, n) in enumerate(zip(batch.indices, lengths)):
                results[index] = layers[:, row, :n].copy()
        return [results[i] for i in range(len(results))]

    def embed_sentence(self, sentence: Sequence[str]) -> np.ndarray:
        """Embed one sentence: float32 array ``(n_layers + 1, T, dim)``."""
        return self.embed_sentences([sentence])[0]

    def _plan(self, sentences: Iterable[Sequence[str]]) -> Iterator[tuple[list[int], list]]:
        numbered = enumerate(sentences)
        if self.state == "stateful":
            while chunk := list(itertools.islice(numbered, self.batch_size)):
                yield [i for i, _ in chunk], [s for _, s in chunk]
            return
        window = self.batch_size * _SORT_WINDOW_BATCHES
        while chunk := list(itertools.islice(numbered, window)):
            chunk.sort(key=lambda item: len(item[1]), reverse=True)
            for start in range(0, len(chunk), self.batch_size):
                part = chunk[start : start + self.batch_size]
                yield [i for i, _ in part], [s for _, s in part]

    def _run(self, indices: list[int], batch: list[Sequence[str]]) -> EmbeddedBatch:
        batch = [check_tokens(sentence, f"Sentence {index}")
                 for index, sentence in zip(indices, batch)]
        tokens, lengths = self._token_vectors(batch)
        if self._carry is not None:
            with self._carry.lock:
                out = self.bilm.contextualize(tokens, lengths, self._carry.initial(len(batch)),
                                              self.keep_boundaries)
                self._carry.update(out.state)
        else:
            initial = warm_state(self.bilm) if self.state == "warm" else None
            out = self.bilm.contextualize(tokens, lengths, initial, self.keep_boundaries,
                                          final_state=False)
        return EmbeddedBatch(indices=indices, layers=out.layers, mask=out.mask)

    def _token_vectors(self, batch: list[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token representations with boundaries ``(B, T + 2, dim)`` and lengths + 2."""
        sentences = [[BOS_TOKEN, *sentence, EOS_TOKEN] for sentence in batch]
        distinct = list(dict.fromkeys(token for sentence in sentences for token in sentence))
        missing = [token for token in distinct if token not in self._words]
        if missing:
            ids = torch.from_numpy(np.stack([token_to_ids(token) for token in missing]))
            for token, vector in zip(missing, self.bilm.encode_distinct(ids)):
                self._words[token] = vector
        rows = {token: row for row, token in enumerate(distinct)}
        table = torch.stack([self._words[token] for token in distinct]
                            + [self._words[distinct[0]].new_zeros(self.bilm.options.projection_dim)
                               ])
        for token in distinct:
            self._words.move_to_end(token)
        while len(self._words) > _WORD_CACHE_SIZE:
            self._words.popitem(last=False)
        lengths = [len(sentence) for sentence in sentences]
        padding = len(distinct)  # the zero row
        index = torch.full((len(batch), max(lengths)), padding, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            index[row, : len(sentence)] = torch.tensor([rows[token] for token in sentence])
        return table[index.to(table.device)], torch.tensor(lengths)
