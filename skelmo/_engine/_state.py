"""Initial-state policies of the biLM's LSTM.

The original ELMo implementation keeps the LSTM state between batches, so a
sentence's vectors depend on what ran before it and on its row. skelmo offers
three policies:

``"warm"`` (default)
    Every sentence starts from one fixed state: the average state the model
    reaches at the end of a sentence of ordinary text, derived once per model
    from :data:`skelmo._engine._warmup.WARMUP_SENTENCES`. Deterministic, and close to
    the states the model saw in training.
``"zero"``
    Every sentence starts from zeros. Deterministic.
``"stateful"``
    The reference behaviour: row ``k`` of a batch starts where row ``k`` of the
    previous batch ended, across calls, until :meth:`StatefulCarry.reset`.
"""

from __future__ import annotations

import threading

from .._format import batch_to_ids
from .._utils import STATE_POLICIES
from ._bilm import BiLM, LstmState
from ._warmup import WARMUP_SENTENCES

__all__ = ["STATE_POLICIES", "StatefulCarry", "check_state_policy", "warm_state"]



def check_state_policy(state: object) -> str:
    """Return ``state`` if it names a policy, else raise a ValueError."""
    if not isinstance(state, str) or state not in STATE_POLICIES:
        raise ValueError(f"state must be one of {STATE_POLICIES}, got {state!r}.")
    return state


def warm_state(bilm: BiLM) -> LstmState:
    """The fixed one-row initial state of the ``"warm"`` policy for ``bilm``.

    Every warm-up sentence is run from zeros, then each one again starting
    from the end state of another; the state returned is the mean of those
    second end states. Computed once per model and kept on it.

    Parameters
    ----------
    bilm : BiLM

    Returns
    -------
    LstmState
        One row, on the model's device.
    """
    cached = getattr(bilm, "_skelmo_warm_state", None)
    if cached is not None and cached.h.device == bilm.device:
        return cached
    ids = batch_to_ids([sentence.split() for sentence in WARMUP_SENTENCES])
    first = bilm(ids).state
    # Row k continues from the end of sentence k - 1, as in running text.
    shifted = LstmState(first.h.roll(1, dims=2), first.c.roll(1, dims=2))
    second = bilm(ids, state=shifted).state
    state = LstmState(second.h.mean(dim=2, keepdim=True), second.c.mean(dim=2, keepdim=True))
    bilm._skelmo_warm_state = state
    return state


class StatefulCarry:
    """The LSTM state carried between batches under the ``"stateful"`` policy.

    Row ``k`` of each batch starts from the state row ``k`` of an earlier
    batch ended in (zeros for a row never seen), as the original
    implementation does.

    Parameters
    ----------
    bilm : BiLM
    """

    def __init__(self, bilm: BiLM):
        self._bilm = bilm
        self._state: LstmState | None = None
        self.lock = threading.Lock()

    def reset(self) -> None:
        """Forget the carried state: the next batch starts from zeros."""
        self._state = None

    def initial(self, n_rows: int) -> LstmState:
        """The initial state for a batch of ``n_rows`` sentences."""
        zeros = self._bilm.zero_state(n_rows)
        if self._state is not None:
            held = min(n_rows, self._state.n_rows)
            zeros.h[:, :, :held] = self._state.h[:, :, :held]
            zeros.c[:, :, :held] = self._state.c[:, :, :held]
        return zeros

    def update(self, final: LstmState) -> None:
        """Store a batch's final state; rows beyond the batch keep theirs."""
        if self._state is None or self._state.n_rows <= final.n_rows:
            self._state = LstmState(final.h.clone(), final.c.clone())
            return
        n = final.n_rows
        self._state.h[:, :, :n] = final.h
        self._state.c[:, :, :n] = final.c


