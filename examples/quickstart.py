"""Contextual vectors from an ELMo biLM, end to end.

Loads a model from ``options.json`` + weights (a published ELMo model, or any
model in that format), embeds a few sentences, and shows what makes ELMo
useful: the same word gets a different vector in each context, while the
character layer (layer 0) gives it one vector everywhere.

Usage::

    python examples/quickstart.py [OPTIONS_JSON WEIGHTS_HDF5]

Without arguments it generates a small random model so that it runs
anywhere; pass a trained model's files for meaningful similarities.
"""

from __future__ import annotations

import sys
import tempfile

import numpy as np

from skelmo import BiLM, ElmoEmbedder
from skelmo.testing import make_random_model

SENTENCES = [
    "I deposited the cheque at the bank on Monday .",
    "The bank raised its interest rates again .",
    "We sat on the bank of the river and watched the boats .",
    "Grass grew thick along the muddy bank of the stream .",
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main(argv: list[str]) -> None:
    if len(argv) == 2:
        bilm = BiLM.from_files(argv[0], argv[1], device="auto")
        print(f"Loaded {argv[1]}")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            bilm = BiLM.from_files(*make_random_model(tmp, seed=0))
        print("No model given: using a small random model (similarities are not meaningful).")
    options = bilm.options
    print(f"biLM: {options.n_layers} LSTM layers, cell {options.cell_dim}, "
          f"output {bilm.output_dim} wide, {bilm.n_layers} layers in all\n")

    tokens = [sentence.split() for sentence in SENTENCES]
    vectors = ElmoEmbedder(bilm, batch_size=32).embed_sentences(tokens)
    bank = [v[:, t.index("bank")] for v, t in zip(vectors, tokens)]  # (layers, dim) each

    for layer in range(bilm.n_layers):
        print(f"layer {layer}: cosine similarity of 'bank' between sentences")
        for i in range(len(SENTENCES)):
            row = " ".join(f"{cosine(bank[i][layer], bank[j][layer]):6.3f}"
                           for j in range(len(SENTENCES)))
            print(f"  s{i}: {row}")
    print("\nLayer 0 is context-free (all 1.000); the LSTM layers differ by context.")
    for i, sentence in enumerate(SENTENCES):
        print(f"  s{i}: {sentence}")


if __name__ == "__main__":
    main(sys.argv[1:])
