"""Movie review sentences with crowd-sourced sentiment scores (Hutto & Gilbert, 2014)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ._base import DatasetFetchError, PackageSource, fetch_dataset, read_json, write_json

__all__ = ["fetch_movie_reviews"]

_NAME = "movie_reviews"
_TITLE = "movie reviews"
_FORMAT = 1
_SOURCE = PackageSource(
    registry="pypi",
    package="vaderSentiment",
    version="3.3.2",
    filename="vaderSentiment-3.3.2.tar.gz",
    sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
)
_INNER_ARCHIVE = "additional_resources/hutto_ICWSM_2014.tar.gz"
_MEMBER = "movieReviewSnippets_GroundTruth.txt"
_EXPECTED_SNIPPETS = 10605  # checked when the archive is the pinned one
_CACHE_FILE = "snippets.json"
TARGET_NAMES = ["negative", "positive"]

_DESCR = """\
.. _movie_reviews_dataset:

Movie review sentiment snippets
-------------------------------

Sentences from movie reviews, each scored for sentiment by a crowd of
human raters. They are the movie review part of the ground-truth data
published with the VADER sentiment analysis paper:

    C.J. Hutto and Eric Gilbert (2014). VADER: A Parsimonious Rule-based
    Model for Sentiment Analysis of Social Media Text. Eighth International
    Conference on Weblogs and Social Media (ICWSM-14), Ann Arbor, MI.

The authors split 2,000 reviews from rottentomatoes.com (1,000 positive and
1,000 negative, first collected by Pang & Lee, 2004) into sentence-level
snippets and had each snippet rated by about 20 raters on a scale from -4
(extremely negative) to +4 (extremely positive). The file gives the mean of
those ratings.

**Data Set Characteristics:**

:Snippets in the source: {n_source:,}
:Snippets kept: {n_kept:,} (those with a mean rating of exactly 0 are dropped)
:Classes: 2 (negative: {n_negative:,}, positive: {n_positive:,})
:Valence range: {valence_min:.3f} to {valence_max:.3f}
:Source: the {package} {version} source distribution on PyPI, file
    ``{member}`` inside ``{inner}``
