"""Small random ELMo models in the published file format, for tests and docs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._format import (
    N_CHARACTER_ROWS,
    ElmoOptions,
    ElmoWeights,
    HighwayWeights,
    LstmCellWeights,
    write_model,
)

__all__ = ["make_options", "make_random_model", "make_random_weights"]


def make_options(
    *,
    char_dim: int = 4,
    filters: Sequence[tuple[int, int]] = ((1, 4), (2, 8), (3, 16), (4, 32), (5, 64)),
    n_highway: int = 2,
    activation: str = "relu",
    projection_dim: int = 16,
    cell_dim: int = 64,
    n_layers: int = 2,
    cell_clip: float | None = 3.0,
    proj_clip: float | None = 3.0,
    use_skip_connections: bool = True,
) -> ElmoOptions:
    """Options of a small biLM (by default the shape of the reference test model).

    Parameters
    ----------
    char_dim, filters, n_highway, activation, projection_dim, cell_dim, n_layers,
    cell_clip, proj_clip, use_skip_connections
        See :class:`skelmo.ElmoOptions`.

    Returns
    -------
    ElmoOptions
    """
    return ElmoOptions(
        char_dim=char_dim,
        filters=tuple((int(w), int(n)) for w, n in filters),
        n_highway=n_highway,
        activation=activation,
        projection_dim=projection_dim,
        cell_dim=cell_dim,
        n_layers=n_layers,
        cell_clip=cell_clip,
        proj_clip=proj_clip,
        use_skip_connections=use_skip_connections,
    )


def make_random_weights(options: ElmoOptions, seed: int = 0) -> ElmoWeights:
    """Random weights of the right shapes, scaled to keep activations in range.

    Parameters
    ----------
    options : ElmoOptions
    seed : int, default=0

    Returns
    -------
    ElmoWeights
    """
    rng = np.random.default_rng(seed)

    def normal(*shape: int, fan_in: int | None = None) -> np.ndarray:
        scale = 1.0 / np.sqrt(fan_in if fan_in else shape[0])
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    n_filters = options.n_filters
    conv = [
        (normal(1, w, options.char_dim, n, fan_in=w * options.char_dim), normal(n, fan_in=n))
        for w, n in options.filters
    ]
    highway = [
        HighwayWeights(
            w_carry=normal(n_filters, n_filters),
            b_carry=normal(n_filters),
            w_transform=normal(n_filters, n_filters),
            b_transform=normal(n_filters),
        )
        for _ in range(options.n_highway)
    ]
    projection = None
    if options.uses_projection:
        projection = (normal(n_filters, options.projection_dim), normal(options.projection_dim))
    gates = 4 * options.cell_dim
    lstm = [
        [
            LstmCellWeights(
                kernel=normal(2 * options.projection_dim, gates),
                bias=normal(gates, fan_in=gates),
                projection=normal(options.cell_dim, options.projection_dim),
            )
            for _ in range(options.n_layers)
        ]
        for _ in range(2)
    ]
    char_embed = rng.standard_normal((N_CHARACTER_ROWS, options.char_dim)).astype(np.float32)
    return ElmoWeights(char_embed, conv, highway, projection, lstm)


def make_random_model(
    directory: str | os.PathLike[str], *, seed: int = 0, options: ElmoOptions | None = None,
    **architecture,
) -> tuple[Path, Path]:
    """Write a random biLM as ``options.json`` and ``weights.hdf5`` in ``directory``.

    Parameters
    ----------
    directory : str or path-like
        Created if missing.
    seed : int, default=0
        Seed of the random weights.
    options : ElmoOptions, optional
        Architecture; by default ``make_options(**architecture)``.
    **architecture
        Passed to :func:`make_options` when ``options`` is not given.

    Returns
    -------
    options_file, weight_file : Path

    Examples
    --------
    >>> import tempfile
    >>> from skelmo.testing import make_random_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     options_file, weight_file = make_random_model(tmp, projection_dim=8)
    ...     print(options_file.name, weight_file.name)
    options.json weights.hdf5
    """
    if options is None:
        options = make_options(**architecture)
    elif architecture:
        raise TypeError("Pass either options or architecture keywords, not both.")
    directory = Path(directory)
    options_file, weight_file = directory / "options.json", directory / "weights.hdf5"
    write_model(options, make_random_weights(options, seed), options_file, weight_file)
    return options_file, weight_file
