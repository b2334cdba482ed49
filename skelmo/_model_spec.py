"""Turning an estimator's ``model`` parameter into a pair of model files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._format import ModelFileError, ModelFileNotFoundError

__all__ = ["resolve_model"]


def resolve_model(model: Any) -> tuple[Path, Path]:
    """Return ``(options_file, weight_file)`` for a ``model`` parameter value.

    Parameters
    ----------
    model : None, str, path-like or (options_file, weight_file)
        A directory holding ``options.json`` and one weights ``.hdf5`` file,
        the name of a registered model (see :mod:`skelmo.models`; downloaded
        on first use), or the two files. None means the bundled model,
        :data:`skelmo.models.BUNDLED_MODEL`.
        A string naming an existing directory is that directory, even if it
        is also a registered name.

    Returns
    -------
    options_file, weight_file : Path
    """
    if model is None:
        from . import models

        try:
            return models.get_model_files(models.BUNDLED_MODEL)
        except ModelFileNotFoundError as exc:
            raise ModelFileNotFoundError(
                exc.path,
                f"the bundled model {models.BUNDLED_MODEL!r} is missing from this "
                "installation of skelmo. Reinstall skelmo, or pass a model: a registered "
                "name such as model='small' (downloaded on first use), a directory holding "
                "options.json and a weights .hdf5 file, or model=(options_file, weight_file).",
            ) from None
    if isinstance(model, (tuple, list)):
        if len(model) != 2 or not all(isinstance(p, (str, os.PathLike)) for p in model):
            raise ValueError(
                f"model as a pair must be (options_file, weight_file), got {model!r}."
            )
        options_file, weight_file = Path(model[0]), Path(model[1])
        for path, what in ((options_file, "options"), (weight_file, "weights")):
            if not path.is_file():
                raise ModelFileNotFoundError(path, f"{what} file not found.")
        return options_file, weight_file
    if isinstance(model, (str, os.PathLike)):
        directory = Path(model)
        if directory.is_dir():
            return _files_in(directory)
        if directory.is_file():
            raise ModelFileError(
                directory,
                "is a file, not a model directory. Pass the directory holding options.json "
                "and the weights, or the pair model=(options_file, weight_file).",
            )
        if isinstance(model, str):
            from . import models

            if _is_registered(model):
                return models.get_model_files(model)
            raise ModelFileNotFoundError(
                directory,
                "no such model directory, and not a registered model name (registered: "
                f"{', '.join(models.available_models())}). Pass a registered name, a directory "
                "holding options.json and a weights .hdf5 file, or "
                "model=(options_file, weight_file).",
            )
        raise ModelFileNotFoundError(
            directory,
            "no such model directory. Pass a directory holding options.json and a weights "
            ".hdf5 file, or model=(options_file, weight_file).",
        )
    raise ValueError(
        "model must be a model directory or an (options_file, weight_file) pair, "
        f"got {type(model).__name__}."
    )


def _is_registered(name: str) -> bool:
    from . import models

    try:
        models.lookup(name)
    except (KeyError, ValueError):
        return False
    return True


def _files_in(directory: Path) -> tuple[Path, Path]:
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
