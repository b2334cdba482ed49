"""ElmoVectorizer and ElmoTokenVectorizer on generated models."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks

import skelmo
from skelmo import ElmoEmbedder, ElmoTokenVectorizer, ElmoVectorizer
from skelmo._estimators._probe import learn_mix_weights
from skelmo.testing import make_random_model
from tests._labelled import CLASS_1, labelled_documents

N_LAYERS, DIM = 3, 32  # the default architecture of make_random_model

DOCS = [
    "The cat sat on the mat .",
    "Dogs bark",
    "a",
    "One rather longer sentence with many more words than the others , so there is padding .",
    "The cat sat on the mat .",  # a duplicate
    "Rivers flow into the sea",
]

pytestmark = pytest.mark.usefixtures("one_torch_thread", "fresh_activation_cache")


@pytest.fixture(scope="module")
def model_dir(small_model_files):
    return small_model_files[0].parent


def per_token_layers(bilm, docs, state="warm") -> list[np.ndarray]:
    """Independent reference: each document's (n_layers, T, dim) activations."""
    return ElmoEmbedder(bilm, state=state).embed_sentences([d.split() for d in docs])


def reference_mean(bilm, docs, state="warm") -> np.ndarray:
    """(n_docs, n_layers, dim) mean over each document's own tokens, one at a time."""
    out = np.zeros((len(docs), N_LAYERS, DIM))
    for i, doc in enumerate(docs):
        layers = ElmoEmbedder(bilm, state=state).embed_sentence(doc.split())
        if layers.shape[1]:
            out[i] = layers.astype(np.float64).mean(axis=1)
    return out


def reference_max(bilm, docs) -> np.ndarray:
    out = np.zeros((len(docs), N_LAYERS, DIM), np.float32)
    for i, layers in enumerate(per_token_layers(bilm, docs)):
        if layers.shape[1]:
            out[i] = layers.max(axis=1)
    return out


def np_softmax(w) -> np.ndarray:
    e = np.exp(np.asarray(w, dtype=np.float64))
    return e / e.sum()


# -- parameters and scikit-learn conventions -----------------------------------------------


_INPUT_PARAMS = dict(dtype=np.float64, input="filename", encoding="latin-1",
                     decode_error="replace", preprocessor=str.lower, split_sentences=True,
                     max_batch_tokens=100, precision="bfloat16", memory="/tmp/cache")
ALL_PARAMS = {
    ElmoVectorizer: dict(model="m", layer=1, mix_weights=[1.0, 2.0, 3.0], gamma=2.0,
                         learn_mix=True, pooling="max", tokenizer=str.split, batch_size=3,
                         device="cpu", n_threads=2, state="zero", progress=False, cache=False,
                         random_state=4, normalize=True, **_INPUT_PARAMS),
    ElmoTokenVectorizer: dict(model="m", layer=1, mix_weights=[1.0, 2.0, 3.0], gamma=2.0,
                              learn_mix=True, output="flat", max_length=5, tokenizer=str.split,
                              batch_size=3, device="cpu", n_threads=2, state="zero",
                              progress=False, cache=False, random_state=4, **_INPUT_PARAMS),
}


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
def test_params_stored_as_given_and_keyword_only(cls):
    params = ALL_PARAMS[cls]
    estimator = cls(**params)
    got = estimator.get_params()
    assert set(got) == set(params)
    for name, value in params.items():
        assert got[name] is value
    with pytest.raises(TypeError):
        cls("some/model")


SKLEARN_CHECKS = [
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_mixin_order",
    "check_estimator_repr",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_get_feature_names_out_error",
    "check_transformers_unfitted",
]


