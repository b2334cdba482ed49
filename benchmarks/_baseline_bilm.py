"""A straightforward ELMo biLM forward pass, for benchmarking skelmo against.

Written the way the common reference implementation (AllenNLP's
``_ElmoBiLm`` with ``_ElmoCharacterEncoder``, ``ElmoLstm`` and
``LstmCellWithProjection``) does it, with none of skelmo's optimisations:

* the character CNN, highway layers and projection run on every token
  position of the padded batch (boundaries and padding included; no
  de-duplication of words);
* each LSTM layer and direction steps one time step at a time and computes
  the full gate product ``concat([x_t, h_{t-1}]) @ W + b`` at every step (the
  input half is not precomputed for many steps at once);
* the batch is sorted by length and finished rows drop out of the product
  (forward direction), or join as their last token is reached (backward
  direction, which walks time from the end: each sentence reversed within its
  length, starting from the zero state);
* fresh tensors are allocated at every step (the full-batch state is cloned
  before it is updated, as AllenNLP does).

Weights come from :func:`skelmo.read_model` in TensorFlow orientation
and are used as such: the LSTM kernel ``W_0`` of shape ``(2P, 4C)`` with gate
order (i, j, f, o) and TensorFlow's forget bias of +1 added at run time. The
initial LSTM state is zero for every sentence. Only skelmo's model-file reader
and character-id helpers are used, never its model code.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from skelmo._format import BOS_TOKEN, EOS_TOKEN, MAX_CHARACTERS, read_model, token_to_ids

__all__ = ["BaselineBiLM"]

_FORGET_BIAS = 1.0


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


class BaselineBiLM:
    """Reference-style ELMo biLM (inference only, zero initial state).

    Parameters
    ----------
    options_file, weight_file : str or path-like
        The model files, read with :func:`skelmo.read_model`.
    """

    def __init__(self, options_file, weight_file):
        options, weights = read_model(options_file, weight_file)
        self.options = options
        # Character id 0 is padding: a zero row ahead of the trained rows.
        embed = np.zeros((weights.char_embed.shape[0] + 1, options.char_dim), np.float32)
        embed[1:] = weights.char_embed
        self.char_embed = _tensor(embed)
        # TF conv2d kernel (1, width, in, out) -> conv1d weight (out, in, width).
        self.convs = [(_tensor(kernel[0].transpose(2, 1, 0)), _tensor(bias))
                      for kernel, bias in weights.conv]
        self.highway = [(_tensor(h.w_transform), _tensor(h.b_transform),
                         _tensor(h.w_carry), _tensor(h.b_carry)) for h in weights.highway]
        self.projection = None
        if weights.projection is not None:
            self.projection = (_tensor(weights.projection[0]), _tensor(weights.projection[1]))
        # lstm[direction][layer] = (kernel (2P, 4C), bias (4C,), projection (C, P)).
        self.lstm = [[(_tensor(cell.kernel), _tensor(cell.bias), _tensor(cell.projection))
                      for cell in layers] for layers in weights.lstm]
        self.n_layers = options.n_layers
        self.cell_clip = options.cell_clip
        self.proj_clip = options.proj_clip
        self.use_skip_connections = options.use_skip_connections

    # ------------------------------------------------------------------ input
    @staticmethod
    def batch_to_ids(batch: Sequence[Sequence[str]]) -> tuple[torch.Tensor, list[int]]:
        """Character ids with ``<S>`` and ``</S>`` around every sentence.

        Returns ids of shape (B, max_len + 2, 50) (zeros past each sentence's
        end) and the lengths including the two boundary tokens.
        """
        lengths = [len(sentence) + 2 for sentence in batch]
        steps = max(lengths)
        ids = np.zeros((len(batch), steps, MAX_CHARACTERS), dtype=np.int64)
        for row, sentence in enumerate(batch):
            for col, token in enumerate([BOS_TOKEN, *sentence, EOS_TOKEN]):
                ids[row, col] = token_to_ids(token)
        return torch.from_numpy(ids), lengths

    # -------------------------------------------------------- character encoder
    def encode_chars(self, char_ids: torch.Tensor) -> torch.Tensor:
        """(N, 50) character ids -> (N, projection_dim) token vectors."""
        chars = F.embedding(char_ids, self.char_embed).transpose(1, 2)  # (N, dim, 50)
        pooled = []
        for weight, bias in self.convs:
            convolved = F.conv1d(chars, weight, bias)
            convolved, _ = torch.max(convolved, dim=-1)
            if self.options.activation == "relu":
                convolved = torch.relu(convolved)
            else:
                convolved = torch.tanh(convolved)
            pooled.append(convolved)
        x = torch.cat(pooled, dim=-1)
        for w_transform, b_transform, w_carry, b_carry in self.highway:
            carry = torch.sigmoid(torch.matmul(x, w_carry) + b_carry)
            transform = torch.relu(torch.matmul(x, w_transform) + b_transform)
            x = carry * transform + (1.0 - carry) * x
        if self.projection is not None:
            x = torch.matmul(x, self.projection[0]) + self.projection[1]
        return x

    # -------------------------------------------------------------------- LSTM
    def _lstm_layer(self, inputs: torch.Tensor, lengths: list[int], direction: int,
                    layer: int) -> torch.Tensor:
        """One layer of one direction over (B, T, P) inputs sorted by decreasing length."""
        kernel, bias, w_proj = self.lstm[direction][layer]
        batch, steps, _ = inputs.shape
        cell, proj = w_proj.shape
        go_forward = direction == 0
        output = inputs.new_zeros(batch, steps, proj)
        full_h = inputs.new_zeros(batch, proj)
        full_c = inputs.new_zeros(batch, cell)
        current = batch - 1 if go_forward else 0
        for step in range(steps):
            index = step if go_forward else steps - step - 1
            if go_forward:
                while lengths[current] <= index:
                    current -= 1
            else:
                while current < batch - 1 and lengths[current + 1] > index:
                    current += 1
            n = current + 1
            previous_h = full_h[:n].clone()
            previous_c = full_c[:n].clone()
            x_t = inputs[:n, index]
            gates = torch.matmul(torch.cat([x_t, previous_h], dim=1), kernel) + bias
            i, j, f, o = gates.split(cell, dim=1)
            c = torch.sigmoid(f + _FORGET_BIAS) * previous_c + torch.sigmoid(i) * torch.tanh(j)
            if self.cell_clip is not None:
                c = torch.clamp(c, -self.cell_clip, self.cell_clip)
            h = torch.matmul(torch.sigmoid(o) * torch.tanh(c), w_proj)
            if self.proj_clip is not None:
                h = torch.clamp(h, -self.proj_clip, self.proj_clip)
            full_h = full_h.clone()
            full_c = full_c.clone()
            full_h[:n] = h
            full_c[:n] = c
            output[:n, index] = h
        return output

    # ----------------------------------------------------------------- forward
    @torch.inference_mode()
    def forward(self, sentences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, list[int]]:
        """Every layer for a batch of tokenized sentences.

        Returns
        -------
        layers : Tensor of shape (n_layers + 1, B, max_len, 2 * projection_dim)
            In input order, without the boundary positions; zero past each
            sentence's end.
        lengths : list of int
            Number of real tokens per sentence.
        """
        char_ids, lengths = self.batch_to_ids(sentences)
        batch, steps, _ = char_ids.shape
        # Character encoder on every position of the padded batch.
        tokens = self.encode_chars(char_ids.view(-1, MAX_CHARACTERS)).view(batch, steps, -1)
        mask = (char_ids[..., 0] > 0).unsqueeze(-1).to(tokens.dtype)
        tokens = tokens * mask
        # Sort by decreasing length for the shrinking-batch recurrence.
        lengths_t = torch.tensor(lengths)
        order = torch.argsort(lengths_t, descending=True, stable=True)
        restore = torch.empty_like(order)
        restore[order] = torch.arange(batch)
        sorted_lengths = [lengths[k] for k in order.tolist()]
        sorted_tokens = tokens[order]
        outputs = [torch.cat([sorted_tokens, sorted_tokens], dim=-1)]
        forward_in = backward_in = sorted_tokens
        for layer in range(self.n_layers):
            forward_out = self._lstm_layer(forward_in, sorted_lengths, 0, layer)
            backward_out = self._lstm_layer(backward_in, sorted_lengths, 1, layer)
            if layer > 0 and self.use_skip_connections:
                forward_out = forward_out + forward_in
                backward_out = backward_out + backward_in
            outputs.append(torch.cat([forward_out, backward_out], dim=-1))
            forward_in, backward_in = forward_out, backward_out
        layers = torch.stack(outputs)[:, restore]
        # Drop <S> and </S>: real tokens sit at positions 1 .. n.
        real = [n - 2 for n in lengths]
        inner = layers[:, :, 1:-1].clone()
        keep = torch.arange(steps - 2).unsqueeze(0) < torch.tensor(real).unsqueeze(1)
        inner *= keep.unsqueeze(0).unsqueeze(-1).to(inner.dtype)
        return inner, real

    __call__ = forward
