"""Fetching package files with pip, npm and apt-get against local stand-ins."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from skelmo._packages import (
    PackageFetchError,
    extract_deb,
    fetch_debian_package,
    fetch_npm_tarball,
    fetch_pypi_sdist,
    sha256_file,
)
from tests._registry_server import (
    RouteServer,
    deb,
    install_fake_apt,
    isolate_clients,
    npm_tarball,
    sdist,
)

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_sha256_file(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


# pip ------------------------------------------------------------------------

def test_pypi_sdist_from_local_index(tmp_path, monkeypatch):
    archive = sdist("tiny-text", "1.2.0", {"data/words.txt": b"Hello there."})
    with RouteServer() as server:
        filename = server.add_sdist("tiny-text", "1.2.0", archive)
        isolate_clients(tmp_path / "env", monkeypatch, pypi=server.url)
        dest = tmp_path / "dest"
        path = fetch_pypi_sdist("tiny-text", "1.2.0", dest, timeout=120)
    assert path == dest / filename
    assert path.read_bytes() == archive
    assert _leftovers(dest) == [filename]


def test_pypi_unknown_package_is_a_clear_error(tmp_path, monkeypatch):
    with RouteServer() as server:
        isolate_clients(tmp_path / "env", monkeypatch, pypi=server.url)
        dest = tmp_path / "dest"
        with pytest.raises(PackageFetchError) as info:
            fetch_pypi_sdist("no-such-package", "1.0", dest, timeout=120)
    message = str(info.value)
    assert "pip download" in message and "no-such-package==1.0" in message
    assert "PIP_INDEX_URL" in message
    assert _leftovers(dest) == []


def test_pypi_unreachable_index(tmp_path, monkeypatch):
    isolate_clients(tmp_path / "env", monkeypatch)  # index on a closed port
    dest = tmp_path / "dest"
    with pytest.raises(PackageFetchError, match="network"):
        fetch_pypi_sdist("tiny-text", "1.2.0", dest, timeout=120)
    assert _leftovers(dest) == []


def test_pypi_rejects_option_like_names(tmp_path):
    with pytest.raises(ValueError, match="Invalid package name"):
        fetch_pypi_sdist("--index-url=x", "1.0", tmp_path)


# npm ------------------------------------------------------------------------

@needs_npm
def test_npm_tarball_scoped_latest_and_pinned(tmp_path, monkeypatch):
    old = npm_tarball("@fake/texts", "0.1.0", {"data/a.txt": b"old"})
    new = npm_tarball("@fake/texts", "0.2.0", {"data/a.txt": b"new"})
    with RouteServer() as server:
        server.add_npm_package("@fake/texts", {"0.1.0": old, "0.2.0": new}, latest="0.2.0")
        isolate_clients(tmp_path / "env", monkeypatch, npm=server.url)
        dest = tmp_path / "dest"
        latest, version = fetch_npm_tarball("@fake/texts", None, dest, timeout=120)
        pinned, pinned_version = fetch_npm_tarball("@fake/texts", "0.1.0", dest, timeout=120)
    assert version == "0.2.0" and latest.read_bytes() == new
    assert pinned_version == "0.1.0" and pinned.read_bytes() == old
    assert _leftovers(dest) == sorted([latest.name, pinned.name])


@needs_npm
def test_npm_404_is_a_clear_error(tmp_path, monkeypatch):
    with RouteServer() as server:
        isolate_clients(tmp_path / "env", monkeypatch, npm=server.url)
        dest = tmp_path / "dest"
        with pytest.raises(PackageFetchError) as info:
            fetch_npm_tarball("not-there", "1.0.0", dest, timeout=120)
    message = str(info.value)
    assert "npm pack not-there@1.0.0" in message and "404" in message
    assert "npm_config_registry" in message
    assert _leftovers(dest) == []


@needs_npm
def test_npm_unreachable_registry(tmp_path, monkeypatch):
    isolate_clients(tmp_path / "env", monkeypatch)  # registry on a closed port
    dest = tmp_path / "dest"
    with pytest.raises(PackageFetchError, match="network"):
        fetch_npm_tarball("anything", None, dest, timeout=120)
    assert _leftovers(dest) == []


def test_missing_npm_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(PackageFetchError, match="npm.*not found on PATH.*[Ii]nstall"):
        fetch_npm_tarball("anything", None, tmp_path / "dest")


# apt ------------------------------------------------------------------------

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
    with pytest.raises(PackageFetchError) as info:
        fetch_debian_package("no-such-deb", dest)
    assert "Unable to locate package no-such-deb" in str(info.value)
    assert "apt-get update" in str(info.value)
    assert _leftovers(dest) == []


def test_missing_apt_get(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(PackageFetchError, match="apt-get.*not found on PATH"):
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
    with pytest.raises(PackageFetchError, match="not a Debian package"):
        extract_deb(bogus, tmp_path / "out")
    truncated = tmp_path / "t.deb"
    truncated.write_bytes(deb({"usr/a": b"a" * 1000})[:-50])
    with pytest.raises(PackageFetchError, match="truncated"):
        extract_deb(truncated, tmp_path / "out")
