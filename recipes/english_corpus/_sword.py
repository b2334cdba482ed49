"""Read the text of a SWORD ``zText`` Bible module (OSIS markup) without the SWORD library.

A zText module keeps, per testament, three files: ``*.bzs`` (one 12-byte
entry per compressed block: offset, compressed size, uncompressed size),
``*.bzz`` (the zlib-compressed blocks) and ``*.bzv`` (one 10-byte entry per
verse slot: block number, offset in the block, size), all little-endian.
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

__all__ = ["osis_chapters", "read_ztext_osis"]

_CHAPTER = re.compile(r"""<chapter\b[^>]*\bosisID="([^"]+)"[^>]*/>""")
_PARAGRAPH = re.compile(r"""<div\b[^>]*\btype="x-p"[^>]*/>|<p\b[^>]*>|</p>|<lb\b[^>]*/>""")
_DROPPED = re.compile(r"<(note|title)\b[^>]*>.*?</\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]*>")


def read_ztext_osis(module_dir: Path, testament: str) -> str:
    """Concatenate the OSIS text of every verse of one testament, in order.

    Parameters
    ----------
    module_dir : path-like
        The folder with ``ot.bzs``, ``ot.bzv``, ``ot.bzz`` and the ``nt`` ones.
    testament : {"ot", "nt"}
        Which testament.

    Returns
    -------
    str
        The verses' OSIS markup, joined by single spaces ("" if the module
        lacks this testament).
    """
    module_dir = Path(module_dir)
    paths = [module_dir / f"{testament}.{ext}" for ext in ("bzs", "bzv", "bzz")]
    if not all(path.is_file() for path in paths):
        return ""
    blocks_raw, verses_raw, data = (path.read_bytes() for path in paths)
    blocks = [struct.unpack_from("<III", blocks_raw, i)
              for i in range(0, len(blocks_raw) - 11, 12)]
    cache: dict[int, bytes] = {}
    pieces: list[str] = []
    for i in range(0, len(verses_raw) - 9, 10):
        block, offset, size = struct.unpack_from("<IIH", verses_raw, i)
        if size == 0 or block >= len(blocks):
            continue
        if block not in cache:
            cache.clear()
            start, length, _ = blocks[block]
            cache[block] = zlib.decompress(data[start:start + length])
        pieces.append(cache[block][offset:offset + size].decode("utf-8", "replace"))
    return " ".join(pieces)


def _plain(osis: str) -> str:
    text = _DROPPED.sub(" ", osis)
    text = _TAG.sub("", text)
    return html.unescape(text)


def osis_chapters(osis: str) -> Iterator[tuple[str, list[str]]]:
    """Split OSIS text into chapters of plain-text paragraphs.

    Footnotes and headings are dropped, other markup is removed.

    Parameters
    ----------
    osis : str
        Text from :func:`read_ztext_osis`.

    Yields
    ------
    chapter : str
        The chapter's OSIS id, such as ``"Matt.1"``.
    paragraphs : list of str
        Its paragraphs in order.
    """
    marks = list(_CHAPTER.finditer(osis))
    for index, mark in enumerate(marks):
        end = marks[index + 1].start() if index + 1 < len(marks) else len(osis)
        body = osis[mark.end():end]
        paragraphs = [_plain(part) for part in _PARAGRAPH.split(body)]
        yield mark.group(1), [p for p in paragraphs if p.strip()]
