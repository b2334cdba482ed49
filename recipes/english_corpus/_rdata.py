"""Read character data from an R package's lazy-load database (``Rdata.rdb``/``.rdx``).

Only the parts of R's serialization format that data sets use are decoded:
vectors (character, integer, logical, double, list), pairlists, symbols,
references, environments and the common ALTREP wrappers. Anything else raises
:class:`RDataError`.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct
import zlib
from pathlib import Path

__all__ = ["RDataError", "read_lazyload_db", "unserialize"]

_NIL = 254
# Environments and markers that carry no data: read as None.
_SPECIAL = frozenset({254, 253, 252, 251, 250, 242, 241})
_ALTREP = 238
_REF = 255
_PERSIST = 247
_PACKAGE = 248
_NAMESPACE = 249
_ATTRLANG = 240
_ATTRLIST = 239


class RDataError(ValueError):
    """The bytes are not R serialization data that this reader understands."""


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0
        self.refs: list[object] = []

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise RDataError("R data ends early.")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def length(self) -> int:
        n = self.int()
        if n == -1:
            upper, lower = self.int(), self.int()
            n = (upper << 32) + lower
        return n

    def string(self) -> str:
        n = self.int()
        return self.take(n).decode("utf-8", "replace")


def _charsxp(r: _Reader) -> str | None:
    n = r.int()
    if n == -1:
        return None
    return r.take(n).decode("utf-8", "replace")


def _altrep(r: _Reader) -> object:
    info = _item(r)
    state = _item(r)
    _item(r)  # attributes
    kind = info[0] if isinstance(info, list) and info else None
    if kind in ("wrap_string", "wrap_integer", "wrap_real", "wrap_logical"):
        return state[0] if isinstance(state, list) else state
    if kind == "compact_intseq" and isinstance(state, list) and len(state) == 3:
        n, start, step = (int(v) for v in state)
        return [start + i * step for i in range(n)]
    if kind == "compact_realseq" and isinstance(state, list) and len(state) == 3:
        n, start, step = state
        return [start + i * step for i in range(int(n))]
    if kind == "deferred_string" and isinstance(state, list) and state:
        values = state[0]
        if isinstance(values, list):
            return [None if v is None else _format_number(v) for v in values]
    raise RDataError(f"Unsupported ALTREP class {kind!r}.")


def _format_number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _item(r: _Reader) -> object:
    flags = r.int()
    kind = flags & 0xFF
    has_attr = bool(flags & (1 << 9))
    has_tag = bool(flags & (1 << 10))
    if kind == _REF:
        index = flags >> 8
        if index == 0:
            index = r.int()
        return r.refs[index - 1]
    if kind in _SPECIAL:
        return None
    if kind == _PERSIST:
        raise RDataError("Persistent references are not supported.")
    if kind in (_PACKAGE, _NAMESPACE):
        r.int()  # zero
        count = r.int()
        value = [_charsxp_item(r) for _ in range(count)]
        r.refs.append(value)
        return value
    if kind == _ALTREP:
        return _altrep(r)
    if kind == 1:  # symbol
        name = _item(r)
        r.refs.append(name)
        return name
    if kind in (2, 6, 17, _ATTRLANG, _ATTRLIST):  # pairlist-like
        values = []
        while True:
            if has_attr:
                _item(r)
            if has_tag:
                _item(r)
            values.append(_item(r))
            flags = r.int()
            kind = flags & 0xFF
            if kind == _NIL:
                return values
            if kind not in (2, 6, 17, _ATTRLANG, _ATTRLIST):
                r.pos -= 4
                _item(r)
                return values
            has_attr = bool(flags & (1 << 9))
            has_tag = bool(flags & (1 << 10))
    if kind == 4:  # environment
        env: dict = {}
        r.refs.append(env)
        r.int()  # locked
        _item(r)  # enclosure
        _item(r)  # frame
        _item(r)  # hash table
        _item(r)  # attributes
        return env
    if kind == 9:
        return _charsxp(r)
    if kind == 16:  # character vector
        n = r.length()
        value: object = [_charsxp_item(r) for _ in range(n)]
    elif kind in (10, 13):  # logical, integer
        n = r.length()
        value = list(struct.unpack(f">{n}i", r.take(4 * n)))
    elif kind == 14:  # double
        n = r.length()
        value = list(struct.unpack(f">{n}d", r.take(8 * n)))
    elif kind == 15:  # complex
        n = r.length()
        r.take(16 * n)
        value = None
    elif kind == 24:  # raw
        n = r.length()
        value = r.take(n)
    elif kind in (19, 20):  # list, expression
        n = r.length()
        value = [_item(r) for _ in range(n)]
    elif kind in (3, 5, 7, 8, 21, 22, 23, 25):
        raise RDataError(f"Unsupported R object type {kind}.")
    else:
        raise RDataError(f"Unknown R object type {kind}.")
    if has_attr:
        _item(r)
    return value


def _charsxp_item(r: _Reader) -> str | None:
    flags = r.int()
    if flags & 0xFF != 9:
        raise RDataError("Expected a string inside a character vector.")
    return _charsxp(r)


def unserialize(data: bytes) -> object:
    """Decode one R object from uncompressed XDR serialization bytes.

    Parameters
    ----------
    data : bytes
        Starting with ``b"X\\n"``.

    Returns
    -------
    object
        Vectors become lists (character elements are str or None for NA),
        pairlists become lists of their values, other objects None.
    """
    if not data.startswith(b"X\n"):
        raise RDataError("Only R's XDR (binary, big-endian) serialization is supported.")
    r = _Reader(data)
    _skip_header(r)
    return _item(r)


def _skip_header(r: _Reader) -> None:
    """Read past the serialization header: format, version, R versions, native encoding."""
    r.pos = 2
    version = r.int()
    r.int()
    r.int()
    if version == 3:
        r.string()
    elif version != 2:
        raise RDataError(f"Unsupported R serialization version {version}.")


def _decompress_entry(blob: bytes) -> bytes:
    """Decompress one lazy-load database entry (4-byte length, then a payload)."""
    if len(blob) < 5:
        raise RDataError("Lazy-load entry is too short.")
    body = blob[4:]
    kind, payload = body[:1], body[1:]
    if kind == b"Z":
        return zlib.decompress(payload)
    if kind == b"2":
        return bz2.decompress(payload)
    if kind == b"X":
        return lzma.decompress(payload)
    if kind == b"0":
        return payload
    return zlib.decompress(body)


def read_lazyload_db(rdb: Path, rdx: Path) -> dict[str, object]:
    """Read every variable of an R lazy-load database.

    Parameters
    ----------
    rdb, rdx : path-like
        The database (``Rdata.rdb``) and its index (``Rdata.rdx``).

    Returns
    -------
    dict
        Variable name to decoded value (see :func:`unserialize`).
    """
    raw_index = Path(rdx).read_bytes()
    if raw_index[:2] == b"\x1f\x8b":
        raw_index = gzip.decompress(raw_index)
    else:
        raw_index = zlib.decompress(raw_index[4:])
    index = _unserialize_with_names(raw_index)
    variables = index.get("variables")
    if not isinstance(variables, dict):
        raise RDataError("The .rdx index has no 'variables' entry.")
    database = Path(rdb).read_bytes()
    out: dict[str, object] = {}
    for name, where in variables.items():
        offset, size = int(where[0]), int(where[1])
        out[name] = unserialize(_decompress_entry(database[offset:offset + size]))
    return out


def _unserialize_with_names(data: bytes) -> dict[str, object]:
    """Decode the .rdx index: a named list of named lists of integer pairs."""
    r = _NamedReader(data)
    _skip_header(r)
    value = r.named_item()
    if not isinstance(value, dict):
        raise RDataError("The .rdx index is not a named list.")
    return value


class _NamedReader(_Reader):
    """A reader that keeps the ``names`` attribute of lists, for the index."""

    def named_item(self) -> object:
        flags = self.int()
        kind = flags & 0xFF
        has_attr = bool(flags & (1 << 9))
        if kind == _NIL:
            return None
        if kind not in (13, 14, 16, 19):
            self.pos -= 4
            return _item(self)
        n = self.length()
        if kind == 13:
            values: list = list(struct.unpack(f">{n}i", self.take(4 * n)))
        elif kind == 14:
            values = list(struct.unpack(f">{n}d", self.take(8 * n)))
        elif kind == 16:
            values = [_charsxp_item(self) for _ in range(n)]
        else:
            values = [self.named_item() for _ in range(n)]
        if not has_attr:
            return values
        attributes = self._attributes()
        names = attributes.get("names")
        if kind == 19 and isinstance(names, list) and len(names) == len(values):
            return dict(zip(names, values))
        return values

    def _attributes(self) -> dict[str, object]:
        attributes: dict[str, object] = {}
        flags = self.int()
        while flags & 0xFF == 2:
            tag = _item(self) if flags & (1 << 10) else None
            attributes[str(tag)] = self.named_item()
            flags = self.int()
        return attributes
