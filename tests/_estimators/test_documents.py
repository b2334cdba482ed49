"""Document handling of the estimators: sentences, text inputs, output type and scale."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from skelmo import ElmoEmbedder, ElmoTokenVectorizer, ElmoVectorizer, split_sentences, tokenize
from skelmo._engine import load_bilm
from skelmo._estimators import DocumentTypeError, DocumentValueError

TEXTS = [
    "Dr. Smith arrived at 3.30 p.m. yesterday. Nobody knew why! Did he?",
    "One sentence only",
    "",
    "The U.S. team won. Mr. and Mrs. Jones cheered.\n\nA new paragraph",
]


@pytest.fixture
def model(small_model_files):
    return small_model_files[0].parent


def _layers(model, sentences):
    bilm = load_bilm(model / "options.json", model / "weights.hdf5", "cpu")
    return ElmoEmbedder(bilm).embed_sentences(sentences)


def test_split_sentences_runs_each_sentence_as_its_own_sequence(model):
    tokens = ElmoTokenVectorizer(model=str(model), layer="all", output="ragged",
                                 split_sentences=True).fit_transform(TEXTS)
    for text, got in zip(TEXTS, tokens):
        sentences = [tokenize(s) for s in split_sentences(text)]
        assert sum(map(len, sentences)) == len(tokenize(text))  # no token lost or added
        expected = [np.moveaxis(x, 0, 1).reshape(len(x[0]), -1)
                    for x in _layers(model, sentences)] if sentences else []
        expected = np.concatenate(expected) if expected else np.zeros((0, got.shape[1]))
        np.testing.assert_array_equal(got, expected)
    # The whole text as one sequence is another thing.
    whole = ElmoTokenVectorizer(model=str(model), layer="all",
                                output="ragged").fit_transform(TEXTS)
    assert whole[0].shape == tokens[0].shape and not np.array_equal(whole[0], tokens[0])


def test_split_sentences_pools_over_every_token_of_the_document(model):
    vectors = ElmoVectorizer(model=str(model), layer="all",
                             split_sentences=True).fit_transform(TEXTS)
    tokens = ElmoTokenVectorizer(model=str(model), layer="all", output="ragged",
                                 split_sentences=True).fit_transform(TEXTS)
    for vector, matrix in zip(vectors, tokens):
        expected = matrix.mean(axis=0) if len(matrix) else np.zeros(matrix.shape[1])
        np.testing.assert_allclose(vector, expected, rtol=1e-5, atol=1e-6)
    assert not vectors[2].any()  # an empty document is a zero vector


def test_split_sentences_of_token_lists_and_lengths(model):
    docs = [["It", "rained", ".", "We", "stayed", "in", "."], ["no", "end"]]
    vectorizer = ElmoTokenVectorizer(model=str(model), split_sentences=True, output="flat")
    assert vectorizer.get_lengths(docs).tolist() == [7, 2]
    flat = vectorizer.fit_transform(docs)
    expected = _layers(model, [docs[0][:3], docs[0][3:], docs[1]])
    mixed = np.concatenate([x.mean(axis=0) for x in expected])
    np.testing.assert_allclose(flat, mixed, rtol=1e-5, atol=1e-6)


def test_split_sentences_errors_name_the_document(model):
    series = pd.Series(["Fine. Fine.", None], index=["a", "b"])
    with pytest.raises(DocumentValueError, match=r"Document 1 \(index 'b'\) is missing"):
        ElmoVectorizer(model=str(model), split_sentences=True).fit_transform(series)
    with pytest.raises(DocumentTypeError, match=r"for document 0; it must return a list"):
        ElmoVectorizer(model=str(model), split_sentences=True,
                       tokenizer=str.upper).fit_transform(["One. Two."])


@pytest.mark.parametrize("cls", [ElmoVectorizer, ElmoTokenVectorizer])
def test_text_inputs_as_tfidf_reads_them(model, tmp_path, cls):
    texts = ["Caf\u00e9 cr\u00e8me . Tr\u00e8s bon .", "Na\u00efve ."]
    paths = []
    for i, text in enumerate(texts):
        path = tmp_path / f"{i}.txt"
        path.write_bytes(text.encode("latin-1"))
        paths.append(path)
    params = dict(model=str(model), layer=1)
    if cls is ElmoTokenVectorizer:
        params["output"] = "flat"
    expected = cls(**params).fit_transform(texts)
    from_files = cls(**params, input="filename", encoding="latin-1").fit_transform(paths)
    np.testing.assert_array_equal(from_files, expected)
    objects = [io.BytesIO(p.read_bytes()) for p in paths]
    np.testing.assert_array_equal(
        cls(**params, input="file", encoding="latin-1").fit_transform(objects), expected)
    with pytest.raises(DocumentValueError, match="Document 0.*encoding='utf-8'"):
        cls(**params, input="filename").fit_transform(paths)
    # decode_error="replace" gives what TfidfVectorizer's own decoding gives.
    decode = TfidfVectorizer(input="filename", decode_error="replace").decode
    replaced = cls(**params, input="filename", decode_error="replace").fit_transform(paths)
    np.testing.assert_array_equal(replaced, cls(**params).fit_transform(
        [decode(str(p)) for p in paths]))
    lowered = cls(**params, preprocessor=str.lower).fit_transform(texts)
    np.testing.assert_array_equal(lowered, cls(**params).fit_transform(
        [t.lower() for t in texts]))


def test_invalid_input_parameters(model):
    for params, message in [
        (dict(input="url"), "input must be one of"),
        (dict(decode_error="skip"), "decode_error must be one of"),
        (dict(encoding="no-such-codec"), "encoding"),
        (dict(preprocessor="lower"), "preprocessor"),
        (dict(split_sentences="yes"), "split_sentences must be True or False"),
        (dict(normalize=1), "normalize must be True or False"),
        (dict(dtype=np.int32), "dtype must be one of"),
        (dict(dtype="complex"), "dtype must be one of"),
        (dict(max_batch_tokens=0), "max_batch_tokens must be a positive integer"),
        (dict(precision="half"), "precision must be one of"),
    ]:
        with pytest.raises(ValueError, match=message):
            ElmoVectorizer(model=str(model), **params).fit_transform(["a"])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, "float64"])
def test_output_dtype(model, dtype):
    docs = ["The cat sat .", "Dogs bark ."]
    reference = ElmoVectorizer(model=str(model)).fit_transform(docs)
    got = ElmoVectorizer(model=str(model), dtype=dtype).fit_transform(docs)
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, reference.astype(dtype))
    tokens = ElmoTokenVectorizer(model=str(model), dtype=dtype)
    assert tokens.fit_transform(docs).dtype == np.dtype(dtype)
    ragged = tokens.set_params(output="ragged").transform(docs)
    assert all(r.dtype == np.dtype(dtype) for r in ragged)
    frame = ElmoVectorizer(model=str(model), dtype=dtype).set_output(
        transform="pandas").fit_transform(docs)
    assert set(frame.dtypes) == {np.dtype(dtype)}


def test_normalize_gives_unit_rows_and_keeps_zero_rows(model):
    docs = ["The cat sat .", "", "Dogs bark loudly ."]
    raw = ElmoVectorizer(model=str(model)).fit_transform(docs)
    unit = ElmoVectorizer(model=str(model), normalize=True).fit_transform(docs)
    np.testing.assert_allclose(np.linalg.norm(unit[[0, 2]], axis=1), 1.0, rtol=1e-6)
    assert not unit[1].any()
    np.testing.assert_allclose(unit[0], raw[0] / np.linalg.norm(raw[0]), rtol=1e-6)


def test_bytes_are_decoded_as_tfidf_decodes_them(model):
    texts = ["Caf\u00e9 cr\u00e8me .", "Na\u00efve ."]
    expected = ElmoVectorizer(model=str(model)).fit_transform(texts)
    encoded = [t.encode("utf-8") for t in texts]
    np.testing.assert_array_equal(ElmoVectorizer(model=str(model)).fit_transform(encoded),
                                  expected)
    with pytest.raises(DocumentValueError, match="Document 1.*encoding='utf-8'"):
        ElmoVectorizer(model=str(model)).fit_transform([b"fine", b"\xff\xfe bad"])
