"""Fetch package files with the ordinary package clients: pip, npm and apt-get.

Each fetcher runs the client in a fresh temporary folder inside ``dest`` and
moves the finished file into place, so a failed or interrupted fetch never
leaves a partial file behind. Registries are chosen by the clients' own
settings (``PIP_INDEX_URL`` for pip, ``npm_config_registry`` for npm, the apt
sources for apt-get), which is also how tests point them at a local server.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from ._download import sha256_file

__all__ = [
    "PackageFetchError",
    "extract_deb",
    "fetch_debian_package",
    "fetch_npm_tarball",
    "fetch_pypi_sdist",
    "sha256_file",
]

_STDERR_TAIL = 2000
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz", ".tar")


class PackageFetchError(OSError):
    """A package client failed, or is missing, or left no usable file."""




def _tail(text: str) -> str:
    text = text.strip()
    if len(text) > _STDERR_TAIL:
        text = "..." + text[-_STDERR_TAIL:]
    return text or "(no output)"


def _run(command: list[str], *, cwd: Path, timeout: float, advice: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a client command; raise PackageFetchError with its stderr tail on failure."""
    shown = " ".join(command)
    try:
        result = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True,
                                timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise PackageFetchError(f"Could not start `{shown}`: {exc}. {advice}") from exc
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
            else (exc.stderr or "")
        raise PackageFetchError(
            f"`{shown}` did not finish within {timeout:g} s.\n"
            f"stderr (last part):\n{_tail(stderr)}\n"
            f"Check the network connection and the registry settings, or pass a "
            f"larger timeout.") from exc
    if result.returncode != 0:
        raise PackageFetchError(
            f"`{shown}` failed with exit status {result.returncode}.\n"
            f"stderr (last part):\n{_tail(result.stderr or result.stdout)}\n{advice}")
    return result


def _require_client(program: str, install_hint: str) -> str:
    found = shutil.which(program)
    if found is None:
        raise PackageFetchError(
            f"`{program}` was not found on PATH, so the package cannot be "
            f"fetched. {install_hint}")
    return found


def _move_into_place(source: Path, dest: Path) -> Path:
    target = dest / source.name
    os.replace(source, target)
    return target


def _check_name(value: str, what: str) -> None:
    if not value or value.startswith("-") or any(ch.isspace() for ch in value):
        raise ValueError(f"Invalid {what} {value!r}: it must be non-empty, contain "
                         f"no whitespace and not start with '-'.")


def fetch_pypi_sdist(name: str, version: str, dest: Path, *,
                     timeout: float = 300) -> Path:
    """Download a source distribution from PyPI with pip.

    Runs ``python -m pip download --no-deps --no-binary :all: name==version``
    into a temporary folder inside ``dest``. The index is whatever pip is
    configured to use, for example through ``PIP_INDEX_URL``.

    Parameters
    ----------
    name : str
        The distribution name.
    version : str
        The exact version to download.
    dest : path-like
        Folder that receives the archive; created if missing.
    timeout : float, default 300
        Seconds before pip is stopped.

    Returns
    -------
    pathlib.Path
        The downloaded archive inside ``dest``.

    Raises
    ------
    PackageFetchError
        pip failed (network, unknown package or version, build metadata) or
        produced no archive.
    """
    _check_name(name, "package name")
    _check_name(version, "version")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    advice = ("Check the network connection, the package name and version, and "
              "pip's index settings (PIP_INDEX_URL).")
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=dest) as tmp:
        tmp_path = Path(tmp)
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
              ":all:", "--disable-pip-version-check", f"{name}=={version}",
              "-d", str(tmp_path)],
             cwd=tmp_path, timeout=timeout, advice=advice)
        archives = sorted(p for p in tmp_path.iterdir()
                          if p.is_file() and p.name.endswith(_ARCHIVE_SUFFIXES))
        if len(archives) != 1:
            raise PackageFetchError(
                f"pip download of {name}=={version} left {len(archives)} archives "
                f"({[p.name for p in archives]}) instead of one sdist. {advice}")
        return _move_into_place(archives[0], dest)


