"""The determinism guarantee on randomly drawn architectures, inputs and batchings.

Under the ``"warm"`` and ``"zero"`` policies a sentence's vectors must be
bitwise the same whatever its batch, its row, the batch size, the rest of the
input or its order, for every architecture the file format allows.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelmo import BiLM, ElmoEmbedder, ElmoVectorizer, batch_to_ids, write_model
from skelmo._engine import LstmStack, bfloat16_supported, torch_threads
from skelmo._engine._blocks import block_width_candidates, gate_block_width
from skelmo.testing import make_options, make_random_weights

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-éü"


@st.composite
def architectures(draw):
    filters = draw(st.lists(st.tuples(st.integers(1, 6), st.sampled_from([1, 3, 4, 7, 8, 16])),
                            min_size=1, max_size=4))
    return make_options(
        char_dim=draw(st.sampled_from([2, 4, 5])),
        filters=filters,
        n_highway=draw(st.integers(0, 2)),
        activation=draw(st.sampled_from(["relu", "tanh"])),
        projection_dim=draw(st.sampled_from([4, 8, 12, 20, 40])),
        cell_dim=draw(st.sampled_from([8, 16, 24, 40, 100, 200, 256])),
        n_layers=draw(st.integers(1, 3)),
        cell_clip=draw(st.sampled_from([None, 3.0])),
        proj_clip=draw(st.sampled_from([None, 3.0])),
        use_skip_connections=draw(st.booleans()),
    )


# Mostly short words, some long enough to be cut at 50 characters: the
# character encoder reads as many columns as each word needs.
words = (st.text(alphabet=_LETTERS, min_size=1, max_size=12)
         | st.text(alphabet=_LETTERS, min_size=13, max_size=60))
documents = st.lists(st.lists(words, min_size=0, max_size=40), min_size=2, max_size=40)


def _embed(bilm, docs, batch_size, state, max_batch_tokens=32768, precision="float32"):
    return ElmoEmbedder(bilm, batch_size=batch_size, state=state, precision=precision,
                        max_batch_tokens=max_batch_tokens).embed_sentences(docs)


def _draw_batching(data):
    """A deterministic policy, a batch size and a token bound."""
    return (data.draw(st.sampled_from(["warm", "zero"]), label="state"),
            data.draw(st.integers(1, 70), label="batch_size"),
            data.draw(st.integers(1, 400), label="max_batch_tokens"))


def _random_docs(seed, n_docs, letters, max_words, max_letters):
    """Seeded documents of random lowercase words, at least one word each."""
    rng = np.random.default_rng(seed)
    return [["".join(rng.choice(list(letters), size=int(rng.integers(1, max_letters))))
             for _ in range(int(rng.integers(1, max_words)))] for _ in range(n_docs)]


def _assert_same(left, right):
    assert len(left) == len(right)
    for a, b in zip(left, right):
        assert a.shape == b.shape
        assert np.array_equal(a, b), float(np.abs(a - b).max())


@pytest.mark.parametrize("threads", [1, 2])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options=architectures(), docs=documents, data=st.data())
def test_vectors_do_not_depend_on_the_batch(threads, options, docs, data):
    bilm = BiLM.from_weights(options, make_random_weights(options, seed=data.draw(
        st.integers(0, 2**16), label="seed")))
    state, batch_size, max_batch_tokens = _draw_batching(data)
    start = data.draw(st.integers(0, len(docs) - 1), label="start")
    stop = data.draw(st.integers(start + 1, len(docs)), label="stop")
    with torch_threads(threads):
        reference = _embed(bilm, docs, 64, state)
        _assert_same(_embed(bilm, docs, batch_size, state), reference)
        _assert_same(_embed(bilm, docs, 64, state, max_batch_tokens), reference)
        _assert_same(_embed(bilm, docs[start:stop], 64, state), reference[start:stop])
        _assert_same(_embed(bilm, docs[::-1], batch_size, state)[::-1], reference)
        for row, doc in enumerate(docs[:3]):
            _assert_same(_embed(bilm, [doc], 1, state), reference[row : row + 1])


@pytest.mark.skipif(not bfloat16_supported(torch.device("cpu")),
                    reason="this CPU has no native bfloat16 (AVX512-BF16 or AMX)")
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options=architectures(), docs=documents, data=st.data())
def test_bfloat16_vectors_do_not_depend_on_the_batch(options, docs, data):
    bilm = BiLM.from_weights(options, make_random_weights(options, seed=3))
    state, batch_size, max_batch_tokens = _draw_batching(data)
    reference = _embed(bilm, docs, 64, state, precision="bfloat16")
    _assert_same(_embed(bilm, docs, batch_size, state, precision="bfloat16"), reference)
    _assert_same(_embed(bilm, docs[::-1], batch_size, state, max_batch_tokens,
                        precision="bfloat16")[::-1], reference)
    for row, doc in enumerate(docs[:3]):
        _assert_same(_embed(bilm, [doc], 1, state, precision="bfloat16"),
                     reference[row : row + 1])


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(options=architectures(), docs=documents, data=st.data())
def test_pooled_vectors_do_not_depend_on_the_batch(tmp_path_factory, options, docs, data):
    model = tmp_path_factory.mktemp("model")
    write_model(options, make_random_weights(options, seed=1), model / "options.json",
                model / "weights.hdf5")
    pooling = data.draw(st.sampled_from(["mean", "max"]), label="pooling")
    batch_size = data.draw(st.integers(1, 70), label="batch_size")
    start = data.draw(st.integers(0, len(docs) - 1), label="start")

    def vectors(documents, size=64):
        return ElmoVectorizer(model=str(model), layer="all", pooling=pooling, cache=False,
                              batch_size=size).transform(documents)

    reference = vectors(docs)
    assert np.array_equal(vectors(docs, batch_size), reference)
    assert np.array_equal(vectors(docs[start:]), reference[start:])
    assert np.array_equal(vectors(docs[::-1])[::-1], reference)


def _precisions():
    return ["float32", "bfloat16"] if bfloat16_supported(torch.device("cpu")) else ["float32"]


@pytest.mark.parametrize("precision", _precisions())
@pytest.mark.parametrize("cell_dim", [512, 1024, 2048])
def test_every_block_width_gives_the_same_bits(cell_dim, precision):
    # The block width is measured per machine; it must change the speed only.
    options = make_options(char_dim=4, filters=((1, 8), (2, 8)), n_highway=1,
                           projection_dim=24, cell_dim=cell_dim, cell_clip=3.0, proj_clip=3.0)
    weights = make_random_weights(options, seed=5)
    docs = _random_docs(0, 40, "abcdefgh", max_words=30, max_letters=9)
    bilm = BiLM.from_weights(options, weights)
    assert gate_block_width(24, cell_dim) in block_width_candidates(cell_dim)
    results = {}
    for width in block_width_candidates(cell_dim):
        bilm.lstm = LstmStack(options, weights, block_width=width)
        assert bilm.lstm.w_hidden[0].shape == (4 * cell_dim // width, 24, width)
        for state in ("warm", "stateful"):
            embedder = ElmoEmbedder(bilm, batch_size=16, state=state, precision=precision)
            results.setdefault(state, []).append(embedder.embed_sentences(docs))
    assert len(results["warm"]) == len(block_width_candidates(cell_dim)) > 1
    for runs in results.values():
        for other in runs[1:]:
            _assert_same(other, runs[0])


def test_block_width_must_divide_the_cell():
    options = make_options(char_dim=4, filters=((1, 8),), n_highway=0, projection_dim=8,
                           cell_dim=512)
    with pytest.raises(ValueError, match="block_width must be one of"):
        LstmStack(options, make_random_weights(options, seed=0), block_width=384)


@pytest.mark.parametrize(("state", "keep_boundaries"),
                         [("warm", False), ("zero", False), ("zero", True)])
def test_vectors_do_not_depend_on_the_batch_at_published_widths(state, keep_boundaries):
    # Products with the long inner dimensions of the published models (a
    # 2,048-value cell projected to 512) are where BLAS changes its summation
    # order for small row counts; the random architectures above are too
    # small to reach them.
    options = make_options(char_dim=4, filters=((1, 16), (2, 16)), n_highway=1,
                           projection_dim=512, cell_dim=2048, n_layers=1,
                           cell_clip=3.0, proj_clip=3.0)
    bilm = BiLM.from_weights(options, make_random_weights(options, seed=7))
    docs = _random_docs(1, 48, "abcdefghij", max_words=25, max_letters=8)
    with torch_threads(2):
        def embed(part, batch_size):
            return ElmoEmbedder(bilm, batch_size=batch_size, state=state,
                                keep_boundaries=keep_boundaries).embed_sentences(part)

        reference = embed(docs, 48)
        _assert_same(embed(docs[::-1], 7)[::-1], reference)
        for row in (0, 5, 17):
            _assert_same(embed([docs[row]], 1), reference[row : row + 1])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(options=architectures(), docs=documents, data=st.data())
def test_packed_rows_give_the_per_batch_vectors(options, docs, data):
    bilm = BiLM.from_weights(options, make_random_weights(options, seed=2))
    state, batch_size, max_batch_tokens = _draw_batching(data)
    packed = _embed(bilm, docs, batch_size, state, max_batch_tokens)
    per_batch = ElmoEmbedder(bilm, batch_size=batch_size, state=state,
                             keep_boundaries=True).embed_sentences(docs)
    _assert_same(packed, [layers[:, 1:-1] for layers in per_batch])


@pytest.mark.parametrize("threads", [1, 2])
def test_word_vectors_do_not_depend_on_the_call_at_published_widths(threads):
    # The published models' highway and projection products have an inner
    # dimension of 2,048: BLAS sums them in another order for a few hundred
    # rows than for a few dozen, so the encoder must never see such counts.
    options = make_options(char_dim=16, filters=((1, 1024), (2, 1024)), n_highway=1,
                           projection_dim=512, cell_dim=32, n_layers=1)
    weights = make_random_weights(options, seed=8)
    rng = np.random.default_rng(3)
    words = sorted({"".join(rng.choice(list("abcdefghijklmnop"), size=int(rng.integers(2, 8))))
                    for _ in range(700)})
    ids = batch_to_ids([words])[0]
    with torch_threads(threads):
        together = BiLM.from_weights(options, weights).encode_distinct(ids)
        for size in (1, 40, 300):
            fresh = BiLM.from_weights(options, weights)
            parts = [fresh.encode_distinct(ids[i : i + size]) for i in range(0, len(words), size)]
            assert torch.equal(torch.cat(parts), together), size


def test_large_batches_at_published_widths():
    # The output projection's inner dimension is the cell: with one thread MKL
    # sums it in another order beyond 176 rows, which a batch of 250 reaches.
    options = make_options(char_dim=4, filters=((1, 16),), n_highway=0, projection_dim=512,
                           cell_dim=2048, n_layers=1)
    bilm = BiLM.from_weights(options, make_random_weights(options, seed=9))
    docs = _random_docs(4, 250, "abcdef", max_words=6, max_letters=6)
    with torch_threads(1):
        large = _embed(bilm, docs, 250, "warm")
        _assert_same(_embed(bilm, docs, 7, "warm"), large)
