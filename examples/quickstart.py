"""
Contextual vectors from an ELMo biLM, end to end
================================================

Embeds a few sentences with the model that ships with skelmo
("skelmo-en-small", the default ``model``) and shows what makes ELMo useful:
on the LSTM layers the same word gets a different vector in each context,
while the character-based layer 0 gives it one vector everywhere.

Usage::

    python examples/quickstart.py [OPTIONS_JSON WEIGHTS_HDF5]

Pass the two files of another model in the published format (a published
ELMo model, or one you trained) to use it instead of the bundled one.
"""

# %%
# Every layer of every token
# --------------------------
import sys

import numpy as np

from skelmo import ElmoTokenVectorizer, tokenize

if len(sys.argv) not in (1, 3):
    sys.exit("usage: python examples/quickstart.py [OPTIONS_JSON WEIGHTS_HDF5]")
# None is the bundled model; a pair of files is any model in the published format.
model = (sys.argv[1], sys.argv[2]) if len(sys.argv) == 3 else None

SENTENCES = [
    "I deposited the cheque at the bank on Monday.",
    "The bank raised its interest rates again.",
    "We sat on the bank of the river and watched the boats.",
    "Grass grew thick along the muddy bank of the stream.",
]

# layer="all": every layer side by side; output="ragged": one array per sentence.
vectorizer = ElmoTokenVectorizer(model=model, layer="all", output="ragged").fit(SENTENCES)
n_layers = vectorizer.n_layers_
vectors = vectorizer.transform(SENTENCES)
print(f"{n_layers} layers (the token layer and {n_layers - 1} LSTM layers), "
      f"{vectors[0].shape[1] // n_layers} numbers per token and layer")

# The vectors of "bank": (sentence, layer, number).
bank = np.stack([v[tokenize(s).index("bank")].reshape(n_layers, -1)
                 for v, s in zip(vectors, SENTENCES)])

# %%
# The same word in four sentences
# -------------------------------
# Cosine similarity of the vectors of "bank" between every pair of sentences,
# layer by layer.
for layer in range(n_layers):
    unit = bank[:, layer] / np.linalg.norm(bank[:, layer], axis=1, keepdims=True)
    print(f"layer {layer}: cosine similarity of 'bank' between sentences")
    for i, row in enumerate(unit @ unit.T):
        print(f"  s{i}: " + " ".join(f"{value:6.3f}" for value in row))
print("\nLayer 0 is context-free (all 1.000); the LSTM layers differ by context.")
for i, sentence in enumerate(SENTENCES):
    print(f"  s{i}: {sentence}")
