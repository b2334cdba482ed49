"""The word tokenizer shared by training and inference."""

from __future__ import annotations

import re
import unicodedata

__all__ = ["tokenize"]

# One alternative per kind of token, tried in order at each position.
_TOKEN = re.compile(
    r"""
    (?:[^\W\d_]\.){2,}             # abbreviations with inner dots: U.S., e.g.
  | \d+(?:[.,:/]\d+)*              # numbers: 3.14, 1,000, 12:30, 1/2
  | [^\W_]+(?:[-'][^\W_]+)*        # words, hyphenated words, words with an apostrophe
  | \.{2,}|-{2,}                   # ellipses and dashes
  | \S                             # any other symbol, alone
    """,
    re.VERBOSE,
)
_CONTRACTION = re.compile(r"(?i)^(.+?)(n't|'s|'re|'ve|'ll|'d|'m)$")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def tokenize(text: str) -> list[str]:
    """Split English text into word tokens.

    Punctuation becomes its own token and English clitics are split off
    (``"don't" -> ["do", "n't"]``), as in the Penn Treebank convention that
    ELMo models are trained on. The same function prepares training text in
    :func:`skelmo.train` and is the estimators' default tokenizer, so a model
    sees text at inference exactly as it saw it in training.

    Parameters
    ----------
    text : str
        Any text. It is NFC-normalized and typographic apostrophes become
        ``'``.

    Returns
    -------
    list of str
        The tokens, in order; empty for blank text.

    Examples
    --------
    >>> from skelmo import tokenize
    >>> tokenize("The U.S. didn't pay $1,000.50 -- really?")
    ['The', 'U.S.', 'did', "n't", 'pay', '$', '1,000.50', '--', 'really', '?']
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}.")
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES)
    tokens: list[str] = []
    for token in _TOKEN.findall(text):
        clitic = _CONTRACTION.match(token) if "'" in token else None
        if clitic is not None:
            tokens.extend(clitic.groups())
        else:
            tokens.append(token)
    return tokens
