"""Arbitrary documents through both estimators: finite outputs of the right shape, or a
documented error (``ValueError`` or ``TypeError`` naming the document), never another one."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skelmo import ElmoTokenVectorizer, ElmoVectorizer, tokenize

any_text = st.text(max_size=200)  # any code point, lone surrogates included
token_lists = st.lists(st.text(min_size=1, max_size=20), max_size=12)
documents = st.lists(st.one_of(any_text, token_lists), min_size=1, max_size=8)
# Bytes are content to decode, as in TfidfVectorizer: only invalid UTF-8 is junk.
junk = st.one_of(st.none(), st.integers(), st.floats(allow_nan=True),
                 st.binary(max_size=4).map(lambda tail: b"\xff" + tail),
                 st.just(float("nan")), st.dictionaries(st.text(max_size=2), st.integers(),
                                                        max_size=1),
                 st.lists(st.one_of(st.integers(), st.none()), min_size=1, max_size=2))
_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model(small_model_files):
    return str(small_model_files[0].parent)


def _lengths(docs):
    return [len(tokenize(d)) if isinstance(d, str) else len(d) for d in docs]


@_SETTINGS
@given(docs=documents)
def test_documents_give_finite_vectors(model, docs):
    out = ElmoVectorizer(model=model, cache=False).transform(docs)
    assert out.shape == (len(docs), 32) and out.dtype == np.float32
    assert np.isfinite(out).all()


@_SETTINGS
@given(docs=documents)
def test_documents_give_finite_token_vectors(model, docs):
    out = ElmoTokenVectorizer(model=model, output="flat", cache=False).transform(docs)
    assert out.shape == (sum(_lengths(docs)), 32) and np.isfinite(out).all()


@_SETTINGS
@given(docs=documents, bad=junk, position=st.integers(0, 8))
def test_bad_documents_raise_a_documented_error(model, docs, bad, position):
    docs = list(docs)
    docs.insert(min(position, len(docs)), bad)
    with pytest.raises((ValueError, TypeError)) as error:
        ElmoVectorizer(model=model, cache=False).transform(docs)
    assert "Document" in str(error.value) or "document" in str(error.value)
