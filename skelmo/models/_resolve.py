"""Turning an estimator's ``model`` parameter into a pair of model files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .._format import ModelFileError, ModelFileNotFoundError
from ._local import files_in_directory, files_of_pair
from ._registry import (
    BUNDLED_MODEL,
    available_models,
    bundled_model_files,
    get_model_files,
    lookup,
)

__all__ = ["resolve_model"]


def resolve_model(model: Any) -> tuple[Path, Path]:
    """Return ``(options_file, weight_file)`` for a ``model`` parameter value.

    Parameters
    ----------
    model : None, str, path-like or (options_file, weight_file)
        A directory holding ``options.json`` and one weights ``.hdf5`` file,
        the name of a registered model (see :mod:`skelmo.models`; downloaded
        on first use), or the two files. None means the bundled model,
        :data:`skelmo.models.BUNDLED_MODEL`, always the files that ship with
        skelmo (no registry file is read for it).
        A string naming an existing directory is that directory, even if it
        is also a registered name. The empty string is refused (pass ``"."``
        for the current directory).

    Returns
    -------
    options_file, weight_file : Path
    """
    if model is None:
        try:
            return bundled_model_files()
        except ModelFileNotFoundError as exc:
            raise ModelFileNotFoundError(
                exc.path,
                f"the bundled model {BUNDLED_MODEL!r} is missing from this "
                "installation of skelmo. Reinstall skelmo, or pass a model: a registered "
                "name such as model='small' (downloaded on first use), a directory holding "
                "options.json and a weights .hdf5 file, or model=(options_file, weight_file).",
            ) from None
    if isinstance(model, (tuple, list)):
        if len(model) != 2 or not all(isinstance(p, (str, os.PathLike)) for p in model):
            raise ValueError(
                f"model as a pair must be (options_file, weight_file), got {model!r}."
            )
        return files_of_pair(*model)
    if isinstance(model, str) and not model:
        raise ValueError(
            "model is the empty string. Pass a registered name such as model='small', a model "
            "directory ('.' for the current one), or model=(options_file, weight_file)."
        )
    if isinstance(model, (str, os.PathLike)):
        directory = Path(model)
        if directory.is_dir():
            return files_in_directory(directory)
        if directory.is_file():
            raise ModelFileError(
                directory,
                "is a file, not a model directory. Pass the directory holding options.json "
                "and the weights, or the pair model=(options_file, weight_file).",
            )
        if isinstance(model, str):
            if _is_registered(model):
                return get_model_files(model)
            raise ModelFileNotFoundError(
                directory,
                "no such model directory, and not a registered model name (registered: "
                f"{', '.join(available_models())}). Pass a registered name, a directory "
                "holding options.json and a weights .hdf5 file, or "
                "model=(options_file, weight_file). A name registered or downloaded in "
                "another cache directory (cache_dir=, --cache-dir) is found here only with "
                "SKELMO_HOME set to that directory.",
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
    try:
        lookup(name)
    except (KeyError, ValueError):
        return False
    return True