def fetch_npm_tarball(name: str, version: str | None, dest: Path, *,
                      timeout: float = 300) -> tuple[Path, str]:
    """Download a package tarball from the npm registry with ``npm pack``.

    Parameters
    ----------
    name : str
        The package name, scoped (``@scope/name``) or not.
    version : str or None
        A version or range; None takes the ``latest`` tag.
    dest : path-like
        Folder that receives the tarball; created if missing.
    timeout : float, default 300
        Seconds before npm is stopped.

    Returns
    -------
    path : pathlib.Path
        The ``.tgz`` inside ``dest``.
    version : str
        The version npm resolved.

    Raises
    ------
    PackageFetchError
        npm is missing or failed (network, 404) or produced no tarball.
    """
    _check_name(name, "package name")
    if version is not None:
        _check_name(version, "version")
    npm = _require_client("npm", "Install Node.js and npm (for example "
                                 "`apt-get install npm`), then try again.")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    spec = name if version is None else f"{name}@{version}"
    advice = ("Check the network connection, the package name and version, and "
              "npm's registry setting (npm_config_registry).")
    with tempfile.TemporaryDirectory(prefix=".npm-", dir=dest) as tmp:
        tmp_path = Path(tmp)
        result = _run([npm, "pack", spec, "--json", "--pack-destination", str(tmp_path)],
                      cwd=tmp_path, timeout=timeout, advice=advice)
        resolved = _npm_pack_version(result.stdout)
        tarballs = sorted(p for p in tmp_path.iterdir()
                          if p.is_file() and p.name.endswith(".tgz"))
        if len(tarballs) != 1:
            raise PackageFetchError(
                f"`npm pack {spec}` left {len(tarballs)} tarballs instead of one. "
                f"{advice}")
        if resolved is None:
            resolved = _version_from_tarball(tarballs[0])
        return _move_into_place(tarballs[0], dest), resolved


def _npm_pack_version(stdout: str) -> str | None:
    """The version from ``npm pack --json`` output, or None if unreadable."""
    start = stdout.find("[")
    if start < 0:
        return None
    try:
        entries = json.loads(stdout[start:])
    except json.JSONDecodeError:
        return None
    if isinstance(entries, list) and entries and isinstance(entries[0], dict):
        version = entries[0].get("version")
        return str(version) if version else None
    return None


def _version_from_tarball(tgz: Path) -> str:
    try:
        with tarfile.open(tgz, "r:gz") as archive:
            member = archive.extractfile("package/package.json")
            if member is not None:
                return str(json.load(member)["version"])
    except (tarfile.TarError, KeyError, ValueError, OSError):
        pass
    raise PackageFetchError(f"Could not tell the version of the npm tarball {tgz.name}: "
                            f"it has no readable package/package.json.")


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
    PackageFetchError
        apt-get is missing or failed, or produced no ``.deb``.
    """
    _check_name(name, "package name")
    apt_get = _require_client("apt-get", "This needs a Debian-based system with apt "
                                         "(apt-get); on other systems skip the "
                                         "Debian sources.")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    advice = ("Check the network connection and the package name; if apt does not "
              "know the package, run `apt-get update` first.")
    with tempfile.TemporaryDirectory(prefix=".apt-", dir=dest) as tmp:
        tmp_path = Path(tmp)
        _run([apt_get, "download", "-q", name], cwd=tmp_path, timeout=timeout,
             advice=advice)
        debs = sorted(p for p in tmp_path.iterdir() if p.is_file() and p.suffix == ".deb")
        if len(debs) != 1:
            raise PackageFetchError(
                f"`apt-get download {name}` left {len(debs)} .deb files instead of "
                f"one. {advice}")
        match = _DEB_NAME.match(unquote(debs[0].name))
        if match is None:
            raise PackageFetchError(f"Unexpected .deb file name {debs[0].name!r} from "
                                    f"`apt-get download {name}`.")
        return _move_into_place(debs[0], dest), match["version"]


def _ar_members(data: bytes, deb: Path) -> dict[str, bytes]:
    """The members of a Unix ``ar`` archive (the container of a ``.deb``)."""
    if not data.startswith(b"!<arch>\n"):
        raise PackageFetchError(f"{deb} is not a Debian package (no ar header).")
    members: dict[str, bytes] = {}
    pos = 8
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        if header[58:60] != b"`\n":
            raise PackageFetchError(f"{deb} is damaged: bad ar member header at {pos}.")
        member_name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError as exc:
            raise PackageFetchError(f"{deb} is damaged: bad ar member size.") from exc
        start = pos + 60
        if start + size > len(data):
            raise PackageFetchError(f"{deb} is truncated (member {member_name!r}); "
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
            raise PackageFetchError(
                f"{deb} uses zstd compression; install the `zstandard` Python package "
                f"to read it.") from exc
        return zstandard.ZstdDecompressor().decompressobj().decompress(payload)
    if member_name.endswith(".tar"):
        return payload
    raise PackageFetchError(f"{deb}: unsupported data member {member_name!r}.")


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
    PackageFetchError
        The file is not a readable Debian package.
    """
    deb = Path(deb)
    dest = Path(dest)
    members = _ar_members(deb.read_bytes(), deb)
    data_names = [n for n in members if n.startswith("data.tar")]
    if len(data_names) != 1:
        raise PackageFetchError(f"{deb} has no single data.tar member "
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
        raise PackageFetchError(f"{deb}: cannot read its data archive ({exc}); delete "
                                f"it and download it again.") from exc
    return dest
