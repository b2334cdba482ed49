"""The seeded synthetic documents the scale-out benchmarks share."""

from __future__ import annotations

import numpy as np


def make_documents(n: int, seed: int = 0, mean_length: float = 23.0) -> list[str]:
    """Seeded texts of pseudo-words: lognormal lengths, Zipf-distributed words."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    vocab = sorted({"".join(rng.choice(letters, size=int(rng.integers(2, 11))))
                    for _ in range(20_000)})
    probs = 1.0 / np.arange(1, len(vocab) + 1) ** 1.07
    probs /= probs.sum()
    sigma = 0.6
    lengths = np.clip(np.rint(rng.lognormal(np.log(mean_length) - sigma ** 2 / 2, sigma, n)),
                      1, 80).astype(int)
    return [" ".join(vocab[k] for k in rng.choice(len(vocab), size=m, p=probs))
            for m in lengths]
