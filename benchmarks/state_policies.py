"""How far each LSTM state policy lands from the original model's stateful outputs.

Runs on the reference fixture (a tiny model with outputs computed by the
original TensorFlow implementation, which carries the LSTM state from batch
to batch). Prints, per policy, the mean and maximum absolute difference of
every layer-2 value, for the first batch (which the reference ran from a zero
state) and for batches 1-9 (which it ran from carried-over states).

Usage: python benchmarks/state_policies.py [REFERENCE_DIR]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np

from skelmo import BiLM, ElmoEmbedder

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "elmo-reference"


def main(reference_dir: Path) -> None:
    bilm = BiLM.from_files(reference_dir / "options.json", reference_dir / "lm_weights.hdf5")
    with open(reference_dir / "sentences.json", encoding="utf-8") as f:
        groups = [[s.split() for s in group] for group in json.load(f)]
    expected = []
    for k in range(3):
        with h5py.File(reference_dir / f"lm_embeddings_{k}.hdf5", "r") as f:
            expected.append([np.concatenate(f[str(i)][...], axis=-1) for i in range(10)])
    # The order the reference ran them in: batch i = sentence i of each group.
    order = [(i, k) for i in range(10) for k in range(3)]
    sentences = [groups[k][i] for i, k in order]

    print(f"{'policy':<10} {'batch 0 mean':>13} {'batch 0 max':>12} "
          f"{'batches 1-9 mean':>17} {'batches 1-9 max':>16}")
    for policy in ("stateful", "warm", "zero"):
        embedder = ElmoEmbedder(bilm, batch_size=3, state=policy)
        got = embedder.embed_sentences(sentences)
        first, later = [], []
        for (i, k), vectors in zip(order, got):
            diff = np.abs(vectors[2] - expected[k][i]).ravel()
            (first if i == 0 else later).append(diff)
        first_all, later_all = np.concatenate(first), np.concatenate(later)
        print(f"{policy:<10} {first_all.mean():13.2e} {first_all.max():12.2e} "
              f"{later_all.mean():17.2e} {later_all.max():16.2e}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR)
