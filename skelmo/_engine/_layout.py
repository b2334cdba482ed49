"""Weights between the published (TensorFlow) orientation and PyTorch's.

The engine and the trainer both hold the character encoder in PyTorch's
orientation; these functions are the one place that converts it, so a model
read, trained and written back keeps every weight exactly.
"""

from __future__ import annotations

import numpy as np
import torch

from .._format import HighwayWeights

__all__ = ["conv_from_torch", "conv_to_matrix", "conv_to_torch", "highway_from_torch",
           "highway_to_torch"]


def conv_to_torch(kernel: np.ndarray) -> np.ndarray:
    """A TF ``conv2d`` kernel ``(1, width, in, out)`` as a ``conv1d`` weight (out, in, width)."""
    return np.ascontiguousarray(kernel[0].transpose(2, 1, 0))


def conv_from_torch(weight: np.ndarray) -> np.ndarray:
    """Inverse of :func:`conv_to_torch`."""
    return np.ascontiguousarray(weight.transpose(2, 1, 0)[None])


def conv_to_matrix(weight: torch.Tensor) -> torch.Tensor:
    """A ``conv1d`` weight (out, in, width) as one product's matrix (width * in, out).

    Its rows follow a window of the input (columns, then dimensions), as
    :func:`~skelmo._engine._bilm.convolutions_max` reads them.
    """
    return weight.permute(2, 1, 0).reshape(-1, weight.shape[0])


def highway_to_torch(layer: HighwayWeights) -> tuple[np.ndarray, np.ndarray]:
    """One highway layer as a single product: ``[transform, carry]`` columns and biases.

    TF computes ``carry * relu(x W_t + b_t) + (1 - carry) * x`` with
    ``carry = sigmoid(x W_c + b_c)``: the "carry" gate scales the
    transformed branch.
    """
    return (np.concatenate([layer.w_transform, layer.w_carry], axis=1),
            np.concatenate([layer.b_transform, layer.b_carry]))


def highway_from_torch(weight: np.ndarray, bias: np.ndarray) -> HighwayWeights:
    """Inverse of :func:`highway_to_torch`."""
    w_transform, w_carry = np.split(weight, 2, axis=1)
    b_transform, b_carry = np.split(bias, 2)
    return HighwayWeights(w_carry=w_carry.copy(), b_carry=b_carry.copy(),
                          w_transform=w_transform.copy(), b_transform=b_transform.copy())
