"""The registry of named models, their cache directory, download and verification."""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .._format import (
    ElmoOptions,
    ModelFileError,
    ModelFileNotFoundError,
    check_model_file,
    read_options,
    read_weights,
)
from .._utils import atomic_path, sha256_file
from ._fetch import ModelDownloadError, check_timeout, check_url, fetch, is_local, local_path
from ._filelock import file_lock
from ._local import files_in_directory, files_of_pair

__all__ = [
    "BUNDLED_MODEL",
    "ModelDownloadError",
    "ModelIntegrityError",
    "RegisteredModel",
    "available_models",
    "cache_dir",
    "download",
    "get_model_files",
    "is_downloaded",
    "lookup",
    "model_directory",
    "register",
    "unregister",
]

_S3 = "https://s3-us-west-2.amazonaws.com/allennlp/models/elmo"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_OPTIONS_NAME, _WEIGHTS_NAME, _MANIFEST_NAME = "options.json", "weights.hdf5", "manifest.json"
_MANIFEST_FORMAT = 1
_REGISTRY_NAME = "registry.json"


class ModelIntegrityError(ModelFileError):
    """A cached model file no longer matches the checksum recorded when it was downloaded."""


@dataclass(frozen=True)
class RegisteredModel:
    """Where a named model comes from.

    Attributes
    ----------
    name : str
    options, weights : str or None
        URLs (``https://``, ``file://``) of files downloaded into the cache,
        or paths of local files used in place. None for a directory entry.
    directory : str or None
        A local model directory used in place.
    dim : int or None
        Output width of every layer, checked against the options when known.
    description : str
    options_size, weights_size : int or None
        Expected sizes in bytes, checked on download when known.
    """

    name: str
    options: str | None = None
    weights: str | None = None
    directory: str | None = None
    dim: int | None = None
    description: str = ""
    options_size: int | None = None
    weights_size: int | None = None

    @property
    def downloads(self) -> bool:
        """Whether the files are fetched into the cache (True) or used in place (False)."""
        return self.directory is None and not _is_plain_path(self.options)


def _published(name: str, stem: str, dim: int, description: str) -> RegisteredModel:
    return RegisteredModel(
        name=name,
        options=f"{_S3}/{stem}/elmo_{stem}_options.json",
        weights=f"{_S3}/{stem}/elmo_{stem}_weights.hdf5",
        dim=dim,
        description=description,
    )


# Published sizes are not known (see the module docstring): left None.
_BUILTIN: dict[str, RegisteredModel] = {
    entry.name: entry
    for entry in (
        _published("small", "2x1024_128_2048cnn_1xhighway", 256,
                   "13.6M parameters; LSTM 1024/128, 1 highway layer"),
        _published("medium", "2x2048_256_2048cnn_1xhighway", 512,
                   "28.0M parameters; LSTM 2048/256, 1 highway layer"),
        _published("original", "2x4096_512_2048cnn_2xhighway", 1024,
                   "93.6M parameters; LSTM 4096/512, 2 highway layers"),
        _published("original-5.5b", "2x4096_512_2048cnn_2xhighway_5.5B", 1024,
                   "as original, trained on 5.5B tokens"),
    )
}
#: Name of the model that ships with skelmo, the estimators' default.
BUNDLED_MODEL = "skelmo-en-small"
_BUILTIN[BUNDLED_MODEL] = RegisteredModel(
    name=BUNDLED_MODEL,
    directory=str(Path(__file__).resolve().parents[1] / "_bundled"),
    dim=256,
    description="bundled with skelmo (v2); 2 x 256/128 LSTM, 128 CNN filters, 2 highway layers",
)
_registered: dict[str, RegisteredModel] = {}


# -- where files live -------------------------------------------------------------------------


