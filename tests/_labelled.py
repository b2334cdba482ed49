"""A labelled corpus that even a random model's character layer separates."""

from __future__ import annotations

import random

import numpy as np

# The two classes use words built from different letters, so that even a random
# model's character layer (layer 0) tells them apart.
CLASS_1 = ["zax", "quiz", "jazz", "fizz", "buzz", "zinc", "quay", "jinx"]
CLASS_0 = ["tool", "sell", "mall", "tell", "loot", "toll", "less", "soil"]
FILLER = ["the", "a", "saw", "near", "big", "one", "old", "."]


def labelled_documents(n: int = 60, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Short documents of class-1 or class-0 words mixed with shared filler words."""
    rng = random.Random(seed)
    docs, labels = [], []
    for i in range(n):
        label = i % 2
        words = [rng.choice(CLASS_1 if label else CLASS_0) for _ in range(rng.randint(1, 3))]
        words += [rng.choice(FILLER) for _ in range(rng.randint(1, 4))]
        rng.shuffle(words)
        docs.append(" ".join(words))
        labels.append(label)
    return docs, np.array(labels)
