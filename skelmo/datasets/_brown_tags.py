"""Brown corpus part-of-speech tags: simplification and the universal tagset.

The Brown corpus tags carry decorations on top of about 80 base tags:
``-hl`` (word in a headline), ``-tl`` (word in a title), ``-nc`` (cited word),
``*`` (negation fused to a verb, e.g. ``didn't`` is ``dod*``), ``fw-`` (foreign
word, followed by the tag the word would have in English), ``$`` (possessive)
and ``+`` (a contraction of two words, e.g. ``I'm`` is ``ppss+bem``).

:func:`simplify_tag` removes the headline, title, citation and negation
decorations, which say nothing about the word's part of speech.
:func:`universal_tag` maps a tag to one of the twelve universal tags of
Petrov, Das and McDonald (2012) with a short table over the base tags and
three rules: foreign words are ``X``, a contraction takes the tag of its
first word, and a possessive takes the tag of the word it is attached to.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["UNIVERSAL_TAGS", "simplify_tag", "universal_tag"]

UNIVERSAL_TAGS: tuple[str, ...] = (
    ".", "ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", "X",
)

# Headline, title and cited-word markers. Two tags in the corpus carry a marker
# cut short by the original 10-character field ("fw-in+at-t", "ppss+ber-n").
_MARKERS = re.compile(r"(?:-(?:hl|tl|nc|t|n))+$")
# A negation "*" glued to a tag (not the bare "*" tag of "not", nor "fw-*").
_NEGATION = re.compile(r"(?<=[a-z$])\*")

_BASE_TO_UNIVERSAL: dict[str, str] = {}


def _assign(universal: str, tags: str) -> None:
    for tag in tags.split():
        _BASE_TO_UNIVERSAL[tag] = universal


# Punctuation.
_assign(".", ". , : ; ( ) -- ' '' `` ! ?")
# "not" and "n't".
_assign("ADV", "*")
# Adjectives, including comparatives, superlatives, ordinals ("first") and
# post-determiners ("many", "other", "next"), which the Penn treebank tags JJ.
_assign("ADJ", "jj jjr jjs jjt od ap")
# Prepositions and subordinating conjunctions, as the universal mapping of the
# Penn treebank does with its IN tag.
_assign("ADP", "in cs")
# Adverbs, qualifiers ("very"), pre- and post-qualifiers ("quite", "enough"),
# nominal adverbs ("here") and wh-adverbs and qualifiers ("when", "how").
_assign("ADV", "rb rbr rbt rn ql qlp abl wrb wql")
_assign("CONJ", "cc")
# Articles, determiners, pre-quantifiers ("all", "both"), wh-determiners
# ("which") and existential "there".
_assign("DET", "at dt dti dts dtx abn abx wdt ex")
# Common, proper and adverbial ("home", "Monday") nouns.
_assign("NOUN", "nn nns np nps nr nrs")
_assign("NUM", "cd")
# Personal, reflexive, nominal ("anyone") and wh- pronouns, and possessives.
_assign("PRON", "pn pp$ pp$$ ppl ppls ppo pps ppss wp$ wpo wps")
# Particles and infinitival "to".
_assign("PRT", "rp to")
# Lexical verbs and the forms of "be", "do" and "have", and modals.
_assign(
    "VERB",
    "vb vbd vbg vbn vbz md be bed bedz beg bem ben ber bez do dod doz hv hvd hvg hvn hvz",
)
# Interjections and words the corpus left untagged.
_assign("X", "uh nil")


def simplify_tag(tag: str) -> str:
    """Remove the headline, title, cited-word and negation markers from a Brown tag.

    Parameters
    ----------
    tag : str
        A tag as written in the corpus files, in either case.

    Returns
    -------
    str
        The tag in upper case without its ``-hl``, ``-tl`` and ``-nc`` markers
        and without a fused negation ``*``. Foreign-word (``FW-``), possessive
        (``$``) and contraction (``+``) forms are kept.

    Examples
    --------
    >>> simplify_tag("nn-tl")
    'NN'
    >>> simplify_tag("ber*-nc")
    'BER'
    >>> simplify_tag("ppss+md")
    'PPSS+MD'
    >>> simplify_tag("*")
    '*'
    """
    lowered = tag.lower()
    stripped = _MARKERS.sub("", lowered) or lowered
    return _NEGATION.sub("", stripped).upper()


@lru_cache(maxsize=4096)
def universal_tag(tag: str) -> str:
    """Map a Brown tag to one of the twelve universal part-of-speech tags.

    Parameters
    ----------
    tag : str
        A Brown tag, raw as in the corpus files or simplified.

    Returns
    -------
    str
        One of :data:`UNIVERSAL_TAGS`.

    Raises
    ------
    ValueError
        If ``tag`` is not a Brown tag.

    Examples
    --------
    >>> universal_tag("nn-tl")
    'NOUN'
    >>> universal_tag("ppss+ber")
    'PRON'
    >>> universal_tag("np$")
    'NOUN'
    >>> universal_tag("fw-nn")
    'X'
    """
    simple = simplify_tag(tag).lower()
    if simple.startswith("fw-"):
        return "X"
    first = simple.split("+", 1)[0] if simple not in _BASE_TO_UNIVERSAL else simple
    for candidate in (first, first.rstrip("$")):
        if candidate in _BASE_TO_UNIVERSAL:
            return _BASE_TO_UNIVERSAL[candidate]
    raise ValueError(f"{tag!r} is not a Brown corpus part-of-speech tag.")