def cache_dir() -> Path:
    """The default directory of downloaded models.

    ``$SKELMO_HOME`` when set; otherwise ``$XDG_CACHE_HOME/skelmo`` or
    ``~/.cache/skelmo`` on Linux, ``~/Library/Caches/skelmo`` on macOS and
    ``%LOCALAPPDATA%\\skelmo`` on Windows. Every function taking a
    ``cache_dir`` parameter uses this directory when it is None.

    Returns
    -------
    Path

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from skelmo.models import cache_dir
    >>> with mock.patch.dict(os.environ, {"SKELMO_HOME": "/data/elmo"}):
    ...     print(cache_dir().as_posix())
    /data/elmo
    """
    home = os.environ.get("SKELMO_HOME")
    if home:
        return Path(home).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "skelmo"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "skelmo"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "skelmo"


def _root(directory: str | os.PathLike[str] | None) -> Path:
    return Path(directory).expanduser() if directory is not None else cache_dir()


def check_model_name(name: Any) -> str:
    """Reject anything that is not one plain file name, so no name leaves the cache."""
    if not isinstance(name, str):
        raise TypeError(f"A model name must be a str, got {type(name).__name__}.")
    if not _NAME.fullmatch(name) or ".." in name:
        raise ValueError(
            f"Invalid model name {name!r}: use letters, digits, '.', '_' and '-' (starting "
            "with a letter or digit, no '..', no path separators), at most 100 characters."
        )
    return name


