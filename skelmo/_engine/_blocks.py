"""The column-block width of the LSTM's gate products, chosen by measurement.

The engine multiplies the recurrent weights (``proj x 4 * cell``) as a batched
product over contiguous column blocks. Which width runs fastest depends on
the machine: on one 2-core AVX2 machine 1,024-wide blocks ran a 64-row step
markedly faster than one wide matrix, and on a 2-core AMX machine 512-wide
blocks beat 1,024-wide ones by 16% (both one-off measurements of the product
alone). So each process measures the candidates once per shape and thread
count, on random weights, and keeps the fastest. Every width computes every
value with the same dot product, so the choice changes the speed, never the
outputs (a test checks they are bitwise equal).
"""

from __future__ import annotations

import threading
import time

import torch

__all__ = ["block_width_candidates", "gate_block_width"]

# The widths tried; a width must divide the cell so that no block straddles
# two gates.
_CANDIDATES = (256, 512, 1024, 2048)

# Rows of the measured products: a full batch and half of one, the two ends
# of what a batch's steps see as its sentences finish.
_MEASURED_ROWS = (64, 32)

_ROUNDS = 3

_chosen: dict[tuple[int, int, int], int] = {}
_lock = threading.Lock()


def block_width_candidates(cell: int) -> tuple[int, ...]:
    """The block widths usable for a cell of ``cell`` values (the cell itself if none)."""
    return tuple(w for w in _CANDIDATES if cell % w == 0) or (cell,)


def gate_block_width(proj: int, cell: int) -> int:
    """The fastest block width for ``proj x 4 * cell`` recurrent weights on this CPU.

    Measured on first use for each shape and intra-op thread count, then
    remembered for the process (about half a second for the published
    4,096-cell models; nothing to measure for cells with a single candidate).
    """
    candidates = block_width_candidates(cell)
    if len(candidates) == 1:
        return candidates[0]
    key = (proj, cell, torch.get_num_threads())
    with _lock:
        if key not in _chosen:
            _chosen[key] = _fastest(proj, cell, candidates)
        return _chosen[key]


@torch.inference_mode()
def _fastest(proj: int, cell: int, candidates: tuple[int, ...]) -> int:
    generator = torch.Generator().manual_seed(0)
    weights = torch.randn(proj, 4 * cell, generator=generator)
    cases = []
    for width in candidates:
        blocks = weights.view(proj, -1, width).transpose(0, 1).contiguous()
        for rows in _MEASURED_ROWS:
            h = torch.randn(rows, proj, generator=generator)
            gates = torch.empty(blocks.shape[0], rows, width)
            cases.append((width, blocks, h.expand(blocks.shape[0], rows, proj), gates))
    best = {width: [float("inf")] * len(_MEASURED_ROWS) for width in candidates}
    for _ in range(_ROUNDS):
        # Interleaved, so that a slow stretch of the machine hits every width.
        for n, (width, blocks, h, gates) in enumerate(cases):
            torch.bmm(h, blocks, out=gates)
            started = time.perf_counter()
            torch.bmm(h, blocks, out=gates)
            seconds = time.perf_counter() - started
            slot = n % len(_MEASURED_ROWS)
            best[width][slot] = min(best[width][slot], seconds)
    return min(candidates, key=lambda width: sum(best[width]))
