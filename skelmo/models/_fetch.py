"""Fetch one file from a URL into place: streamed, size-checked, verified, atomic.

A file is written under a temporary name (``.NAME.XXXX.part``) in its
destination directory and renamed to its final name only once it is complete
and has passed its checks, so an interrupted or failed download never leaves
a file that a later run would load.

Remote files must come over ``https://``. ``file://`` URLs and plain paths
read a local copy. Plain ``http://`` is refused, except to ``127.0.0.1`` or
``localhost`` when the environment variable ``SKELMO_ALLOW_INSECURE_LOCALHOST``
is ``1``: that switch exists for skelmo's own tests, which serve models from a
local HTTP server; do not set it otherwise.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from .._utils import atomic_path, progress_bar

__all__ = ["ModelDownloadError", "check_url", "fetch", "is_local", "local_path"]

_CHUNK = 1 << 20
_INSECURE_ENV = "SKELMO_ALLOW_INSECURE_LOCALHOST"
_LOCAL_HOSTS = ("127.0.0.1", "localhost")
_USER_AGENT = "skelmo-model-download"


class ModelDownloadError(OSError):
    """A model file could not be downloaded, or what came was not the expected file.

    Attributes
    ----------
    url : str
        The address that failed.
    """

    def __init__(self, url: str, message: str):
        self.url = url
        super().__init__(
            f"Could not download {url}: {message} To use a copy you already have, pass "
            "model='path/to/model_dir' (a directory holding options.json and the weights "
            "file) or register it: skelmo.models.register('name', "
            "options='path/options.json', weights='path/weights.hdf5')."
        )


def is_local(url: str) -> bool:
    """Whether ``url`` is a ``file://`` URL or a plain path rather than a network address."""
    scheme = urllib.parse.urlsplit(str(url)).scheme.lower()
    # A one-letter scheme is a Windows drive ("C:\\models\\...").
    return scheme in ("", "file") or len(scheme) == 1


def local_path(url: str) -> Path:
    """The file a ``file://`` URL or plain path names."""
    parts = urllib.parse.urlsplit(str(url))
    if parts.scheme.lower() == "file":
        return Path(urllib.request.url2pathname(parts.path))
    return Path(url)


def check_url(url: str) -> None:
    """Raise :class:`ModelDownloadError` unless ``url`` may be fetched."""
    if is_local(url):
        return
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return
    if scheme == "http" and parts.hostname in _LOCAL_HOSTS \
            and os.environ.get(_INSECURE_ENV) == "1":
        return
    raise ModelDownloadError(
        url, "only https:// URLs (or file:// URLs and local paths) are allowed for model files."
    )


def fetch(
    url: str,
    destination: Path,
    *,
    expected_size: int | None = None,
    timeout: float = 60.0,
    progress: bool | None = None,
    verify: Callable[[Path], None] | None = None,
) -> tuple[int, str]:
    """Download ``url`` to ``destination``, replacing it atomically once verified.

    Parameters
    ----------
    url : str
        ``https://`` URL, ``file://`` URL or local path.
    destination : Path
        Final path; its directory must exist.
    expected_size : int, optional
        Size in bytes the file must have.
    timeout : float, default=60.0
        Seconds to wait to connect and for each read.
    progress : bool, optional
        Show a tqdm progress bar (True needs tqdm); None: when stderr is a
        terminal and tqdm is installed.
    verify : callable, optional
        Called with the complete temporary file; raises if it is not valid.

    Returns
    -------
    size, sha256 : int, str
        Of the file now at ``destination``.
    """
    check_url(url)
    with atomic_path(destination, suffix=".part") as tmp:
        with open(tmp, "wb") as out:
            if is_local(url):
                size, digest = _copy_local(url, out)
            else:
                size, digest = _stream(url, out, timeout, progress, destination.name)
        if expected_size is not None and size != expected_size:
            raise ModelDownloadError(
                url, f"got {size} bytes but expected {expected_size}; the file is incomplete "
                "or not the published one."
            )
        if verify is not None:
            verify(tmp)
    return size, digest


def _copy_local(url: str, out: BinaryIO) -> tuple[int, str]:
    source = local_path(url)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(source, "rb") as fin:
            while chunk := fin.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise ModelDownloadError(url, f"cannot read the local file ({exc.strerror or exc}).") \
            from None
    return size, digest.hexdigest()


def _stream(url: str, out: BinaryIO, timeout: float, progress: bool | None,
            label: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    size = 0
    declared: int | None = None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = _content_length(response)
            with progress_bar("auto" if progress is None else progress, total=declared,
                              desc=label, unit="B", unit_scale=True,
                              unit_divisor=1024) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise ModelDownloadError(url, f"the server answered HTTP {exc.code} {exc.reason}.") \
            from None
    except urllib.error.URLError as exc:
        raise ModelDownloadError(url, f"no connection ({exc.reason}).") from None
    except TimeoutError:
        raise ModelDownloadError(
            url, f"the server sent nothing for {timeout:g} seconds (timed out)."
        ) from None
    except http.client.IncompleteRead as exc:
        raise ModelDownloadError(
            url, f"the connection closed after {size + len(exc.partial)} bytes of "
            f"{declared} (incomplete download)."
        ) from None
    except (ConnectionError, http.client.HTTPException) as exc:
        raise ModelDownloadError(url, f"the connection failed ({exc}).") from None
    if declared is not None and size != declared:
        raise ModelDownloadError(
            url, f"got {size} bytes but the server announced {declared} (incomplete download)."
        )
    return size, digest.hexdigest()


def _content_length(response: Any) -> int | None:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