def model_directory(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory a downloaded model is cached in (whether or not it exists yet).

    Parameters
    ----------
    name : str
    cache_dir : str or path-like, optional
        Defaults to :func:`cache_dir`.

    Returns
    -------
    Path
    """
    models = _root(cache_dir) / "models"
    directory = models / check_model_name(name)
    # Belt and braces, and lexical: the model's folder itself may be a symbolic link (to
    # another disk, say), which resolve() would follow out of the cache.
    if Path(os.path.abspath(directory)).parent != Path(os.path.abspath(models)):
        raise ValueError(f"Invalid model name {name!r}: it leaves the cache directory.")
    return directory


def _lock_file(root: Path, name: str) -> Path:
    return root / "locks" / f"{name}.lock"


# -- the registry -----------------------------------------------------------------------------


def register(
    name: str,
    *,
    options: str | os.PathLike[str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    directory: str | os.PathLike[str] | None = None,
    dim: int | None = None,
    description: str = "",
    options_size: int | None = None,
    weights_size: int | None = None,
    persist: bool = False,
    replace: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> RegisteredModel:
    """Give a name to a model of your own.

    Parameters
    ----------
    name : str
        Letters, digits, ``.``, ``_`` and ``-``.
    options, weights : str or path-like, optional
        Both URLs (``https://`` or ``file://``: downloaded into the cache and
        verified on first use) or both local paths (used in place).
    directory : str or path-like, optional
        A local model directory, used in place; instead of ``options`` and
        ``weights``.
    dim : int, optional
        Expected output width, checked against the options on download.
    description : str, default=""
    options_size, weights_size : int, optional
        Expected sizes in bytes, checked on download.
    persist : bool, default=False
        Also record the name in ``<cache_dir>/registry.json``, where other
        processes and the ``skelmo`` command find it.
    replace : bool, default=False
        Allow replacing a name that is already registered.
    cache_dir : str or path-like, optional
        Directory of the registry file; defaults to :func:`cache_dir`.

    Returns
    -------
    RegisteredModel

    Examples
    --------
    >>> import tempfile
    >>> from skelmo import models
    >>> from skelmo.testing import make_random_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = make_random_model(tmp)
    ...     entry = models.register("my-model", directory=tmp)
    ...     print(models.get_model_files("my-model")[1].name)
    weights.hdf5
    >>> models.unregister("my-model")
    """
    check_model_name(name)
    if directory is not None:
        if options is not None or weights is not None:
            raise ValueError("Pass either directory or options and weights, not both.")
        path = Path(directory).expanduser()
        if not path.is_dir():
            raise ModelFileNotFoundError(path, "no such model directory.")
        entry = RegisteredModel(name, directory=str(path.resolve()), dim=dim,
                                description=description)
    else:
        if options is None or weights is None:
            raise ValueError("Pass both options and weights (or a directory).")
        options, weights = os.fspath(options), os.fspath(weights)
        if _is_plain_path(options) != _is_plain_path(weights):
            raise ValueError("options and weights must both be URLs or both be local paths.")
        if _is_plain_path(options):
            options = str(Path(options).expanduser().resolve())
            weights = str(Path(weights).expanduser().resolve())
            for path, what in ((options, "options"), (weights, "weights")):
                check_model_file(path, what)
        else:
            check_url(options)
            check_url(weights)
        entry = RegisteredModel(name, options=options, weights=weights, dim=dim,
                                description=description, options_size=options_size,
                                weights_size=weights_size)
    root = _root(cache_dir)
    if not replace and _find(name, root) is not None:
        raise ValueError(f"A model named {name!r} is already registered; pass replace=True.")
    _registered[name] = entry
    if persist:
        with file_lock(root / "locks" / "registry.lock"):
            saved = _read_registry(root)
            saved[name] = entry
            _write_registry(root, saved)
    return entry


def unregister(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> None:
    """Forget a name given with :func:`register` (also from the registry file).

    Cached files are left in place. The published names cannot be removed.

    Parameters
    ----------
    name : str
    cache_dir : str or path-like, optional
    """
    check_model_name(name)
    _registered.pop(name, None)
    root = _root(cache_dir)
    if (root / _REGISTRY_NAME).is_file():
        with file_lock(root / "locks" / "registry.lock"):
            saved = _read_registry(root)
            if saved.pop(name, None) is not None:
                _write_registry(root, saved)


def available_models(*, cache_dir: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of every registered model: the published ones first, then yours.

    Parameters
    ----------
    cache_dir : str or path-like, optional
        Where to look for a registry file; defaults to :func:`cache_dir`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from skelmo.models import available_models
    >>> available_models()[:4]
    ['small', 'medium', 'original', 'original-5.5b']
    """
    names = list(_BUILTIN)
    user = {**_read_registry(_root(cache_dir)), **_registered}
    names += sorted(name for name in user if name not in _BUILTIN)
    return names


def lookup(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> RegisteredModel:
    """The registry entry of ``name``.

    Raises
    ------
    KeyError
        If no model has that name; the message lists the registered names.
    """
    check_model_name(name)
    entry = _find(name, _root(cache_dir))
    if entry is None:
        raise KeyError(
            f"No model named {name!r}. Registered names: "
            f"{', '.join(available_models(cache_dir=cache_dir))}."
        )
    return entry


def _find(name: str, root: Path) -> RegisteredModel | None:
    if name in _registered:
        return _registered[name]
    saved = _read_registry(root)
    if name in saved:
        return saved[name]
    return _BUILTIN.get(name)


# The fields of an entry in registry.json, and the type each holds when it is not null.
_ENTRY_FIELDS: dict[str, type] = {
    "options": str, "weights": str, "directory": str, "dim": int, "description": str,
    "options_size": int, "weights_size": int,
}


def _read_registry(root: Path) -> dict[str, RegisteredModel]:
    path = root / _REGISTRY_NAME
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            raise ValueError("it needs a 'models' object mapping names to entries")
        return {name: _entry_from_file(name, fields) for name, fields in data["models"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(
            path, f"not a valid skelmo registry file ({exc}); fix or delete it."
        ) from None


def _entry_from_file(name: str, fields: Any) -> RegisteredModel:
    """One entry of registry.json, checked field by field; ValueError if it is malformed."""
    check_model_name(name)
    if not isinstance(fields, dict):
        raise ValueError(f"the entry of {name!r} is not an object")
    for key, value in fields.items():
        kind = _ENTRY_FIELDS.get(key)
        if kind is None:
            raise ValueError(f"the entry of {name!r} has an unknown field {key!r}")
        if (value is None and key != "description") or (
                isinstance(value, kind) and not isinstance(value, bool)):
            continue
        raise ValueError(f"the {key!r} of {name!r} must be "
                         f"{'a string' if kind is str else 'an integer'}, got {value!r}")
    entry = RegisteredModel(name=name, **fields)
    if entry.directory is not None:
        valid = entry.options is None and entry.weights is None
    else:
        valid = (entry.options is not None and entry.weights is not None
                 and _is_plain_path(entry.options) == _is_plain_path(entry.weights))
    if not valid:
        raise ValueError(f"the entry of {name!r} needs either a 'directory' or both 'options' "
                         "and 'weights' (both URLs or both paths)")
    return entry


def _write_registry(root: Path, entries: dict[str, RegisteredModel]) -> None:
    data = {"format": 1, "models": {
        name: {k: v for k, v in asdict(entry).items() if k != "name"}
        for name, entry in sorted(entries.items())
    }}
    _write_json_atomically(root / _REGISTRY_NAME, data)


# -- getting the files ------------------------------------------------------------------------


def get_model_files(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> tuple[Path, Path]:
    """Return ``(options_file, weight_file)`` of a named model, downloading it if needed.

    Cached files are checked against the SHA-256 recorded at download.

    Parameters
    ----------
    name : str
        A registered name (see :func:`available_models`).
    cache_dir : str or path-like, optional
        Defaults to :func:`cache_dir`.
    download : bool, default=True
        Download the model if it is not cached; with False a missing model
        raises :class:`~skelmo.ModelFileNotFoundError`.
    progress : bool, optional
        Progress bar while downloading (needs tqdm); None: when stderr is a terminal.
    timeout : float, default=60.0
        Seconds to wait to connect and for each read while downloading, above 0
        and at most one day (86400).

    Returns
    -------
    options_file, weight_file : Path

    Raises
    ------
    KeyError
        If the name is not registered.
    ModelDownloadError
        If the download fails.
    ModelIntegrityError
        If a cached file changed since it was downloaded.
    """
    entry = lookup(name, cache_dir=cache_dir)
    if not entry.downloads:
        return _in_place(entry)
    directory = model_directory(name, cache_dir=cache_dir)
    cached = _cached_copy(entry, directory)
    if cached is not None:
        return cached
    if not download:
        what = (f"the cached copy of model {name!r} is of other files than the name is "
                "registered with now (its manifest records other URLs or sizes)"
                if (directory / _MANIFEST_NAME).is_file() else f"model {name!r} is not downloaded")
        raise ModelFileNotFoundError(
            directory,
            f"{what}. Run `skelmo download {name}` or call skelmo.models.download({name!r}).",
        )
    return _fetch_into_cache(entry, cache_dir, force=False, progress=progress,
                             timeout=timeout)


def is_downloaded(name: str, *, cache_dir: str | os.PathLike[str] | None = None) -> bool:
    """Whether a named model's files are in the cache (not checking their checksums).

    Models used in place count as downloaded when their files exist. A cached
    copy whose manifest records other URLs or sizes than the name's entry
    (a name registered again with other files) does not count.
    """
    entry = lookup(name, cache_dir=cache_dir)
    if not entry.downloads:
        try:
            _in_place(entry)
        except ModelFileError:
            return False
        return True
    directory = model_directory(name, cache_dir=cache_dir)
    if not all((directory / f).is_file() for f in (_MANIFEST_NAME, _OPTIONS_NAME, _WEIGHTS_NAME)):
        return False
    try:
        return _is_current(entry, _read_manifest(entry, directory))
    except ModelIntegrityError:
        return True  # a damaged copy is there: loading it says what is wrong


def download(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    force: bool = False,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> tuple[Path, Path]:
    """Download a named model into the cache and verify it.

    Safe to run from several processes at once: a lock file serialises them,
    and the later ones find the model in place. Nothing is downloaded when
    the model is already cached and intact, unless ``force``; such a copy is
    found without taking the lock, so a read-only cache serves it. A copy
    whose manifest records other URLs or sizes than the name's entry (the
    name was registered again) is downloaded again, and stays in place until
    the new files have passed their checks.

    Parameters
    ----------
    name : str
    cache_dir : str or path-like, optional
        Defaults to :func:`cache_dir`.
    force : bool, default=False
        Download again even if the model is cached (repairs a damaged copy).
    progress : bool, optional
        tqdm progress bar; None shows one when stderr is a terminal. Without
        tqdm installed there is no bar.
    timeout : float, default=60.0
        Seconds to wait to connect and for each read, above 0 and at most one
        day (86400).

    Returns
    -------
    options_file, weight_file : Path
    """
    return _fetch_into_cache(lookup(name, cache_dir=cache_dir), cache_dir, force=force,
                             progress=progress, timeout=timeout)


def _fetch_into_cache(entry: RegisteredModel, cache_dir: str | os.PathLike[str] | None, *,
                      force: bool, progress: bool | None, timeout: float
                      ) -> tuple[Path, Path]:
    if not entry.downloads:
        return _in_place(entry)
    timeout = check_timeout(timeout)
    name = entry.name
    root = _root(cache_dir)
    directory = model_directory(name, cache_dir=cache_dir)
    manifest_file = directory / _MANIFEST_NAME
    if not force:
        # An intact copy needs no lock, so a read-only cache serves it too.
        try:
            cached = _cached_copy(entry, directory)
        except ModelIntegrityError:  # damaged, or being replaced now: look again under the lock
            cached = None
        if cached is not None:
            return cached
    with file_lock(_lock_file(root, name)):
        if not force:
            cached = _cached_copy(entry, directory)
            if cached is not None:
                return cached
        directory.mkdir(parents=True, exist_ok=True)
        # Left over by an interrupted run: only a lock holder writes them.
        for stale in (*directory.glob(".*.part"), *directory.glob(".*.tmp")):
            stale.unlink(missing_ok=True)
        options_file, weight_file = directory / _OPTIONS_NAME, directory / _WEIGHTS_NAME
        assert entry.options is not None and entry.weights is not None
        parsed: list[ElmoOptions] = []

        def check_options(path: Path) -> None:
            options = read_options(path)
            if entry.dim is not None and options.output_dim != entry.dim:
                raise ModelDownloadError(
                    entry.options or "",
                    f"the options describe a model with output width {options.output_dim}, "
                    f"but {name!r} is registered with dim={entry.dim}.",
                )
            parsed.append(options)

        def check_weights(path: Path) -> None:
            read_weights(path, parsed[0])  # every dataset, shape and value readable

        files = {}
        with ExitStack() as staged:
            # Both files are fetched and verified under temporary names first: until both
            # have passed, a copy already in place stays as it was, manifest and all.
            for url, path, size, check, what in (
                (entry.options, options_file, entry.options_size, check_options,
                 "ELMo options file"),
                (entry.weights, weight_file, entry.weights_size, check_weights,
                 "ELMo weights file"),
            ):
                tmp = staged.enter_context(atomic_path(path, suffix=".part"))
                n_bytes, sha256 = fetch(url, tmp, expected_size=size, timeout=timeout,
                                        progress=progress, verify=check, what=what,
                                        label=path.name)
                files[path.name] = {"url": url, "size": n_bytes, "sha256": sha256}
            # Leaving the block renames both into place. The old manifest goes first, so a
            # directory left half swapped by a crash has none: it reads as not downloaded
            # (and is fetched again), never as a verified model of mixed files.
            manifest_file.unlink(missing_ok=True)
        _write_json_atomically(manifest_file,
                               {"format": _MANIFEST_FORMAT, "name": name, "files": files})
    return options_file, weight_file


def bundled_model_files() -> tuple[Path, Path]:
    """The two files of the model that ships with skelmo, :data:`BUNDLED_MODEL`.

    Reads no registry file: the bundled model needs none, so a damaged
    ``registry.json`` cannot keep the estimators' default from loading.

    Returns
    -------
    options_file, weight_file : Path

    Raises
    ------
    ModelFileNotFoundError
        If the installation lacks the bundled files.
    """
    return _in_place(_BUILTIN[BUNDLED_MODEL])


def _in_place(entry: RegisteredModel) -> tuple[Path, Path]:
    if entry.directory is not None:
        directory = Path(entry.directory)
        if not directory.is_dir():
            raise ModelFileNotFoundError(
                directory, f"no such model directory (registered as {entry.name!r}).")
        return files_in_directory(directory)
    return files_of_pair(local_path(entry.options or ""), local_path(entry.weights or ""))


# (path, inode, size, mtime, ctime) -> sha256, for files already checked in this process.
_checked: dict[tuple[Any, ...], str] = {}


def _cached_copy(entry: RegisteredModel, directory: Path) -> tuple[Path, Path] | None:
    """The verified files of the cached copy of ``entry``, None if it must be downloaded.

    None when there is no copy, or when its manifest records other URLs or sizes
    than ``entry`` (the name was registered again): that copy is not the model
    registered now. Raises :class:`ModelIntegrityError` for a damaged copy.
    """
    if not (directory / _MANIFEST_NAME).is_file():
        return None
    records = _read_manifest(entry, directory)
    if not _is_current(entry, records):
        return None
    return _verified_files(entry, directory, records)


def _read_manifest(entry: RegisteredModel, directory: Path) -> dict[str, dict[str, Any]]:
    """The manifest's record of each file; ModelIntegrityError if it is unreadable or malformed."""
    manifest_file = directory / _MANIFEST_NAME
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelIntegrityError(manifest_file, _damaged(entry.name, directory,
                                                          "the manifest is unreadable")) from None
    recorded = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(recorded, dict):
        raise ModelIntegrityError(manifest_file, _damaged(entry.name, directory,
                                                          "the manifest is malformed"))
    records = {}
    for file_name in (_OPTIONS_NAME, _WEIGHTS_NAME):
        record = recorded.get(file_name)
        if not isinstance(record, dict) or "sha256" not in record:
            raise ModelIntegrityError(manifest_file, _damaged(
                entry.name, directory, f"the manifest has no checksum for {file_name}"))
        size, url = record.get("size"), record.get("url")
        if not isinstance(record["sha256"], str) \
                or (size is not None and (isinstance(size, bool) or not isinstance(size, int))) \
                or (url is not None and not isinstance(url, str)):
            raise ModelIntegrityError(manifest_file, _damaged(
                entry.name, directory, f"the manifest's record of {file_name} is malformed"))
        records[file_name] = record
    return records


def _is_current(entry: RegisteredModel, records: dict[str, dict[str, Any]]) -> bool:
    """Whether a manifest's records are of the files ``entry`` registers: same URLs and sizes."""
    for file_name, url, size in ((_OPTIONS_NAME, entry.options, entry.options_size),
                                 (_WEIGHTS_NAME, entry.weights, entry.weights_size)):
        record = records[file_name]
        if record.get("url") != url or (size is not None and record.get("size") != size):
            return False
    return True


def _verified_files(entry: RegisteredModel, directory: Path,
                    records: dict[str, dict[str, Any]]) -> tuple[Path, Path]:
    paths = []
    for file_name in (_OPTIONS_NAME, _WEIGHTS_NAME):
        path = directory / file_name
        record = records[file_name]
        if not path.is_file():
            raise ModelIntegrityError(path, _damaged(entry.name, directory, "the file is missing"))
        stat = path.stat()
        key = (str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        if _checked.get(key) != record["sha256"]:
            if record.get("size") is not None and stat.st_size != record["size"]:
                raise ModelIntegrityError(path, _damaged(
                    entry.name, directory,
                    f"it has {stat.st_size} bytes, {record['size']} were downloaded"))
            actual = sha256_file(path)
            if actual != record["sha256"]:
                raise ModelIntegrityError(path, _damaged(
                    entry.name, directory,
                    f"its SHA-256 is {actual}, {record['sha256']} was recorded at download"))
            _checked[key] = actual
        paths.append(path)
    return paths[0], paths[1]


def _damaged(name: str, directory: Path, why: str) -> str:
    root = directory.parent.parent
    option = argument = ""
    if Path(os.path.abspath(root)) != Path(os.path.abspath(cache_dir())):
        option, argument = f" --cache-dir {shlex.quote(str(root))}", f", cache_dir={str(root)!r}"
    return (f"the cached copy of model {name!r} is damaged or was changed ({why}). "
            f"Download it again with `skelmo download {name} --force{option}` (or "
            f"skelmo.models.download({name!r}, force=True{argument})), or delete {directory}.")


def _write_json_atomically(path: Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _is_plain_path(location: str | None) -> bool:
    """A local path (not a URL): used in place rather than copied into the cache."""
    if location is None:
        return False
    return is_local(location) and not location.lower().startswith("file:")
