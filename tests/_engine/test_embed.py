"""Batched inference: ordering, batching and state policies."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from skelmo import ElmoEmbedder, batch_to_ids
from skelmo._engine import warm_state


def _corpus(n: int = 120, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(200)] + ["the", "a", "bank", "river", "."]
    return [[rng.choice(words) for _ in range(rng.randint(0, 25))] for _ in range(n)]


@pytest.mark.parametrize("policy", ["warm", "zero"])
def test_vectors_identical_whatever_the_batch(small_bilm, policy):
    sentences = _corpus()
    reference = ElmoEmbedder(small_bilm, batch_size=len(sentences), state=policy)
    expected = reference.embed_sentences(sentences)
    rng = random.Random(1)
    for batch_size in (1, 2, 7, 16, 33):
        order = list(range(len(sentences)))
        rng.shuffle(order)
        embedder = ElmoEmbedder(small_bilm, batch_size=batch_size, state=policy)
        got = embedder.embed_sentences([sentences[i] for i in order])
        for position, index in enumerate(order):
            # Bitwise: a sentence's vectors do not depend on its neighbours.
            np.testing.assert_array_equal(got[position], expected[index])


@pytest.mark.parametrize("policy", ["warm", "zero"])
def test_repeated_calls_identical(small_bilm, policy):
    embedder = ElmoEmbedder(small_bilm, batch_size=4, state=policy)
    sentences = _corpus(10)
    first = embedder.embed_sentences(sentences)
    embedder.embed_sentences(_corpus(10, seed=5))
    second = embedder.embed_sentences(sentences)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_shapes_and_order(small_bilm):
    sentences = [["one"], ["two", "words"], [], ["three", "words", "here"]]
    got = ElmoEmbedder(small_bilm, batch_size=2).embed_sentences(sentences)
    assert [g.shape for g in got] == [(3, 1, 32), (3, 2, 32), (3, 0, 32), (3, 3, 32)]
    assert all(g.dtype == np.float32 for g in got)
    # Each entry is its own sentence's vectors, not a neighbour's.
    alone = ElmoEmbedder(small_bilm).embed_sentence(["two", "words"])
    np.testing.assert_array_equal(got[1], alone)


def test_iter_batches_streams_in_sorted_batches(small_bilm):
    sentences = _corpus(50)
    embedder = ElmoEmbedder(small_bilm, batch_size=8)
    seen = []
    for batch in embedder.iter_batches(iter(sentences)):  # a one-shot iterator
        assert len(batch.indices) <= 8
        lengths = batch.mask.sum(dim=1).tolist()
        assert lengths == [len(sentences[i]) for i in batch.indices]
        assert lengths == sorted(lengths, reverse=True)
        assert batch.layers.shape[1:3] == batch.mask.shape
        seen.extend(batch.indices)
    assert sorted(seen) == list(range(50))


def test_warm_state_differs_from_zero_and_is_cached(small_bilm):
    state = warm_state(small_bilm)
    assert state.h.shape == (2, 2, 1, 16)
    assert state.c.shape == (2, 2, 1, 64)
    assert state.h.abs().sum() > 0
    assert warm_state(small_bilm) is state
    warm = ElmoEmbedder(small_bilm, state="warm").embed_sentence(["a", "b"])
    zero = ElmoEmbedder(small_bilm, state="zero").embed_sentence(["a", "b"])
    np.testing.assert_array_equal(warm[0], zero[0])  # layer 0 has no state
    assert not np.allclose(warm[1:], zero[1:])


def test_zero_policy_is_the_plain_forward(small_bilm):
    sentences = [["a", "b", "c"], ["d"]]
    got = ElmoEmbedder(small_bilm, state="zero").embed_sentences(sentences)
    direct = small_bilm(batch_to_ids(sentences)).layers.numpy()
    np.testing.assert_array_equal(got[0], direct[:, 0])
    np.testing.assert_array_equal(got[1], direct[:, 1, :1])


def test_stateful_depends_on_history_and_row(small_bilm):
    sentence = ["the", "same", "sentence"]
    embedder = ElmoEmbedder(small_bilm, batch_size=2, state="stateful")
    first = embedder.embed_sentences([sentence, ["other"]])
    second = embedder.embed_sentences([sentence, ["other"]])
    assert not np.allclose(first[0][1:], second[0][1:])
    embedder.reset_state()
    again = embedder.embed_sentences([sentence, ["other"]])
    np.testing.assert_array_equal(again[0], first[0])


def test_stateful_keeps_rows_beyond_a_smaller_batch(small_bilm):
    embedder = ElmoEmbedder(small_bilm, batch_size=3, state="stateful")
    embedder.embed_sentences([["a"], ["b"], ["c"]])
    embedder.embed_sentences([["d"]])  # touches only row 0
    after = embedder.embed_sentences([["x"], ["y"], ["z"]])
    replay = ElmoEmbedder(small_bilm, batch_size=3, state="stateful")
    replay.embed_sentences([["a"], ["b"], ["c"]])
    replay.embed_sentences([["d"], ["b"], ["c"]])  # rows 1 and 2 move on here
    moved = replay.embed_sentences([["x"], ["y"], ["z"]])
    np.testing.assert_array_equal(after[0], moved[0])
    assert not np.allclose(after[1][1:], moved[1][1:])


def test_stateful_runs_batches_in_input_order(small_bilm):
    embedder = ElmoEmbedder(small_bilm, batch_size=2, state="stateful")
    batches = list(embedder.iter_batches([["a"], ["b", "c", "d"], ["e"], ["f", "g"]]))
    assert [b.indices for b in batches] == [[0, 1], [2, 3]]


@pytest.mark.parametrize("state", ["random", None, 0, "Warm"])
def test_unknown_state_policy(small_bilm, state):
    with pytest.raises(ValueError, match="state must be one of"):
        ElmoEmbedder(small_bilm, state=state)


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, "8", True])
def test_bad_batch_size(small_bilm, batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        ElmoEmbedder(small_bilm, batch_size=batch_size)


def test_untokenized_sentence_names_its_position(small_bilm):
    with pytest.raises(TypeError, match="Sentence 1 is a str"):
        ElmoEmbedder(small_bilm).embed_sentences([["ok"], "not tokenized"])


def _batch_by_batch(bilm, batches, keep_boundaries, precision="float32"):
    """Stateful batches computed one contextualize call at a time, the state carried."""
    from skelmo._engine import StatefulCarry
    from skelmo._engine._bilm import _add_boundaries

    carry = StatefulCarry(bilm)
    results = []
    for batch in batches:
        ids = batch_to_ids(batch)
        lengths = (ids[..., 0] > 0).sum(dim=1)
        tokens = bilm.encode_tokens(_add_boundaries(ids, lengths))
        out = bilm.contextualize(tokens, lengths + 2, carry.initial(len(batch)),
                                 keep_boundaries, precision=precision)
        carry.update(out.state)
        for row in range(len(batch)):
            n = int(out.mask[row].sum())
            results.append(out.layers[:, row, :n].numpy())
    return results


@pytest.mark.parametrize("keep_boundaries", [False, True])
@pytest.mark.parametrize("max_batch_tokens", [32768, 60, 16])
def test_stateful_streams_equal_batch_by_batch(small_bilm, keep_boundaries, max_batch_tokens):
    """Rows of consecutive batches run back to back compute what running batches in turn does."""
    sentences = _corpus(41, seed=3)
    embedder = ElmoEmbedder(small_bilm, batch_size=5, state="stateful",
                            keep_boundaries=keep_boundaries, max_batch_tokens=max_batch_tokens)
    got = embedder.embed_sentences(sentences)
    # The batches the embedder cut (by size and by tokens), run one at a time.
    planned = [[sentences[i] for i in indices] for indices, _ in embedder._plan(sentences)]
    expected = _batch_by_batch(small_bilm, planned, keep_boundaries)
    assert len(got) == len(expected) == len(sentences)
    for a, b in zip(got, expected):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)
    # And a second call carries on from where the first left off.
    more = _corpus(7, seed=4)
    again = embedder.embed_sentences(more)
    planned += [[more[i] for i in indices] for indices, _ in embedder._plan(more)]
    expected = _batch_by_batch(small_bilm, planned, keep_boundaries)
    for a, b in zip(again, expected[len(sentences):]):
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-6)


@pytest.mark.parametrize("groups", [[], [[]], [[(0, 0, 3)], []]])
def test_streams_without_sentences_are_an_error(small_bilm, groups):
    tokens = small_bilm.encode_tokens(batch_to_ids([["<S>", "a", "</S>"]]))
    with pytest.raises(ValueError, match="at least one sentence"):
        small_bilm.contextualize_streams(tokens, torch.tensor([3]), groups,
                                         small_bilm.zero_state(1))


@pytest.mark.parametrize("policy", ["warm", "zero"])
@pytest.mark.parametrize("batch_size", [1, 3, 16, 200])
def test_packed_rows_give_the_per_batch_vectors(small_bilm, policy, batch_size):
    # Without boundaries, independent sentences run packed back to back in
    # rows; with them kept, batch by batch. The vectors are the same bits.
    sentences = _corpus(90, seed=2)
    packed = ElmoEmbedder(small_bilm, batch_size=batch_size, state=policy,
                          max_batch_tokens=300).embed_sentences(sentences)
    per_batch = ElmoEmbedder(small_bilm, batch_size=batch_size, state=policy,
                             keep_boundaries=True).embed_sentences(sentences)
    assert any(len(s) == 0 for s in sentences)
    for a, b, sentence in zip(packed, per_batch, sentences):
        assert a.shape == (3, len(sentence), 32)
        np.testing.assert_array_equal(a, b[:, 1:-1])


def test_only_empty_sentences(small_bilm):
    got = ElmoEmbedder(small_bilm, batch_size=2).embed_sentences([[], [], []])
    assert [g.shape for g in got] == [(3, 0, 32)] * 3


@pytest.mark.parametrize("groups", [[], [[]], [[(0, 0, 1)], []]])
def test_packed_rows_without_sentences_are_an_error(small_bilm, groups):
    tokens = small_bilm.encode_tokens(batch_to_ids([["a"]]))
    boundaries = small_bilm.encode_tokens(batch_to_ids([["<S>", "</S>"]]))[0]
    with pytest.raises(ValueError, match="at least one sentence"):
        small_bilm.contextualize_packed(tokens, torch.tensor([1]), groups, boundaries)
