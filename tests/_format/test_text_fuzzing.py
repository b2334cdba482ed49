"""Arbitrary Unicode through the tokenizer and batch_to_ids: a result or a documented error."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from skelmo import batch_to_ids, tokenize
from skelmo._format import MAX_CHARACTERS, token_to_ids

unicode_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
any_text = st.text(max_size=300)  # lone surrogates included


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_tokenize_gives_non_empty_tokens_without_spaces(text):
    tokens = tokenize(text)
    assert all(isinstance(t, str) and t and not any(c.isspace() for c in t) for t in tokens)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(any_text.filter(bool), max_size=8), max_size=6))
def test_batch_to_ids_encodes_any_tokens(sentences):
    ids = batch_to_ids(sentences).numpy()
    longest = max((len(s) for s in sentences), default=0)
    assert ids.shape == (len(sentences), longest, MAX_CHARACTERS)
    assert ids.size == 0 or (ids.min() >= 0 and ids.max() <= 261)
    for row, sentence in enumerate(sentences):
        for col, token in enumerate(sentence):
            np.testing.assert_array_equal(ids[row, col], token_to_ids(token))
            assert ids[row, col, 0] == 259  # begin-of-word marker
        assert not ids[row, len(sentence):].any()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(), st.floats(), st.binary(max_size=5),
                          any_text, st.lists(st.one_of(any_text, st.integers()), max_size=3)),
                max_size=5))
def test_batch_to_ids_refuses_what_is_not_tokens_with_a_type_error(batch):
    try:
        batch_to_ids(batch)
    except TypeError as error:
        assert "Sentence" in str(error) or "batch_to_ids" in str(error)