:Source sha256: {sha256}
:Licence: MIT (the vaderSentiment distribution's licence, copyright C.J. Hutto);
    please cite the paper above when you use the data

``target`` is the polarity of the mean rating (``valence``): 1 (positive)
where it is above 0 and 0 (negative) where it is below. {n_neutral} snippets
have a mean rating of exactly 0, neither positive nor negative; they are left
out of ``data``, ``target`` and ``valence`` so that the classes stay well
defined. ``ids`` gives each kept snippet's number in the source file (1 to
{n_source:,}). The texts are as in the file (UTF-8).
"""


def _find(archive: tarfile.TarFile, wanted: str, *, basename: bool) -> bytes:
    for member in archive.getmembers():
        name = member.name
        matches = (name.rsplit("/", 1)[-1] == wanted if basename
                   else name.split("/", 1)[-1] == wanted)
        if member.isfile() and matches:
            handle = archive.extractfile(member)
            if handle is not None:
                return handle.read()
    raise DatasetFetchError(f"no file {wanted} in the archive")


def _read_snippets(archive: Path) -> dict[str, list[Any]]:
    """Parse the movie review ground-truth file out of the vaderSentiment sdist."""
    where = f"{_MEMBER} in {_INNER_ARCHIVE} of {archive}"
    try:
        with tarfile.open(archive, "r:gz") as outer:
            inner_bytes = _find(outer, _INNER_ARCHIVE, basename=False)
        with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
            raw = _find(inner, _MEMBER, basename=True)
        text = raw.decode("utf-8")
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as exc:
        raise DatasetFetchError(f"Could not read {where}: {exc}. Delete the archive if "
                                "you copied it into the data home, and fetch again.") from exc
    ids: list[int] = []
    valence: list[float] = []
    texts: list[str] = []
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t", 2)
        try:
            if len(fields) != 3 or not fields[2].strip():
                raise ValueError("expected ID<tab>MEAN-RATING<tab>TEXT")
            ids.append(int(fields[0]))
            valence.append(float(fields[1]))
            texts.append(fields[2])
        except ValueError as exc:
            raise DatasetFetchError(f"Unexpected line {number} in {where}: {line[:80]!r} "
                                    f"({exc}).") from exc
    if not ids:
        raise DatasetFetchError(f"No snippets in {where}.")
    if _SOURCE.sha256 is not None and len(ids) != _EXPECTED_SNIPPETS:
        raise DatasetFetchError(f"Expected {_EXPECTED_SNIPPETS} snippets in {where}, "
                                f"found {len(ids)}.")
    return {"id": ids, "valence": valence, "text": texts}


def _build(archive: Path, folder: Path) -> dict[str, Any]:
    snippets = _read_snippets(archive)
    write_json(folder / _CACHE_FILE, snippets)
    valence = np.asarray(snippets["valence"])
    return {
        "member": f"{_INNER_ARCHIVE}/{_MEMBER}",
        "snippets": int(valence.size),
        "positive": int((valence > 0).sum()),
        "negative": int((valence < 0).sum()),
        "neutral": int((valence == 0).sum()),
    }


def fetch_movie_reviews(
    *,
    data_home: str | os.PathLike[str] | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
    as_frame: bool = False,
) -> Bunch | tuple[Any, Any]:
    """Load the movie review sentiment snippets of Hutto & Gilbert (2014).

    Sentences from movie reviews with the mean sentiment rating of a crowd
    of human raters, on a scale from -4 to +4, and its polarity as a binary
    target. The 10,605 snippets come from the vaderSentiment 3.3.2 source
    distribution on PyPI (MIT licence); the 37 with a mean rating of exactly
    0 are left out, which leaves 10,568. The first call downloads the
    distribution (about 2.5 MB) with pip and keeps the parsed snippets in the
    data home; later calls read them from there.

    ========================  ==================
    Samples                   10,568
    Classes                   2
    Samples per class         5,326 negative, 5,242 positive
    Valence                   float, -3.875 to 3.941
    ========================  ==================

    Parameters
    ----------
    data_home : str or path-like, default=None
        Where to keep the data; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        If False, raise an :class:`OSError` instead of downloading when the
        data is not in the data home (a damaged copy there counts as missing).
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.
    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame with one column ``"text"``,
        ``target`` and ``valence`` are pandas Series, and ``frame`` holds all
        three as columns ``"text"``, ``"valence"`` and ``"target"``.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        data : list of str or DataFrame of shape (10568, 1)
            The snippets.
        target : ndarray of shape (10568,) or Series
            1 where the mean rating is positive, 0 where it is negative.
        valence : ndarray of shape (10568,) or Series
            The mean rating, from -4 to +4.
        ids : ndarray of shape (10568,)
            Each snippet's number in the source file.
        target_names : list of str
            ``["negative", "positive"]``.
        frame : DataFrame of shape (10568, 3) or None
            With ``as_frame=True``, the columns ``"text"``, ``"valence"``
            and ``"target"``; otherwise None.
        DESCR : str
            Source, licence, citation and counts.

    (data, target) : tuple if ``return_X_y`` is True
        As above.

    Raises
    ------
    FileNotFoundError
        If the data is not in the data home, or its copy there is incomplete or
        damaged (a file whose size or sha256 is not the recorded one), and
        ``download_if_missing`` is False.
    DatasetFetchError
        If the download or the archive fails; the message says what to do.
    """
    folder, record = fetch_dataset(
        _NAME, _TITLE, _SOURCE, _build, format_version=_FORMAT,
        data_home=data_home, download_if_missing=download_if_missing,
    )
    snippets = read_json(folder / _CACHE_FILE)
    all_valence = np.asarray(snippets["valence"], dtype=np.float64)
    keep = all_valence != 0
    valence = all_valence[keep]
    ids = np.asarray(snippets["id"], dtype=np.int64)[keep]
    texts = [text for text, kept in zip(snippets["text"], keep.tolist()) if kept]
    target = (valence > 0).astype(np.int64)
    source = record["source"]
    descr = _DESCR.format(
        n_source=all_valence.size, n_kept=valence.size,
        n_negative=int((target == 0).sum()), n_positive=int(target.sum()),
        n_neutral=int((~keep).sum()),
        valence_min=float(valence.min()) if valence.size else 0.0,
        valence_max=float(valence.max()) if valence.size else 0.0,
        member=_MEMBER, inner=_INNER_ARCHIVE, package=source["package"],
        version=source["version"], sha256=source["sha256"],
    )
    data: Any = texts
    target_out: Any = target
    valence_out: Any = valence
    frame = None
    if as_frame:
        import pandas as pd

        frame = pd.DataFrame({"text": pd.Series(texts, dtype=object), "valence": valence,
                              "target": target})
        data, valence_out, target_out = frame[["text"]], frame["valence"], frame["target"]
    if return_X_y:
        return data, target_out
    return Bunch(data=data, target=target_out, valence=valence_out, ids=ids,
                 target_names=list(TARGET_NAMES), frame=frame, DESCR=descr)
