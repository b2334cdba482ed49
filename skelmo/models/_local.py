"""A model's two files on the local disk: in a directory, or named as a pair."""

from __future__ import annotations

import os
from pathlib import Path

from .._format import ModelFileError, ModelFileNotFoundError, check_model_file

__all__ = ["files_in_directory", "files_of_pair"]


def files_in_directory(directory: Path) -> tuple[Path, Path]:
    """The options file and the one weights file of a model directory.

    ``options.json`` is preferred; otherwise the directory must hold exactly
    one ``*options*.json``. It must hold exactly one ``.hdf5`` (or ``.h5``).
    Hidden files (names starting with ``.``, such as the ``._weights.hdf5``
    that macOS writes beside a file on some disks) are never candidates.
    """
    options_file = directory / "options.json"
    if not options_file.is_file():
        jsons = sorted(p.name for p in _visible(directory, "*options*.json"))
        if len(jsons) != 1:
            raise ModelFileNotFoundError(
                directory, "expected an options.json file in the model directory"
                + (f"; found {jsons}" if jsons else "") + "."
            )
        options_file = directory / jsons[0]
    weights = _visible(directory, "*.hdf5") + _visible(directory, "*.h5")
    if len(weights) != 1:
        raise ModelFileError(
            directory,
            f"expected exactly one weights .hdf5 file in the model directory, found "
            f"{len(weights)}" + (f": {[p.name for p in weights]}" if weights else "")
            + ". Pass model=(options_file, weight_file) to choose.",
        )
    return options_file, weights[0]


def _visible(directory: Path, pattern: str) -> list[Path]:
    """The files matching ``pattern`` in ``directory`` whose names do not start with '.'."""
    return sorted(p for p in directory.glob(pattern) if not p.name.startswith("."))


def files_of_pair(options_file: str | os.PathLike[str],
                  weight_file: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Both files of an ``(options_file, weight_file)`` pair, checked to exist."""
    pair = Path(options_file), Path(weight_file)
    for path, what in zip(pair, ("options", "weights")):
        check_model_file(path, what)
    return pair

