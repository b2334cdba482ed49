"""Fetching Debian packages with a fake apt-get, and reading them without dpkg."""

from __future__ import annotations

from pathlib import Path

import pytest

from recipes.english_corpus._apt import extract_deb, fetch_debian_package
from recipes.tests._apt_fakes import deb, install_fake_apt
from skelmo.datasets import DatasetFetchError


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_debian_package_with_fake_apt(tmp_path, monkeypatch):
    debs = tmp_path / "debs"
    debs.mkdir()
    package = deb({"usr/share/doc/fake/a.txt": b"Some text."})
    (debs / "fake-text_1%3a2.0-3_all.deb").write_bytes(package)
    install_fake_apt(tmp_path / "bin", debs, monkeypatch)
    dest = tmp_path / "dest"
    path, version = fetch_debian_package("fake-text", dest)
    assert version == "1:2.0-3"
    assert path.parent == dest and path.read_bytes() == package
    assert _leftovers(dest) == [path.name]


def test_debian_unknown_package(tmp_path, monkeypatch):
    install_fake_apt(tmp_path / "bin", tmp_path, monkeypatch)
    dest = tmp_path / "dest"
    with pytest.raises(DatasetFetchError) as info:
        fetch_debian_package("no-such-deb", dest)
    assert "Unable to locate package no-such-deb" in str(info.value)
    assert "apt-get update" in str(info.value)
    assert _leftovers(dest) == []


def test_missing_apt_get(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(DatasetFetchError, match="apt-get.*not found on PATH"):
        fetch_debian_package("anything", tmp_path / "dest")


@pytest.mark.parametrize("compression", ["xz", "gz", "bz2"])
def test_extract_deb(tmp_path, compression):
    package = tmp_path / "p.deb"
    package.write_bytes(deb({"usr/share/doc/p/a.txt": b"alpha", "usr/lib/p/b.bin": b"\0\1"},
                            compression=compression,
                            links={"usr/share/doc/p/link": "/etc/passwd"}))
    out = extract_deb(package, tmp_path / "out")
    assert (out / "usr/share/doc/p/a.txt").read_bytes() == b"alpha"
    assert (out / "usr/lib/p/b.bin").read_bytes() == b"\0\1"
    assert not (out / "usr/share/doc/p/link").exists()


def test_extract_deb_skips_paths_outside_dest(tmp_path):
    package = tmp_path / "p.deb"
    package.write_bytes(deb({"../evil.txt": b"x", "usr/ok.txt": b"y"}))
    out = extract_deb(package, tmp_path / "out")
    assert (out / "usr/ok.txt").read_bytes() == b"y"
    assert not (tmp_path / "evil.txt").exists()


def test_extract_deb_rejects_other_files(tmp_path):
    bogus = tmp_path / "x.deb"
    bogus.write_bytes(b"not an archive")
    with pytest.raises(DatasetFetchError, match="not a Debian package"):
        extract_deb(bogus, tmp_path / "out")
    truncated = tmp_path / "t.deb"
    truncated.write_bytes(deb({"usr/a": b"a" * 1000})[:-50])
    with pytest.raises(DatasetFetchError, match="truncated"):
        extract_deb(truncated, tmp_path / "out")
