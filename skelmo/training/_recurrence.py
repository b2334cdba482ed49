"""ELMo's projected, clipped LSTM cell over a whole window, with a hand-written backward pass.

Autograd through a per-step Python loop records a dozen small operations per
step and accumulates every weight gradient one step at a time. Here the
forward pass runs without recording and keeps what the backward pass needs;
the backward pass walks the steps once in reverse for the state gradients and
then forms each weight gradient with one matrix product over all steps. The
stacks of several directions run together as a batch of matrix products, so
each Python-level operation does the work of both language models.

The cell is the published one (TensorFlow's ``LSTMCell`` with
``num_proj``): a constant added to the forget gate, the cell state clipped to
``[-cell_clip, cell_clip]`` and the projected output to
``[-proj_clip, proj_clip]``. A clipped value passes no gradient, as with
:func:`torch.clamp`.
"""

from __future__ import annotations

from typing import Any

import torch

_sigmoid_backward = torch.ops.aten.sigmoid_backward.grad_input
_tanh_backward = torch.ops.aten.tanh_backward.grad_input

__all__ = ["GATE_ORDER", "projected_lstm"]


#: Where each of this module's gates (input, forget, output, candidate) sits in
#: the published gate order (input, candidate, forget, output): index the
#: columns of a published kernel with it. The three sigmoid gates come first so
#: that one call activates them.
GATE_ORDER = (0, 2, 3, 1)


