"""A persistent store of per-document arrays on disk, shared by processes.

The on-disk sibling of :class:`~skelmo._engine.ActivationCache`: the same
values (an ndarray or a tuple of ndarrays) under keys made by
:func:`disk_cache_key`, kept in a directory that any number of processes
(joblib workers, Dask or Spark executors on one machine, later runs) read and
write at once.

Layout
    ``DIRECTORY/v1/HH/HEX.entry``, where ``HEX`` is the key in hexadecimal and
    ``HH`` its first two characters (256 subdirectories, so that no directory
    grows huge). Nothing outside ``DIRECTORY/v1`` is ever written or removed,
    except the short-lived ``DIRECTORY/.v1.*.deleting`` directory of
    :meth:`DiskCache.clear`.

File format (version 1), little-endian
    ======  =======================================================
    bytes   content
    ======  =======================================================
    8       magic ``b"\\x89SKELMO\\n"``
    4       format version, uint32 (1)
    4       length ``H`` of the JSON header, uint32
    32      SHA-256 of the JSON header and the payload together
    H       JSON header (ASCII): ``{"key": HEX, "kind": "array" or
            "tuple", "arrays": [[DTYPE, SHAPE], ...]}``, ``DTYPE``
            being NumPy's ``dtype.str`` (``"<f4"``) and ``SHAPE`` a
            list of ints
    ...     payload: each array's bytes in C order, one after another
    ======  =======================================================

    Nothing is pickled: dtypes are limited to booleans and numbers, and the
    arrays are read straight into fresh, aligned, writable ndarrays. A file
    whose magic, version, key, header, length or checksum is wrong is a miss:
    it is removed and the caller recomputes the value. The checksum is what
    makes skipping ``fsync`` safe: a file damaged by a crash is caught on read.

Concurrency
    Every entry is written under a unique temporary name in its final
    directory and renamed into place (:func:`skelmo._utils.atomic_path`), so a
    reader sees no file or a complete one, and when several processes write
    one key the last rename wins (they write the same value anyway). A hit
    sets the file's modification time, so least-recently-used eviction works
    across processes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import numbers
import os
import re
import secrets
import shutil
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._utils import atomic_path, check_integer

if TYPE_CHECKING:  # joblib is only named in annotations, never imported
    from joblib import Memory

__all__ = ["DiskCache", "disk_cache_key"]

Value = np.ndarray | tuple[np.ndarray, ...]

MAGIC = b"\x89SKELMO\n"
VERSION = 1
_PREFIX = struct.Struct("<8sII32s")
_MAX_HEADER = 1 << 20
_SUFFIX = ".entry"
_KEY_BYTES = (16, 64)  # accepted key lengths, inclusive
_ENTRY = re.compile(r"[0-9a-f]{32,128}\.entry")
_TEMPORARY = re.compile(r"\.[0-9a-f]{32,128}\.entry\.[0-9a-f]+\.tmp")
_TRASH = re.compile(r"\.v1\.[0-9a-f]+\.deleting")
_STALE_SECONDS = 3600  # a temporary file this old was left by a process that died
_KINDS = "biufc"  # booleans, integers, floats, complex numbers
_LOW_WATER = 0.9  # eviction stops at this fraction of max_bytes
_RESCAN_FRACTION = 0.1  # rescan after writing this fraction of max_bytes


class _Corrupt(Exception):
    """An entry file that is not a valid entry for its key."""


def disk_cache_key(*parts: str | bytes | int | tuple[Any, ...]) -> bytes:
    """A stable 32-byte SHA-256 digest naming a computation, for :class:`DiskCache`.

    The parts are serialized canonically and unambiguously before hashing:
    each value is written as a type tag and its length, then its content
    (strings as UTF-8, ints in decimal, tuples as their item count followed
    by their items), so no two different part lists share a serialization:
    ``("ab", "c")`` and ``("a", "bc")``, ``"1"`` and ``1``, ``("a",)`` and
    ``"a"`` all give different keys. Neither pickle nor ``repr`` is used, so
    the key is the same in every process, Python version and platform.

    Parameters
    ----------
    *parts : str, bytes, int or tuple of those
        What identifies the result: what was computed, the model's SHA-256,
        the state policy, the tokenizer, the document's tokens... Tuples
        nest. Booleans, floats, lists and other types raise TypeError.

    Returns
    -------
    bytes
        The SHA-256 digest (32 bytes).

    Examples
    --------
    >>> from skelmo._engine import disk_cache_key
    >>> key = disk_cache_key("pooled", "0" * 64, "warm", "whitespace", ("The", "cat"))
    >>> len(key), key == disk_cache_key("pooled", "0" * 64, "warm", "whitespace", ("The", "cat"))
    (32, True)
    >>> disk_cache_key("ab", "c") == disk_cache_key("a", "bc")
    False
    """
    digest = hashlib.sha256(b"skelmo.disk_cache_key\x00")
    _serialize(parts, digest)
    return digest.digest()


def _serialize(value: Any, digest: Any) -> None:
    """Feed a tagged, length-prefixed encoding of ``value`` to ``digest``."""
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        digest.update(b"s" + len(data).to_bytes(8, "big") + data)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        digest.update(b"b" + len(data).to_bytes(8, "big") + data)
    elif isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        data = str(int(value)).encode("ascii")
        digest.update(b"i" + len(data).to_bytes(8, "big") + data)
    elif isinstance(value, tuple):
        digest.update(b"t" + len(value).to_bytes(8, "big"))
        for item in value:
            _serialize(item, digest)
    else:
        raise TypeError(f"disk_cache_key parts must be str, bytes, int or tuples of them, "
                        f"got {type(value).__name__}: {value!r}")


class DiskCache:
    """Per-document arrays on disk, shared by processes.

    The estimators' ``memory`` parameter: a path or a ``joblib.Memory`` there
    means a ``DiskCache`` of the default bound; pass one yourself to choose
    the bound, and call :meth:`clear` to empty it.

    Values are an ndarray or a tuple of ndarrays (of booleans or numbers, any
    shape), stored under keys from :func:`disk_cache_key` and returned
    exactly: same dtype (byte order included), shape, values, and for a
    tuple, the same number and order of arrays. The file format and the way
    processes share the directory are described in
    :mod:`skelmo._engine._disk_cache`.

    Parameters
    ----------
    directory : str, path-like or joblib.Memory
        Where the entries live (under ``directory/v1``); created, parents
        too, on the first :meth:`put_many`. For a :class:`joblib.Memory`,
        ``Path(memory.location) / "skelmo"``: any object that is not a path
        but has a ``location`` attribute is taken for one, so joblib is not
        imported here. A Memory with no location raises ValueError.
    max_bytes : int, default=10 GiB
        The size bound, in bytes of entry files (a positive integer; read at
        each :meth:`put_many`). When a :meth:`put_many` takes the total past
        it, the least recently used entries (oldest modification time; a hit
        refreshes it) are removed until the total is under 90% of it. An
        entry larger than ``max_bytes`` is not stored.

        Listing the directory costs one ``stat`` per entry, so it is not done
        on every put: each instance keeps a running estimate (the total found
        by its last listing plus the bytes it has written since) and lists
        the directory again when the estimate passes ``max_bytes``, or when it
        has written a tenth of ``max_bytes`` since its last listing (to see
        what other processes wrote). The bound is therefore approximate when
        several processes write at once: each may add up to a tenth of it
        before it looks, so with ``N`` writers the directory may briefly hold
        about ``(1 + N / 10) * max_bytes``.

    Attributes
    ----------
    directory : Path
        The resolved cache directory.
    max_bytes : int
        The size bound.
    hits, misses : int
        Keys found and not found by :meth:`get_many` in this instance (since
        it was made, unpickled or cleared).

    Raises
    ------
    ValueError
        If ``max_bytes`` is not a positive integer, or ``directory`` is a
        Memory without a location.

    Notes
    -----
    An instance pickles as its directory and bound (the counters and the
    estimate start afresh), so it can be sent to worker processes.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from skelmo._engine import DiskCache, disk_cache_key
    >>> with tempfile.TemporaryDirectory() as directory:
    ...     cache = DiskCache(directory, max_bytes=2**20)
    ...     key = disk_cache_key("pooled", "0" * 64, "warm", "whitespace", ("The", "cat"))
    ...     cache.put_many([(key, (np.ones((2, 3), np.float32), np.zeros(0, np.float16)))])
    ...     first, second = cache.get_many([key, disk_cache_key("other")])
    ...     print(type(first).__name__, first[0].shape, first[1].dtype, second)
    ...     print(cache.hits, cache.misses, cache.nbytes > 0)
    ...     cache.clear()
    ...     print(cache.nbytes)
    tuple (2, 3) float16 None
    1 1 True
    0
    """

    def __init__(self, directory: str | os.PathLike[str] | Memory,
                 max_bytes: int = 10 * 2**30):
        if isinstance(directory, (str, os.PathLike)):
            path = Path(directory)
        elif hasattr(directory, "location"):  # a joblib.Memory, duck-typed
            if directory.location is None:
                raise ValueError("Caching on disk needs a location: this joblib.Memory has "
                                 "location=None. Pass Memory(location=DIRECTORY) or a "
                                 "directory.")
            path = Path(directory.location) / "skelmo"
        else:
            raise TypeError(f"directory must be a path or a joblib.Memory, "
                            f"got {type(directory).__name__}.")
        self.directory = path.expanduser().resolve()
        self.max_bytes = check_integer(max_bytes, "max_bytes", minimum=1)
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()        # counters and estimate
        self._scan_lock = threading.Lock()   # one listing at a time
        self._estimate: int | None = None    # None: not listed yet
        self._since_scan = 0

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self.directory), self.max_bytes)

    def __repr__(self) -> str:
        return f"DiskCache({str(self.directory)!r}, max_bytes={self.max_bytes})"

    @property
    def _root(self) -> Path:
        return self.directory / f"v{VERSION}"

    def _path(self, hex_key: str) -> Path:
        return self._root / hex_key[:2] / f"{hex_key}{_SUFFIX}"

    # -- reading ---------------------------------------------------------------------------

    def get_many(self, keys: Sequence[bytes]) -> list[Value | None]:
        """Return the stored value of every key, or None where there is none.

        A damaged or foreign file is removed and counted a miss; a file
        that cannot be opened (permissions, a read-only file system) is a miss
        too. A hit refreshes the entry's modification time (ignoring errors).

        Parameters
        ----------
        keys : list of bytes
            Keys from :func:`disk_cache_key`.

        Returns
        -------
        list
            For each key, an ndarray, a tuple of ndarrays, or None.
        """
        hex_keys = [_check_key(key) for key in keys]
        values = [self._read(hex_key) for hex_key in hex_keys]
        found = sum(value is not None for value in values)
        with self._lock:
            self.hits += found
            self.misses += len(values) - found
        return values

    def _read(self, hex_key: str) -> Value | None:
        path = self._path(hex_key)
        try:
            fin = open(path, "rb")
        except OSError:
            return None
        with fin:
            try:
                value = _read_entry(fin, hex_key)
            except _Corrupt:
                _remove_if_same(path, os.fstat(fin.fileno()))
                return None
            except OSError:
                return None
        now = time.time_ns()
        try:
            os.utime(path, ns=(now, now))
        except OSError:
            pass
        return value

    # -- writing ---------------------------------------------------------------------------

    def put_many(self, items: Iterable[tuple[bytes, Value]]) -> None:
        """Store every ``(key, value)`` pair, replacing what a key held.

        Every pair is checked before any is written. Afterwards, entries are
        evicted if the size bound is passed (see ``max_bytes``).

        Parameters
        ----------
        items : list of (bytes, ndarray or tuple of ndarrays)
            Keys from :func:`disk_cache_key` and their values.

        Raises
        ------
        TypeError
            If a key is not bytes, or a value not an ndarray or a tuple of
            ndarrays of booleans or numbers.
        OSError
            If the directory cannot be created or written; the message names
            it. Entries written before the failure stay.
        """
        checked = [(_check_key(key), _check_value(value)) for key, value in items]
        written = 0
        for hex_key, (kind, arrays) in checked:
            header = json.dumps(
                {"key": hex_key, "kind": kind,
                 "arrays": [[array.dtype.str, list(array.shape)] for array in arrays]},
                sort_keys=True, separators=(",", ":")).encode("ascii")
            size = _PREFIX.size + len(header) + sum(array.nbytes for array in arrays)
            if size > self.max_bytes:
                continue
            try:
                self._write(self._path(hex_key), header, arrays)
            except OSError as error:
                raise _unwritable(self.directory, error) from error
            written += size
        with self._lock:
            if self._estimate is None:
                scan = True
            else:
                self._estimate += written
                self._since_scan += written
                scan = (self._estimate > self.max_bytes
                        or self._since_scan > _RESCAN_FRACTION * self.max_bytes)
        if scan:
            self._scan(evict=True)

    def _write(self, path: Path, header: bytes, arrays: list[np.ndarray]) -> None:
        digest = hashlib.sha256(header)
        for array in arrays:
            digest.update(_bytes_of(array))
        prefix = _PREFIX.pack(MAGIC, VERSION, len(header), digest.digest())
        for attempt in range(3):
            try:
                with atomic_path(path) as tmp:
                    with open(tmp, "wb") as fout:
                        fout.write(prefix)
                        fout.write(header)
                        for array in arrays:
                            fout.write(_bytes_of(array))
                    # File times are coarse (a clock tick); set a precise one for LRU order.
                    now = time.time_ns()
                    os.utime(tmp, ns=(now, now))
                return
            except FileNotFoundError:
                # A concurrent clear() took the directory away between mkdir and rename.
                if attempt == 2:
                    raise

    # -- size ------------------------------------------------------------------------------

    @property
    def nbytes(self) -> int:
        """Bytes on disk of the entries, by listing the directory (every process's entries)."""
        return self._scan(evict=False)

    def _scan(self, *, evict: bool) -> int:
        """List the entries, evict if asked and over the bound; return their total size."""
        with self._scan_lock:
            entries = self._list()
            total = sum(size for _, size, _ in entries)
            if evict and total > self.max_bytes:
                target = _LOW_WATER * self.max_bytes
                for _, size, path in sorted(entries):
                    if total <= target:
                        break
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass  # another process evicted it
                    except OSError:
                        continue
                    total -= size
            with self._lock:
                self._estimate = total
                self._since_scan = 0
        return total

    def _list(self) -> list[tuple[int, int, str]]:
        """``(mtime_ns, size, path)`` of every entry; old temporary files are removed."""
        entries = []
        stale = time.time_ns() - _STALE_SECONDS * 10**9
        try:
            shards = [entry for entry in os.scandir(self._root)
                      if len(entry.name) == 2 and entry.is_dir(follow_symlinks=False)]
        except OSError:
            return entries
        for shard in shards:
            try:
                files = list(os.scandir(shard.path))
            except OSError:
                continue
            for entry in files:
                try:
                    if _ENTRY.fullmatch(entry.name) and entry.name.startswith(shard.name):
                        stat = entry.stat(follow_symlinks=False)
                        entries.append((stat.st_mtime_ns, stat.st_size, entry.path))
                    elif _TEMPORARY.fullmatch(entry.name):
                        if entry.stat(follow_symlinks=False).st_mtime_ns < stale:
                            os.unlink(entry.path)
                except OSError:
                    continue  # removed meanwhile, or not ours to remove
        return entries

    def clear(self) -> None:
        """Remove every entry (the ``v1`` tree only) and reset the counters.

        The tree is first renamed away in one step, so other processes see
        every entry vanish at once; files of yours elsewhere in the directory
        are left alone.

        Raises
        ------
        OSError
            If the tree cannot be moved (permissions); the message names it.
        """
        trash = self.directory / f".v{VERSION}.{secrets.token_hex(4)}.deleting"
        try:
            os.rename(self._root, trash)
        except (FileNotFoundError, NotADirectoryError):
            pass  # nothing to clear
        except OSError as error:
            raise _unwritable(self.directory, error) from error
        try:
            leftovers = [entry.path for entry in os.scandir(self.directory)
                         if _TRASH.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)]
        except OSError:
            leftovers = []
        for path in leftovers:  # this one, and any an interrupted clear() left
            shutil.rmtree(path, ignore_errors=True)
        with self._lock:
            self.hits = self.misses = 0
            self._estimate = None
            self._since_scan = 0


