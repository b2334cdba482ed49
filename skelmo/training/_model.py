"""A trainable biLM with the published ELMo architecture.

The LSTM parameters are kept in the orientation of the published weight
files (TensorFlow's) and the character encoder in PyTorch's, converted by the
engine's own functions. The inference engine (:mod:`skelmo._engine`)
computes the same function with other memory layouts;
the tests check that an exported model gives the engine the outputs computed
here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._engine import (
    FORGET_BIAS,
    character_columns,
    conv_from_torch,
    conv_to_matrix,
    conv_to_torch,
    convolutions_max,
    highway_and_projection,
    highway_from_torch,
    highway_to_torch,
)
from .._format import N_CHARACTER_ROWS, ElmoOptions, ElmoWeights, LstmCellWeights
from ._recurrence import GATE_ORDER, projected_lstm

__all__ = ["LmSoftmax", "TrainableBiLM"]


class TrainableBiLM(nn.Module):
    """Character encoder and two LSTM stacks, one per reading direction.

    Parameters
    ----------
    options : ElmoOptions
        The architecture.
    generator : torch.Generator
        Source of the initial weights.
    dropout : float
        Dropout on every LSTM layer's input and on the top layer's output,
        applied in training mode only.
    """

    def __init__(self, options: ElmoOptions, generator: torch.Generator, dropout: float = 0.1):
        super().__init__()
        self.options = options
        self.dropout = dropout
        self.max_width = max(w for w, _ in options.filters)
        n_filters, proj, cell = options.n_filters, options.projection_dim, options.cell_dim

        def param(*shape: int, scale: float = 0.0, uniform: bool = False) -> nn.Parameter:
            if uniform:
                data = (torch.rand(*shape, generator=generator) * 2 - 1) * scale
            else:
                data = torch.randn(*shape, generator=generator) * scale
            return nn.Parameter(data)

        # Character ids run from 1 to 261: row id - 1 of the embedding.
        self.char_embed = param(N_CHARACTER_ROWS, options.char_dim, scale=1.0, uniform=True)
        # conv1d orientation (out, in, width); the file stores (1, width, in, out).
        self.conv_weights = nn.ParameterList(
            [param(n, options.char_dim, w, scale=math.sqrt(1.0 / (w * options.char_dim)))
             for w, n in options.filters])
        self.conv_biases = nn.ParameterList([param(n) for _, n in options.filters])
        self.highway_weights = nn.ParameterList()
        self.highway_biases = nn.ParameterList()
        for _ in range(options.n_highway):
            # Columns: transform half, then carry half. A negative carry bias
            # starts each layer close to the identity.
            self.highway_weights.append(param(n_filters, 2 * n_filters,
                                              scale=math.sqrt(1.0 / n_filters)))
            bias = torch.zeros(2 * n_filters)
            bias[n_filters:] = -2.0
            self.highway_biases.append(nn.Parameter(bias))
        if options.uses_projection:
            self.proj_weight = param(n_filters, proj, scale=math.sqrt(1.0 / n_filters))
            self.proj_bias = param(proj)
        else:
            self.proj_weight = self.proj_bias = None
        # LSTM layers in TF orientation, indexed direction * n_layers + layer:
        # kernel (2 * proj, 4 * cell) with gates (input, candidate, forget, output).
        glorot = math.sqrt(6.0 / (2 * proj + 4 * cell))
        n_cells = 2 * options.n_layers
        self.kernels = nn.ParameterList(
            [param(2 * proj, 4 * cell, scale=glorot, uniform=True) for _ in range(n_cells)])
        self.biases = nn.ParameterList([param(4 * cell) for _ in range(n_cells)])
        self.projections = nn.ParameterList(
            [param(cell, proj, scale=math.sqrt(6.0 / (cell + proj)), uniform=True)
             for _ in range(n_cells)])

    def encode(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Token vectors of shape (n, projection_dim) for char ids of shape (n, 50)."""
        chars = F.embedding(_trim_padding(char_ids, self.max_width) - 1, self.char_embed)
        pooled = convolutions_max(chars, [w.shape[-1] for w in self.conv_weights],
                                  [conv_to_matrix(w) for w in self.conv_weights],
                                  self.conv_biases)
        return highway_and_projection(pooled, self.options.activation, self.highway_weights,
                                      self.highway_biases, self.proj_weight, self.proj_bias)

    def zero_state(self, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero ``(h, c)`` for both directions: shapes (2, n_layers, batch, proj / cell)."""
        o = self.options
        return (torch.zeros(2, o.n_layers, batch, o.projection_dim, device=device),
                torch.zeros(2, o.n_layers, batch, o.cell_dim, device=device))

    def run_stacks(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
                   matmul_dtype: torch.dtype | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run both directions' stacks, each over its own input.

        Parameters
        ----------
        x : Tensor of shape (2, steps, batch, proj)
            ``x[0]`` for the forward stack, ``x[1]`` (text reversed) for the
            backward one; time-major, as the recurrence (see
            :func:`~skelmo.training._recurrence.projected_lstm`).
        state : (h, c)
            Each of shape (2, n_layers, batch, proj / cell).
        matmul_dtype : torch.dtype, default=None
            The recurrence's matrix products in this dtype (``torch.bfloat16``
            for mixed precision); None for the state's.

        Returns
        -------
        outputs : Tensor of shape (2, steps, batch, proj)
            Each stack's top layer.
        h, c : Tensor
            The final state, shaped as ``state``.
        """
        o = self.options
        proj = o.projection_dim
        stacks, steps, batch, _ = x.shape
        h_final, c_final = [], []
        for layer in range(o.n_layers):
            # Both directions' weights, gate columns in the recurrence's order.
            kernels = _gate_columns(
                torch.stack([self.kernels[d * o.n_layers + layer] for d in range(2)]))
            biases = _gate_columns(
                torch.stack([self.biases[d * o.n_layers + layer] for d in range(2)]))
            w_proj = torch.stack([self.projections[d * o.n_layers + layer] for d in range(2)])
            inputs = _dropout(x, self.dropout, self.training)
            # The input half of every gate, for all steps of both stacks at once.
            x_gates = torch.bmm(inputs.reshape(stacks, -1, proj),
                                kernels[:, :proj]).view(stacks, steps, batch, -1)
            out, h, c = projected_lstm(x_gates, state[0][:, layer], state[1][:, layer],
                                       kernels[:, proj:], w_proj, FORGET_BIAS,
                                       o.cell_clip, o.proj_clip, matmul_dtype, bias=biases)
            h_final.append(h)
            c_final.append(c)
            x = out + x if (layer > 0 and o.use_skip_connections) else out
        return (_dropout(x, self.dropout, self.training), torch.stack(h_final, dim=1),
                torch.stack(c_final, dim=1))

    def load_weights(self, weights: ElmoWeights) -> None:
        """Set every parameter from weights in the published layout."""
        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        with torch.no_grad():
            self.char_embed.copy_(tensor(weights.char_embed))
            for (kernel, bias), w, b in zip(weights.conv, self.conv_weights, self.conv_biases):
                w.copy_(tensor(conv_to_torch(kernel)))
                b.copy_(tensor(bias))
            for layer, w, b in zip(weights.highway, self.highway_weights, self.highway_biases):
                fused_weight, fused_bias = highway_to_torch(layer)
                w.copy_(tensor(fused_weight))
                b.copy_(tensor(fused_bias))
            if weights.projection is not None:
                self.proj_weight.copy_(tensor(weights.projection[0]))
                self.proj_bias.copy_(tensor(weights.projection[1]))
            n = self.options.n_layers
            for d in range(2):
                for layer in range(n):
                    cw = weights.lstm[d][layer]
                    self.kernels[d * n + layer].copy_(tensor(cw.kernel))
                    self.biases[d * n + layer].copy_(tensor(cw.bias))
                    self.projections[d * n + layer].copy_(tensor(cw.projection))

    def to_weights(self) -> ElmoWeights:
        """The weights in the published layout, as float32 arrays."""
        def npy(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().numpy().astype(np.float32, copy=True)

        conv = [(conv_from_torch(npy(w)), npy(b))
                for w, b in zip(self.conv_weights, self.conv_biases)]
        highway = [highway_from_torch(npy(w), npy(b))
                   for w, b in zip(self.highway_weights, self.highway_biases)]
        projection = None
        if self.proj_weight is not None:
            projection = (npy(self.proj_weight), npy(self.proj_bias))
        n = self.options.n_layers
        lstm = [[LstmCellWeights(kernel=npy(self.kernels[d * n + layer]),
                                 bias=npy(self.biases[d * n + layer]),
                                 projection=npy(self.projections[d * n + layer]))
                 for layer in range(n)] for d in range(2)]
        return ElmoWeights(npy(self.char_embed), conv, highway, projection, lstm)


def _dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """``F.dropout(x, p, training)``, with a cheaper random mask on the CPU.

    On the CPU torch draws one 32-bit number per value from a Mersenne Twister
    (3-4 ns each): at 128 x 20 with 128-wide inputs a call took 7-8 ms, three
    calls per training step, backward passes not counted.
    Here numpy's PCG64, seeded from torch's generator (so
    :func:`torch.manual_seed` and a checkpoint's random state still decide the
    mask), draws 16 bits per value, and ``p`` is applied as the nearest
    multiple of 1/65,536. Elsewhere this is :func:`torch.nn.functional.dropout`.
    """
    dropped = round(p * 65536)  # of every 65,536 values
    if not training or dropped == 0:
        return x
    if x.device.type != "cpu" or dropped == 65536:
        return F.dropout(x, p, training)
    seed = int(torch.randint(0, 2**62, (1,)))
    bits = np.random.Generator(np.random.PCG64(seed)).integers(
        0, 1 << 16, x.numel(), dtype=np.uint16)
    # The 16 bits read as a signed number, uniform over [-32768, 32767].
    kept = torch.from_numpy(bits.view(np.int16)).view(x.shape) >= dropped - 32768
    return x * torch.where(kept, 65536 / (65536 - dropped), 0.0).to(x.dtype)


def _gate_columns(published: torch.Tensor) -> torch.Tensor:
    """Reorder the last axis from the published gate order to :data:`GATE_ORDER`.

    Slices joined by :func:`torch.cat`, whose gradient is slices again: indexing
    with the order instead took twice as long, forward and backward.
    """
    width = published.shape[-1] // 4
    return torch.cat([published[..., gate * width : (gate + 1) * width] for gate in GATE_ORDER],
                     dim=-1)


def _trim_padding(char_ids: torch.Tensor, max_width: int) -> torch.Tensor:
    """Drop the padding columns that no token needs (see ``character_columns``)."""
    if char_ids.shape[0] == 0:
        return char_ids[:, :max_width]
    return char_ids[:, : int(character_columns(char_ids, max_width).max())]


class LmSoftmax(nn.Module):
    """The output layer shared by both language models.

    An adaptive softmax (frequent words in a small head, rarer words in
    smaller clusters) when the vocabulary is large enough, else a full one.

    Parameters
    ----------
    in_features : int
        Width of the LSTM outputs.
    n_words : int
        Vocabulary size; word ids must be sorted by decreasing frequency.
    cutoffs : sequence of int
        Boundaries of the adaptive clusters; empty for a full softmax.
    """

    def __init__(self, in_features: int, n_words: int, cutoffs: tuple[int, ...]):
        super().__init__()
        self.cutoffs = tuple(cutoffs)
        if self.cutoffs:
            self.layer: nn.Module = nn.AdaptiveLogSoftmaxWithLoss(
                in_features, n_words, list(self.cutoffs), div_value=4.0)
        else:
            self.layer = nn.Linear(in_features, n_words)

    @staticmethod
    def default_cutoffs(n_words: int) -> tuple[int, ...]:
        """Cluster boundaries for a vocabulary of ``n_words``."""
        return tuple(c for c in (2000, 10000, 40000) if c < n_words - 1)

    def log_prob(self, hidden: torch.Tensor, targets: torch.Tensor,
                 matmul_dtype: torch.dtype | None = None) -> torch.Tensor:
        """Log-probability of each target word, shape (n,), in float32.

        ``nn.AdaptiveLogSoftmaxWithLoss.forward``'s computation (or a full
        softmax's), each log-softmax taken in float32 and never materialised:
        see :class:`_PickedLogSoftmax`. With ``matmul_dtype=torch.bfloat16``
        the products of the head (or of the full softmax) take bfloat16
        operands; the clusters' products, whose inner dimension is a few
        dozen values, stay float32.
        """
        if not self.cutoffs:
            return _PickedLogSoftmax.apply(hidden, self.layer.weight, self.layer.bias, targets,
                                           matmul_dtype or hidden.dtype)
        layer = self.layer
        bounds = [0, *layer.cutoffs]
        output = hidden.new_zeros(targets.shape[0], dtype=torch.float32)
        head_index = targets.clone()
        for k in range(1, len(bounds) - 1):
            rows = ((targets >= bounds[k]) & (targets < bounds[k + 1])).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            reduce, expand = layer.tail[k - 1]
            with torch.autocast(hidden.device.type, enabled=False):  # the dtypes are explicit
                reduced = reduce(hidden.index_select(0, rows).float())
            local = _PickedLogSoftmax.apply(reduced, expand.weight, None,
                                            targets.index_select(0, rows) - bounds[k],
                                            torch.float32)
            output = output.index_copy(0, rows, local)
            head_index = head_index.index_fill(0, rows, layer.shortlist_size + k - 1)
        head = _PickedLogSoftmax.apply(hidden, layer.head.weight, layer.head.bias, head_index,
                                       matmul_dtype or hidden.dtype)
        return output + head


# Rows of logits computed at a time: a block of about 4 MB, which stays in cache
# between its product, its log-softmax and the gradient made of it (of blocks of
# 0.5 to 32 MB, the fastest on a 2-core Xeon with 2 MB of L2 cache per core).
_BLOCK_VALUES = 1 << 20


class _PickedLogSoftmax(torch.autograd.Function):
    """``log_softmax(x @ weight.T + bias)`` at one column per row, in float32.

    The logits are made, used and dropped a block of rows at a time, in the
    forward pass and again in the backward pass, which keeps each row's
    log-sum-exp and recomputes its logits: no tensor of the logits' size is
    ever allocated. Such a tensor (5,120 x 2,002 floats at 128 x 20, 41 MB)
    comes fresh from the operating system at every step, and its page faults
    and trips to memory cost more than the recomputed product.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                columns: torch.Tensor, matmul_dtype: torch.dtype) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):  # the dtypes are explicit
            x = x.float()
            picked, log_sum_exp = x.new_empty(x.shape[0]), x.new_empty(x.shape[0])
            for rows, logits in _logit_blocks(x.to(matmul_dtype), weight.to(matmul_dtype),
                                              bias):
                log_softmax = torch.log_softmax(logits, dim=1)
                at_columns = columns[rows].unsqueeze(1)
                picked[rows] = log_softmax.gather(1, at_columns).squeeze(1)
                torch.sub(logits.gather(1, at_columns).squeeze(1), picked[rows],
                          out=log_sum_exp[rows])
        ctx.save_for_backward(x, weight, bias, columns, log_sum_exp)
        ctx.matmul_dtype = matmul_dtype
        return picked

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight, bias, columns, log_sum_exp = ctx.saved_tensors
        want_x, want_weight, want_bias = ctx.needs_input_grad[:3]
        d_x = torch.empty_like(x) if want_x else None
        d_weight = torch.zeros_like(weight) if want_weight else None
        d_bias = torch.zeros_like(bias) if bias is not None and want_bias else None
        with torch.autocast(x.device.type, enabled=False):
            low_x, low_weight = x.to(ctx.matmul_dtype), weight.to(ctx.matmul_dtype)
            for rows, logits in _logit_blocks(low_x, low_weight, bias):
                # d picked / d logits = one-hot(columns) - softmax(logits), in place
                row_grad = grad[rows].unsqueeze(1)
                grad_logits = logits.sub_(log_sum_exp[rows].unsqueeze(1)).exp_().mul_(-row_grad)
                grad_logits.scatter_add_(1, columns[rows].unsqueeze(1), row_grad)
                low = grad_logits.to(ctx.matmul_dtype)
                if d_x is not None:
                    d_x[rows] = torch.mm(low, low_weight)
                if d_weight is not None:
                    d_weight += torch.mm(low.t(), low_x[rows])
                if d_bias is not None:
                    d_bias += grad_logits.sum(dim=0)
        return d_x, d_weight, d_bias, None, None


def _logit_blocks(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
                  ) -> Iterator[tuple[slice, torch.Tensor]]:
    """``x @ weight.T + bias`` in float32, a block of rows at a time.

    ``x`` and ``weight`` come in the products' dtype (float32, or bfloat16
    for mixed precision), converted once by the caller, which uses them
    again. Yields each block's rows of ``x`` and its logits, which the caller
    may overwrite.
    """
    step = max(16, _BLOCK_VALUES // max(weight.shape[0], 1))
    weight_t = weight.t()
    for start in range(0, x.shape[0], step):
        rows = slice(start, min(start + step, x.shape[0]))
        if x.dtype != torch.float32:
            logits = torch.mm(x[rows], weight_t).float()
            if bias is not None:
                logits += bias
        elif bias is not None:
            logits = torch.addmm(bias, x[rows], weight_t)
        else:
            logits = torch.mm(x[rows], weight_t)
        yield rows, logits
