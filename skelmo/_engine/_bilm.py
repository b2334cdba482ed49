"""The ELMo biLM in PyTorch: character encoder and bidirectional LSTM stack.

Weights arrive from :mod:`skelmo._format` in TensorFlow orientation; the
constructors below convert them for PyTorch (the character encoder through
:mod:`skelmo._engine._layout`, which the trainer shares) and ``to_weights``
undoes it, so a model round-trips exactly.

The LSTM is written for inference speed on the CPU: the input half of every
gate product runs over a whole chunk of time steps as one matrix product,
only the recurrent half runs step by step (as a batched product over column
blocks of the weights, their width measured per machine), finished rows drop
out of the batch (rows are sorted by length), independent sentences run
packed back to back in rows that each restart from the initial state, and
buffers are allocated once per call.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._format import (
    BOS_IDS,
    EOS_IDS,
    MAX_CHARACTERS,
    PAD_ID,
    ElmoOptions,
    ElmoWeights,
    LstmCellWeights,
    read_model,
)
from ._blocks import block_width_candidates, gate_block_width
from ._device import check_precision_on, resolve_device
from ._layout import (
    conv_from_torch,
    conv_to_matrix,
    conv_to_torch,
    highway_from_torch,
    highway_to_torch,
)

__all__ = [
    "FORGET_BIAS",
    "MIN_ROWS",
    "BiLM",
    "BiLMOutput",
    "CharacterEncoder",
    "LstmStack",
    "LstmState",
    "character_columns",
    "convolutions_max",
    "highway_and_projection",
]

# Time steps whose input products are computed together. Bounds the memory of
# the precomputed gate inputs to chunk x batch x 4 x cell floats per direction.
_TIME_CHUNK = 16

# Matrix products run on at least this many rows. BLAS kernels pick another
# summation order for small products, which would make a sentence's vectors
# depend on how many sentences share its batch; padding small products to
# MIN_ROWS rows keeps every row's result independent of the others. On an AMX
# Xeon with 2 threads, MKL sums the products with a long inner dimension
# (a 2,048- or 4,096-value cell projected to 512) in another order up to 16
# rows and in one order from 17 (a test covers those widths); 32 leaves a margin.
MIN_ROWS = 32

# Elementwise kernels (sigmoid, tanh) run a vectorised loop over whole groups of
# SIMD lanes and a scalar loop over what remains, and the two round differently.
# So that no row's values fall in that remainder in one batch and not in
# another, the tensors those kernels see hold a multiple of _ELEMENT_GROUP
# values (rows are padded until they do); the multiple also survives an even
# split of the work between up to four threads. For widths that are a multiple
# of it (every published model) this pads nothing.
_ELEMENT_GROUP = 256

# Distinct tokens run through the character encoder together. It bounds the
# memory of the convolutions, and it keeps the row counts of the highway and
# projection products (between MIN_ROWS and this) in the range where BLAS sums
# them in one order: on an AMX Xeon, MKL sums a product with an inner dimension
# of 2,048 (the published models' highway layers) in one order up to 176 rows
# with one thread, 256 with two, and in another beyond (a test covers it).
_ENCODER_CHUNK = 64

# Rows of one block of the output projection's product (see _rows_product).
_PRODUCT_ROWS = 64

# The character encoder reads only the columns a token needs (see
# character_columns), rounded up to a multiple of this: tokens of similar
# lengths share one convolution, and a token's width depends on it alone.
_COLUMN_STEP = 8


def aligned_rows(n_rows: int, width: int) -> int:
    """The rows to compute for ``n_rows`` rows of ``width`` values (see _ELEMENT_GROUP).

    The smallest count of at least ``n_rows`` and MIN_ROWS whose product with
    ``width`` is a multiple of _ELEMENT_GROUP.
    """
    step = _ELEMENT_GROUP // math.gcd(width, _ELEMENT_GROUP)
    rows = max(n_rows, MIN_ROWS)
    return -(-rows // step) * step


def character_columns(char_ids: torch.Tensor, max_width: int) -> torch.Tensor:
    """Per row of character ids (n, 50), the columns that decide every filter's maximum.

    Past a token's last character (its end-of-word mark) every window of a
    filter sees only padding and gives the same value. Keeping ``max_width``
    padding columns after it keeps one such window for every filter, so the
    maxima over these columns are those over all 50.
    """
    return ((char_ids != PAD_ID).sum(dim=1) + max_width).clamp(max=char_ids.shape[1])


def _param(array: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)),
                        requires_grad=False)


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


def convolutions_max(
    chars: torch.Tensor,
    widths: Sequence[int],
    matrices: Sequence[torch.Tensor],
    biases: Sequence[torch.Tensor],
) -> torch.Tensor:
    """Each filter's maximum over a token's character windows, filters side by side.

    Each convolution runs as one matrix product over all windows: ``chars``
    is (n, columns, char_dim) and each kernel a matrix (width * char_dim,
    filters) whose rows follow the window (columns, then dimensions), the
    published kernel's own order. Shared by the engine and the trainer.
    """
    n, columns, dim = chars.shape
    pooled = []
    for width, matrix, bias in zip(widths, matrices, biases):
        if chars.requires_grad:
            # The same windows from shifted slices, whose gradient is slices again:
            # unfold's backward took 2-3 times as long (training's character encoder).
            positions = columns - width + 1
            windows = torch.cat([chars[:, k : k + positions] for k in range(width)],
                                dim=-1).view(-1, width * dim)
        else:
            windows = chars.unfold(1, width, 1).transpose(2, 3).reshape(-1, width * dim)
        pooled.append(torch.addmm(bias, windows, matrix).view(n, -1, matrix.shape[1]).amax(dim=1))
    return torch.cat(pooled, dim=-1)


def highway_and_projection(
    pooled: torch.Tensor,
    activation: str,
    highway_weights: Sequence[torch.Tensor],
    highway_biases: Sequence[torch.Tensor],
    proj_weight: torch.Tensor | None,
    proj_bias: torch.Tensor | None,
) -> torch.Tensor:
    """From the max-pooled convolutions to the token vectors.

    The activation, then each highway layer (weights as ``[transform, carry]``
    columns, see :func:`~skelmo._engine._layout.highway_to_torch`), then the
    projection when there is one. Shared by the engine and the trainer, so
    both compute one function.
    """
    x = torch.relu(pooled) if activation == "relu" else torch.tanh(pooled)
    for weight, bias in zip(highway_weights, highway_biases):
        transform, carry = torch.addmm(bias, x, weight).chunk(2, dim=-1)
        carry = torch.sigmoid(carry)
        x = carry * torch.relu(transform) + (1.0 - carry) * x
    if proj_weight is not None:
        x = torch.addmm(proj_bias, x, proj_weight)
    return x


class _FixedWeights(nn.Module):
    """A module whose weights are fixed when it is built.

    Buffers derived from the weights (the convolutions as matrices, the gate
    biases, bfloat16 copies) and the caches of a loaded model (word vectors,
    warm state) follow the weights it was built with, so loading others in
    place would give wrong numbers: build another module instead.
    """

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:
        """Refused: build another model from its weights (see the class docstring)."""
        raise RuntimeError(
            f"A {type(self).__name__}'s weights are fixed when it is built (what is derived "
            "from them is computed then): build another one, with BiLM.from_weights(options, "
            "weights) or BiLM.from_files(options_file, weight_file), instead of loading a "
            "state dict into it.")


class CharacterEncoder(_FixedWeights):
    """Character CNN, highway layers and projection: character ids -> token vectors.

    Parameters
    ----------
    options : ElmoOptions
        Architecture of the model.
    weights : ElmoWeights
        Trained weights, TensorFlow orientation.
    """

    def __init__(self, options: ElmoOptions, weights: ElmoWeights):
        super().__init__()
        self.activation = options.activation
        # Character id 0 is "no token": a zero row ahead of the 261 trained rows.
        embed = np.zeros((weights.char_embed.shape[0] + 1, options.char_dim), np.float32)
        embed[1:] = weights.char_embed
        self.char_embed = _param(embed)
        # TF conv2d kernels are (1, width, in, out); conv1d wants (out, in, width).
        self.conv_weights = nn.ParameterList(
            [_param(conv_to_torch(kernel)) for kernel, _ in weights.conv]
        )
        self.conv_biases = nn.ParameterList([_param(bias) for _, bias in weights.conv])
        # Each convolution runs as one matrix product over all windows (measured
        # 3.4x faster than conv1d for 16 columns of 512 tokens with the published
        # filters, 2 threads): its kernel as (width * char_dim, filters) rows in
        # window order, kept apart from the trained weights like the gate biases.
        self.widths = [width for width, _ in options.filters]
        for k, weight in enumerate(self.conv_weights):
            self.register_buffer(f"conv_matrix_{k}", conv_to_matrix(weight.detach()).contiguous(),
                                 persistent=False)
        # One product per highway layer: the transform half, then the carry half
        # (see highway_and_projection).
        fused = [highway_to_torch(layer) for layer in weights.highway]
        self.highway_weights = nn.ParameterList([_param(w) for w, _ in fused])
        self.highway_biases = nn.ParameterList([_param(b) for _, b in fused])
        if weights.projection is not None:
            self.proj_weight: nn.Parameter | None = _param(weights.projection[0])
            self.proj_bias: nn.Parameter | None = _param(weights.projection[1])
        else:
            self.proj_weight = self.proj_bias = None

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Encode tokens.

        Parameters
        ----------
        char_ids : LongTensor of shape (n_tokens, n_columns)
            At least as many columns as the widest filter; the maxima are
            over every window of them.

        Returns
        -------
        Tensor of shape (n_tokens, projection_dim)
        """
        matrices = [getattr(self, f"conv_matrix_{k}") for k in range(len(self.widths))]
        pooled = convolutions_max(F.embedding(char_ids, self.char_embed), self.widths,
                                  matrices, self.conv_biases)
        return highway_and_projection(pooled, self.activation,
                                      self.highway_weights, self.highway_biases,
                                      self.proj_weight, self.proj_bias)

    def to_weights(self) -> tuple[np.ndarray, list, list, tuple | None]:
        """Return the weights in TensorFlow orientation (inverse of the constructor)."""
        conv = [(conv_from_torch(_array(w)), _array(b))
                for w, b in zip(self.conv_weights, self.conv_biases)]
        highway = [highway_from_torch(_array(w), _array(b))
                   for w, b in zip(self.highway_weights, self.highway_biases)]
        projection = None
        if self.proj_weight is not None:
            projection = (_array(self.proj_weight), _array(self.proj_bias))
        return _array(self.char_embed)[1:], conv, highway, projection


