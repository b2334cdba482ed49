"""Small jobs every layer shares: atomic file writes, checksums, progress bars.

This module imports nothing from skelmo, so any module may import it.

Progress bars follow one rule everywhere: ``progress=True`` always shows a
bar (and needs tqdm), ``False`` never does, and ``"auto"`` shows one when
stderr is a terminal, tqdm is installed and the work is large enough to be
worth watching (each caller sets that threshold; most use none).
"""

from __future__ import annotations

import hashlib
import numbers
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

__all__ = [
    "PRECISIONS",
    "STATE_POLICIES",
    "atomic_path",
    "check_integer",
    "check_progress",
    "import_optional",
    "progress_bar",
    "replace_keeping_mode",
    "same_file",
    "sha256_file",
    "temporary_path",
]

#: The LSTM initial-state policies (:mod:`skelmo._engine` implements them). Kept here so
#: that the command line lists them without importing torch.
STATE_POLICIES = ("warm", "zero", "stateful")

#: The precisions the biLM runs and trains in: ``"bfloat16"`` multiplies bfloat16 matrices
#: with float32 accumulation. Kept here, like the policies, for the command line.
PRECISIONS = ("float32", "bfloat16")

_CHUNK = 1 << 20


@contextmanager
def temporary_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh, empty file under a temporary name beside ``path``, removed on exit.

    Yields ``.NAME.XXXXXXXX<suffix>`` in ``path``'s directory (created if
    missing), with the permissions an ordinary ``open()`` gives. The file is
    removed when the ``with`` block ends, unless it was renamed away first
    (by :func:`replace_keeping_mode`, say): the building block of
    :func:`atomic_path`, for a writer that renames several files itself.

    Parameters
    ----------
    path : str or path-like
        The final file.
    suffix : str, default=".tmp"
        Ending of the temporary name.

    Yields
    ------
    Path
        The temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{suffix}"
        try:
            # 0o666 filtered by the umask: the permissions an ordinary open() gives.
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def replace_keeping_mode(source: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Rename ``source`` onto ``path`` in one step, giving it ``path``'s permission bits.

    When ``path`` exists, ``source`` first takes its permission bits
    (``0o777``; never set-user-ID and the like), so that replacing a private
    ``0600`` file does not make it readable by others. A file system that
    refuses the change of mode leaves ``source``'s own.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode) & 0o777
    except OSError:
        mode = None  # nothing to replace (or nothing readable): keep the new file's mode
    if mode is not None:
        with suppress(OSError):
            os.chmod(source, mode)
    os.replace(source, path)


@contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Write a file under a temporary name beside ``path``, then rename it into place.

    Yields a fresh, empty file ``.NAME.XXXXXXXX<suffix>`` in ``path``'s
    directory (created if missing). When the ``with`` block ends normally the
    file replaces ``path`` in one rename, keeping the permission bits of the
    file it replaces (:func:`replace_keeping_mode`); a new file gets those an
    ordinary ``open()`` gives. When the block raises (a failed check, an
    interrupt), the temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : str or path-like
        The final file.
    suffix : str, default=".tmp"
        Ending of the temporary name.

    Yields
    ------
    Path
        The temporary file to write.
    """
    with temporary_path(path, suffix) as tmp:
        yield tmp
        replace_keeping_mode(tmp, path)


def import_optional(module: str, install: str) -> Any:
    """Import ``module`` of an optional extra, or raise ImportError with ``install``'s advice."""
    try:
        __import__(module)
    except ImportError as error:
        raise ImportError(install) from error
    return sys.modules[module]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name one file: the same path, through symbolic links, or a hard link.

    Paths that need not exist yet compare by where they resolve to. A path
    that cannot be resolved (a loop of symbolic links) compares as written.
    """
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except (OSError, RuntimeError):
        return os.path.abspath(a) == os.path.abspath(b)


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file, read in pieces of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as fin:
        while chunk := fin.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_integer(value: Any, name: str, *, minimum: int = 1,
                  none_ok: bool = False) -> int | None:
    """Return ``value`` as an int if it is an integer of at least ``minimum``, else raise.

    ``minimum`` is 1 ("a positive integer") or 0 ("a non-negative integer");
    with ``none_ok``, None is accepted and returned. Booleans are refused.
    """
    if none_ok and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise ValueError(f"{name} must be {'None or ' if none_ok else ''}{kind}, got {value!r}.")
    return int(value)


def check_progress(progress: Any) -> bool | str:
    """Return ``progress`` if it is ``"auto"``, True or False, else raise ValueError."""
    if progress is True or progress is False or (isinstance(progress, str)
                                                 and progress == "auto"):
        return progress
    raise ValueError(f"progress must be 'auto', True or False, got {progress!r}.")


class _NoBar:
    """Stands in for a tqdm bar when none is shown."""

    def update(self, n: int = 1) -> None:
        """Do nothing."""

    def set_postfix(self, **values: Any) -> None:
        """Do nothing."""

    def close(self) -> None:
        """Do nothing."""


@contextmanager
def progress_bar(progress: bool | str, *, total: int | None, desc: str, unit: str,
                 initial: int = 0, auto_minimum: int = 0, **options: Any) -> Iterator[Any]:
    """A tqdm progress bar on stderr under the module's rule, closed on exit.

    Parameters
    ----------
    progress : {"auto", True, False}
        See the module docstring.
    total : int or None
        Units of work in all, when known.
    desc, unit : str
        Label and unit shown by the bar.
    initial : int, default=0
        Units already done (a resumed run).
    auto_minimum : int, default=0
        Under ``"auto"``, show no bar for fewer than this many units.
    **options
        Passed to tqdm (``unit_scale``, ...).

    Yields
    ------
    object
        A tqdm bar, or an object with the same ``update``, ``set_postfix``
        and ``close`` that does nothing.

    Raises
    ------
    ImportError
        If ``progress`` is True and tqdm is not installed.
    """
    check_progress(progress)
    show = progress is True or (
        progress == "auto" and sys.stderr.isatty()
        and (total is None or total >= auto_minimum)
    )
    bar: Any = _NoBar()
    if show:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if progress is True:
                raise ImportError("progress=True needs tqdm: pip install tqdm") from None
        else:
            bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, **options)
    try:
        yield bar
    finally:
        bar.close()