def projected_lstm(
    x_gates: torch.Tensor,
    h0: torch.Tensor,
    c0: torch.Tensor,
    w_hidden: torch.Tensor,
    w_proj: torch.Tensor,
    forget_bias: float,
    cell_clip: float | None,
    proj_clip: float | None,
    matmul_dtype: torch.dtype | None = None,
    bias: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run stacked LSTM cells over ``steps`` time steps.

    Gate columns are in the order of :data:`GATE_ORDER` (input, forget,
    output, candidate), each ``cell`` wide.

    Parameters
    ----------
    x_gates : Tensor of shape (stacks, steps, batch, 4 * cell)
        The input's share of the gate pre-activations (input times the input
        half of the kernel), for every step: time-major, as every tensor of
        the recurrence, so that no step's block is copied.
    h0, c0 : Tensor of shape (stacks, batch, proj) and (stacks, batch, cell)
        The state before the first step.
    w_hidden : Tensor of shape (stacks, proj, 4 * cell)
        The recurrent half of each kernel.
    w_proj : Tensor of shape (stacks, cell, proj)
        Each cell's output projection.
    forget_bias : float
        Added to the forget gate's pre-activation.
    cell_clip, proj_clip : float or None
        Clip values; None for no clipping.
    matmul_dtype : torch.dtype, default=None
        The dtype of the matrix products (``torch.bfloat16`` for mixed
        precision); None for the state's dtype. The state, the gates and all
        elementwise work stay in the state's dtype (float32).
    bias : Tensor of shape (stacks, 4 * cell), optional
        Added to ``x_gates`` (in the pass that copies them into the gates'
        buffer, instead of a pass of its own).

    Returns
    -------
    outputs : Tensor of shape (stacks, steps, batch, proj)
        The projected output of every step.
    h, c : Tensor
        The state after the last step.
    """
    return _ProjectedLstm.apply(x_gates, h0, c0, w_hidden, w_proj, bias, forget_bias, cell_clip,
                                proj_clip, matmul_dtype or h0.dtype)


class _ProjectedLstm(torch.autograd.Function):
    """Buffers are (stacks, steps, batch, width): a step is one contiguous block per stack."""

    @staticmethod
    def forward(ctx: Any, x_gates: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
                w_hidden: torch.Tensor, w_proj: torch.Tensor, bias: torch.Tensor | None,
                forget_bias: float, cell_clip: float | None, proj_clip: float | None,
                matmul_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        stacks, steps, batch, four_cell = x_gates.shape
        cell, proj = four_cell // 4, w_proj.shape[-1]
        dtype = h0.dtype
        # The bias and the forget gate's constant, added as x_gates are copied.
        offset = h0.new_zeros(stacks, four_cell) if bias is None else bias.to(dtype, copy=True)
        offset[:, cell : 2 * cell] += forget_bias
        # Becomes the activated gates, step by step, in place.
        if x_gates.dtype == dtype:
            gates = torch.add(x_gates, offset[:, None, None])
        else:  # a mixed-type addition would take a slow path: convert first
            gates = x_gates.to(dtype, memory_format=torch.contiguous_format, copy=True)
            gates += offset[:, None, None]
        cells = h0.new_empty(stacks, steps + 1, batch, cell)   # c before each step, and after
        hidden = h0.new_empty(stacks, steps + 1, batch, proj)  # h likewise
        tanh_cells = h0.new_empty(stacks, steps, batch, cell)
        mixed = h0.new_empty(stacks, steps, batch, cell)       # o * tanh(c), projected to h
        # Products into fresh tensors, then added or copied into the buffers:
        # measured faster than writing them into the buffers' slices in place.
        w_hidden_m, w_proj_m = w_hidden.to(matmul_dtype), w_proj.to(matmul_dtype)
        # 1 where a value was inside its clip, else 0: the gradient's mask. Held in
        # the gradient's dtype, since products of mixed dtypes are not vectorised.
        masks = []
        if cell_clip is not None:
            cell_kept = h0.new_empty(stacks, steps, batch, cell)
            masks.append(cell_kept)
        if proj_clip is not None:
            proj_kept = h0.new_empty(stacks, steps, batch, proj)
            masks.append(proj_kept)
        cells[:, 0] = c0
        hidden[:, 0] = h0
        for t in range(steps):
            g = gates[:, t]
            g.add_(torch.bmm(hidden[:, t].to(matmul_dtype), w_hidden_m))
            g[..., :3 * cell].sigmoid_()
            # tanh over a strided slice runs slowly: 80-95 us on a 2-core Xeon against
            # 25-35 us through a contiguous copy (2 x 128 x 256 values).
            candidate = g[..., 3 * cell:]
            candidate.copy_(candidate.contiguous().tanh_())
            i, f, o, j = g.chunk(4, dim=-1)
            c = cells[:, t + 1]
            torch.mul(f, cells[:, t], out=c)
            c.addcmul_(i, j)
            if cell_clip is not None:
                cell_kept[:, t] = c.abs() <= cell_clip
                c.clamp_(-cell_clip, cell_clip)
            torch.tanh(c, out=tanh_cells[:, t])
            torch.mul(o, tanh_cells[:, t], out=mixed[:, t])
            h = hidden[:, t + 1]
            h.copy_(torch.bmm(mixed[:, t].to(matmul_dtype), w_proj_m))
            if proj_clip is not None:
                proj_kept[:, t] = h.abs() <= proj_clip
                h.clamp_(-proj_clip, proj_clip)
        ctx.save_for_backward(gates, cells, tanh_cells, mixed, hidden, w_hidden, w_proj, *masks)
        ctx.clipped = (cell_clip is not None, proj_clip is not None)
        ctx.bias_dtype = None if bias is None else bias.dtype
        ctx.matmul_dtype, ctx.x_dtype = matmul_dtype, x_gates.dtype
        return hidden[:, 1:].clone(), hidden[:, steps].clone(), cells[:, steps].clone()

    @staticmethod
    def backward(ctx: Any, d_outputs: torch.Tensor | None, d_h_last: torch.Tensor | None,
                 d_c_last: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        gates, cells, tanh_cells, mixed, hidden, w_hidden, w_proj, *masks = ctx.saved_tensors
        cell_kept = masks.pop(0) if ctx.clipped[0] else None
        proj_kept = masks.pop(0) if ctx.clipped[1] else None
        stacks, steps, batch, four_cell = gates.shape
        cell = four_cell // 4
        d_gates = torch.empty_like(gates)
        d_hidden = torch.empty_like(hidden[:, 1:])  # gradient of each step's h before its clip
        d_h = torch.zeros_like(hidden[:, 0]) if d_h_last is None else d_h_last.clone()
        d_c = torch.zeros_like(cells[:, 0]) if d_c_last is None else d_c_last.clone()
        dtype, matmul_dtype = gates.dtype, ctx.matmul_dtype
        w_hidden_t = w_hidden.to(matmul_dtype).transpose(1, 2)
        w_proj_t = w_proj.to(matmul_dtype).transpose(1, 2)

        def product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.bmm(a.to(matmul_dtype), b.to(matmul_dtype)).to(dtype)

        for t in reversed(range(steps)):
            if d_outputs is not None:
                d_h = d_h + d_outputs[:, t]
            if proj_kept is not None:
                d_h = d_h * proj_kept[:, t]
            d_hidden[:, t] = d_h
            d_mixed = product(d_h, w_proj_t)
            i, f, o, j = gates[:, t].chunk(4, dim=-1)
            tanh_c = tanh_cells[:, t]
            # Into the cell state through tanh(c), then through its clip.
            d_c = d_c + _tanh_backward(d_mixed * o, tanh_c, grad_input=torch.empty_like(d_c))
            if cell_kept is not None:
                d_c = d_c * cell_kept[:, t]
            d_g = d_gates[:, t]
            d_i, d_f, d_o, d_j = d_g.chunk(4, dim=-1)
            torch.mul(d_c, j, out=d_i)
            torch.mul(d_c, cells[:, t], out=d_f)
            torch.mul(d_mixed, tanh_c, out=d_o)
            _sigmoid_backward(d_g[..., :3 * cell], gates[:, t, ..., :3 * cell],
                              grad_input=d_g[..., :3 * cell])
            _tanh_backward(d_c * i, j, grad_input=d_j)
            d_c = d_c * f
            d_h = product(d_g, w_hidden_t)
        # Each weight gradient over all steps in one product per stack.
        d_w_hidden = product(_all_steps(hidden[:, :steps]).transpose(1, 2),
                             _all_steps(d_gates)).to(w_hidden.dtype)
        d_w_proj = product(_all_steps(mixed).transpose(1, 2),
                           _all_steps(d_hidden)).to(w_proj.dtype)
        d_bias = None
        if ctx.bias_dtype is not None and ctx.needs_input_grad[5]:
            d_bias = d_gates.sum(dim=(1, 2)).to(ctx.bias_dtype)
        return (d_gates.to(ctx.x_dtype), d_h, d_c, d_w_hidden, d_w_proj, d_bias, None, None,
                None, None)


def _all_steps(buffer: torch.Tensor) -> torch.Tensor:
    """(stacks, steps, batch, width) as (stacks, steps * batch, width)."""
    stacks, steps, batch, width = buffer.shape
    return buffer.reshape(stacks, steps * batch, width)
