"""Learning scalar-mix weights with a linear probe."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.utils.multiclass import type_of_target

__all__ = ["learn_mix_weights"]


def learn_mix_weights(
    features: np.ndarray,
    y: np.ndarray,
    *,
    random_state: int | None,
    samples: str = "samples",
    alpha: float = 1e-3,
    max_iter: int = 200,
) -> tuple[np.ndarray, float]:
    """Fit softmax layer weights and a scale through a linear probe on ``y``.

    The probe predicts ``y`` from ``gamma * sum_k softmax(w)_k * features[:, k]``
    with a logistic loss for class labels and a squared loss for a continuous
    target, plus ``alpha`` times the squared norm of the probe's weights.
    A probe's weights can absorb any scale, so ``gamma`` is not free: it is
    the scale that gives the mixed features unit average variance on the
    training data, which also suits the linear models that usually follow.
    Optimized with L-BFGS from a seeded start, so the result is deterministic
    under ``random_state``.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_layers, dim)
    y : array-like of shape (n_samples,)
    random_state : int or None
        Seed of the probe's initial weights (None means 0).
    samples : str, default="samples"
        What a row of ``features`` is, for the error when ``y`` has another
        length ("documents", "tokens").
    alpha : float, default=1e-3
        L2 penalty of the probe.
    max_iter : int, default=200

    Returns
    -------
    mix_weights : ndarray of shape (n_layers,)
        Pre-softmax weights.
    gamma : float
    """
    y = np.asarray(y)
    if y.shape[0] != features.shape[0]:
        raise ValueError(
            f"y needs one entry per {samples[:-1]}: X has {features.shape[0]} {samples}, y has "
            f"{y.shape[0]} entries."
        )
    target_type = type_of_target(y)
    generator = torch.Generator().manual_seed(0 if random_state is None else int(random_state))
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).double()
    n_layers, dim = x.shape[1], x.shape[2]
    if target_type in ("binary", "multiclass"):
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError("learn_mix needs at least two classes in y.")
        target = torch.from_numpy(codes.astype(np.int64))
        n_out = len(classes)

        def data_loss(scores: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(scores, target)
    elif target_type in ("continuous", "multiclass-multioutput", "continuous-multioutput") or \
            np.issubdtype(y.dtype, np.floating):
        values = y.astype(np.float64).reshape(len(y), -1)
        values = (values - values.mean(0)) / np.where(values.std(0) > 0, values.std(0), 1.0)
        target = torch.from_numpy(values)
        n_out = target.shape[1]

        def data_loss(scores: torch.Tensor) -> torch.Tensor:
            return 0.5 * ((scores - target) ** 2).mean()
    else:
        raise ValueError(f"learn_mix cannot learn from a target of type {target_type!r}.")

    w = torch.zeros(n_layers, dtype=torch.float64, requires_grad=True)
    coef = (0.01 * torch.randn(dim, n_out, generator=generator, dtype=torch.float64)
            ).requires_grad_()
    bias = torch.zeros(n_out, dtype=torch.float64, requires_grad=True)
    params = [w, coef, bias]

    def mix(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mixed = torch.einsum("nld,l->nd", x, torch.softmax(weights, 0))
        scale = mixed.var(dim=0, unbiased=False).mean().clamp(min=1e-12).rsqrt()
        return mixed * scale, scale

    optimizer = torch.optim.LBFGS(params, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        mixed, _ = mix(w)
        loss = data_loss(mixed @ coef + bias) + alpha * (coef ** 2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        _, gamma = mix(w)
    return w.detach().numpy().copy(), float(gamma)
