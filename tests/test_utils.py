"""The shared utilities: atomic writes, checksums and the progress-bar rule."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest

from skelmo._utils import (
    atomic_path,
    progress_bar,
    replace_keeping_mode,
    sha256_file,
    temporary_path,
)


def test_sha256_file(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc" * 1000)
    assert sha256_file(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_atomic_path_replaces_the_file_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.txt.")
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_path_leaves_the_file_and_no_temporary_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_path_creates_missing_directories(tmp_path):
    target = tmp_path / "a" / "b" / "c.bin"
    with atomic_path(target, suffix=".part") as tmp:
        assert tmp.name.endswith(".part")
        tmp.write_bytes(b"x")
    assert target.read_bytes() == b"x"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444], ids=oct)
def test_atomic_path_keeps_the_replaced_files_mode(tmp_path, mode):
    target = tmp_path / "out.txt"
    target.write_text("old")
    target.chmod(mode)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert target.stat().st_mode & 0o7777 == mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_atomic_path_keeps_no_set_user_id_bit(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    target.chmod(0o4755)
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.stat().st_mode & 0o7777 == 0o755


def test_atomic_path_gives_a_new_file_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    target = tmp_path / "new.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_temporary_path_is_removed_unless_renamed_away(tmp_path):
    target = tmp_path / "out.txt"
    with temporary_path(target) as tmp:
        assert tmp.exists() and not target.exists()
    assert not tmp.exists()
    with temporary_path(target) as tmp:
        tmp.write_text("kept")
        replace_keeping_mode(tmp, target)
    assert target.read_text() == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_progress_auto_shows_no_bar_off_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    with progress_bar("auto", total=10, desc="d", unit="u") as bar:
        assert type(bar).__name__ == "_NoBar"


def test_progress_auto_respects_its_minimum_on_a_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    with progress_bar("auto", total=10, desc="d", unit="u", auto_minimum=11) as bar:
        assert type(bar).__name__ == "_NoBar"
    with progress_bar("auto", total=11, desc="d", unit="u", auto_minimum=11) as bar:
        assert type(bar).__name__ != "_NoBar"


def test_progress_true_needs_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    with pytest.raises(ImportError, match="needs tqdm"), \
            progress_bar(True, total=1, desc="d", unit="u"):
        pass
    with progress_bar("auto", total=1, desc="d", unit="u") as bar:
        bar.update(1)


@pytest.mark.parametrize("progress", ["yes", None, 1])
def test_progress_rejects_other_values(progress):
    with pytest.raises(ValueError, match="progress must be"), \
            progress_bar(progress, total=1, desc="d", unit="u"):
        pass