@pytest.mark.parametrize("cls, check, learn_mix", [
    (cls, check, learn_mix)
    for cls in (ElmoVectorizer, ElmoTokenVectorizer) for check in SKLEARN_CHECKS
    for learn_mix in (False, True)
    # 3-d output: ElmoTokenVectorizer has no feature names. Without learn_mix nothing is
    # fitted, so the names come without fit (test_feature_names_need_no_fit).
    if not (check == "check_get_feature_names_out_error"
            and (cls is ElmoTokenVectorizer or not learn_mix))
])
def test_sklearn_data_free_checks(cls, check, learn_mix, model_dir):
    getattr(estimator_checks, check)(cls.__name__, cls(model=str(model_dir),
                                                       learn_mix=learn_mix))


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
def test_sklearn_tags(cls):
    tags = cls().__sklearn_tags__()
    assert tags.input_tags.string is True
    assert tags.input_tags.two_d_array is False
    assert tags.requires_fit is False
    assert tags.transformer_tags.preserves_dtype == []  # str in, float32 out
    assert cls(learn_mix=True).__sklearn_tags__().requires_fit is True
    assert cls(state="stateful").__sklearn_tags__().non_deterministic is True


# -- layers --------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", range(N_LAYERS))
def test_int_layer_is_that_layers_mean(model_dir, small_bilm, layer):
    expected = reference_mean(small_bilm, DOCS)[:, layer]
    got = ElmoVectorizer(model=model_dir, layer=layer).transform(DOCS)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Really that layer, not just any layer that happens to be close.
    for other in set(range(N_LAYERS)) - {layer}:
        assert not np.allclose(got, reference_mean(small_bilm, DOCS)[:, other], atol=1e-3)


def test_all_is_the_concatenation_of_layers(model_dir):
    got = ElmoVectorizer(model=model_dir, layer="all").transform(DOCS)
    assert got.shape == (len(DOCS), N_LAYERS * DIM)
    per_layer = [ElmoVectorizer(model=model_dir, layer=k).transform(DOCS)
                 for k in range(N_LAYERS)]
    np.testing.assert_array_equal(got, np.hstack(per_layer))


