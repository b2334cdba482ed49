"""A model's two files on the local disk: in a directory, or named as a pair."""

from __future__ import annotations

import os
from pathlib import Path

from .._format import ModelFileError, ModelFileNotFoundError

__all__ = ["files_in_directory", "files_of_pair"]


def files_in_directory(directory: Path) -> tuple[Path, Path]:
    """The options file and the one weights file of a model directory.

    ``options.json`` is preferred; otherwise the directory must hold exactly
    one ``*options*.json``. It must hold exactly one ``.hdf5`` (or ``.h5``).
    """
    options_file = directory / "options.json"
    if not options_file.is_file():
        jsons = sorted(p.name for p in directory.glob("*options*.json"))
        if len(jsons) != 1:
            raise ModelFileNotFoundError(
                directory, "expected an options.json file in the model directory"
                + (f"; found {jsons}" if jsons else "") + "."
            )
        options_file = directory / jsons[0]
    weights = sorted(directory.glob("*.hdf5")) + sorted(directory.glob("*.h5"))
    if len(weights) != 1:
        raise ModelFileError(
            directory,
            f"expected exactly one weights .hdf5 file in the model directory, found "
            f"{len(weights)}" + (f": {[p.name for p in weights]}" if weights else "")
            + ". Pass model=(options_file, weight_file) to choose.",
        )
    return options_file, weights[0]


def files_of_pair(options_file: str | os.PathLike[str],
                  weight_file: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Both files of an ``(options_file, weight_file)`` pair, checked to exist."""
    pair = Path(options_file), Path(weight_file)
    for path, what in zip(pair, ("options", "weights")):
        if not path.is_file():
            raise ModelFileNotFoundError(path, f"{what} file not found.")
    return pair