@dataclass
class LstmState:
    """Recurrent state of the LSTM stack, one row per sentence.

    Attributes
    ----------
    h : Tensor of shape (2, n_layers, n_rows, projection_dim)
        Projected outputs, forward direction first.
    c : Tensor of shape (2, n_layers, n_rows, cell_dim)
        Memory cells.
    """

    h: torch.Tensor
    c: torch.Tensor

    @property
    def n_rows(self) -> int:
        """Number of sentences the state is held for."""
        return self.h.shape[2]

    def rows(self, index: torch.Tensor | slice) -> LstmState:
        """Return the state of the given rows."""
        return LstmState(self.h[:, :, index], self.c[:, :, index])

    def expand(self, n_rows: int) -> LstmState:
        """Repeat a one-row state for ``n_rows`` sentences."""
        return LstmState(self.h.expand(-1, -1, n_rows, -1), self.c.expand(-1, -1, n_rows, -1))


# TF's LSTMCell splits the gate product as (input, candidate, forget, output).
# We store the gates as (input, forget, output, candidate) so that one sigmoid
# covers the first three quarters and one tanh the last.
def _tf_to_ifoj(array: np.ndarray) -> np.ndarray:
    i, j, f, o = np.split(array, 4, axis=-1)
    return np.concatenate([i, f, o, j], axis=-1)


def _ifoj_to_tf(array: np.ndarray) -> np.ndarray:
    i, f, o, j = np.split(array, 4, axis=-1)
    return np.concatenate([i, j, f, o], axis=-1)


FORGET_BIAS = 1.0  # TF's LSTMCell adds 1 to the forget gate at run time.