def test_mix_with_explicit_weights_and_gamma(model_dir, small_bilm):
    weights, gamma = [0.5, -1.0, 2.0], 1.7
    got = ElmoVectorizer(model=model_dir, mix_weights=weights, gamma=gamma).transform(DOCS)
    means = reference_mean(small_bilm, DOCS)
    expected = gamma * np.einsum("k,nkd->nd", np_softmax(weights), means)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_default_mix_is_the_plain_average(model_dir, small_bilm):
    got = ElmoVectorizer(model=model_dir).transform(DOCS)
    expected = reference_mean(small_bilm, DOCS).mean(axis=1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
@pytest.mark.parametrize("layer", [N_LAYERS, -1, 99])
def test_out_of_range_layer_names_the_range(model_dir, cls, layer):
    estimator = cls(model=model_dir, layer=layer)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        estimator.fit(DOCS)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        estimator.transform(DOCS)


@pytest.mark.parametrize("layer", ["first", "max", 1.0, True, None, [0, 1]])
def test_invalid_layer(model_dir, layer):
    with pytest.raises(ValueError, match=r"0\.\.2, 'mix' or 'all'"):
        ElmoVectorizer(model=model_dir, layer=layer).transform(DOCS)


# -- pooling -------------------------------------------------------------------------------


def test_mean_excludes_padding_and_boundaries(model_dir, small_bilm):
    # One batch holding a 1-token and a 16-token document: lots of padding.
    got = ElmoVectorizer(model=model_dir, layer="all", batch_size=len(DOCS)).transform(DOCS)
    expected = reference_mean(small_bilm, DOCS).reshape(len(DOCS), -1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_max_excludes_padding_and_boundaries(model_dir, small_bilm):
    got = ElmoVectorizer(model=model_dir, layer="all", pooling="max",
                         batch_size=len(DOCS)).transform(DOCS)
    expected = reference_max(small_bilm, DOCS)
    # The check has teeth: with zero padding counted, these maxima would be >= 0.
    assert (expected[DOCS.index("a")] < 0).any()
    np.testing.assert_allclose(got, expected.reshape(len(DOCS), -1), rtol=1e-6, atol=1e-7)


def test_mix_max_is_the_max_of_mixed_tokens(model_dir, small_bilm):
    weights, gamma = [1.0, 0.0, -1.0], 0.5
    got = ElmoVectorizer(model=model_dir, pooling="max", mix_weights=weights,
                         gamma=gamma).transform(DOCS)
    expected = np.stack([
        (gamma * np.einsum("k,ktd->td", np_softmax(weights), layers)).max(axis=0)
        for layers in per_token_layers(small_bilm, DOCS)
    ])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # Not the mix of the per-layer maxima.
    mix_of_max = gamma * np.einsum("k,nkd->nd", np_softmax(weights),
                                   reference_max(small_bilm, DOCS))
    assert not np.allclose(got, mix_of_max, atol=1e-4)


@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("layer", [0, "mix", "all"])
def test_empty_document_is_a_zero_vector(model_dir, pooling, layer):
    docs = ["", "   \t\n ", "some words", []]
    got = ElmoVectorizer(model=model_dir, layer=layer, pooling=pooling).transform(docs)
    assert np.isfinite(got).all()
    assert not got[[0, 1, 3]].any()
    assert got[2].any()


# -- inputs --------------------------------------------------------------------------------


def test_input_containers_agree(model_dir):
    vectorizer = ElmoVectorizer(model=model_dir)
    expected = vectorizer.transform(list(DOCS))
    inputs = [
        tuple(DOCS),
        np.array(DOCS),
        np.array(DOCS, dtype=object),
        np.array(DOCS).reshape(-1, 1),
        pd.Series(DOCS, index=range(10, 10 + len(DOCS))),
        pd.DataFrame({"text": DOCS}),
        [doc.split() for doc in DOCS],
        (doc for doc in DOCS),
    ]
    for X in inputs:
        np.testing.assert_array_equal(vectorizer.transform(X), expected)


def test_token_lists_are_used_as_given(model_dir):
    vectorizer = ElmoVectorizer(model=model_dir)
    # Tokens with spaces inside are kept whole: not the same as splitting the text.
    as_tokens = vectorizer.transform([["New York", "is", "big"]])
    as_text = vectorizer.transform(["New York is big"])
    assert not np.allclose(as_tokens, as_text)


def test_custom_tokenizer(model_dir):
    docs = ["The Cat SAT", "DOGS bark Loudly", "already lower"]
    lowered = ElmoVectorizer(model=model_dir,
                             tokenizer=lambda s: s.lower().split()).transform(docs)
    default = ElmoVectorizer(model=model_dir).transform(docs)
    np.testing.assert_array_equal(
        lowered, ElmoVectorizer(model=model_dir).transform([d.lower() for d in docs]))
    assert not np.allclose(lowered[:2], default[:2])
    np.testing.assert_array_equal(lowered[2], default[2])
    # A tokenizer returning tuples is fine too.
    np.testing.assert_array_equal(
        ElmoVectorizer(model=model_dir, tokenizer=lambda s: tuple(s.split())).transform(docs),
        default)


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
def test_bare_string_rejected(model_dir, cls):
    with pytest.raises(ValueError, match="^Iterable over raw text documents expected, "
                                         "string object received.$"):
        cls(model=model_dir).transform("just one document")
    with pytest.raises(ValueError, match="Iterable over raw text documents expected"):
        cls(model=model_dir, learn_mix=True).fit("just one document", [0])


@pytest.mark.parametrize("missing", [None, float("nan"), np.float32("nan"), pd.NA])
def test_missing_document_names_the_row(model_dir, missing):
    vectorizer = ElmoVectorizer(model=model_dir)
    with pytest.raises(ValueError, match=r"^Document 2 is missing .*fillna"):
        vectorizer.transform(["a", "b", missing, "d"])
    series = pd.Series(["a", "b", missing], index=[10, 20, 30], dtype=object)
    with pytest.raises(ValueError, match=r"^Document 2 \(index 30\) is missing"):
        vectorizer.transform(series)
    labelled = pd.Series(["a", missing], index=["first", "second"], dtype=object)
    with pytest.raises(ValueError, match=r"^Document 1 \(index 'second'\) is missing"):
        vectorizer.transform(labelled)


def test_missing_in_default_index_series_does_not_repeat_the_row(model_dir):
    with pytest.raises(ValueError, match=r"^Document 1 is missing"):
        ElmoVectorizer(model=model_dir).transform(pd.Series(["a", None]))
    with pytest.raises(ValueError, match=r"^Document 1 is missing"):
        ElmoVectorizer(model=model_dir).transform(pd.Series(["a", pd.NA], dtype="string"))


@pytest.mark.parametrize("item, type_name", [(5, "int"), (2.5, "float"), ({"a": 1}, "dict")])
def test_non_str_document_names_row_and_type(model_dir, item, type_name):
    with pytest.raises(TypeError, match=rf"^Document 1 has type {type_name}\b"):
        ElmoVectorizer(model=model_dir).transform(["fine", item])


def test_non_str_token_names_row_and_type(model_dir):
    with pytest.raises(TypeError, match=r"^Document 0 has a token of type int"):
        ElmoVectorizer(model=model_dir).transform([["a", 3]])


def test_multi_column_dataframe_rejected(model_dir):
    frame = pd.DataFrame({"text": ["a b", "c"], "other": ["d", "e"]})
    with pytest.raises(ValueError, match="single text column.*2 columns"):
        ElmoVectorizer(model=model_dir).transform(frame)


@pytest.mark.parametrize("X", [np.array([["a", "b"], ["c", "d"]]), np.array("text"), 3, {"a": 1}])
def test_other_shapes_and_types_rejected(model_dir, X):
    with pytest.raises((ValueError, TypeError)):
        ElmoVectorizer(model=model_dir).transform(X)


@pytest.mark.parametrize("bad", ["a string", iter(["a"]), None, 5])
def test_tokenizer_must_return_a_list(model_dir, bad):
    with pytest.raises(TypeError, match=r"tokenizer returned .* document 1; it must return a list"):
        ElmoVectorizer(model=model_dir,
                       tokenizer=lambda s: s.split() if s == "ok" else bad).transform(["ok", "x"])


def test_tokenizer_must_be_callable(model_dir):
    with pytest.raises(ValueError, match="tokenizer must be None or a callable"):
        ElmoVectorizer(model=model_dir, tokenizer="whitespace").transform(DOCS)


# -- outputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("layer, width", [(0, DIM), ("mix", DIM), ("all", N_LAYERS * DIM)])
def test_output_dtype_shape_and_names(model_dir, layer, width):
    vectorizer = ElmoVectorizer(model=model_dir, layer=layer)
    X = vectorizer.fit_transform(DOCS)
    assert X.dtype == np.float32 and X.shape == (len(DOCS), width)
    names = vectorizer.get_feature_names_out()
    assert len(names) == width == len(set(names))
    assert all(name.startswith("elmovectorizer") for name in names)
    assert vectorizer.transform([]).shape == (0, width)


def test_set_output_pandas_keeps_the_series_index(model_dir):
    series = pd.Series(DOCS[:3], index=[10, 20, 30])
    vectorizer = ElmoVectorizer(model=model_dir).set_output(transform="pandas")
    frame = vectorizer.fit(series).transform(series)
    assert isinstance(frame, pd.DataFrame)
    assert frame.index.tolist() == [10, 20, 30]
    assert frame.columns.tolist() == vectorizer.get_feature_names_out().tolist()
    np.testing.assert_array_equal(frame.to_numpy(),
                                  ElmoVectorizer(model=model_dir).transform(DOCS[:3]))


# -- ElmoTokenVectorizer -------------------------------------------------------------------


def test_token_vectorizer_padded(model_dir, small_bilm):
    lengths = [len(d.split()) for d in DOCS]
    got = ElmoTokenVectorizer(model=model_dir, layer=2).transform(DOCS)
    assert got.dtype == np.float32 and got.shape == (len(DOCS), max(lengths), DIM)
    for i, layers in enumerate(per_token_layers(small_bilm, DOCS)):
        np.testing.assert_allclose(got[i, :lengths[i]], layers[2], rtol=1e-6, atol=1e-7)
        assert not got[i, lengths[i]:].any()


@pytest.mark.parametrize("max_length", [1, 3, 40])
def test_token_vectorizer_max_length_truncates_and_pads(model_dir, max_length):
    full = ElmoTokenVectorizer(model=model_dir).transform(DOCS)
    got = ElmoTokenVectorizer(model=model_dir, max_length=max_length).transform(DOCS)
    assert got.shape == (len(DOCS), max_length, DIM)
    keep = min(max_length, full.shape[1])
    # The biLM still reads the whole document: truncation does not change the vectors kept.
    np.testing.assert_array_equal(got[:, :keep], full[:, :keep])
    assert not got[:, keep:].any()


def test_token_vectorizer_outputs_agree(model_dir):
    docs = DOCS + ["", "x"]
    estimator = ElmoTokenVectorizer(model=model_dir, mix_weights=[1.0, 2.0, 0.0])
    lengths = estimator.get_lengths(docs)
    np.testing.assert_array_equal(lengths, [len(d.split()) for d in docs])
    padded = estimator.transform(docs)
    ragged = estimator.set_params(output="ragged").transform(docs)
    flat = estimator.set_params(output="flat").transform(docs)
    assert isinstance(ragged, list) and len(ragged) == len(docs)
    assert [r.shape for r in ragged] == [(n, DIM) for n in lengths]
    assert all(r.dtype == np.float32 for r in ragged)
    assert flat.shape == (lengths.sum(), DIM)
    np.testing.assert_array_equal(flat, np.concatenate(ragged))
    for i, n in enumerate(lengths):
        np.testing.assert_array_equal(padded[i, :n], ragged[i])


def test_token_vectorizer_ragged_is_not_a_view_of_the_cache(model_dir):
    estimator = ElmoTokenVectorizer(model=model_dir, layer=1, output="ragged")
    first = estimator.transform(DOCS[:2])
    expected = [r.copy() for r in first]
    first[0][:] = 123.0
    again = estimator.transform(DOCS[:2])
    for got, want in zip(again, expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layer", [0, 1, "mix"])
def test_token_mean_matches_document_vector(model_dir, layer):
    ragged = ElmoTokenVectorizer(model=model_dir, layer=layer, output="ragged").transform(DOCS)
    pooled = ElmoVectorizer(model=model_dir, layer=layer).transform(DOCS)
    np.testing.assert_allclose(pooled, np.stack([r.mean(axis=0) for r in ragged]),
                               rtol=1e-5, atol=1e-6)


# -- invariance ----------------------------------------------------------------------------


def shuffled_corpus(n: int = 40, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(60)] + ["the", "a", "bank", "river", "."]
    return [" ".join(rng.choice(words) for _ in range(rng.randint(0, 20))) for _ in range(n)]


@pytest.mark.parametrize("state", ["warm", "zero"])
@pytest.mark.parametrize("cls, params", [
    (ElmoVectorizer, {}),
    (ElmoVectorizer, {"layer": 1}),
    (ElmoVectorizer, {"layer": "all"}),
    (ElmoVectorizer, {"pooling": "max"}),
    (ElmoTokenVectorizer, {"output": "flat"}),
])
def test_order_batch_and_subset_invariance(model_dir, state, cls, params):
    docs = shuffled_corpus()
    estimator = cls(model=model_dir, state=state, cache=False, batch_size=len(docs), **params)
    expected = estimator.transform(docs)
    lengths = [len(d.split()) for d in docs]
    offsets = np.concatenate([[0], np.cumsum(lengths)])

    def rows(i):
        return expected[i] if cls is ElmoVectorizer else expected[offsets[i]:offsets[i + 1]]

    rng = random.Random(1)
    for batch_size in (1, 3, 16):
        order = rng.sample(range(len(docs)), k=len(docs) // 2)
        got = estimator.set_params(batch_size=batch_size).transform([docs[i] for i in order])
        got_lengths = [lengths[i] for i in order]
        got_offsets = np.concatenate([[0], np.cumsum(got_lengths)])
        for position, index in enumerate(order):
            piece = got[position] if cls is ElmoVectorizer \
                else got[got_offsets[position]:got_offsets[position + 1]]
            np.testing.assert_array_equal(piece, rows(index))


def test_states_differ(model_dir):
    warm = ElmoVectorizer(model=model_dir, layer=2).transform(DOCS)
    zero = ElmoVectorizer(model=model_dir, layer=2, state="zero").transform(DOCS)
    assert not np.allclose(warm, zero)
    # The token layer has no recurrent state.
    np.testing.assert_array_equal(
        ElmoVectorizer(model=model_dir, layer=0).transform(DOCS),
        ElmoVectorizer(model=model_dir, layer=0, state="zero").transform(DOCS))


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
def test_transform_without_fit(model_dir, cls):
    estimator = cls(model=model_dir)
    before = estimator.transform(DOCS)
    np.testing.assert_array_equal(estimator.fit(DOCS).transform(DOCS), before)
    with pytest.raises(NotFittedError):
        cls(model=model_dir, learn_mix=True).transform(DOCS)


# -- learn_mix -----------------------------------------------------------------------------


def test_learn_mix_classification(model_dir):
    docs, y = labelled_documents(40)
    vectorizer = ElmoVectorizer(model=model_dir, learn_mix=True, random_state=0)
    assert vectorizer.fit(docs, y) is vectorizer
    assert vectorizer.mix_weights_.shape == (N_LAYERS,)
    assert np.isfinite(vectorizer.mix_weights_).all()
    assert vectorizer.gamma_ > 0
    assert vectorizer.n_layers_ == N_LAYERS
    # The mix in use is the learned one.
    expected = ElmoVectorizer(model=model_dir, mix_weights=vectorizer.mix_weights_,
                              gamma=vectorizer.gamma_).transform(docs)
    np.testing.assert_array_equal(vectorizer.transform(docs), expected)
    # gamma_ gives the mixed training features unit average variance.
    assert np.isclose(expected.astype(np.float64).var(axis=0).mean(), 1.0, rtol=1e-3)
    again = ElmoVectorizer(model=model_dir, learn_mix=True, random_state=0).fit(docs, y)
    np.testing.assert_array_equal(again.mix_weights_, vectorizer.mix_weights_)
    assert again.gamma_ == vectorizer.gamma_


def test_learn_mix_string_labels(model_dir):
    docs, y = labelled_documents(20)
    vectorizer = ElmoVectorizer(model=model_dir, learn_mix=True, random_state=0)
    named = np.where(y == 1, "animal", "vehicle")
    np.testing.assert_allclose(vectorizer.fit(docs, named).mix_weights_,
                               ElmoVectorizer(model=model_dir, learn_mix=True,
                                              random_state=0).fit(docs, 1 - y).mix_weights_,
                               rtol=1e-6, atol=1e-8)


def test_learn_mix_regression(model_dir):
    docs, y = labelled_documents(30)
    target = y + np.linspace(0.0, 0.5, len(y))
    vectorizer = ElmoVectorizer(model=model_dir, learn_mix=True, random_state=1)
    vectorizer.fit(docs, target)
    assert vectorizer.mix_weights_.shape == (N_LAYERS,) and vectorizer.gamma_ > 0
    assert not np.array_equal(
        vectorizer.mix_weights_,
        ElmoVectorizer(model=model_dir, learn_mix=True, random_state=1).fit(docs, y).mix_weights_)


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
def test_learn_mix_needs_y_of_the_right_length(model_dir, cls):
    docs, y = labelled_documents(10)
    with pytest.raises(ValueError, match="needs y"):
        cls(model=model_dir, learn_mix=True).fit(docs)
    with pytest.raises(ValueError, match="entries"):
        cls(model=model_dir, learn_mix=True).fit(docs, np.zeros(3))
    n_samples = sum(len(d.split()) for d in docs) if cls is ElmoTokenVectorizer else len(docs)
    with pytest.raises(ValueError, match="two classes"):
        cls(model=model_dir, learn_mix=True).fit(docs, ["a"] * n_samples)


def test_token_vectorizer_learn_mix(model_dir):
    docs, _ = labelled_documents(20)
    estimator = ElmoTokenVectorizer(model=model_dir, learn_mix=True, random_state=0,
                                    output="flat")
    y = np.array([int(token in CLASS_1) for doc in docs for token in doc.split()])
    with pytest.raises(ValueError, match="entries"):
        estimator.fit(docs, y[:len(docs)])
    estimator.fit(docs, y)
    assert estimator.mix_weights_.shape == (N_LAYERS,) and estimator.gamma_ > 0
    expected = ElmoTokenVectorizer(model=model_dir, output="flat",
                                   mix_weights=estimator.mix_weights_,
                                   gamma=estimator.gamma_).transform(docs)
    np.testing.assert_array_equal(estimator.transform(docs), expected)
    again = ElmoTokenVectorizer(model=model_dir, learn_mix=True, random_state=0).fit(docs, y)
    np.testing.assert_array_equal(again.mix_weights_, estimator.mix_weights_)


def test_probe_prefers_the_informative_layer():
    rng = np.random.default_rng(0)
    n, dim = 300, 8
    y = rng.integers(0, 2, n)
    features = rng.standard_normal((n, N_LAYERS, dim))
    features[:, 0, :2] += 3.0 * (2 * y[:, None] - 1)  # only layer 0 knows the label
    for informative in range(N_LAYERS):
        shuffled = np.roll(features, informative, axis=1)
        weights, gamma = learn_mix_weights(shuffled, y, random_state=0)
        assert np.argmax(weights) == informative
        assert np_softmax(weights)[informative] > 0.5
        assert gamma > 0


def test_learned_mix_must_match_the_model(model_dir, tmp_path):
    docs, y = labelled_documents(10)
    vectorizer = ElmoVectorizer(model=model_dir, learn_mix=True).fit(docs, y)
    make_random_model(tmp_path, n_layers=1)
    with pytest.raises(ValueError, match="3 layers but this model has 2"):
        vectorizer.set_params(model=tmp_path).transform(docs)


# -- the model parameter and other parameter errors ---------------------------------------


def test_model_as_directory_or_pair(model_dir, small_model_files):
    expected = ElmoVectorizer(model=str(model_dir)).transform(DOCS)
    for model in (model_dir, small_model_files, list(map(str, small_model_files))):
        np.testing.assert_array_equal(ElmoVectorizer(model=model).transform(DOCS), expected)


def test_missing_model_files(tmp_path, small_model_files):
    with pytest.raises(skelmo.ModelFileNotFoundError, match="no such model directory"):
        ElmoVectorizer(model=tmp_path / "nowhere").fit(DOCS)
    with pytest.raises(skelmo.ModelFileNotFoundError, match="weights file not found"):
        ElmoVectorizer(model=(small_model_files[0], tmp_path / "w.hdf5")).fit(DOCS)
    with pytest.raises(skelmo.ModelFileNotFoundError, match="options.json"):
        ElmoVectorizer(model=tmp_path).fit(DOCS)  # exists, but empty


def test_model_given_as_one_file(small_model_files):
    with pytest.raises(skelmo.ModelFileError, match=r"is a file, not a model directory.*pair"):
        ElmoVectorizer(model=small_model_files[1]).fit(DOCS)


def test_directory_with_two_weight_files(tmp_path):
    make_random_model(tmp_path)
    (tmp_path / "weights.hdf5").rename(tmp_path / "a.hdf5")
    make_random_model(tmp_path, seed=1)
    with pytest.raises(skelmo.ModelFileError, match=r"exactly one .*found 2.*a\.hdf5"):
        ElmoVectorizer(model=tmp_path).transform(DOCS)


def test_no_model_given_uses_the_bundled_model():
    from skelmo import models
    from skelmo.models import resolve_model

    bundled = resolve_model(models.BUNDLED_MODEL)
    np.testing.assert_array_equal(ElmoVectorizer().transform(DOCS[:3]),
                                  ElmoVectorizer(model=bundled).transform(DOCS[:3]))


@pytest.mark.parametrize("model", [5, ("only-one",), ("a", "b", "c"), (1, 2), {"dir": "x"}])
def test_model_of_a_wrong_type(model):
    with pytest.raises(ValueError, match="model"):
        ElmoVectorizer(model=model).fit(DOCS)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda(model_dir):
    with pytest.raises(ValueError, match="CUDA is not available"):
        ElmoVectorizer(model=model_dir, device="cuda").transform(DOCS)


@pytest.mark.parametrize("cls, param, value", [
    (ElmoVectorizer, "state", "hot"),
    (ElmoVectorizer, "state", None),
    (ElmoVectorizer, "batch_size", 0),
    (ElmoVectorizer, "batch_size", 2.0),
    (ElmoVectorizer, "batch_size", True),
    (ElmoVectorizer, "pooling", "sum"),
    (ElmoVectorizer, "progress", "yes"),
    (ElmoVectorizer, "progress", 1),
    (ElmoVectorizer, "progress", 0),
    (ElmoVectorizer, "cache", 1),
    (ElmoVectorizer, "cache", "yes"),
    (ElmoVectorizer, "learn_mix", "no"),
    (ElmoVectorizer, "mix_weights", [1.0, 2.0]),
    (ElmoVectorizer, "mix_weights", [1.0, np.nan, 0.0]),
    (ElmoVectorizer, "gamma", np.inf),
    (ElmoVectorizer, "gamma", "1"),
    (ElmoVectorizer, "device", "tpu"),
    (ElmoTokenVectorizer, "output", "dense"),
    (ElmoTokenVectorizer, "max_length", 0),
    (ElmoTokenVectorizer, "max_length", 2.5),
    (ElmoTokenVectorizer, "batch_size", -1),
    (ElmoTokenVectorizer, "state", "Warm"),
])
def test_bad_values_raise_at_fit_and_transform_not_init(model_dir, cls, param, value):
    estimator = cls(model=model_dir, **{param: value})  # no error here
    assert estimator.get_params()[param] is value
    with pytest.raises(ValueError, match=param):
        estimator.fit(DOCS)
    with pytest.raises(ValueError, match=param):
        estimator.transform(DOCS)


def test_progress_bar_shows_and_changes_nothing(model_dir, capsys):
    pytest.importorskip("tqdm")
    docs = [f"document number {i} ." for i in range(40)]
    quiet = ElmoVectorizer(model=model_dir, device="cpu", progress=False, cache=False)
    loud = ElmoVectorizer(model=model_dir, device="cpu", progress=True, cache=False,
                          batch_size=8)
    expected = quiet.transform(docs)
    capsys.readouterr()
    np.testing.assert_array_equal(loud.transform(docs), expected)
    err = capsys.readouterr().err
    assert "ElmoVectorizer" in err and "40/40" in err


def test_progress_auto_is_silent_for_short_inputs(model_dir, capsys):
    ElmoVectorizer(model=model_dir, device="cpu").transform(["a short input"])
    assert capsys.readouterr().err == ""
