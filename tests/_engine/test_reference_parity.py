"""Numbers against the original TensorFlow implementation (bilm-tf).

The fixture's README explains how its outputs were produced: 10 batches of 3
sentences, LSTM state carried between batches row by row.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from skelmo import BiLM, ElmoEmbedder, batch_to_ids


@pytest.fixture(scope="module")
def reference_bilm(reference_dir) -> BiLM:
    return BiLM.from_files(reference_dir / "options.json", reference_dir / "lm_weights.hdf5")


@pytest.fixture(scope="module")
def sentences(reference_dir) -> list[list[list[str]]]:
    with open(reference_dir / "sentences.json", encoding="utf-8") as f:
        return [[s.split() for s in group] for group in json.load(f)]


@pytest.fixture(scope="module")
def expected_top(reference_dir) -> list[list[np.ndarray]]:
    """expected[k][i]: top layer (forward | backward) of sentence ``sentences[k][i]``."""
    result = []
    for k in range(3):
        with h5py.File(reference_dir / f"lm_embeddings_{k}.hdf5", "r") as f:
            result.append([np.concatenate(f[str(i)][...], axis=-1) for i in range(10)])
    return result


def test_token_embeddings(reference_bilm, reference_dir):
    vocab = (reference_dir / "vocab_test.txt").read_text(encoding="utf-8").split("\n")
    with h5py.File(reference_dir / "elmo_token_embeddings.hdf5", "r") as f:
        expected = f["embedding"][...]
    assert len(vocab) == expected.shape[0] == 458
    got = reference_bilm.encode_tokens(batch_to_ids([[w] for w in vocab]))[:, 0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6, rtol=1e-5)


def test_layer_zero_is_token_embedding_twice(reference_bilm, sentences):
    batch = [s[0] for s in sentences]
    out = reference_bilm(batch_to_ids(batch))
    tokens = reference_bilm.encode_tokens(batch_to_ids(batch)).numpy()
    layer0 = out.layers[0].numpy()
    np.testing.assert_array_equal(layer0[..., :16], tokens)
    np.testing.assert_array_equal(layer0[..., 16:], tokens)


def test_first_batch_from_zero_state(reference_bilm, sentences, expected_top):
    batch = [sentences[k][0] for k in range(3)]
    out = reference_bilm(batch_to_ids(batch))
    for k in range(3):
        got = out.layers[2, k, : len(batch[k])].numpy()
        assert got.shape == expected_top[k][0].shape
        assert np.allclose(got, expected_top[k][0], atol=1e-6)


def test_all_batches_stateful(reference_bilm, sentences, expected_top):
    embedder = ElmoEmbedder(reference_bilm, batch_size=3, state="stateful")
    for i in range(10):
        batch = [sentences[k][i] for k in range(3)]
        got = embedder.embed_sentences(batch)
        for k in range(3):
            assert np.allclose(got[k][2], expected_top[k][i], atol=1e-6), (i, k)


def test_stateful_one_call_equals_batch_by_batch(reference_bilm, sentences, expected_top):
    # Interleaved as the reference ran them: one call of 30 sentences, batch_size 3.
    flat = [sentences[k][i] for i in range(10) for k in range(3)]
    got = ElmoEmbedder(reference_bilm, batch_size=3, state="stateful").embed_sentences(flat)
    for n, vectors in enumerate(got):
        i, k = divmod(n, 3)
        assert np.allclose(vectors[2], expected_top[k][i], atol=1e-6)


def test_reset_state_restarts_from_zero(reference_bilm, sentences, expected_top):
    embedder = ElmoEmbedder(reference_bilm, batch_size=3, state="stateful")
    batch = [sentences[k][0] for k in range(3)]
    embedder.embed_sentences(batch)
    embedder.reset_state()
    got = embedder.embed_sentences(batch)
    for k in range(3):
        assert np.allclose(got[k][2], expected_top[k][0], atol=1e-6)


def test_zero_policy_misses_later_batches(reference_bilm, sentences, expected_top):
    """Without the carried state the reference's later batches are not reproduced."""
    batch = [sentences[k][5] for k in range(3)]
    got = ElmoEmbedder(reference_bilm, state="zero").embed_sentences(batch)
    worst = max(np.abs(got[k][2] - expected_top[k][5]).max() for k in range(3))
    assert worst > 1e-2


def test_warm_policy_closer_to_reference_than_zero(reference_bilm, sentences, expected_top):
    """The default state lands nearer the stateful outputs than a zero state (batches 1-9)."""
    flat = [sentences[k][i] for i in range(1, 10) for k in range(3)]
    expected = [expected_top[k][i] for i in range(1, 10) for k in range(3)]

    def mean_error(policy: str) -> float:
        got = ElmoEmbedder(reference_bilm, state=policy).embed_sentences(flat)
        return float(np.mean([np.abs(g[2] - e).mean() for g, e in zip(got, expected)]))

    assert mean_error("warm") < 0.5 * mean_error("zero")