def _check_key(key: Any) -> str:
    """The hexadecimal form of a valid key, else raise."""
    if not isinstance(key, bytes):
        raise TypeError(f"DiskCache keys must be bytes (from disk_cache_key), "
                        f"got {type(key).__name__}.")
    if not _KEY_BYTES[0] <= len(key) <= _KEY_BYTES[1]:
        raise ValueError(f"DiskCache keys must be digests of {_KEY_BYTES[0]} to "
                         f"{_KEY_BYTES[1]} bytes (from disk_cache_key), got {len(key)} bytes.")
    return key.hex()


def _check_dtype(dtype: np.dtype) -> bool:
    return dtype.kind in _KINDS and dtype.fields is None and dtype.subdtype is None


def _check_value(value: Any) -> tuple[str, list[np.ndarray]]:
    """``(kind, arrays)`` of a valid value, else raise TypeError."""
    if isinstance(value, np.ndarray):
        kind, arrays = "array", [value]
    elif isinstance(value, tuple) and all(isinstance(item, np.ndarray) for item in value):
        kind, arrays = "tuple", list(value)
    else:
        raise TypeError(f"DiskCache values must be an ndarray or a tuple of ndarrays, "
                        f"got {type(value).__name__}.")
    for array in arrays:
        if not _check_dtype(array.dtype):
            raise TypeError(f"DiskCache stores arrays of booleans and numbers only, "
                            f"got dtype {array.dtype}.")
    return kind, arrays