class LstmStack(_FixedWeights):
    """Both directions of the ELMo LSTM stack.

    Each layer is TensorFlow's ``LSTMCell`` with a projection, cell clipping and
    projection clipping; layers after the first add their input to their
    output when the model uses skip connections (the recurrent state itself
    never includes that residual).

    Parameters
    ----------
    options : ElmoOptions
    weights : ElmoWeights
    block_width : int, optional
        Width of the column blocks the gate weights are held in (see
        :mod:`skelmo._engine._blocks`); must divide the cell. Default: the
        fastest on this CPU, measured once per process. It changes the speed,
        not the outputs.
    """

    def __init__(self, options: ElmoOptions, weights: ElmoWeights,
                 block_width: int | None = None):
        super().__init__()
        self.n_layers = options.n_layers
        self.cell_dim = options.cell_dim
        self.projection_dim = options.projection_dim
        self.cell_clip = options.cell_clip
        self.proj_clip = options.proj_clip
        self.use_skip_connections = options.use_skip_connections
        # Per-thread scratch memory reused from call to call: fresh large
        # allocations cost page faults that took as long as the copies into them.
        self._scratch = threading.local()
        self._bfloat16: dict[tuple[int, torch.device], tuple[torch.Tensor, ...]] = {}
        proj, cell = options.projection_dim, options.cell_dim
        if block_width is None:
            block_width = gate_block_width(proj, cell)
        elif block_width not in block_width_candidates(cell):
            raise ValueError(f"block_width must be one of {block_width_candidates(cell)} for a "
                             f"cell of {cell}, got {block_width!r}.")
        forget = np.zeros(4 * cell, np.float32)
        forget[cell : 2 * cell] = FORGET_BIAS
        w_input, w_hidden, biases, w_proj = [], [], [], []
        for direction in range(2):
            for layer in range(self.n_layers):
                cw: LstmCellWeights = weights.lstm[direction][layer]
                kernel = _tf_to_ifoj(cw.kernel)
                w_input.append(_param(_to_blocks(kernel[:proj], block_width)))
                w_hidden.append(_param(_to_blocks(kernel[proj:], block_width)))
                biases.append(_param(_tf_to_ifoj(cw.bias)))
                w_proj.append(_param(cw.projection))
        # Flat lists indexed by direction * n_layers + layer.
        self.w_input = nn.ParameterList(w_input)
        # Input and recurrent weights as contiguous column blocks
        # (n_blocks, proj, width), multiplied as batched products (see _blocks).
        self.w_hidden = nn.ParameterList(w_hidden)
        self.biases = nn.ParameterList(biases)
        self.w_proj = nn.ParameterList(w_proj)
        # The biases the recurrence uses, with the forget bias folded in. Kept
        # apart from the trained biases so that ``to_weights`` returns those
        # exactly ((b + 1) - 1 is not always b in float32).
        for k, bias in enumerate(biases):
            gate_bias = bias.detach() + torch.from_numpy(forget)
            n_blocks, _, width = self.w_hidden[k].shape
            self.register_buffer(f"gate_bias_{k}", gate_bias.view(n_blocks, 1, width),
                                 persistent=False)

    def to_weights(self) -> list[list[LstmCellWeights]]:
        """Return the weights in TensorFlow orientation (inverse of the constructor)."""
        result = []
        for direction in range(2):
            layers = []
            for layer in range(self.n_layers):
                k = direction * self.n_layers + layer
                kernel = np.concatenate([_from_blocks(_array(self.w_input[k])),
                                         _from_blocks(_array(self.w_hidden[k]))])
                layers.append(LstmCellWeights(kernel=_ifoj_to_tf(kernel),
                                              bias=_ifoj_to_tf(_array(self.biases[k])),
                                              projection=_array(self.w_proj[k])))
            result.append(layers)
        return result

    def zero_state(self, n_rows: int, device: torch.device | None = None) -> LstmState:
        """All-zero state for ``n_rows`` sentences."""
        device = device or self.biases[0].device
        return LstmState(
            torch.zeros(2, self.n_layers, n_rows, self.projection_dim, device=device),
            torch.zeros(2, self.n_layers, n_rows, self.cell_dim, device=device),
        )

    def forward(
        self, inputs: torch.Tensor, lengths: torch.Tensor, state: LstmState,
        last_steps: bool = True, same_start: bool = False, precision: str = "float32",
        token_ids: torch.Tensor | None = None,
        select: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
        out: Sequence[torch.Tensor] | None = None,
        reverse_index: torch.Tensor | None = None,
        restarts: tuple[LstmState, torch.Tensor] | None = None,
    ) -> tuple[list[torch.Tensor], LstmState | None]:
        """Run both directions of every layer.

        Parameters
        ----------
        inputs : Tensor of shape (T, B, projection_dim)
            Time-major token vectors; rows must be sorted by decreasing length.
        lengths : LongTensor of shape (B,)
            Sentence lengths, decreasing.
        state : LstmState
            Initial state with B rows.
        last_steps : bool, default=True
            Run each direction's last step. Without it the forward outputs at
            each row's last position and the backward outputs at its first
            position are left out (zero), and so is the final state: what a
            caller that drops the ``</S>`` and ``<S>`` positions and starts
            every sentence afresh never uses.
        same_start : bool, default=False
            Every row starts from the same state with the same first input
            in each direction (``<S>`` forward, ``</S>`` backward), so each
            layer's first step is computed once for all rows.
        precision : {"float32", "bfloat16"}, default="float32"
            ``"bfloat16"`` multiplies bfloat16 copies of the weights and of the
            layer inputs with float32 accumulation; the gates, the cell state
            and the outputs stay float32.
        token_ids : LongTensor of shape (T, B), optional
            Equal ids where ``inputs`` holds equal vectors (the same word):
            the first layer's input products, which depend on the word
            alone, then run once per distinct id instead of once per position.
        select : sequence of (times, rows), optional
            The positions to return, each selection two LongTensors of one
            shape (R, U): a time step and a row of ``inputs`` each; a negative
            time gives zeros. Default: one selection of every position,
            time-major (T, B).
        out : sequence of Tensor of shape (n_layers, R, U, 2 * projection_dim), optional
            Where to write each selection's outputs.
        reverse_index : LongTensor of shape (T, B), optional
            The position the backward direction reads at each step: a
            permutation of each row's first ``lengths`` positions that is its
            own inverse. Default: each row reversed within its length. A row
            of several sentences reverses each in place.
        restarts : (LstmState, BoolTensor of shape (T, B)), optional
            A one-row state and where rows take it: before each step whose
            entry is True, that row's state in both directions becomes this
            one's (per layer), so that a row can hold several sentences that
            each start afresh.

        Returns
        -------
        outputs : list of Tensor of shape (n_layers, R, U, 2 * projection_dim)
            Per selection and layer, forward and backward outputs side by
            side at the selected positions; zero past each sentence's end.
        final_state : LstmState or None
            The state each row reached after its last token (forward) and
            after its first token (backward); None without ``last_steps``.
        """
        steps, batch, proj = inputs.shape
        if select is None:
            select = [(torch.arange(steps, device=inputs.device).unsqueeze(1).expand(steps, batch),
                       torch.arange(batch, device=inputs.device).unsqueeze(0).expand(steps, batch))]
        padded = aligned_rows(batch, self.cell_dim)
        if padded > batch:
            # Rows of length 0 fill the batch (see MIN_ROWS and _ELEMENT_GROUP).
            inputs = torch.cat([inputs, inputs.new_zeros(steps, padded - batch, proj)], dim=1)
            lengths = torch.cat([lengths, lengths.new_zeros(padded - batch)])
            state = LstmState(
                torch.cat([state.h, state.h.new_zeros(2, self.n_layers, padded - batch, proj)], 2),
                torch.cat([state.c, state.c.new_zeros(2, self.n_layers, padded - batch,
                                                       self.cell_dim)], 2),
            )
            if token_ids is not None:
                # The added rows' zero vectors get an id of their own.
                token_ids = torch.cat([token_ids, token_ids.new_full(
                    (steps, padded - batch), int(token_ids.max()) + 1)], dim=1)
            if reverse_index is not None:
                # The backward direction reads the added rows in place.
                reverse_index = torch.cat([reverse_index, torch.arange(
                    steps, device=inputs.device).unsqueeze(1).expand(steps, padded - batch)], 1)
            if restarts is not None:
                restarts = (restarts[0], torch.cat([restarts[1], restarts[1].new_zeros(
                    steps, padded - batch)], dim=1))
        if reverse_index is None:
            # Each row reversed within its length (the added rows, of length 0, in place).
            reverse_index = _reverse_index(lengths, steps)
        run_lengths = lengths if last_steps else (lengths - 1).clamp(min=0)
        lengths_list = [int(n) for n in run_lengths.tolist()]
        # Rows still running before each step (rows are sorted by length).
        active = [sum(1 for n in lengths_list if n > t) for t in range(steps + 1)]
        if out is None:
            out = [inputs.new_empty(self.n_layers, *times.shape, 2 * proj) for times, _ in select]
        # Where each selected position lies in a layer's outputs, flattened
        # (step * padded + row), per selection and direction; the extra step
        # ``steps`` is zeros.
        sources = []
        for times, rows in select:
            valid = times >= 0
            natural = times.clamp(min=0)
            sources.append([torch.where(valid, step * padded + rows, steps * padded).reshape(-1)
                            for step in (natural, reverse_index[natural, rows])])
        final_h = state.h.clone()
        final_c = state.c.clone()
        bfloat16 = precision == "bfloat16"
        words = _distinct_rows(inputs, token_ids) if token_ids is not None else None
        restart_rows = _rows_per_step(restarts[1]) if restarts is not None else {}
        for direction in range(2):
            word_gates = None
            if words is not None:
                # The first layer reads each position's row of a per-word table.
                vectors, index = words
                word_gates = (self._input_gates(direction * self.n_layers, vectors, bfloat16),
                              index if direction == 0 else index.gather(0, reverse_index))
                layer_input = inputs  # not read by the first layer, and no skip connection
            else:
                layer_input = inputs if direction == 0 else _gather_time(inputs, reverse_index)
            for layer in range(self.n_layers):
                k = direction * self.n_layers + layer
                restart = None if restarts is None else (
                    restarts[0].h[direction, layer], restarts[0].c[direction, layer],
                    restart_rows)
                layer_out = self._run_layer(k, layer_input, active, final_h[direction, layer],
                                            final_c[direction, layer], same_start, bfloat16,
                                            word_gates if layer == 0 else None, restart)
                word_gates = None  # the table (distinct words x 4 * cell) is not read again
                if layer > 0 and self.use_skip_connections:
                    layer_out[:steps] += layer_input
                flat = layer_out.view(-1, proj)
                for target, source in zip(out, sources):
                    target[layer, ..., direction * proj : (direction + 1) * proj] = (
                        flat.index_select(0, source[direction]).view(*target.shape[1:3], proj))
                layer_input = layer_out[:steps]
        final = LstmState(final_h[:, :, :batch], final_c[:, :, :batch]) if last_steps else None
        return list(out), final

    def __getstate__(self) -> dict:
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        state = dict(state)
        state.pop("_scratch", None)  # thread-local scratch memory is not copied
        state.pop("_bfloat16", None)  # nor the bfloat16 copies of the weights
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._scratch = threading.local()
        self._bfloat16 = {}

    def _bfloat16_weights(self, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """bfloat16 copies of layer ``k``'s input, recurrent and projection weights."""
        device = self.biases[k].device
        held = self._bfloat16.get((k, device))
        if held is None:
            held = tuple(w.detach().to(torch.bfloat16) for w in
                         (self.w_input[k], self.w_hidden[k], self.w_proj[k]))
            self._bfloat16[(k, device)] = held
        return held

    def _input_gates(self, k: int, inputs: torch.Tensor, bfloat16: bool,
                     out: torch.Tensor | None = None) -> torch.Tensor:
        """The input half of layer ``k``'s gates, bias included: (n_blocks, rows, width).

        ``inputs`` is (rows, projection_dim); in bfloat16 the product's
        operands are bfloat16 and the sum with the bias float32.
        """
        n_blocks, _, width = self.w_hidden[k].shape
        bias = getattr(self, f"gate_bias_{k}")
        if out is None:
            out = inputs.new_empty(n_blocks, inputs.shape[0], width)
        if bfloat16:
            w_input = self._bfloat16_weights(k)[0]
            low = inputs.to(torch.bfloat16)
            product = self._scratch_tensor("x_gates_low", out.numel(), low).view(out.shape)
            torch.bmm(low.expand(n_blocks, *low.shape), w_input, out=product)
            # A bfloat16 addend would send add down a slow mixed-type path.
            out.copy_(product).add_(bias)
        else:
            torch.baddbmm(bias, inputs.expand(n_blocks, *inputs.shape), self.w_input[k], out=out)
        return out

    def _scratch_tensor(self, name: str, numel: int, like: torch.Tensor) -> torch.Tensor:
        """A 1-d scratch tensor of ``numel`` elements, reused by this thread."""
        key = (name, like.device, like.dtype)
        pool = self._scratch.__dict__.setdefault("tensors", {})
        tensor = pool.get(key)
        if tensor is None or tensor.numel() < numel:
            tensor = like.new_empty(numel)
            pool[key] = tensor
        return tensor[:numel]

    def _run_layer(
        self,
        k: int,
        inputs: torch.Tensor,
        active: list[int],
        final_h: torch.Tensor,
        final_c: torch.Tensor,
        same_start: bool = False,
        bfloat16: bool = False,
        word_gates: tuple[torch.Tensor, torch.Tensor] | None = None,
        restart: tuple[torch.Tensor, torch.Tensor, dict[int, torch.Tensor]] | None = None,
    ) -> torch.Tensor:
        """One layer, one direction.

        ``final_h`` and ``final_c`` hold the initial state on entry and each
        row's state after its last step on return. ``same_start`` promises
        that every row has the same initial state and the same first input,
        so the first step is computed once (on the fewest rows allowed) for
        all. The batch holds ``aligned_rows(batch, cell_dim)`` rows (see
        :meth:`forward`), so every step's row count fits in it. With
        ``bfloat16`` the three products take bfloat16 operands (see
        :meth:`forward`). ``word_gates`` is a table of input gates per word
        (from :meth:`_input_gates`) and each position's row in it (T, B):
        the input half of the gates is read from it instead of computed.
        ``restart`` is a state ``(h, c)`` of one row and, per step, the rows
        that take it before that step. Returns the outputs
        (T + 1, B, projection_dim), the last step zeros.
        """
        steps, batch, proj = inputs.shape
        cell = self.cell_dim
        w_blocks, w_proj = self.w_hidden[k], self.w_proj[k]
        if bfloat16:
            _, w_blocks, w_proj = self._bfloat16_weights(k)
        n_blocks, _, width = w_blocks.shape
        per_gate = n_blocks // 4
        h = final_h.clone()
        c = final_c.clone()
        out = inputs.new_zeros(steps + 1, batch, proj)
        # Gates in block-major layout (n_blocks, rows, width): blocks
        # [0, per_gate) are the input gate, then forget, output, candidate.
        gate_buffer = self._scratch_tensor("gates", n_blocks * batch * width, inputs)
        m = inputs.new_empty(batch, cell)
        if bfloat16:
            # The operands of the recurrent and projection products.
            h_low = h.to(torch.bfloat16)
            m_low = m.to(torch.bfloat16)
            g_low = self._scratch_tensor("gates_low", n_blocks * batch * width, h_low)
        if restart is not None:
            restart_h, restart_c, restart_rows = restart
            if bfloat16:
                restart_h_low = restart_h.to(torch.bfloat16)
        for start in range(0, steps, _TIME_CHUNK):
            stop = min(start + _TIME_CHUNK, steps)
            if active[start] == 0:
                break
            # The input half of the gates for a whole chunk of steps, for the
            # rows still running at its start (padded by aligned_rows).
            running = min(batch, aligned_rows(active[start], cell))
            x_gates = self._scratch_tensor("x_gates", n_blocks * (stop - start) * running * width,
                                           inputs).view(n_blocks, -1, width)
            if word_gates is not None:
                table, index = word_gates
                torch.index_select(table, 1, index[start:stop, :running].reshape(-1), out=x_gates)
            else:
                self._input_gates(k, inputs[start:stop, :running].reshape(-1, proj), bfloat16,
                                  out=x_gates)
            x_gates = x_gates.view(n_blocks, stop - start, running, width)
            for t in range(start, stop):
                n = active[t]
                if n == 0:
                    break
                # Finished rows keep being computed up to aligned_rows; their
                # results are discarded (their final state was saved).
                rows = aligned_rows(n, cell)
                if t == 0 and same_start:
                    rows = aligned_rows(1, cell)  # every row computes the same first step
                if restart is not None and t in restart_rows:
                    fresh = restart_rows[t]
                    h.index_copy_(0, fresh, restart_h.expand(len(fresh), proj))
                    c.index_copy_(0, fresh, restart_c.expand(len(fresh), cell))
                    if bfloat16:
                        h_low.index_copy_(0, fresh, restart_h_low.expand(len(fresh), proj))
                g = gate_buffer[: n_blocks * rows * width].view(n_blocks, rows, width)
                if bfloat16:
                    product = g_low[: n_blocks * rows * width].view(n_blocks, rows, width)
                    torch.bmm(h_low[:rows].expand(n_blocks, rows, proj), w_blocks, out=product)
                    g.copy_(product).add_(x_gates[:, t - start, :rows])
                else:
                    torch.baddbmm(x_gates[:, t - start, :rows],
                                  h[:rows].expand(n_blocks, rows, proj), w_blocks, out=g)
                g[: 3 * per_gate].sigmoid_()
                g[3 * per_gate :].tanh_()
                i, f, o, j = g.split(per_gate)
                # The cell state in the same block-major order, as a view.
                c_n = c[:rows].view(rows, per_gate, width).transpose(0, 1)
                c_n.mul_(f).addcmul_(i, j)
                if self.cell_clip is not None:
                    c_n.clamp_(-self.cell_clip, self.cell_clip)
                m_n = m[:rows].view(rows, per_gate, width).transpose(0, 1)
                torch.tanh(c_n, out=m_n)
                h_n = h[:rows]
                if bfloat16:
                    # The product's bfloat16 result is the new h exactly (the
                    # clip bound is a bfloat16 number), kept in both types.
                    m_low_n = m_low[:rows].view(rows, per_gate, width).transpose(0, 1)
                    torch.mul(m_n, o, out=m_low_n)
                    h_low_n = h_low[:rows]
                    _rows_product(m_low[:rows], w_proj, h_low_n)
                    if self.proj_clip is not None:
                        h_low_n.clamp_(-self.proj_clip, self.proj_clip)
                    h_n.copy_(h_low_n)
                else:
                    m_n.mul_(o)
                    _rows_product(m[:rows], w_proj, h_n)
                    if self.proj_clip is not None:
                        h_n.clamp_(-self.proj_clip, self.proj_clip)
                if t == 0 and same_start:
                    h[1:n] = h[0]
                    c[1:n] = c[0]
                    if bfloat16:
                        h_low[1:n] = h_low[0]
                out[t, :n] = h[:n]
                done = active[t + 1]
                if done < n:
                    final_h[done:n] = h[done:n]
                    final_c[done:n] = c[done:n]
        return out


def _rows_product(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> None:
    """``out = a @ b`` in blocks of _PRODUCT_ROWS rows when ``a`` has more.

    The output projection's inner dimension is the cell (4,096 values in the
    published models), where BLAS changes its summation order past a few
    hundred rows (see _ENCODER_CHUNK); every block holds exactly
    _PRODUCT_ROWS rows (the last one overlaps the one before), so a row's
    result does not depend on the batch size.
    """
    n = a.shape[0]
    if n <= _PRODUCT_ROWS:
        torch.mm(a, b, out=out)
        return
    for start in [*range(0, n - _PRODUCT_ROWS, _PRODUCT_ROWS), n - _PRODUCT_ROWS]:
        torch.mm(a[start : start + _PRODUCT_ROWS], b, out=out[start : start + _PRODUCT_ROWS])


def _rows_per_step(marks: torch.Tensor) -> dict[int, torch.Tensor]:
    """The rows marked at each step of a (T, B) boolean tensor, for the steps with any."""
    steps, rows = marks.nonzero(as_tuple=True)
    counts = torch.bincount(steps, minlength=marks.shape[0]).tolist()
    return {t: part for t, part in zip(sorted(set(steps.tolist())),
                                       rows.split([n for n in counts if n]))}


def _distinct_rows(inputs: torch.Tensor, token_ids: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """One row of ``inputs`` (T, B, dim) per distinct id, and each position's row (T, B).

    The rows are padded with zeros to at least MIN_ROWS, so that the
    products over them compute each row as a larger batch would.
    """
    distinct, index = torch.unique(token_ids, return_inverse=True)
    positions = torch.arange(index.numel(), device=index.device)
    # Any position of each id will do: they hold the same vector.
    first = positions.new_empty(distinct.numel()).scatter_(0, index.reshape(-1), positions)
    vectors = inputs.reshape(-1, inputs.shape[-1])[first]
    if vectors.shape[0] < MIN_ROWS:
        vectors = torch.cat([vectors, vectors.new_zeros(MIN_ROWS - vectors.shape[0],
                                                        vectors.shape[1])])
    return vectors, index


def _to_blocks(matrix: np.ndarray, width: int) -> np.ndarray:
    """(rows, 4 * cell) -> contiguous column blocks (n_blocks, rows, width).

    Blocks never straddle two gates: ``width`` divides ``cell``.
    """
    rows, columns = matrix.shape
    return np.ascontiguousarray(matrix.reshape(rows, columns // width, width).transpose(1, 0, 2))


def _from_blocks(blocks: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_to_blocks`."""
    n_blocks, rows, width = blocks.shape
    return blocks.transpose(1, 0, 2).reshape(rows, n_blocks * width)


def _reverse_index(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """Index (T, B) that reverses every row within its length (padding stays put)."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(1)
    n = lengths.unsqueeze(0)
    return torch.where(t < n, n - 1 - t, t)


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


@dataclass
class BiLMOutput:
    """Activations of the biLM for a batch of sentences.

    Attributes
    ----------
    layers : Tensor of shape (n_layers + 1, batch, time, 2 * projection_dim)
        Layer 0 is the token representation repeated for both directions;
        layer k >= 1 is LSTM layer k, forward and backward side by side.
        Zero at padded positions.
    mask : BoolTensor of shape (batch, time)
        True at real tokens.
    state : LstmState or None
        The state each sentence reached; pass it as the next batch's
        ``state`` to run statefully. None when not asked for (see
        :meth:`BiLM.contextualize`).
    """

    layers: torch.Tensor
    mask: torch.Tensor
    state: LstmState | None


class BiLM(_FixedWeights):
    """The ELMo bidirectional language model.

    Build it from files with :meth:`from_files`, or from arrays with
    :meth:`from_weights`. Inference only: the module holds no gradients and
    applies no dropout.

    Parameters
    ----------
    options : ElmoOptions
        Architecture.
    weights : ElmoWeights
        Trained weights, TensorFlow orientation.

    Examples
    --------
    >>> import tempfile
    >>> from skelmo import BiLM, batch_to_ids
    >>> from skelmo.testing import make_random_model
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     options_file, weight_file = make_random_model(tmp, seed=0)
    ...     bilm = BiLM.from_files(options_file, weight_file)
    >>> out = bilm(batch_to_ids([["The", "cat", "sat"], ["Hi"]]))
    >>> tuple(out.layers.shape)
    (3, 2, 3, 32)
    >>> out.mask.tolist()
    [[True, True, True], [True, False, False]]
    """

    def __init__(self, options: ElmoOptions, weights: ElmoWeights):
        super().__init__()
        self.options = options
        self.char_encoder = CharacterEncoder(options, weights)
        self.lstm = LstmStack(options, weights)
        self.eval()

    @classmethod
    def from_files(
        cls,
        options_file: str | os.PathLike[str],
        weight_file: str | os.PathLike[str],
        *,
        device: str | torch.device = "auto",
    ) -> BiLM:
        """Load a model from ``options.json`` and its weights HDF5 file.

        Parameters
        ----------
        options_file, weight_file : str or path-like
        device : {"auto", "cpu", "cuda", "cuda:N"} or torch.device, default="auto"
            Where the model runs; ``"auto"`` picks CUDA when available.

        Returns
        -------
        BiLM
        """
        resolved = resolve_device(device)
        options, weights = read_model(options_file, weight_file)
        return cls(options, weights).to(resolved)

    @classmethod
    def from_weights(cls, options: ElmoOptions, weights: ElmoWeights) -> BiLM:
        """Build a model from options and TensorFlow-oriented arrays."""
        return cls(options, weights)

    def to_weights(self) -> ElmoWeights:
        """Return the weights in TensorFlow orientation, ready for ``write_model``."""
        char_embed, conv, highway, projection = self.char_encoder.to_weights()
        return ElmoWeights(char_embed, conv, highway, projection, self.lstm.to_weights())

    @property
    def n_layers(self) -> int:
        """Number of output layers: the token layer plus one per LSTM layer."""
        return self.options.n_layers + 1

    @property
    def output_dim(self) -> int:
        """Width of every output layer."""
        return self.options.output_dim

    @property
    def device(self) -> torch.device:
        """Device holding the weights."""
        return self.lstm.biases[0].device

    def zero_state(self, n_rows: int) -> LstmState:
        """An all-zero recurrent state for ``n_rows`` sentences."""
        return self.lstm.zero_state(n_rows, self.device)

    def _check_state(self, state: Any, rows: tuple[int, ...]) -> LstmState:
        """``state`` if it is an LstmState of this model with one of ``rows`` rows, else raise."""
        o = self.options
        if not isinstance(state, LstmState):
            raise TypeError(f"state must be an LstmState (from a BiLMOutput or zero_state), got "
                            f"{type(state).__name__}.")
        expected = [(2, o.n_layers, None, o.projection_dim), (2, o.n_layers, None, o.cell_dim)]
        for name, tensor, shape in zip("hc", (state.h, state.c), expected):
            if (not isinstance(tensor, torch.Tensor) or tensor.dtype != torch.float32
                    or tensor.ndim != 4 or tensor.shape[:2] != shape[:2]
                    or tensor.shape[3] != shape[3]):
                raise ValueError(
                    f"state.{name} must be a float32 tensor of shape (2, {o.n_layers}, rows, "
                    f"{shape[3]}) for this model, got "
                    + (f"{tensor.dtype} {tuple(tensor.shape)}."
                       if isinstance(tensor, torch.Tensor) else f"{type(tensor).__name__}."))
        if state.h.shape[2] != state.c.shape[2] or state.n_rows not in rows:
            raise ValueError(f"state must have {' or '.join(map(str, rows))} row(s) here, got "
                             f"{state.h.shape[2]} (h) and {state.c.shape[2]} (c).")
        return state

    @torch.inference_mode()
    def encode_distinct(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Token representations of distinct tokens, one row each.

        Rows run through the character encoder in chunks of at least
        MIN_ROWS (padded as :func:`aligned_rows` says), over the character
        columns their lengths need, so a token's vector never depends on
        the other rows.

        Parameters
        ----------
        char_ids : LongTensor of shape (n_tokens, 50)

        Returns
        -------
        Tensor of shape (n_tokens, projection_dim)
        """
        char_ids = char_ids.to(self.device)
        max_width = max(width for width, _ in self.options.filters)
        columns = character_columns(char_ids, max_width)
        columns = (-(-columns // _COLUMN_STEP) * _COLUMN_STEP).clamp(max=MAX_CHARACTERS)
        encoded = char_ids.new_empty(char_ids.shape[0], self.options.projection_dim,
                                     dtype=torch.float32)
        for width in columns.unique().tolist():
            rows = (columns == width).nonzero().squeeze(1)
            encoded[rows] = self._encode_columns(char_ids[rows, :width])
        return encoded

    def _encode_columns(self, char_ids: torch.Tensor) -> torch.Tensor:
        """The character encoder over rows of one width, in padded chunks."""
        n = char_ids.shape[0]
        remainder = n % _ENCODER_CHUNK
        if remainder:
            extra = aligned_rows(remainder, self.options.n_filters) - remainder
            char_ids = torch.cat([char_ids, char_ids.new_zeros(extra, char_ids.shape[1])])
        encoded = torch.cat([self.char_encoder(part) for part in char_ids.split(_ENCODER_CHUNK)])
        return encoded[:n]

    @torch.inference_mode()
    def encode_tokens(self, char_ids: torch.Tensor) -> torch.Tensor:
        """Token representations (layer 0, one direction) of character ids.

        Each distinct token is encoded once however often it occurs.

        Parameters
        ----------
        char_ids : LongTensor of shape (..., 50)

        Returns
        -------
        Tensor of shape (..., projection_dim)
        """
        return self._encode_tokens(
            _checked_char_ids(char_ids, self.char_encoder.char_embed.shape[0]))[0]

    def _encode_tokens(self, char_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`encode_tokens` of checked ids, and an id per position equal for equal tokens."""
        flat = char_ids.reshape(-1, MAX_CHARACTERS).to(self.device)
        shape = char_ids.shape[:-1]
        if flat.shape[0] == 0:
            return (flat.new_zeros(*shape, self.options.projection_dim, dtype=torch.float32),
                    flat.new_zeros(shape))
        unique, inverse = torch.unique(flat, dim=0, return_inverse=True)
        encoded = self.encode_distinct(unique)[inverse]
        # Rows of all-zero ids are padding, not tokens.
        encoded = encoded * (flat[:, 0] > 0).unsqueeze(-1)
        return encoded.view(*shape, -1), inverse.view(shape)

    @torch.inference_mode()
    def forward(
        self,
        char_ids: torch.Tensor,
        state: LstmState | None = None,
        keep_boundaries: bool = False,
    ) -> BiLMOutput:
        """Compute every layer for a batch of sentences.

        Parameters
        ----------
        char_ids : LongTensor of shape (batch, time, 50)
            From :func:`skelmo.batch_to_ids`; sentence boundaries are added here.
        state : LstmState, optional
            Initial state with one row per sentence (or one row for all).
            Default: zeros.
        keep_boundaries : bool, default=False
            Keep the ``<S>`` and ``</S>`` positions in the outputs.

        Returns
        -------
        BiLMOutput
        """
        char_ids = _checked_char_ids(char_ids, self.char_encoder.char_embed.shape[0])
        if char_ids.ndim != 3:
            raise ValueError("char_ids must have shape (batch, time, 50) (from "
                             f"skelmo.batch_to_ids), got {tuple(char_ids.shape)}.")
        char_ids = char_ids.to(self.device)
        lengths = (char_ids[..., 0] > 0).sum(dim=1)
        tokens, token_ids = self._encode_tokens(_add_boundaries(char_ids, lengths))
        return self.contextualize(tokens, lengths + 2, state, keep_boundaries,
                                  token_ids=token_ids)

    @torch.inference_mode()
    def contextualize(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        state: LstmState | None = None,
        keep_boundaries: bool = False,
        final_state: bool = True,
        precision: str = "float32",
        token_ids: torch.Tensor | None = None,
    ) -> BiLMOutput:
        """Run the LSTM stack over token representations.

        Parameters
        ----------
        tokens : Tensor of shape (batch, time, projection_dim)
            Token representations with the ``<S>`` and ``</S>`` positions
            included, zero past each sentence's end.
        lengths : LongTensor of shape (batch,)
            Lengths, boundaries included.
        state : LstmState, optional
            Initial state with one row per sentence (or one row for all).
        keep_boundaries : bool, default=False
        final_state : bool, default=True
            Compute the final state. Without it and without
            ``keep_boundaries``, each direction skips the step whose output
            is dropped (the forward one at ``</S>``, the backward one at
            ``<S>``): the same vectors for less work, and ``state`` is None.
        precision : {"float32", "bfloat16"}, default="float32"
            The LSTM stack's matrix products (see :meth:`LstmStack.forward`);
            the character encoder always runs in float32.
        token_ids : LongTensor of shape (batch, time), optional
            Equal ids where ``tokens`` holds equal vectors (the same word),
            so that the work that depends on the word alone runs once per
            distinct id. The outputs do not depend on it (to float32 rounding).

        Returns
        -------
        BiLMOutput
        """
        check_precision_on(precision, self.device)
        tokens = tokens.to(self.device)
        lengths = lengths.to(self.device)
        batch, steps = tokens.shape[:2]
        if state is not None:
            self._check_state(state, (1, batch))
        if batch == 0:
            width = max(0, steps - (0 if keep_boundaries else 2))
            return BiLMOutput(
                layers=tokens.new_zeros(self.n_layers, 0, width, 2 * self.options.projection_dim),
                mask=torch.zeros(0, width, dtype=torch.bool, device=self.device),
                state=self.zero_state(0) if final_state or keep_boundaries else None)
        # One initial state for every sentence (zeros, or one row broadcast)
        # and the boundary tokens first in each direction: the first step is
        # the same for all.
        same_start = state is None or state.n_rows == 1
        if state is None:
            state = self.zero_state(batch)
        elif state.n_rows == 1 and batch != 1:
            state = state.expand(batch)
        rows = torch.arange(batch, device=self.device)
        sentences = _Sentences(rows, torch.zeros_like(rows), lengths,
                               steps - (0 if keep_boundaries else 2))
        [(layers, mask)], final = self._run_stack(
            tokens, lengths, state, [sentences], keep_boundaries,
            last_steps=final_state or keep_boundaries, same_start=same_start,
            precision=precision, token_ids=token_ids)
        return BiLMOutput(layers=layers, mask=mask, state=final)

    @torch.inference_mode()
    def contextualize_streams(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        groups: Sequence[Sequence[tuple[int, int, int]]],
        state: LstmState,
        keep_boundaries: bool = False,
        precision: str = "float32",
        token_ids: torch.Tensor | None = None,
    ) -> tuple[list[BiLMOutput], LstmState]:
        """Run rows that each hold several sentences back to back, the state flowing through.

        Row ``k`` holds, one after another, the sentences that row ``k`` of
        consecutive stateful batches would hold: the forward direction reads
        the row from left to right, the backward direction reads its
        sentences in the same order, each from right to left. That is what
        running the batches one by one with the state carried computes, in
        fewer steps, with fewer of them left to a few long sentences.

        Parameters
        ----------
        tokens : Tensor of shape (rows, time, projection_dim)
            Each row's sentences back to back, each with its ``<S>`` and
            ``</S>``; zero past the row's end.
        lengths : LongTensor of shape (rows,)
            Positions of each row.
        groups : sequence of sequence of (row, start, length)
            The sentences to return, in groups (one batch each): a sentence
            is the ``length`` positions (boundaries included) from ``start``
            of ``row``.
        state : LstmState
            Initial state, one row per row.
        keep_boundaries : bool, default=False
        precision : {"float32", "bfloat16"}, default="float32"
        token_ids : LongTensor of shape (rows, time), optional
            As for :meth:`contextualize`.

        Returns
        -------
        outputs : list of BiLMOutput
            One per group, its rows the group's sentences in order, its time
            axis the group's longest sentence; ``state`` None.
        final_state : LstmState
            The state each row reached after its last position, in both
            directions.
        """
        if not groups or not all(groups):
            raise ValueError("contextualize_streams needs at least one group, and at least one "
                             "sentence in each group.")
        check_precision_on(precision, self.device)
        self._check_state(state, (tokens.shape[0],))
        tokens = tokens.to(self.device)
        lengths = lengths.to(self.device)
        reverse_index, _, selections = _placed_sentences(
            groups, tokens.shape[:2], lengths, 0 if keep_boundaries else 2, self.device)
        results, final = self._run_stack(
            tokens, lengths, state, selections, keep_boundaries, last_steps=True,
            same_start=False, precision=precision, token_ids=token_ids,
            reverse_index=reverse_index)
        return [BiLMOutput(layers=layers, mask=mask, state=None)
                for layers, mask in results], final

    @torch.inference_mode()
    def contextualize_packed(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        groups: Sequence[Sequence[tuple[int, int, int]]],
        boundaries: torch.Tensor,
        state: LstmState | None = None,
        precision: str = "float32",
        token_ids: torch.Tensor | None = None,
    ) -> list[BiLMOutput]:
        """Run rows of independent sentences packed back to back, each from the same state.

        Every sentence gets the vectors :meth:`contextualize` gives it from
        ``state`` (boundaries dropped), bit for bit: each direction first
        reads its boundary token from ``state`` (the same step for every
        sentence, computed once), and before a sentence's first position its
        row takes the state that step reached. The rows hold no boundary
        positions, and none waits for the longest sentence of a batch.

        Parameters
        ----------
        tokens : Tensor of shape (rows, time, projection_dim)
            Each row's sentences back to back, without ``<S>`` and ``</S>``;
            zero past the row's end.
        lengths : LongTensor of shape (rows,)
            Positions of each row.
        groups : sequence of sequence of (row, start, length)
            The sentences to return, in groups (one batch each): a sentence
            is the ``length`` positions from ``start`` of ``row``.
        boundaries : Tensor of shape (2, projection_dim)
            The ``<S>`` and ``</S>`` token vectors.
        state : LstmState, optional
            The one-row state every sentence starts from. Default: zeros.
        precision : {"float32", "bfloat16"}, default="float32"
        token_ids : LongTensor of shape (rows, time), optional
            As for :meth:`contextualize`.

        Returns
        -------
        list of BiLMOutput
            One per group, its rows the group's sentences in order, its time
            axis the group's longest sentence; ``state`` None.
        """
        if not groups or not all(groups):
            raise ValueError("contextualize_packed needs at least one group, and at least one "
                             "sentence in each group.")
        check_precision_on(precision, self.device)
        tokens = tokens.to(self.device)
        lengths = lengths.to(self.device)
        state = self.zero_state(1) if state is None else self._check_state(state, (1,))
        # Row 0 reads <S>, row 1 </S>: the forward direction's state after <S>
        # and the backward one's after </S> are where every sentence starts.
        _, after = self.lstm(boundaries.to(self.device).unsqueeze(0),
                             torch.ones(2, dtype=torch.long, device=self.device),
                             state.expand(2), precision=precision)
        start_state = LstmState(torch.stack([after.h[0, :, :1], after.h[1, :, 1:]]),
                                torch.stack([after.c[0, :, :1], after.c[1, :, 1:]]))
        reverse_index, starts, selections = _placed_sentences(groups, tokens.shape[:2], lengths,
                                                              0, self.device)
        results, _ = self._run_stack(
            tokens, lengths, self.zero_state(tokens.shape[0]), selections, keep_boundaries=True,
            last_steps=True, same_start=False, precision=precision, token_ids=token_ids,
            reverse_index=reverse_index, restarts=(start_state, starts))
        return [BiLMOutput(layers=layers, mask=mask, state=None) for layers, mask in results]

    def _run_stack(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor,
        state: LstmState,
        selections: Sequence[_Sentences],
        keep_boundaries: bool,
        last_steps: bool,
        same_start: bool,
        precision: str,
        token_ids: torch.Tensor | None,
        reverse_index: torch.Tensor | None = None,
        restarts: tuple[LstmState, torch.Tensor] | None = None,
    ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], LstmState | None]:
        """The LSTM stack over rows of tokens; each selection's layers and mask, and the state.

        Rows run sorted by decreasing length (the shrinking-batch
        recurrence); the outputs are gathered straight into each
        selection's layout, boundaries dropped unless kept.
        """
        batch, steps, proj = tokens.shape
        order = torch.argsort(lengths, descending=True, stable=True)
        restore = torch.empty_like(order)
        restore[order] = torch.arange(batch, device=order.device)
        shift = 0 if keep_boundaries else 1
        select, outputs = [], []
        for sentences in selections:
            # Output position u of a sentence is position start + u (+ 1) of its row.
            width = sentences.width
            mask = _length_mask(sentences.lengths - 2 * shift, width)
            times = (sentences.starts.unsqueeze(1) + shift
                     + torch.arange(width, device=self.device)).masked_fill(~mask, -1)
            layers = tokens.new_empty(self.n_layers, len(sentences.rows), width, 2 * proj)
            # Layer 0: the token vectors, for both directions.
            flat = (sentences.rows.unsqueeze(1) * steps + times.clamp(min=0)).reshape(-1)
            torch.mul(tokens.reshape(-1, proj).index_select(0, flat).view(*mask.shape, proj),
                      mask.unsqueeze(-1), out=layers[0, ..., :proj])
            layers[0, ..., proj:] = layers[0, ..., :proj]
            select.append((times, restore[sentences.rows].unsqueeze(1).expand_as(times)))
            outputs.append((layers, mask))
        if reverse_index is not None:
            reverse_index = reverse_index[order].transpose(0, 1).contiguous()
        if restarts is not None:
            restarts = (restarts[0], restarts[1][order].transpose(0, 1).contiguous())
        _, final = self.lstm(
            tokens[order].transpose(0, 1).contiguous(), lengths[order],
            state.rows(order.to(state.h.device)), last_steps=last_steps,
            same_start=same_start, precision=precision,
            token_ids=None if token_ids is None else
            token_ids.to(self.device)[order].transpose(0, 1).contiguous(),
            select=select, out=[layers[1:] for layers, _ in outputs],
            reverse_index=reverse_index, restarts=restarts,
        )
        return outputs, final.rows(restore) if final is not None else None


@dataclass
class _Sentences:
    """Sentences to return from rows of tokens: ``lengths`` positions from ``starts`` of ``rows``.

    ``width`` is the output's time axis.
    """

    rows: torch.Tensor
    starts: torch.Tensor
    lengths: torch.Tensor
    width: int


def _placed_sentences(
    groups: Sequence[Sequence[tuple[int, int, int]]], shape: tuple[int, int],
    lengths: torch.Tensor, dropped: int, device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, list[_Sentences]]:
    """Where sentences placed back to back in rows (``(row, start, length)`` per group) lie.

    ``shape`` is (rows, time) of the tokens, ``lengths`` the positions of each row.
    Returns the backward direction's reading order (each sentence reversed in
    place), a (rows, time) mask of each sentence's first position, and one
    selection per group, its width the group's longest sentence less
    ``dropped`` positions (its boundaries, when they are not returned).
    Raises a ValueError for a sentence outside its row.
    """
    row_lengths = [int(n) for n in lengths.tolist()]
    reverse_index = np.tile(np.arange(shape[1]), (shape[0], 1))
    starts = np.zeros(shape, dtype=bool)
    selections = []
    for group in groups:
        for row, start, length in group:
            if not (0 <= row < len(row_lengths) and start >= 0 and length >= dropped
                    and start + length <= row_lengths[row]):
                held = (f"row {row} has {row_lengths[row]} positions"
                        if 0 <= row < len(row_lengths) else f"there are {len(row_lengths)} rows")
                raise ValueError(
                    f"sentence (row={row}, start={start}, length={length}) does not lie in its "
                    f"row: {held}, and a sentence has at least {dropped} positions.")
            reverse_index[row, start : start + length] = np.arange(start + length - 1,
                                                                   start - 1, -1)
            if length:
                starts[row, start] = True
        row, start, length = (torch.tensor(column, dtype=torch.long, device=device)
                              for column in zip(*group))
        selections.append(_Sentences(row, start, length, int(length.max()) - dropped))
    return (torch.from_numpy(reverse_index).to(device), torch.from_numpy(starts).to(device),
            selections)


def _checked_char_ids(char_ids: Any, n_ids: int) -> torch.Tensor:
    """``char_ids`` as a LongTensor of shape (..., 50) with ids below ``n_ids``, else raise."""
    if not isinstance(char_ids, torch.Tensor) or char_ids.dtype.is_floating_point \
            or char_ids.dtype.is_complex or char_ids.dtype == torch.bool:
        raise TypeError("char_ids must be an integer tensor of character ids (from "
                        f"skelmo.batch_to_ids), got {type(char_ids).__name__}"
                        + (f" of {char_ids.dtype}" if isinstance(char_ids, torch.Tensor) else ""))
    if char_ids.ndim == 0 or char_ids.shape[-1] != MAX_CHARACTERS:
        raise ValueError(f"char_ids must have {MAX_CHARACTERS} ids per token (its last "
                         f"dimension), got shape {tuple(char_ids.shape)}.")
    if char_ids.numel() and (int(char_ids.min()) < 0 or int(char_ids.max()) >= n_ids):
        raise ValueError(f"char_ids must lie in [0, {n_ids - 1}] (from skelmo.batch_to_ids), "
                         f"got values in [{int(char_ids.min())}, {int(char_ids.max())}].")
    return char_ids.long()


def _length_mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    return torch.arange(steps, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def _add_boundaries(char_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Put ``<S>`` before and ``</S>`` after every sentence."""
    batch, steps, _ = char_ids.shape
    out = char_ids.new_zeros(batch, steps + 2, MAX_CHARACTERS)
    out[:, 1:-1] = char_ids
    rows = torch.arange(batch, device=char_ids.device)
    out[:, 0] = torch.from_numpy(BOS_IDS).to(char_ids.device)
    out[rows, lengths + 1] = torch.from_numpy(EOS_IDS).to(char_ids.device)
    return out
