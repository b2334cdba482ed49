"""The shared word tokenizer."""

import pytest

from skelmo import ElmoVectorizer, tokenize
from skelmo._estimators._inputs import to_token_lists


@pytest.mark.parametrize("text, tokens", [
    ("Hello, world!", ["Hello", ",", "world", "!"]),
    ("I can't go; she'll see.", ["I", "ca", "n't", "go", ";", "she", "'ll", "see", "."]),
    ("It\u2019s John\u2019s", ["It", "'s", "John", "'s"]),
    ('"Quoted" (parens) [x]', ['"', "Quoted", '"', "(", "parens", ")", "[", "x", "]"]),
    ("The U.S. e.g. 3.14 1,000 12:30", ["The", "U.S.", "e.g.", "3.14", "1,000", "12:30"]),
    ("well-known rock-solid", ["well-known", "rock-solid"]),
    ("Wait... no -- yes", ["Wait", "...", "no", "--", "yes"]),
    ("caf\u00e9 na\u00efve", ["caf\u00e9", "na\u00efve"]),
    ("  \t\n ", []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_tokenize_normalizes_unicode():
    decomposed = "cafe\u0301"
    assert tokenize(decomposed) == ["caf\u00e9"]


def test_tokenize_rejects_non_str():
    with pytest.raises(TypeError, match="expects a str"):
        tokenize(["a", "list"])


def test_tokenize_is_the_estimators_default():
    docs = ["Don't panic!", "One, two."]
    assert to_token_lists(docs, None) == [tokenize(d) for d in docs]
    assert ElmoVectorizer().tokenizer is None
