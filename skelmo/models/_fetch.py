"""Fetch one file from a URL into a file of the caller's: streamed, size-checked, verified.

The caller gives a temporary file (the registry uses ``.NAME.XXXX.part`` in
the model's directory) and renames it to its final name only once every file
of the model is complete and has passed its checks, so an interrupted or
failed download never leaves a file that a later run would load.

Remote files must come over ``https://``. ``file://`` URLs and plain paths
read a local copy. Plain ``http://`` is refused, except to ``127.0.0.1`` or
``localhost`` when the environment variable ``SKELMO_ALLOW_INSECURE_LOCALHOST``
is ``1``: that switch exists for skelmo's own tests, which serve models from a
local HTTP server; do not set it otherwise. The same rule holds for every hop
of a redirect, except that a server can never redirect to a local file
(``file://``) or to any other scheme: downloads go through an opener of
skelmo's own whose redirect handler checks each new address before it is
requested.
"""

from __future__ import annotations

import hashlib
import http.client
import numbers
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from .._utils import progress_bar

__all__ = ["MAX_TIMEOUT", "ModelDownloadError", "check_timeout", "check_url", "fetch",
           "is_local", "local_path"]

_CHUNK = 1 << 20
#: The longest timeout accepted, in seconds (one day); a socket refuses far larger ones.
MAX_TIMEOUT = 86400.0
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
    if not _remote_allowed(url):
        raise ModelDownloadError(
            url,
            "only https:// URLs (or file:// URLs and local paths) are allowed for model files.",
        )


def check_timeout(timeout: Any) -> float:
    """Return ``timeout`` as a float if it is a number of seconds in (0, MAX_TIMEOUT], else raise.

    Raises
    ------
    ValueError
        If ``timeout`` is not a number above 0 and at most :data:`MAX_TIMEOUT`.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) \
            or not 0 < timeout <= MAX_TIMEOUT:
        raise ValueError(f"timeout must be a number of seconds above 0 and at most "
                         f"{MAX_TIMEOUT:g} (one day), got {timeout!r}.")
    return float(timeout)


def _remote_allowed(url: str) -> bool:
    """Whether ``url`` is a network address files may come from (never a local file)."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "https":
        return True
    return (scheme == "http" and parts.hostname in _LOCAL_HOSTS
            and os.environ.get(_INSECURE_ENV) == "1")


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to an address :func:`check_url` allows, and never to a file."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        _check_redirect(req.full_url, newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                       headers: Any) -> Any:
        # urllib itself turns a redirect to a scheme it will not follow (file://, data:)
        # into an HTTPError before redirect_request is asked; check first, to say why.
        location = headers.get("location") or headers.get("uri")
        if location:
            try:
                _check_redirect(req.full_url, urllib.parse.urljoin(req.full_url, location))
            except ModelDownloadError:
                fp.close()
                raise
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _check_redirect(url: str, newurl: str) -> None:
    if not _remote_allowed(newurl):
        raise ModelDownloadError(
            url,
            f"the server redirected to {newurl}, which is refused: model files may come "
            "only from https:// addresses, and a server may not redirect to a local file.",
        )


def _opener() -> urllib.request.OpenerDirector:
    """The opener of skelmo's downloads (the process-wide one is left alone)."""
    return urllib.request.build_opener(_RedirectHandler)


