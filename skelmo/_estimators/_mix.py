"""Layer selection, scalar mix and pooling of biLM activations."""

from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = [
    "POOLINGS",
    "check_layer",
    "check_mix",
    "combine_layers",
    "output_width",
    "pool_layers",
    "softmax",
]

POOLINGS = ("mean", "max")


def check_layer(layer: object, n_layers: int) -> int | str:
    """Validate ``layer`` against a model with ``n_layers`` output layers."""
    if isinstance(layer, str):
        if layer in ("mix", "all"):
            return layer
    elif isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        if 0 <= layer < n_layers:
            return int(layer)
        raise ValueError(
            f"layer={layer} is out of range: this model has layers 0..{n_layers - 1} "
            "(0 is the character-based token layer)."
        )
    raise ValueError(
        f"layer must be an int in 0..{n_layers - 1}, 'mix' or 'all', got {layer!r}."
    )


def check_mix(mix_weights: object, gamma: object, n_layers: int) -> tuple[np.ndarray, float]:
    """Validate the scalar-mix parameters; None weights mean equal weights."""
    if mix_weights is None:
        weights = np.zeros(n_layers)
    else:
        try:
            weights = np.asarray(mix_weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"mix_weights must be {n_layers} numbers, got {mix_weights!r}."
            ) from None
        if weights.shape != (n_layers,) or not np.all(np.isfinite(weights)):
            raise ValueError(
                f"mix_weights must be {n_layers} finite numbers (one per layer, before the "
                f"softmax), got {mix_weights!r}."
            )
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not np.isfinite(gamma):
        raise ValueError(f"gamma must be a finite number, got {gamma!r}.")
    return weights, float(gamma)


def softmax(weights: np.ndarray) -> np.ndarray:
    """Softmax of pre-softmax mix weights."""
    shifted = np.exp(weights - np.max(weights))
    return shifted / shifted.sum()


def output_width(layer: int | str, n_layers: int, dim: int) -> int:
    """Width of the features for a layer choice."""
    return dim * n_layers if layer == "all" else dim


def pool_layers(layers: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and max over each sentence's real tokens, for every layer.

    Parameters
    ----------
    layers : Tensor of shape (n_layers, batch, time, dim)
        Zero at padded positions.
    mask : BoolTensor of shape (batch, time)

    Returns
    -------
    mean, max : Tensors of shape (batch, n_layers, dim)
        Zero for a sentence without tokens.
    """
    counts = mask.sum(dim=1).clamp(min=1).to(layers.dtype)
    # Token by token, in order: a library sum over the time axis groups its terms by
    # the batch's padded length, which would make a document's mean depend on the
    # other documents of its batch. Padding adds exact zeros.
    total = layers.new_zeros(layers.shape[:2] + layers.shape[3:])
    for step in range(layers.shape[2]):
        total += layers[:, :, step]
    mean = total / counts.view(1, -1, 1)
    if layers.shape[2] == 0:
        maximum = torch.zeros_like(mean)
    else:
        filled = layers.masked_fill(~mask.view(1, *mask.shape, 1), float("-inf"))
        maximum = filled.amax(dim=2)
        maximum = torch.where(torch.isinf(maximum), torch.zeros_like(maximum), maximum)
    return mean.transpose(0, 1), maximum.transpose(0, 1)


def combine_layers(per_layer: np.ndarray, layer: int | str, mix: np.ndarray | None = None,
                   gamma: float = 1.0) -> np.ndarray:
    """Select, concatenate or mix layers along axis -2.

    Parameters
    ----------
    per_layer : ndarray of shape (..., n_layers, dim)
    layer : int, "all" or "mix"
    mix : ndarray of shape (n_layers,), optional
        Softmax-normalized mix weights (for ``"mix"``).
    gamma : float, default=1.0
        Scale of the mix.

    Returns
    -------
    ndarray of shape (..., dim) or (..., n_layers * dim) for ``"all"``
    """
    if layer == "all":
        *leading, n_layers, dim = per_layer.shape
        return per_layer.reshape(*leading, n_layers * dim)  # not -1: leading may be (0,)
    if layer == "mix":
        # An elementwise sum in layer order, not a BLAS product: every row gets the
        # same rounding however many rows are mixed at once.
        weights = mix.astype(per_layer.dtype)
        mixed = per_layer[..., 0, :] * weights[0]
        for k in range(1, per_layer.shape[-2]):
            mixed += per_layer[..., k, :] * weights[k]
        mixed *= per_layer.dtype.type(gamma)
        return mixed
    return per_layer[..., layer, :]