def _bytes_of(array: np.ndarray) -> memoryview:
    """The array's bytes in C order, without a copy when it is C-contiguous."""
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    return memoryview(array.reshape(-1).view(np.uint8))


def _read_entry(fin: Any, hex_key: str) -> Value:
    """Read and verify one entry file; raise _Corrupt if anything is wrong."""
    size = os.fstat(fin.fileno()).st_size
    prefix = fin.read(_PREFIX.size)
    if len(prefix) != _PREFIX.size:
        raise _Corrupt("truncated")
    magic, version, header_size, expected = _PREFIX.unpack(prefix)
    if magic != MAGIC or version != VERSION or header_size > _MAX_HEADER:
        raise _Corrupt("not an entry of this version")
    raw = fin.read(header_size)
    if len(raw) != header_size:
        raise _Corrupt("truncated")
    kind, specs = _parse_header(raw, hex_key)
    payload = sum(math.prod(shape) * dtype.itemsize for dtype, shape in specs)
    if size != _PREFIX.size + header_size + payload:
        raise _Corrupt("wrong length")
    digest = hashlib.sha256(raw)
    arrays = []
    for dtype, shape in specs:
        try:
            array = np.empty(shape, dtype)
        except (ValueError, MemoryError) as error:  # too many dimensions, too big
            raise _Corrupt("bad shape") from error
        view = memoryview(array.reshape(-1).view(np.uint8))
        filled = 0
        while filled < len(view):
            count = fin.readinto(view[filled:])
            if not count:
                raise _Corrupt("truncated")
            filled += count
        digest.update(view)
        arrays.append(array)
    if fin.read(1) or not hmac.compare_digest(digest.digest(), expected):
        raise _Corrupt("checksum mismatch")
    return arrays[0] if kind == "array" else tuple(arrays)


