"""The English sentence splitter, for text and for the tokenizer's tokens.

Both functions decide on the tokens of :func:`~skelmo._format._tokenize.tokenize`
(:func:`split_sentences` tokenizes the text with the tokenizer's own pattern, keeping
where each token lies), so a sentence never ends inside a token such as ``U.S.``,
``3.14`` or ``...``, and the two agree wherever the text's spacing tells nothing more
than the tokens do. What the text adds, and the tokens have lost:

- a blank line (two line breaks with only spaces between) always ends a sentence;
- a sentence ends only where whitespace follows its punctuation (``"ended.Then"`` is
  one sentence of text, two of tokens);
- a straight quote (``"`` or ``'``) right after the punctuation closes the sentence
  when it touches the punctuation and is followed by whitespace, and opens the next one
  when it is preceded by whitespace and touches the next word. Without spacing (tokens,
  or a quote with the same spacing on both sides), a ``'`` closes the sentence and a
  ``"`` closes it when an odd number of ``"`` come before it in the document (it closes
  an open quotation), else opens the next one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from itertools import pairwise

from ._tokenize import _APOSTROPHES, _CONTRACTION, _TOKEN

__all__ = ["split_sentences", "split_token_sentences"]

# The words after which a "." ends no sentence, as the tokenizer gives them: the word before
# its own "." token ("Mr", "."), matched case as written ("No. 5", but "I said no. Then").
# Besides these, a "." after a single capital letter (an initial: "J. R. R. Tolkien") or a
# word with inner dots ("U.S", "e.g", as another tokenizer may give them) ends none.
# Abbreviations with inner dots ("U.S.", "e.g.", "p.m.") are one token of the tokenizer,
# which ends in its own "." and never ends a sentence: "in the U.S. The next day" stays one
# sentence, so as not to split "the U.S. Army" or "J.R.R. Tolkien".
ABBREVIATIONS: frozenset[str] = frozenset({
    # titles and ranks
    "Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "Sr", "Jr", "St", "Rev", "Hon", "Fr",
    "Gen", "Gov", "Sen", "Rep", "Pres", "Col", "Capt", "Lt", "Sgt", "Maj", "Adm", "Cmdr",
    # places and companies
    "Mt", "Ft", "Ave", "Blvd", "Inc", "Ltd", "Co", "Corp", "Bros", "Dept",
    # months (May is a whole word)
    "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    # references
    "No", "Nos", "Fig", "Figs", "Vol", "Vols", "Ch", "Sec", "Eq", "Eqs", "Ref", "Refs",
    "p", "pp",
    # Latin and other short forms
    "vs", "etc", "cf", "al", "ca", "approx", "viz", "esp", "incl", "e.g", "i.e",
})

_TERMINAL = re.compile(r"[.!?]+")  # a token that ends a sentence: . ! ? ... ?! and the like
_DOTTED = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+)+")  # U.S, e.g: a word with inner dots
_PARAGRAPH = re.compile(r"\n[^\S\n]*\n")  # a blank line, in the whitespace between two tokens
_CLOSERS = frozenset({")", "]", "”", "’"})  # close a sentence, never open one
_QUOTES = frozenset({'"', "'"})  # close a sentence or open the next one
_OPENERS = frozenset({"(", "[", "“", "‘", '"', "'"})  # may start a sentence


def split_sentences(text: str) -> list[str]:
    """Split English text into sentences.

    A sentence ends after ``.``, ``!``, ``?`` or a run of them (``?!``, ``...``), and any
    closing quotes and brackets right after it, where whitespace and then an uppercase
    letter, a digit or an opening quote or bracket follow; after an ellipsis, only where an
    uppercase letter (after any opening quote or bracket) follows. A blank line (a
    paragraph break) always ends a sentence.

    A ``.`` after a common abbreviation (``Mr.``, ``Dr.``, ``St.``, ``Inc.``, ``Jan.``,
    ``No.``, ``Fig.``, ``vs.``, ``etc.``: the frozenset
    ``skelmo._format._sentences.ABBREVIATIONS``, case as written) or after an initial
    (``J. R. R. Tolkien``) ends no sentence, and neither does a token of the tokenizer
    that ends in a dot, such as ``U.S.``, ``e.g.`` or ``p.m.``: ``"in the U.S. The next"``
    is one sentence, so that ``"the U.S. Army"`` is one too. Decimals (``3.14``) are one
    token and never split.

    Sentences are cut in the whitespace between the tokens of
    :func:`~skelmo.tokenize`, so no token is cut and
    ``tokenize(" ".join(split_sentences(text))) == tokenize(text)`` for every text.

    Parameters
    ----------
    text : str
        Any text. It is NFC-normalized first, as :func:`~skelmo.tokenize` does.

    Returns
    -------
    list of str
        The sentences, in order, NFC-normalized and stripped of surrounding whitespace
        (whitespace inside a sentence is kept); empty for blank text.

    See Also
    --------
    skelmo._format.split_token_sentences : The same, for a document already tokenized.

    Examples
    --------
    >>> from skelmo import split_sentences
    >>> split_sentences('Dr. Lee paid $3.50 in the U.S. for it. Why?! "Fine," he said.\\n\\nEnd')
    ['Dr. Lee paid $3.50 in the U.S. for it.', 'Why?!', '"Fine," he said.', 'End']
    """
    if not isinstance(text, str):
        raise TypeError(f"split_sentences expects a str, got {type(text).__name__}.")
    text = unicodedata.normalize("NFC", text)
    scanned = text.translate(_APOSTROPHES)  # what tokenize reads; one character for one
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _TOKEN.finditer(scanned):
        token, start, stop = match.group(), match.start(), match.end()
        clitic = _CONTRACTION.match(token) if "'" in token else None
        if clitic is not None:
            middle = start + clitic.end(1)
            tokens.extend(clitic.groups())
            spans.extend([(start, middle), (middle, stop)])
        else:
            tokens.append(token)
            spans.append((start, stop))
    if not tokens:
        return []
    # gaps[k]: the whitespace before token k (the tokenizer skips only whitespace).
    gaps = [""] + [scanned[spans[k - 1][1]:spans[k][0]] for k in range(1, len(tokens))]
    starts = set(_sentence_starts(tokens, [bool(gap) for gap in gaps]))
    starts.update(k for k, gap in enumerate(gaps) if _PARAGRAPH.search(gap))
    edges = [0, *sorted(starts), len(tokens)]
    return [text[spans[first][0]:spans[last - 1][1]] for first, last in pairwise(edges)]


def split_token_sentences(tokens: Sequence[str]) -> list[list[str]]:
    """Split a tokenized English document into sentences.

    The rules of :func:`split_sentences`, on tokens as :func:`~skelmo.tokenize` gives
    them: a sentence ends after a token of ``.``, ``!`` and ``?`` (``"."``, ``"..."``) or
    a run of them (``"?", "!"``), and the closing quotes and brackets after it, where the
    next token starts with an uppercase letter or a digit or is an opening quote or
    bracket (after an ellipsis: starts with an uppercase letter, itself or after an
    opening quote or bracket). A ``"."`` after an abbreviation (``"Mr", "."``, the words of
    ``skelmo._format._sentences.ABBREVIATIONS``), a single capital letter (an initial) or
    a word with inner dots ends no sentence.

    The tokens carry no whitespace, so this agrees with :func:`split_sentences` except
    where the text's spacing decides: a blank line, punctuation with no whitespace after
    it, and a straight quote after the punctuation (here, ``'`` closes the sentence and
    ``"`` closes it after an odd number of ``"``, when it ends an open quotation).

    Parameters
    ----------
    tokens : sequence of str
        The document's tokens, in order. A str is refused: it is text, not tokens.

    Returns
    -------
    list of list of str
        The sentences, each a non-empty list of tokens; joined in order they give back
        ``tokens`` exactly. Empty for no tokens.

    See Also
    --------
    split_sentences : The same, for text.

    Examples
    --------
    >>> from skelmo import tokenize
    >>> from skelmo._format import split_token_sentences
    >>> for sentence in split_token_sentences(tokenize('Mr. Lee left. He said "Bye." Then...')):
    ...     print(sentence)
    ['Mr', '.', 'Lee', 'left', '.']
    ['He', 'said', '"', 'Bye', '.', '"']
    ['Then', '...']
    """
    if isinstance(tokens, (str, bytes)):
        raise TypeError(
            f"split_token_sentences expects a sequence of str tokens, got {type(tokens).__name__}."
        )
    try:
        tokens = list(tokens)
    except TypeError:
        raise TypeError(
            f"split_token_sentences expects a sequence of str tokens, got {type(tokens).__name__}."
        ) from None
    for position, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(
                f"split_token_sentences expects str tokens, got {type(token).__name__} "
                f"({token!r}) at position {position}."
            )
    if not tokens:
        return []
    edges = [0, *_sentence_starts(tokens, None), len(tokens)]
    return [tokens[first:last] for first, last in pairwise(edges)]


def _sentence_starts(tokens: Sequence[str], spaced: Sequence[bool] | None) -> list[int]:
    """The positions, after the first, where a sentence starts, in increasing order.

    ``spaced[k]`` says whether whitespace comes before token ``k`` in the text; None for
    tokens without their text, where spacing is taken as unknown.
    """
    starts: list[int] = []
    quotes = 0  # the '"' tokens before position i
    i = 0
    while i < len(tokens):
        if not _TERMINAL.fullmatch(tokens[i]):
            if tokens[i] == '"':
                quotes += 1
            i += 1
            continue
        end = i + 1
        while end < len(tokens) and _TERMINAL.fullmatch(tokens[end]):
            end += 1
        start = end  # where the next sentence would start: after the closing quotes
        while start < len(tokens) and _closes(tokens, start, quotes, spaced):
            if tokens[start] == '"':
                quotes += 1
            start += 1
        if (start < len(tokens) and (spaced is None or spaced[start])
                and _ends_sentence(tokens, i, end, start)):
            starts.append(start)
        i = start
    return starts


def _closes(tokens: Sequence[str], k: int, quotes: int, spaced: Sequence[bool] | None) -> bool:
    """Whether token ``k``, after a sentence's punctuation, still belongs to that sentence."""
    token = tokens[k]
    if token in _CLOSERS:
        return True
    if token not in _QUOTES:
        return False
    if spaced is not None:
        before = spaced[k]
        after = k + 1 == len(tokens) or spaced[k + 1]
        if before != after:  # touches one side only: the side it belongs to
            return after
    return token == "'" or quotes % 2 == 1


def _ends_sentence(tokens: Sequence[str], first: int, end: int, start: int) -> bool:
    """Whether the punctuation ``tokens[first:end]`` ends a sentence, the next at ``start``."""
    punctuation = tokens[first:end]
    if punctuation == ["."] and first and _is_abbreviation(tokens[first - 1]):
        return False
    following = tokens[start]
    if all(set(token) == {"."} for token in punctuation) and sum(map(len, punctuation)) > 1:
        # An ellipsis: it may as well pause a sentence, so only a capital starts the next.
        if following in _OPENERS and start + 1 < len(tokens):
            following = tokens[start + 1]
        return following[:1].isupper()
    initial = following[:1]
    return initial.isupper() or initial.isdigit() or following in _OPENERS


def _is_abbreviation(word: str) -> bool:
    """Whether a ``.`` after ``word`` is the abbreviation's, not the sentence's."""
    return (word in ABBREVIATIONS or (len(word) == 1 and word.isupper())
            or _DOTTED.fullmatch(word) is not None)
