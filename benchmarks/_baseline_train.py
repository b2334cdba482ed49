"""The trainer's training step as it was before the batched recurrence, for benchmarking.

A copy of the step of skelmo 0.x's trainer: each direction's LSTM stack is a
Python loop over time steps with every operation recorded by autograd (so
each weight gradient is accumulated one step at a time), the two directions
run one after the other and go through the output layer separately, through
``nn.AdaptiveLogSoftmaxWithLoss`` itself (its log-softmax then a gather under
autograd). The character encoder runs once per distinct word of the window,
as it did. It uses the parameters of a
:class:`skelmo.training._model.TrainableBiLM` and
:class:`skelmo.training._model.LmSoftmax`, so both steps train the same model.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

_FORGET_BIAS = 1.0

__all__ = ["baseline_loss"]


def _run_direction(model, direction, x, state):
    o = model.options
    h_final, c_final = [], []
    for layer in range(o.n_layers):
        k = direction * o.n_layers + layer
        inputs = F.dropout(x, model.dropout, model.training)
        kernel = model.kernels[k]
        proj = o.projection_dim
        x_gates = torch.addmm(model.biases[k], inputs.reshape(-1, proj), kernel[:proj])
        x_gates = x_gates.view(x.shape[0], x.shape[1], -1)
        w_hidden, w_proj = kernel[proj:], model.projections[k]
        h, c = state[0][layer], state[1][layer]
        outputs = []
        for t in range(x.shape[1]):
            i, j, f, out = torch.addmm(x_gates[:, t], h, w_hidden).chunk(4, dim=-1)
            c = torch.sigmoid(f + _FORGET_BIAS) * c + torch.sigmoid(i) * torch.tanh(j)
            if o.cell_clip is not None:
                c = c.clamp(-o.cell_clip, o.cell_clip)
            h = (torch.sigmoid(out) * torch.tanh(c)) @ w_proj
            if o.proj_clip is not None:
                h = h.clamp(-o.proj_clip, o.proj_clip)
            outputs.append(h)
        h_final.append(h)
        c_final.append(c)
        layer_out = torch.stack(outputs, dim=1)
        x = layer_out + x if (layer > 0 and o.use_skip_connections) else layer_out
    return F.dropout(x, model.dropout, model.training), torch.stack(h_final), torch.stack(c_final)


def _log_prob(softmax, hidden, targets):
    if softmax.cutoffs:
        return softmax.layer(hidden, targets).output
    return -F.cross_entropy(softmax.layer(hidden), targets, reduction="none")


def baseline_loss(model, softmax, window, char_ids, targets, state):
    """Mean loss of both directions and the carried state, as the old trainer computed them."""
    forward, backward = window.forward, window.backward
    rows = forward.shape[0]
    inputs = torch.cat([forward[:, :-1], backward[:, :-1]])
    distinct, position = torch.unique(inputs, return_inverse=True)
    x = model.encode(char_ids[distinct])[position]
    out_f, h_f, c_f = _run_direction(model, 0, x[:rows], (state[0][0], state[1][0]))
    out_b, h_b, c_b = _run_direction(model, 1, x[rows:], (state[0][1], state[1][1]))
    dim = out_f.shape[-1]
    log_f = _log_prob(softmax, out_f.reshape(-1, dim), targets[forward[:, 1:]].reshape(-1))
    log_b = _log_prob(softmax, out_b.reshape(-1, dim), targets[backward[:, 1:]].reshape(-1))
    carried = (torch.stack([h_f, h_b]).detach(), torch.stack([c_f, c_b]).detach())
    return -(log_f.mean() + log_b.mean()) / 2, carried
