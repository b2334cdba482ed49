"""Defects a hostile user found in the estimators, each pinned by a test."""

from __future__ import annotations

import pickle
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from skelmo import ElmoTokenVectorizer, ElmoVectorizer
from skelmo.testing import make_random_model
from tests._labelled import labelled_documents

DOCS = ["The cat sat on the mat .", "Dogs bark at night .", "A third , longer document here ."]


@pytest.fixture
def model_dir(tmp_path):
    make_random_model(tmp_path / "model", seed=3)
    return tmp_path / "model"


# -- feature names and pandas output follow the current parameters ------------------------


def test_pandas_output_after_set_params_has_the_new_width(model_dir):
    vectorizer = ElmoVectorizer(model=str(model_dir), layer="all").set_output(transform="pandas")
    vectorizer.fit(DOCS)
    assert vectorizer.transform(DOCS).shape == (3, 96)
    vectorizer.set_params(layer=0)
    frame = vectorizer.transform(DOCS)
    assert frame.shape == (3, 32)
    assert frame.columns.tolist() == [f"elmovectorizer{i}" for i in range(32)]
    np.testing.assert_array_equal(frame.to_numpy(), vectorizer.set_output(transform="default")
                                  .transform(DOCS))


def test_feature_names_need_no_fit(model_dir):
    vectorizer = ElmoVectorizer(model=str(model_dir), layer="all")
    assert len(vectorizer.get_feature_names_out()) == 96
    frame = ElmoVectorizer(model=str(model_dir)).set_output(transform="pandas").transform(
        pd.Series(DOCS, index=[7, 8, 9]))
    assert frame.shape == (3, 32) and frame.index.tolist() == [7, 8, 9]


def test_feature_names_with_learn_mix_need_the_fit_transform_needs(model_dir):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ElmoVectorizer(model=str(model_dir), learn_mix=True).get_feature_names_out()


# -- parameters checked up front -------------------------------------------------------------


@pytest.mark.parametrize("random_state", ["x", 1.5, -1, True, np.random.RandomState(0)])
def test_bad_random_state_is_a_clear_error(model_dir, random_state):
    docs, y = labelled_documents(10)
    vectorizer = ElmoVectorizer(model=str(model_dir), learn_mix=True, random_state=random_state)
    with pytest.raises(ValueError, match="random_state must be None or a non-negative int"):
        vectorizer.fit(docs, y)


@pytest.mark.parametrize("n_threads", [0, -2, 1.5, "2", True])
def test_bad_n_threads_is_a_clear_error(model_dir, n_threads):
    with pytest.raises(ValueError, match="n_threads must be None or a positive integer"):
        ElmoVectorizer(model=str(model_dir), n_threads=n_threads).transform(DOCS)


def test_n_threads_applies_while_embedding_and_is_restored(model_dir, monkeypatch):
    seen = []
    real = torch.Tensor.tanh_

    def spy(tensor):
        seen.append(torch.get_num_threads())
        return real(tensor)

    before = torch.get_num_threads()
    expected = ElmoVectorizer(model=str(model_dir), cache=False).transform(DOCS)
    monkeypatch.setattr(torch.Tensor, "tanh_", spy)
    target = 1 if before != 1 else 2
    out = ElmoVectorizer(model=str(model_dir), n_threads=target, cache=False).transform(DOCS)
    assert seen and set(seen) == {target}
    assert torch.get_num_threads() == before
    np.testing.assert_array_equal(out, expected)


# -- one documented rule for two-dimensional input: the container decides ------------------


def test_an_array_column_holds_texts_and_a_list_holds_token_lists(model_dir):
    vectorizer = ElmoTokenVectorizer(model=str(model_dir), layer=1, output="ragged")
    column = np.array([[doc] for doc in DOCS], dtype=object)
    for from_array, from_texts in zip(vectorizer.transform(column), vectorizer.transform(DOCS)):
        np.testing.assert_array_equal(from_array, from_texts)
    nested = [["one"], ["two", "tokens"], ["don't"], ["a b"]]
    assert [len(v) for v in vectorizer.transform(nested)] == [1, 2, 1, 1]