def _parse_header(raw: bytes, hex_key: str) -> tuple[str, list[tuple[np.dtype, tuple]]]:
    try:
        header = json.loads(raw.decode("ascii"))
        kind, key, arrays = header["kind"], header["key"], header["arrays"]
        specs = [(np.dtype(dtype), tuple(shape)) for dtype, shape in arrays]
    except (ValueError, TypeError, KeyError, OverflowError, UnicodeDecodeError) as error:
        raise _Corrupt("unreadable header") from error
    if key != hex_key or kind not in ("array", "tuple") or (kind == "array" and len(specs) != 1):
        raise _Corrupt("wrong key or kind")
    for (dtype, shape), (text, _) in zip(specs, arrays):
        if (not isinstance(text, str) or dtype.str != text or not _check_dtype(dtype)
                or not all(type(n) is int and n >= 0 for n in shape)):
            raise _Corrupt("bad array description")
    return kind, specs


def _remove_if_same(path: Path, stat: os.stat_result) -> None:
    """Remove ``path`` if it is still the file that was read (not a newer entry)."""
    try:
        now = os.stat(path)
        if (now.st_ino, now.st_dev) == (stat.st_ino, stat.st_dev):
            os.unlink(path)
    except OSError:
        pass


def _unwritable(directory: Path, error: OSError) -> OSError:
    """An OSError of the same kind as ``error``, saying which directory and what to do."""
    message = (f"The disk cache cannot write to {directory}: "
               f"{error.strerror or error}. Pass a directory that can be created and "
               f"written to, or turn the disk cache off.")
    return OSError(error.errno, message) if error.errno is not None else OSError(message)
