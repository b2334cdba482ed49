"""Turn raw paragraphs into clean English sentences: cleaning, splitting, filtering.

Everything here is deterministic and works on one paragraph or sentence at a
time, so the corpus recipe can stream its sources.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "MAX_TOKENS",
    "MIN_WORDS",
    "clean_paragraph",
    "dedup_key",
    "keep_sentence",
    "split_sentences",
]

#: A kept sentence has at least this many tokens that contain a letter.
MIN_WORDS = 3
#: A kept sentence has at most this many tokens in all.
MAX_TOKENS = 120

# Abbreviations that never end a sentence when followed by a capital
# ("Mr. Darcy", "St. Paul", "e.g. Python").
_TITLES = frozenset([
    "mr", "mrs", "ms", "messrs", "mme", "mlle", "dr", "prof", "rev", "revd", "hon", "st", "sr",
    "jr", "gen", "col", "capt", "cpt", "lt", "maj", "sgt", "cmdr", "adm", "gov", "sen", "rep",
    "pres", "supt", "insp", "fr", "bro", "sr", "e.g", "i.e", "cf", "viz", "vs", "approx", "ca",
    "dept", "fig", "figs", "eq", "vol", "vols", "ch", "chap", "sec", "pp", "art", "arts", "ed",
    "eds", "trans", "mt", "ft", "ave", "blvd", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec",
])
# Abbreviations that often end a sentence too: split after them only when the
# next word is a typical sentence opener.
_AMBIGUOUS = frozenset([
    "etc", "u.s", "u.k", "a.m", "p.m", "inc", "ltd", "co", "corp", "bros", "no", "al",
])
_OPENERS = frozenset([
    "the", "a", "an", "this", "that", "these", "those", "it", "its", "he", "she", "we", "they",
    "i", "you", "there", "then", "but", "and", "so", "yet", "in", "on", "at", "for", "if",
    "when", "while", "as", "his", "her", "their", "our", "my", "your", "however", "thus",
    "after", "before", "since", "although", "though", "what", "who", "how", "why", "where",
    "many", "some", "most", "all", "one", "no",
])

# A candidate sentence end: terminal punctuation, optional closing quotes or
# brackets, whitespace, then (after optional opening quotes) a capital or digit.
_BOUNDARY = re.compile(
    r"""([.?!\u2026]+)(["'\u201d\u2019)\]]*)\s+(?=["'\u201c\u2018(\[]*[A-Z0-9])""")
_SPACE = re.compile(r"\s+")
_INITIAL = re.compile(r"^[A-Z]$")

# Signs of markup, code, addresses and other non-prose.
_NON_PROSE = re.compile(
    r"""
    https?:// | www\. | \S@\S                   # links, e-mail addresses
  | [<>{}|\\^~`=_#*]                            # markup and code symbols
  | \[\d+\] | \(\) | :: | ->                    # footnote marks, calls, code
  | \b[a-z]\w*\.[a-z_]\w+                       # dotted identifiers: os.path
  | \b\w+\.(?:py|txt|html|com|org|net|exe|c)\b  # file and host names
  | (.)\1{4,}                                   # a character five times running
  | \ufffd                                      # text that was decoded wrongly
    """,
    re.VERBOSE,
)
_CLOSERS = "\"')]\u201d\u2019"
_TERMINAL = frozenset(".?!\u2026")


def clean_paragraph(text: str) -> str:
    """Normalize a paragraph: NFC, no control or format characters, single spaces.

    Parameters
    ----------
    text : str
        Raw paragraph text; line breaks inside it are treated as spaces.

    Returns
    -------
    str
        The cleaned paragraph (possibly empty).

    Examples
    --------
    >>> clean_paragraph("  It was\\n a\\u00a0dark\\u200b night. ")
    'It was a dark night.'
    """
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text
                   if not (unicodedata.category(ch) in ("Cc", "Cf") and not ch.isspace()))
    return _SPACE.sub(" ", text).strip()


def _ends_with_abbreviation(before: str, after: str) -> bool:
    """Whether the period that ends ``before`` belongs to an abbreviation."""
    word = before.rsplit(" ", 1)[-1].lstrip("\"'\u201c\u2018([")
    if not word:
        return False
    if _INITIAL.match(word):  # "J. Smith"
        return True
    key = word.lower()
    if key in _TITLES:
        return True
    if key in _AMBIGUOUS or re.fullmatch(r"(?:[a-z]\.)+[a-z]", key):
        next_word = re.match(r"[\"'\u201c\u2018(\[]*(\w+)", after)
        if key == "no" and next_word and next_word.group(1)[0].isdigit():
            return True
        return not (next_word and next_word.group(1).lower() in _OPENERS)
    return False


def split_sentences(paragraph: str) -> list[str]:
    """Split a cleaned paragraph into sentences with simple English rules.

    A sentence ends at ``.``, ``?``, ``!`` or an ellipsis (with any closing
    quotes or brackets) followed by a space and a capital letter or digit,
    unless the period belongs to a title or abbreviation (``Mr.``, ``e.g.``,
    an initial such as ``J.``). Ambiguous abbreviations (``U.S.``, ``etc.``)
    end a sentence only when a typical opening word follows.

    Parameters
    ----------
    paragraph : str
        Text from :func:`clean_paragraph`.

    Returns
    -------
    list of str
        The sentences, stripped, in order.

    Examples
    --------
    >>> split_sentences('Mr. Smith went to Washington. "Is it far?" he asked. It was.')
    ['Mr. Smith went to Washington.', '"Is it far?" he asked.', 'It was.']
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        punct = match.group(1)
        if punct == ".":
            before = paragraph[start:match.start(1)]
            if _ends_with_abbreviation(before, paragraph[match.end():]):
                continue
        end = match.end(2)
        sentence = paragraph[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def keep_sentence(sentence: str, tokens: list[str]) -> bool:
    """Whether a sentence looks like clean English prose worth training on.

    Rejects sentences that are too short (fewer than :data:`MIN_WORDS` word
    tokens) or too long (more than :data:`MAX_TOKENS` tokens), that do not
    start with a capital or digit or do not end with terminal punctuation,
    that contain markup, code, links or addresses, that are mostly
    non-alphabetic or mostly capitals (headings, shouting), or that are
    mostly written in a non-Latin script.

    Parameters
    ----------
    sentence : str
        The sentence text.
    tokens : list of str
        Its tokens from :func:`skelmo.tokenize`.

    Returns
    -------
    bool
    """
    if not tokens or len(tokens) > MAX_TOKENS:
        return False
    words = sum(any(ch.isalpha() for ch in token) for token in tokens)
    alphanumeric = sum(any(ch.isalnum() for ch in token) for token in tokens)
    if words < MIN_WORDS or words < 0.6 * alphanumeric or len(tokens) > 2 * alphanumeric:
        return False
    first = next((ch for ch in sentence if ch.isalnum()), "")
    if not (first.isupper() or first.isdigit()):
        return False
    if sentence.rstrip(_CLOSERS)[-1:] not in _TERMINAL:
        return False
    if _NON_PROSE.search(sentence):
        return False
    letters = [ch for ch in sentence if ch.isalpha()]
    visible = sum(not ch.isspace() for ch in sentence)
    if len(letters) < 0.6 * visible:
        return False
    if sum(ch.isupper() for ch in letters) > 0.5 * len(letters):
        return False
    return sum(ord(ch) > 0x24F for ch in letters) <= 0.1 * len(letters)


def dedup_key(tokens: list[str]) -> bytes:
    """A short digest of a sentence for finding normalized exact duplicates.

    Case, punctuation and spacing are ignored: only the case-folded tokens
    made of letters or digits count.

    Parameters
    ----------
    tokens : list of str
        The sentence's tokens.

    Returns
    -------
    bytes
        A 12-byte digest.

    Examples
    --------
    >>> dedup_key(["The", "end", "."]) == dedup_key(["the", "END", "!"])
    True
    """
    words = " ".join(token.casefold() for token in tokens if any(ch.isalnum() for ch in token))
    return hashlib.blake2b(words.encode("utf-8"), digest_size=12).digest()