def test_a_slice_of_token_lists_keeps_its_meaning(model_dir):
    vectorizer = ElmoVectorizer(model=str(model_dir), cache=False)
    token_lists = [["two", "tokens"], ["0A"], ["don't"]]
    whole = vectorizer.transform(token_lists)
    np.testing.assert_array_equal(vectorizer.transform(token_lists[1:]), whole[1:])


# -- a fitted estimator knows the model it was fitted on ----------------------------------


def test_fit_records_the_model_and_refuses_replaced_files(tmp_path):
    make_random_model(tmp_path / "a", seed=1)
    make_random_model(tmp_path / "b", seed=2)  # same shape, other weights
    model = tmp_path / "model"
    shutil.copytree(tmp_path / "a", model)
    docs, y = labelled_documents(20)
    vectorizer = ElmoVectorizer(model=str(model), learn_mix=True, random_state=0).fit(docs, y)
    assert len(vectorizer.model_sha256_) == 64
    expected = vectorizer.transform(docs)
    restored = pickle.loads(pickle.dumps(vectorizer))
    np.testing.assert_array_equal(restored.transform(docs), expected)
    for name in ("options.json", "weights.hdf5"):
        shutil.copyfile(tmp_path / "b" / name, model / name)
    with pytest.raises(ValueError, match="was fitted on another model"):
        restored.transform(docs)
    with pytest.raises(ValueError, match="was fitted on another model"):
        vectorizer.transform(docs)
    # A copy of the same model elsewhere is the same model.
    restored.set_params(model=str(tmp_path / "a"))
    np.testing.assert_array_equal(restored.transform(docs), expected)
    # Fitting again adopts the new files.
    vectorizer.fit(docs, y)
    assert vectorizer.transform(docs).shape == expected.shape


def test_unfitted_estimator_follows_the_files(tmp_path):
    make_random_model(tmp_path / "m", seed=1)
    vectorizer = ElmoVectorizer(model=str(tmp_path / "m"), cache=False)
    first = vectorizer.transform(DOCS)
    make_random_model(tmp_path / "m", seed=2)
    assert not np.array_equal(vectorizer.transform(DOCS), first)


def test_stateful_estimators_give_the_embedders_vectors_for_repeated_documents(model_dir):
    """A repeat meets another state, and the documents after it keep their batch places."""
    from skelmo import ElmoEmbedder, load_bilm, tokenize
    from skelmo.models import resolve_model

    docs = ["The cat sat .", "Dogs bark .", "The cat sat .", "Birds sing .", "Dogs bark ."]
    ragged = ElmoTokenVectorizer(model=model_dir, state="stateful", layer="all",
                                 output="ragged", batch_size=2).transform(docs)
    embedder = ElmoEmbedder(load_bilm(*resolve_model(model_dir)), state="stateful",
                            batch_size=2)
    reference = embedder.embed_sentences([tokenize(d) for d in docs])
    for got, want in zip(ragged, reference):
        np.testing.assert_array_equal(got, np.moveaxis(want, 0, 1).reshape(want.shape[1], -1))
    assert not np.array_equal(ragged[0], ragged[2])


def test_a_token_probe_asks_for_one_label_per_token(model_dir):
    with pytest.raises(ValueError, match="y needs one entry per token: X has 3 tokens, y has 2"):
        ElmoTokenVectorizer(model=model_dir, learn_mix=True).fit([["a", "b"], ["c"]], [0, 1])
    with pytest.raises(ValueError, match="y needs one entry per document: X has 2 documents"):
        ElmoVectorizer(model=model_dir, learn_mix=True).fit(["a b", "c"], [0, 1, 1])


@pytest.mark.parametrize("value", ["no", 1, None])
def test_keep_boundaries_must_be_a_bool(model_dir, value):
    from skelmo import ElmoEmbedder, load_bilm
    from skelmo.models import resolve_model

    with pytest.raises(ValueError, match="keep_boundaries must be True or False"):
        ElmoEmbedder(load_bilm(*resolve_model(model_dir)), keep_boundaries=value)
