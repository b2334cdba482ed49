"""The sentence splitter, for text and for tokens: exact cases and round-trip properties."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import skelmo
from skelmo import split_sentences, tokenize
from skelmo._format import split_token_sentences
from skelmo._format._sentences import ABBREVIATIONS

CASES = {
    "abbreviations": (
        "Mr. Smith met Dr. Lee at St. Paul's. They talked vs. Prof. Wu, etc. and Mrs. Li left.",
        ["Mr. Smith met Dr. Lee at St. Paul's.",
         "They talked vs. Prof. Wu, etc. and Mrs. Li left."],
    ),
    "abbreviations before digits": (
        "See Fig. 3 and No. 5. Then Jan. 2020 came.",
        ["See Fig. 3 and No. 5.", "Then Jan. 2020 came."],
    ),
    "initials": (
        "J. R. R. Tolkien wrote it. C. S. Lewis did too.",
        ["J. R. R. Tolkien wrote it.", "C. S. Lewis did too."],
    ),
    # A token with inner dots never ends a sentence, before a capital neither: the documented
    # choice, so that "the U.S. Army" or "J.R.R. Tolkien" are not split.
    "inner-dot abbreviations": (
        "The U.S. economy grew, e.g. in Ohio. It is in the U.S. The end came at 5 p.m. Then.",
        ["The U.S. economy grew, e.g. in Ohio.", "It is in the U.S. The end came at 5 p.m. Then."],
    ),
    "decimals and numbers": (
        "Pi is 3.14 roughly. It is 2.5 times 1.2. 3 is odd. Add 2. 4 more came.",
        ["Pi is 3.14 roughly.", "It is 2.5 times 1.2.", "3 is odd.", "Add 2.", "4 more came."],
    ),
    "quotes and brackets after the period": (
        'He said "Hi." Then he left. (It was late.) We slept [well.] She said \u2018Go.\u2019 '
        "He went. \u201cYes!\u201d It ended.",
        ['He said "Hi."', "Then he left.", "(It was late.)", "We slept [well.]",
         "She said \u2018Go.\u2019", "He went.", "\u201cYes!\u201d", "It ended."],
    ),
    "opening quotes": (
        'He left. "Hi," she said. \u201cBye,\u201d he said. (See below.)',
        ["He left.", '"Hi," she said.', "\u201cBye,\u201d he said.", "(See below.)"],
    ),
    "question and exclamation runs": (
        "Really?! Yes. What?? No!! Why?!.. Because.",
        ["Really?!", "Yes.", "What??", "No!!", "Why?!..", "Because."],
    ),
    "ellipsis": (
        "Wait... no. Well... Maybe later... 3 of them... \"Fine\" then.",
        ["Wait... no.", "Well...", "Maybe later... 3 of them...", '"Fine" then.'],
    ),
    "lowercase after the period": (
        "It works. no capital here? fine! And yes.",
        ["It works. no capital here? fine!", "And yes."],
    ),
    "no final punctuation": (
        "It works. Trailing words",
        ["It works.", "Trailing words"],
    ),
    "whitespace kept inside, stripped outside": (
        "  \n One\tline\nand more.  Two.\n",
        ["One\tline\nand more.", "Two."],
    ),
    "unicode": (
        "\u00c7a va? \u00c9coute. \u00dcbermorgen! Stra\u00dfe. 42 caf\u00e9s.",
        ["\u00c7a va?", "\u00c9coute.", "\u00dcbermorgen!", "Stra\u00dfe.", "42 caf\u00e9s."],
    ),
    "typographic apostrophes kept": (
        "Don\u2019t stop. It\u2019s fine.",
        ["Don\u2019t stop.", "It\u2019s fine."],
    ),
    "a single sentence": ("Hello, world", ["Hello, world"]),
    "punctuation alone": ("! Hello.", ["!", "Hello."]),
}

# Where the text's spacing says more than its tokens: the paragraph break, the missing space
# after the period and a straight quote whose spacing shows whether it opens or closes.
# split_sentences follows the spacing; split_token_sentences cannot see it.
DIFFERENCES = {
    "paragraph breaks": (
        "Title\n\nFirst line\nsecond line\n \t\nLast. Words\r\n\r\nEnd",
        ["Title", "First line\nsecond line", "Last.", "Words", "End"],
        [["Title", "First", "line", "second", "line", "Last", "."], ["Words", "End"]],
    ),
    "no space after the period": (
        "It ended.Then more",
        ["It ended.Then more"],
        [["It", "ended", "."], ["Then", "more"]],
    ),
    # Without spacing, ' after the period closes the sentence.
    "opening single quote": (
        "He left. 'Hi,' she said.",
        ["He left.", "'Hi,' she said."],
        [["He", "left", ".", "'"], ["Hi", ",", "'", "she", "said", "."]],
    ),
    # Without spacing, " after an odd number of " closes the sentence (an open quotation).
    "unbalanced double quotes": (
        '5" wide. "Yes," he said.',
        ['5" wide.', '"Yes," he said.'],
        [["5", '"', "wide", ".", '"'], ["Yes", ",", '"', "he", "said", "."]],
    ),
}


@pytest.mark.parametrize("text, sentences", CASES.values(), ids=CASES.keys())
def test_split_sentences(text, sentences):
    assert split_sentences(text) == sentences


@pytest.mark.parametrize("text, sentences", CASES.values(), ids=CASES.keys())
def test_the_token_splitter_agrees_on_the_cases(text, sentences):
    assert split_token_sentences(tokenize(text)) == [tokenize(s) for s in sentences]


@pytest.mark.parametrize("text, sentences, token_sentences", DIFFERENCES.values(),
                         ids=DIFFERENCES.keys())
def test_where_the_spacing_decides(text, sentences, token_sentences):
    assert split_sentences(text) == sentences
    assert split_token_sentences(tokenize(text)) == token_sentences
    assert [token for s in token_sentences for token in s] == tokenize(text)


@pytest.mark.parametrize("word", sorted(ABBREVIATIONS))
def test_no_abbreviation_ends_a_sentence(word):
    text = f"See {word}. Smith and {word}. 12 now. Then"
    assert split_sentences(text) == [f"See {word}. Smith and {word}. 12 now.", "Then"]
    assert split_token_sentences(tokenize(text)) == [tokenize(text)[:-1], ["Then"]]


def test_abbreviations_are_case_sensitive():
    assert split_sentences("I said no. Then No. 5 won.") == ["I said no.", "Then No. 5 won."]


@pytest.mark.parametrize("text", ["", " ", "  \t\n\n \r\n", "\u00a0\u2003"])
def test_blank_text_has_no_sentences(text):
    assert split_sentences(text) == []


def test_no_tokens_have_no_sentences():
    assert split_token_sentences([]) == []
    assert split_token_sentences(()) == []


def test_split_sentences_normalizes_unicode():
    decomposed = "Cafe\u0301 ouvert. E\u0301te\u0301 chaud."
    assert split_sentences(decomposed) == ["Caf\u00e9 ouvert.", "\u00c9t\u00e9 chaud."]


def test_split_token_sentences_takes_any_sequence_and_returns_lists():
    tokens = ("Hi", ".", "Bye", ".")
    assert split_token_sentences(tokens) == [["Hi", "."], ["Bye", "."]]
    assert split_token_sentences(iter(tokens)) == [["Hi", "."], ["Bye", "."]]


@pytest.mark.parametrize("value", [["a", "list"], b"bytes", None, 3])
def test_split_sentences_rejects_non_str(value):
    with pytest.raises(TypeError, match=r"^split_sentences expects a str, got \w+\.$"):
        split_sentences(value)


@pytest.mark.parametrize("value", ["Some text.", b"bytes", None, 3])
def test_split_token_sentences_rejects_what_is_not_tokens(value):
    with pytest.raises(TypeError, match="split_token_sentences expects a sequence of str tokens"):
        split_token_sentences(value)


def test_split_token_sentences_rejects_non_str_tokens():
    with pytest.raises(TypeError, match=r"expects str tokens, got int \(7\) at position 1"):
        split_token_sentences(["a", 7])


def test_split_sentences_is_public():
    assert skelmo.split_sentences is split_sentences
    assert "split_sentences" in skelmo.__all__
    assert {"split_sentences", "split_token_sentences"} <= set(skelmo._format.__all__)


# Text that hits the rules: abbreviations, initials, numbers, punctuation runs, quotes on
# either side, whitespace of every kind, paragraph breaks, decomposed and other scripts.
PIECES = [
    "Mr", "Dr", "No", "etc", "e.g.", "U.S.", "p.m.", "J", "R", "I", "the", "The", "a", "dogs",
    "don't", "John\u2019s", "3.14", "42", "3", "\u00c9cole", "\u00e9t\u00e9", "\u00dcber",
    "E\u0301", "\u0301", "\u4f60\u597d", ".", ".", ".", "!", "?", "?!", "...", "..", ",", ":",
    "--", "-", '"', '"', "'", "\u201c", "\u201d", "\u2018", "\u2019", "(", ")", "[", "]",
    " ", " ", " ", "  ", "\t", "\n", "\n\n", " \n \n", "\r\n\r\n", "\u00a0", "\u2000",
]
english_text = st.lists(st.sampled_from(PIECES), max_size=60).map("".join)
any_text = st.text(max_size=300)  # lone surrogates included
texts = st.one_of(english_text, any_text)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_joining_the_sentences_keeps_the_tokens(text):
    sentences = split_sentences(text)
    assert tokenize(" ".join(sentences)) == tokenize(text)
    assert [token for s in sentences for token in tokenize(s)] == tokenize(text)
    assert all(isinstance(s, str) and s and s == s.strip() for s in sentences)
    assert all(unicodedata.is_normalized("NFC", s) for s in sentences)


@settings(max_examples=300, deadline=None)
@given(st.one_of(texts.map(tokenize),
                 st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=40)))
def test_joining_the_token_sentences_gives_the_tokens_back(tokens):
    sentences = split_token_sentences(tokens)
    assert [token for s in sentences for token in s] == tokens
    assert all(isinstance(s, list) and s for s in sentences)


# Text with whitespace between every two pieces and no line break (tokens or pieces joined by
# spaces): the spacing tells nothing the tokens do not, and the two splitters agree exactly.
spaced_text = st.one_of(
    texts.map(lambda text: " ".join(tokenize(text))),
    st.lists(st.sampled_from([p for p in PIECES if "\n" not in p]), max_size=60).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(spaced_text)
def test_the_splitters_agree_where_the_spacing_tells_nothing_more(text):
    assert split_token_sentences(tokenize(text)) == [tokenize(s) for s in split_sentences(text)]
