"""Batched inference: sentences in, per-sentence layer activations out."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .._format import BOS_TOKEN, EOS_TOKEN, check_tokens, token_to_ids
from .._utils import check_integer
from ._bilm import BiLM
from ._cache import word_vector_cache
from ._device import check_precision_on
from ._state import StatefulCarry, check_state_policy, warm_state

__all__ = ["DEFAULT_MAX_BATCH_TOKENS", "ElmoEmbedder", "EmbeddedBatch", "batch_tokens"]

# Sentences are sorted by length within windows of this many batches, so
# that batches hold sentences of similar length while the input streams.
_SORT_WINDOW_BATCHES = 32

#: Default bound on the positions of one batch (rows x longest sentence,
#: boundaries included). See the user guide's "Long documents and caching"
#: for the measurement behind it.
DEFAULT_MAX_BATCH_TOKENS = 32768


def batch_tokens(lengths: Sequence[int]) -> int:
    """Positions a batch of sentences of these lengths computes: rows x (longest + 2)."""
    return len(lengths) * (max(lengths, default=0) + 2)


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
        At most this many sentences per batch, and rows per forward pass:
        the batches of a forward pass run with their sentences back to back
        in ``batch_size`` rows (consecutive batches of the input under
        ``"stateful"``, packed after the shortest row under ``"warm"`` and
        ``"zero"``; batch by batch with ``keep_boundaries``).
    max_batch_tokens : int, default=DEFAULT_MAX_BATCH_TOKENS
        At most this many positions per batch (sentences times the longest
        one's length, ``<S>`` and ``</S>`` included) and per forward pass
        (rows times the longest row's length): memory is bounded by it, not
        by the input. A longer sentence runs alone. Results do not depend
        on it.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"``: the LSTM's matrix products in bfloat16 with float32
        accumulation, state and outputs; only where the hardware multiplies
        bfloat16 natively (CUDA, or a CPU with AVX512-BF16 or AMX), a
        ValueError elsewhere. Deterministic too, but not equal to float32.
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

    def __init__(self, bilm: BiLM, *, batch_size: int = 64,
                 max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS, state: str = "warm",
                 keep_boundaries: bool = False, precision: str = "float32"):
        check_precision_on(precision, bilm.device)
        self.bilm = bilm
        self.precision = precision
        self.batch_size = check_integer(batch_size, "batch_size")
        self.max_batch_tokens = check_integer(max_batch_tokens, "max_batch_tokens")
        self.state = check_state_policy(state)
        if not isinstance(keep_boundaries, (bool, np.bool_)):
            raise ValueError(f"keep_boundaries must be True or False, got {keep_boundaries!r}.")
        self.keep_boundaries = bool(keep_boundaries)
        self._carry = StatefulCarry(bilm) if state == "stateful" else None
        self._words = word_vector_cache(bilm)

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
        if self._carry is not None:
            for group in self._stateful_groups(self._plan(sentences)):
                yield from self._run_streams(group)
            return
        if self.keep_boundaries:
            for indices, batch in self._plan(sentences):
                yield self._run(indices, batch)
            return
        for group in self._packed_groups(self._plan(sentences)):
            yield from self._run_packed(group)

    def iter_documents(self, documents: Iterable[Sequence[Sequence[str]]]
                       ) -> Iterator[tuple[int, torch.Tensor]]:
        """Embed documents of several sentences, each sentence its own sequence.

        Parameters
        ----------
        documents : iterable of sequence of sequence of str
            Each document is its sentences, each a token list; consumed
            lazily. A document without sentences gives no tokens.

        Yields
        ------
        index : int
            The document's position in the input.
        layers : Tensor of shape (n_layers + 1, n_tokens, dim)
            Its sentences' layers one after another, yielded as soon as its
            last sentence is computed (documents come in processing order).
        """
        held: dict[int, list[torch.Tensor | None]] = {}
        owners: list[tuple[int, int]] = []  # (document, sentence) of each sentence

        def sentences() -> Iterator[Sequence[str]]:
            for number, document in enumerate(documents):
                parts = list(document) or [[]]
                held[number] = [None] * len(parts)
                for part, sentence in enumerate(parts):
                    owners.append((number, part))
                    yield sentence

        for batch in self.iter_batches(sentences()):
            lengths = batch.mask.sum(dim=1).tolist()
            for row, index in enumerate(batch.indices):
                number, part = owners[index]
                parts = held[number]
                parts[part] = batch.layers[:, row, : lengths[row]].clone()
                if all(layers is not None for layers in parts):
                    del held[number]
                    yield number, parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

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
            # Input order: the state runs from each batch into the next.
            yield from self._pack(numbered)
            return
        window = self.batch_size * _SORT_WINDOW_BATCHES
        while chunk := list(itertools.islice(numbered, window)):
            chunk.sort(key=lambda item: len(item[1]), reverse=True)
            yield from self._pack(chunk)

    def _pack(self, numbered: Iterable[tuple[int, Sequence[str]]]
              ) -> Iterator[tuple[list[int], list]]:
        """Cut the sentences, in their order, into batches within both bounds."""
        indices: list[int] = []
        batch: list[Sequence[str]] = []
        longest = 0
        for index, sentence in numbered:
            n = len(sentence)
            if batch and (len(batch) == self.batch_size or (len(batch) + 1) * (
                    max(longest, n) + 2) > self.max_batch_tokens):
                yield indices, batch
                indices, batch, longest = [], [], 0
            indices.append(index)
            batch.append(sentence)
            longest = max(longest, n)
        if batch:
            yield indices, batch

    def _stateful_groups(self, batches: Iterable[tuple[list[int], list]]
                         ) -> Iterator[list[tuple[list[int], list]]]:
        """Consecutive stateful batches, as many as fit in ``max_batch_tokens`` as streams.

        Row ``k`` of the batches of a group runs as one stream (see
        :meth:`_run_streams`): a group holds at most _SORT_WINDOW_BATCHES
        batches and its rows times its longest stream at most
        ``max_batch_tokens`` positions (or one batch).
        """
        group: list[tuple[list[int], list]] = []
        streams: list[int] = []  # positions of each row's stream so far
        for indices, batch in batches:
            grown = _grow(streams, batch)
            if group and (len(group) == _SORT_WINDOW_BATCHES
                          or len(grown) * max(grown) > self.max_batch_tokens):
                yield group
                group, grown = [], _grow([], batch)
            group.append((indices, batch))
            streams = grown
        if group:
            yield group

    def _packed_groups(self, batches: Iterable[tuple[list[int], list]]
                       ) -> Iterator[list[tuple[list[int], list]]]:
        """Consecutive batches, as many as fit in ``max_batch_tokens`` once packed.

        A group holds at most _SORT_WINDOW_BATCHES batches, and its
        sentences packed into ``batch_size`` rows (see :func:`_pack_rows`)
        fill at most ``max_batch_tokens`` positions (or it is one batch).
        """
        group: list[tuple[list[int], list]] = []
        lengths: list[int] = []
        for indices, batch in batches:
            grown = lengths + [len(sentence) for sentence in batch]
            _, loads = _pack_rows(grown, self.batch_size)
            if group and (len(group) == _SORT_WINDOW_BATCHES
                          or len(loads) * max(loads) > self.max_batch_tokens):
                yield group
                group, grown = [], [len(sentence) for sentence in batch]
            group.append((indices, batch))
            lengths = grown
        if group:
            yield group

    def _run_packed(self, group: list[tuple[list[int], list]]) -> Iterator[EmbeddedBatch]:
        """Independent sentences (``"warm"``, ``"zero"``) packed into rows, back to back.

        Every row runs at every step, so no row waits for the longest
        sentence of its batch, and no row computes a boundary position (see
        :meth:`BiLM.contextualize_packed`); the vectors are those of
        :meth:`_run`, bit for bit.
        """
        checked = [[check_tokens(sentence, f"Sentence {index}")
                    for index, sentence in zip(indices, batch)] for indices, batch in group]
        places, loads = _pack_rows([len(s) for batch in checked for s in batch],
                                   self.batch_size)
        if max(loads) == 0:  # only empty sentences: nothing to pack
            for (indices, batch) in group:
                yield self._run(indices, batch)
            return
        rows: list[list[str]] = [[] for _ in loads]
        placements, places_iter = [], iter(places)
        for batch in checked:
            placed = []
            for sentence in batch:
                row, start = next(places_iter)
                rows[row].extend(sentence)
                placed.append((row, start, len(sentence)))
            placements.append(placed)
        tokens, lengths, token_ids = self._token_vectors(rows)
        boundaries = self._words.vectors([BOS_TOKEN, EOS_TOKEN], self._encode)
        initial = warm_state(self.bilm) if self.state == "warm" else None
        outputs = self.bilm.contextualize_packed(
            tokens, lengths, placements, boundaries, initial, precision=self.precision,
            token_ids=token_ids)
        for (indices, _), out in zip(group, outputs):
            yield EmbeddedBatch(indices=indices, layers=out.layers, mask=out.mask)

    def _run_streams(self, group: list[tuple[list[int], list]]) -> Iterator[EmbeddedBatch]:
        """Stateful batches run at once: row ``k`` of each, back to back, as one stream.

        The state row ``k`` of a batch ends in is where row ``k`` of the next
        starts, so the rows of consecutive batches can run as one sequence
        each (see :meth:`BiLM.contextualize_streams`) and no row waits for
        the longest sentence of its batch.
        """
        streams: list[list[str]] = []
        placements = []  # per batch, (row, start, length) of each sentence
        for indices, batch in group:
            placed = []
            for row, (index, sentence) in enumerate(zip(indices, batch)):
                tokens = [BOS_TOKEN, *check_tokens(sentence, f"Sentence {index}"), EOS_TOKEN]
                if row == len(streams):
                    streams.append([])
                placed.append((row, len(streams[row]), len(tokens)))
                streams[row].extend(tokens)
            placements.append(placed)
        tokens, lengths, token_ids = self._token_vectors(streams)
        with self._carry.lock:
            outputs, final = self.bilm.contextualize_streams(
                tokens, lengths, placements, self._carry.initial(len(streams)),
                self.keep_boundaries, precision=self.precision, token_ids=token_ids)
            self._carry.update(final)
        for (indices, _), out in zip(group, outputs):
            yield EmbeddedBatch(indices=indices, layers=out.layers, mask=out.mask)

    def _run(self, indices: list[int], batch: list[Sequence[str]]) -> EmbeddedBatch:
        sentences = [[BOS_TOKEN, *check_tokens(sentence, f"Sentence {index}"), EOS_TOKEN]
                     for index, sentence in zip(indices, batch)]
        tokens, lengths, token_ids = self._token_vectors(sentences)
        initial = warm_state(self.bilm) if self.state == "warm" else None
        out = self.bilm.contextualize(tokens, lengths, initial, self.keep_boundaries,
                                      final_state=False, precision=self.precision,
                                      token_ids=token_ids)
        return EmbeddedBatch(indices=indices, layers=out.layers, mask=out.mask)

    def _token_vectors(self, sentences: list[list[str]]
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token representations ``(B, T, dim)`` of rows of tokens, their lengths, word ids.

        The rows carry their boundary tokens. The ids ``(B, T)`` number the
        distinct words (padding has one of its own).
        """
        distinct = list(dict.fromkeys(token for sentence in sentences for token in sentence))
        vectors = self._words.vectors(distinct, self._encode)
        table = torch.cat([vectors, vectors.new_zeros(1, vectors.shape[1])])
        rows = {token: row for row, token in enumerate(distinct)}
        lengths = [len(sentence) for sentence in sentences]
        padding = len(distinct)  # the zero row
        index = torch.full((len(sentences), max(lengths)), padding, dtype=torch.long)
        for row, sentence in enumerate(sentences):
            index[row, : len(sentence)] = torch.tensor([rows[token] for token in sentence])
        index = index.to(table.device)
        return table[index], torch.tensor(lengths), index

    def _encode(self, words: list[str]) -> torch.Tensor:
        ids = torch.from_numpy(np.stack([token_to_ids(word) for word in words]))
        return self.bilm.encode_distinct(ids)


def _pack_rows(lengths: Sequence[int], n_rows: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Place sentences of these lengths, in order, each after the shortest row so far.

    Returns each sentence's (row, start) and the rows' lengths; rows fill
    in index order, and at most ``n_rows`` are used.
    """
    heap = [(0, row) for row in range(min(n_rows, max(1, len(lengths))))]
    places = []
    for n in lengths:
        load, row = heapq.heappop(heap)
        places.append((row, load))
        heapq.heappush(heap, (load + n, row))
    loads = [0] * len(heap)
    for load, row in heap:
        loads[row] = load
    return places, loads


def _grow(streams: list[int], batch: Sequence[Sequence[str]]) -> list[int]:
    """Stream lengths once row ``k`` of ``batch`` (with its boundaries) joins stream ``k``."""
    grown = list(streams) + [0] * max(0, len(batch) - len(streams))
    for row, sentence in enumerate(batch):
        grown[row] += len(sentence) + 2
    return grown
