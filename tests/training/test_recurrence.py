"""The trainer's LSTM recurrence against a plain per-step autograd reference."""

from __future__ import annotations

import pytest
import torch

from skelmo.training._recurrence import projected_lstm

FORGET_BIAS = 1.0


def _reference(x_gates, h, c, w_hidden, w_proj, cell_clip, proj_clip):
    """One stack, one step at a time, every operation recorded by autograd.

    Gates in the recurrence's order: input, forget, output, candidate.
    """
    outputs = []
    for t in range(x_gates.shape[0]):
        i, f, o, j = (x_gates[t] + h @ w_hidden).chunk(4, dim=-1)
        c = torch.sigmoid(f + FORGET_BIAS) * c + torch.sigmoid(i) * torch.tanh(j)
        if cell_clip is not None:
            c = c.clamp(-cell_clip, cell_clip)
        h = (torch.sigmoid(o) * torch.tanh(c)) @ w_proj
        if proj_clip is not None:
            h = h.clamp(-proj_clip, proj_clip)
        outputs.append(h)
    return torch.stack(outputs), h, c


def _inputs(stacks, batch, steps, proj, cell, dtype, scale, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return (torch.randn(*shape, generator=g, dtype=dtype) * scale).requires_grad_()

    return (rand(stacks, steps, batch, 4 * cell), rand(stacks, batch, proj),
            rand(stacks, batch, cell), rand(stacks, proj, 4 * cell), rand(stacks, cell, proj))


@pytest.mark.parametrize("clips", [(None, None), (3.0, 3.0), (0.5, 0.3)])
def test_loss_and_gradients_match_the_per_step_reference(clips):
    """Float32, the trainer's sizes shrunk; tight clips make clipping happen."""
    args = _inputs(2, 5, 7, 4, 6, torch.float32, scale=0.6)
    weights = [torch.randn(2, 7, 5, 4, generator=torch.Generator().manual_seed(1)),
               torch.randn(2, 5, 4), torch.randn(2, 5, 6)]
    out, h, c = projected_lstm(*args, FORGET_BIAS, *clips)
    loss = (out * weights[0]).sum() + (h * weights[1]).sum() + (c * weights[2]).sum()
    grads = torch.autograd.grad(loss, args)
    ref_loss = 0.0
    ref_parts = []
    for s in range(2):
        r_out, r_h, r_c = _reference(args[0][s], args[1][s], args[2][s], args[3][s],
                                     args[4][s], *clips)
        ref_parts.append((r_out, r_h, r_c))
        ref_loss = ref_loss + ((r_out * weights[0][s]).sum() + (r_h * weights[1][s]).sum()
                               + (r_c * weights[2][s]).sum())
    ref_grads = torch.autograd.grad(ref_loss, args)
    torch.testing.assert_close(out, torch.stack([p[0] for p in ref_parts]), rtol=0, atol=1e-5)
    torch.testing.assert_close(loss, ref_loss, rtol=1e-6, atol=1e-5)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    if clips[0] == 0.5:
        # The clip must have acted, or this case tests nothing.
        assert (args[2].detach().abs() > 0.5).any() or (c.detach().abs() == 0.5).any()
        assert (out.detach().abs() == 0.3).any()


def test_backward_is_the_exact_derivative_in_float64():
    """Finite differences on every input, clipping active."""
    args = _inputs(2, 3, 4, 2, 3, torch.float64, scale=1.0, seed=2)
    assert torch.autograd.gradcheck(
        lambda *a: projected_lstm(*a, FORGET_BIAS, 1.1, 0.7), args, eps=1e-6, atol=1e-6)


def test_no_gradient_when_only_some_outputs_are_used():
    args = _inputs(1, 2, 3, 2, 3, torch.float32, scale=1.0)
    out, _, _ = projected_lstm(*args, FORGET_BIAS, None, None)
    grads = torch.autograd.grad(out.sum(), args)
    ref_out, _, _ = _reference(*(a[0] for a in args), None, None)
    ref_grads = torch.autograd.grad(ref_out.sum(), args)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_bfloat16_products_stay_close_to_float32():
    """Mixed precision: the state and gradients stay float32 and near the float32 result."""
    args = _inputs(2, 6, 5, 8, 16, torch.float32, scale=0.5, seed=4)
    exact = projected_lstm(*args, FORGET_BIAS, 3.0, 3.0)
    mixed = projected_lstm(*args, FORGET_BIAS, 3.0, 3.0, torch.bfloat16)
    for got, want in zip(mixed, exact):
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want, rtol=0, atol=3e-2)
    grads = torch.autograd.grad(mixed[0].sum(), args)
    want_grads = torch.autograd.grad(exact[0].sum(), args)
    for got, want in zip(grads, want_grads):
        assert got.dtype == torch.float32
        scale = want.abs().max()
        assert (got - want).abs().max() <= 3e-2 * scale
    # A bfloat16 input (from an autocast product) gets a bfloat16 gradient.
    x_low = args[0].detach().to(torch.bfloat16).requires_grad_()
    out, _, _ = projected_lstm(x_low, *args[1:], FORGET_BIAS, None, None, torch.bfloat16)
    (grad,) = torch.autograd.grad(out.sum(), x_low)
    assert grad.dtype == torch.bfloat16


def test_bias_is_added_to_the_input_gates():
    """The bias argument computes what adding it to x_gates does, gradients included."""
    args = _inputs(2, 3, 4, 2, 3, torch.float64, scale=1.0, seed=5)
    bias = (torch.randn(2, 12, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
            .requires_grad_())
    with_bias = projected_lstm(*args, FORGET_BIAS, 1.1, 0.7, bias=bias)
    added = projected_lstm(args[0] + bias[:, None, None], *args[1:], FORGET_BIAS, 1.1, 0.7)
    for got, want in zip(with_bias, added):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    (d_bias, d_x) = torch.autograd.grad(with_bias[0].sum(), [bias, args[0]])
    torch.testing.assert_close(d_bias, d_x.sum(dim=(1, 2)), rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(
        lambda x, b: projected_lstm(x, *args[1:], FORGET_BIAS, 1.1, 0.7, bias=b),
        (args[0], bias), eps=1e-6, atol=1e-6)