def fetch(
    url: str,
    destination: Path,
    *,
    expected_size: int | None = None,
    timeout: float = 60.0,
    progress: bool | None = None,
    verify: Callable[[Path], None] | None = None,
    what: str = "file",
    label: str | None = None,
) -> tuple[int, str]:
    """Download ``url`` into ``destination`` and verify it there.

    ``destination`` is the caller's temporary file: it is overwritten, and on
    any failure left for the caller to delete.

    Parameters
    ----------
    url : str
        ``https://`` URL, ``file://`` URL or local path.
    destination : Path
        The file to write; its directory must exist.
    expected_size : int, optional
        Size in bytes the file must have.
    timeout : float, default=60.0
        Seconds to wait to connect and for each read, above 0 and at most
        :data:`MAX_TIMEOUT`.
    progress : bool, optional
        Show a tqdm progress bar (True needs tqdm); None: when stderr is a
        terminal and tqdm is installed.
    verify : callable, optional
        Called with the complete file; raises if it is not valid.
    what : str, default="file"
        What the file should be, for the message when ``verify`` fails
        ("ELMo weights file").
    label : str, optional
        Name on the progress bar; defaults to ``destination``'s name.

    Returns
    -------
    size, sha256 : int, str
        Of the file now at ``destination``.

    Raises
    ------
    ModelDownloadError
        Naming ``url``, whatever went wrong: the address is refused, the
        transfer failed or was incomplete, ``destination`` could not be
        written (a full disk), or ``verify`` rejected what came (chained from
        ``verify``'s exception).
    ValueError
        If ``timeout`` is out of range.
    """
    check_url(url)
    timeout = check_timeout(timeout)
    try:
        # Unbuffered: every write reaches the file in _write, so a full disk shows there.
        out = open(destination, "wb", buffering=0)
    except OSError as exc:
        raise _write_error(url, destination, exc) from None
    with out:
        if is_local(url):
            size, digest = _copy_local(url, out, destination)
        else:
            size, digest = _stream(url, out, destination, timeout, progress,
                                   label or destination.name)
    if expected_size is not None and size != expected_size:
        raise ModelDownloadError(
            url, f"got {size} bytes but expected {expected_size}; the file is incomplete "
            "or not the published one."
        )
    if verify is not None:
        try:
            verify(destination)
        except ModelDownloadError:
            raise
        except Exception as exc:
            source = "the file" if is_local(url) else "what the server sent"
            raise ModelDownloadError(
                url, f"{source} is not a valid {what}: {_without_path(exc, destination)}"
            ) from exc
    return size, digest


def _without_path(exc: Exception, path: Path) -> str:
    """``exc``'s message with no mention of ``path``, a temporary file the user never sees."""
    message = str(exc)
    where = str(getattr(exc, "path", None) or "")
    if where == str(path) and message.startswith(where):
        message = message[len(where):].lstrip(" :")  # "PATH [key]: why" -> "[key]: why"
    return message.replace(str(path), "the downloaded file")


def _write_error(url: str, destination: Path, exc: OSError) -> ModelDownloadError:
    return ModelDownloadError(
        url, f"could not write the download into {destination.parent} ({exc.strerror or exc}). "
        "Free some disk space there, or choose another cache directory (cache_dir=, "
        "--cache-dir or SKELMO_HOME)."
    )


def _write(url: str, destination: Path, out: BinaryIO, chunk: bytes) -> None:
    """Write all of ``chunk`` to the unbuffered ``out``; an OSError becomes a ModelDownloadError."""
    view = memoryview(chunk)
    try:
        while view:
            view = view[out.write(view):]
    except OSError as exc:  # a full disk, a failing device
        raise _write_error(url, destination, exc) from None


def _copy_local(url: str, out: BinaryIO, destination: Path) -> tuple[int, str]:
    source = local_path(url)
    digest = hashlib.sha256()
    size = 0
    try:
        with open(source, "rb") as fin:
            while chunk := fin.read(_CHUNK):
                _write(url, destination, out, chunk)
                digest.update(chunk)
                size += len(chunk)
    except ModelDownloadError:  # the copy could not be written
        raise
    except OSError as exc:
        raise ModelDownloadError(url, f"cannot read the local file ({exc.strerror or exc}).") \
            from None
    return size, digest.hexdigest()


def _stream(url: str, out: BinaryIO, destination: Path, timeout: float,
            progress: bool | None, label: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    size = 0
    declared: int | None = None
    try:
        with _opener().open(request, timeout=timeout) as response:
            declared = _content_length(response)
            with progress_bar("auto" if progress is None else progress, total=declared,
                              desc=label, unit="B", unit_scale=True,
                              unit_divisor=1024) as bar:
                while chunk := response.read(_CHUNK):
                    _write(url, destination, out, chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except ModelDownloadError:  # a refused redirect, a failed write
        raise
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
        received = size + len(exc.partial)
        if isinstance(exc.__cause__, http.client.IncompleteRead):
            # A chunked transfer: the bytes of the chunk cut short are in the cause only.
            received += len(exc.__cause__.partial)
        of = f" of {declared}" if declared is not None else ", before the end of the transfer"
        raise ModelDownloadError(
            url, f"the connection closed after {received} bytes{of} (incomplete download)."
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
