"""Training text for the biLM: vocabularies and streams of fixed-length windows.

A corpus is a text file with one tokenized sentence per line (tokens separated
by spaces). Every sentence becomes ``<S> w1 ... wn </S>``; the sentences of an
epoch are shuffled, concatenated and cut into ``batch_size`` contiguous rows,
which are read ``unroll_steps`` tokens at a time with the LSTM state carried
from one window to the next, as the original ELMo training did. The backward
language model reads each row from its end, which is a forward language model
over the reversed text.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._format import BOS_TOKEN, EOS_TOKEN, MAX_CHARACTERS, token_to_ids

__all__ = [
    "UNK_TOKEN",
    "EncodedText",
    "Vocabulary",
    "Window",
    "count_words",
    "n_windows",
    "read_corpus",
    "windows",
]

UNK_TOKEN = "<UNK>"


@dataclass(frozen=True)
class Vocabulary:
    """The words a language model predicts, most frequent first.

    ``words[0:3]`` are ``<S>``, ``</S>`` and ``<UNK>``; every other word of
    the corpus is predicted as ``<UNK>``.
    """

    words: tuple[str, ...]

    @classmethod
    def from_counts(cls, counts: Counter[str], max_size: int, min_count: int) -> Vocabulary:
        """The ``max_size`` most frequent words seen at least ``min_count`` times."""
        specials = (BOS_TOKEN, EOS_TOKEN, UNK_TOKEN)
        # Ties broken by the word itself, so the vocabulary never depends on file order.
        ranked = sorted((w for w, n in counts.items() if n >= min_count and w not in specials),
                        key=lambda w: (-counts[w], w))
        return cls(specials + tuple(ranked[: max(0, max_size - len(specials))]))

    def __len__(self) -> int:
        return len(self.words)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write one word per line."""
        Path(path).write_text("\n".join(self.words) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        """Read a file written by :meth:`save`."""
        return cls(tuple(Path(path).read_text(encoding="utf-8").splitlines()))


@dataclass
class EncodedText:
    """A corpus file held as integer ids.

    Attributes
    ----------
    types : list of str
        Every distinct token; ``types[0]`` is ``<S>`` and ``types[1]`` is ``</S>``.
    sentences : list of ndarray
        Each sentence as type ids, without the boundary tokens.
    char_ids : LongTensor of shape (n_types, 50)
        The characters of every type, as the biLM reads them.
    targets : LongTensor of shape (n_types,)
        The vocabulary id each type is predicted as.
    """

    types: list[str]
    sentences: list[np.ndarray]
    char_ids: torch.Tensor
    targets: torch.Tensor

    @property
    def n_tokens(self) -> int:
        """Tokens in the corpus, boundary tokens not counted."""
        return int(sum(len(s) for s in self.sentences))


def count_words(path: str | os.PathLike[str]) -> Counter[str]:
    """Count the tokens of a one-sentence-per-line corpus file."""
    counts: Counter[str] = Counter()
    for line in _lines(path):
        counts.update(line.split())
    return counts


def _lines(path: str | os.PathLike[str]) -> Iterator[str]:
    """The lines of a UTF-8 text file; a ValueError naming the first line that is not UTF-8."""
    try:
        with open(path, encoding="utf-8") as lines:
            yield from lines
    except UnicodeDecodeError:
        with open(path, "rb") as source:
            for number, raw in enumerate(source, start=1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(
                        f"{path}: line {number} is not valid UTF-8 ({exc.reason} at byte "
                        f"{exc.start} of the line); the text must be UTF-8: convert the "
                        "file.") from None
        raise  # pragma: no cover (a sequence valid line by line is valid as a whole)


def read_corpus(path: str | os.PathLike[str], vocabulary: Vocabulary) -> EncodedText:
    """Read a one-sentence-per-line corpus file into ids.

    Parameters
    ----------
    path : str or path-like
        UTF-8 text, one tokenized sentence per line; blank lines are skipped.
    vocabulary : Vocabulary
        The words to predict.

    Returns
    -------
    EncodedText
    """
    type_ids: dict[str, int] = {BOS_TOKEN: 0, EOS_TOKEN: 1}
    sentences = []
    for line in _lines(path):
        tokens = line.split()
        if tokens:
            sentences.append(np.fromiter((type_ids.setdefault(t, len(type_ids))
                                          for t in tokens), dtype=np.int32, count=len(tokens)))
    if not sentences:
        raise ValueError(f"{path}: the corpus has no sentences (one tokenized sentence per "
                         "line expected).")
    types = list(type_ids)
    char_ids = torch.from_numpy(np.stack([token_to_ids(t) for t in types]))
    assert char_ids.shape[1] == MAX_CHARACTERS
    word_ids = {w: i for i, w in enumerate(vocabulary.words)}
    unk = word_ids[UNK_TOKEN]
    targets = torch.tensor([word_ids.get(t, unk) for t in types], dtype=torch.long)
    return EncodedText(types, sentences, char_ids, targets)


@dataclass(frozen=True)
class Window:
    """One training step's input: ``unroll_steps`` tokens of every row.

    ``forward`` and ``backward`` hold type ids of shape (batch, steps + 1):
    the model reads the first ``steps`` columns and predicts the last
    ``steps``.
    """

    epoch: int
    index: int
    forward: torch.Tensor
    backward: torch.Tensor


def n_windows(corpus: EncodedText, batch_size: int, unroll_steps: int) -> int:
    """Windows in one epoch."""
    stream = corpus.n_tokens + 2 * len(corpus.sentences)
    return max(0, (stream // batch_size - 1) // unroll_steps)


def epoch_rows(corpus: EncodedText, batch_size: int, seed: int, epoch: int,
               shuffle: bool = True) -> np.ndarray:
    """The epoch's text as ``batch_size`` contiguous rows of type ids."""
    order = np.arange(len(corpus.sentences))
    if shuffle:
        np.random.default_rng([seed, epoch]).shuffle(order)
    pieces = []
    bos, eos = np.array([0], np.int32), np.array([1], np.int32)
    for i in order:
        pieces.extend((bos, corpus.sentences[i], eos))
    stream = np.concatenate(pieces)
    per_row = len(stream) // batch_size
    if per_row < 2:
        raise ValueError(f"The corpus ({len(stream)} tokens with boundaries) is too small for "
                         f"batch_size={batch_size}; use a smaller batch_size.")
    return stream[: per_row * batch_size].reshape(batch_size, per_row)


def windows(corpus: EncodedText, batch_size: int, unroll_steps: int, seed: int, epoch: int,
            start: int = 0, shuffle: bool = True) -> Iterator[Window]:
    """The windows of one epoch, from window ``start`` on.

    The sentence order of an epoch depends only on ``seed`` and ``epoch``, so
    training can resume at any window.
    """
    rows = epoch_rows(corpus, batch_size, seed, epoch, shuffle)
    reversed_rows = np.ascontiguousarray(rows[:, ::-1])
    for index in range(start, n_windows(corpus, batch_size, unroll_steps)):
        span = slice(index * unroll_steps, (index + 1) * unroll_steps + 1)
        yield Window(epoch, index,
                     torch.from_numpy(rows[:, span].astype(np.int64)),
                     torch.from_numpy(reversed_rows[:, span].astype(np.int64)))
