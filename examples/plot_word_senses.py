"""
One word, several meanings: contextual vectors
==============================================

A word such as "bank" has one vector in a classic word embedding, whatever it
means where it is used. ELMo's LSTM layers read the whole sentence, so a
word's vector there depends on its context: the vectors of "bank" by a river
and of "bank" with money should fall into two groups. Layer 0 of the model
represents each word from its characters alone, and gives the same vector in
every sentence.

This example embeds two words in sixteen sentences each, eight for each of
two senses, with :class:`~skelmo.ElmoTokenVectorizer`, keeps the vector of
the word itself, and measures how well the senses separate, layer by layer.
The two senses of "bank" are both nouns; those of "play" are a noun (a play
at the theatre) and a verb (to play a game or an instrument).
"""

# %%
# Sentences
# ---------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from skelmo import ElmoTokenVectorizer, tokenize

SENTENCES = {
    "bank": {
        "river": [
            "We had a picnic on the grassy bank of the river.",
            "The fisherman sat on the bank and waited for a bite.",
            "After days of rain the stream burst its bank and flooded the meadow.",
            "Ducks were sleeping in the reeds along the far bank.",
            "She pulled the canoe up onto the muddy bank.",
            "Willows grow thickly on the south bank of the canal.",
            "The children skimmed stones from the bank of the pond.",
            "A heron stood still on the bank, watching the water.",
        ],
        "money": [
            "I need to go to the bank to pay in this cheque.",
            "The bank approved our loan for a new house.",
            "She works as a cashier at the bank on Main Street.",
            "The central bank raised interest rates again this month.",
            "He opened a savings account at a local bank.",
            "The bank charged me a fee because I was overdrawn.",
            "Robbers broke into the bank and emptied the vault.",
            "My salary is paid straight into my bank account.",
        ],
    },
    "play": {
        "theatre": [
            "We saw a wonderful play at the theatre last night.",
            "The play opens on Broadway next spring.",
            "Shakespeare probably wrote the play around 1600.",
            "Our school put on a play about a lost dog.",
            "Critics praised the play for its witty dialogue.",
            "She has the leading role in a new play by a young writer.",
            "The actors rehearsed the play for six weeks.",
            "The second act of the play is much darker than the first.",
        ],
        "game or music": [
            "The children like to play football in the park after school.",
            "Can you play the piano?",
            "He learned to play chess from his grandfather.",
            "Let's play cards after dinner.",
            "The band will play three new songs tonight.",
            "She wants to play the violin in the orchestra.",
            "We used to play hide and seek in the garden.",
            "The puppies play together for hours in the yard.",
        ],
    },
}

# %%
# The word's vector in each sentence
# ----------------------------------
# ``output="ragged"`` gives one array of token vectors per sentence; the
# sentences are split into tokens by :func:`skelmo.tokenize`, the vectorizer's
# default tokenizer, which also tells where the word is.
vectorizer = ElmoTokenVectorizer(output="ragged")


def word_vectors(word, sentences, layer):
    """The vector of ``word`` in each sentence, at ``layer``."""
    vectors = vectorizer.set_params(layer=layer).transform(sentences)
    return np.array([v[tokenize(s).index(word)] for v, s in zip(vectors, sentences)])


data = {}
for word, senses in SENTENCES.items():
    sentences = [s for examples in senses.values() for s in examples]
    labels = np.repeat(list(senses), [len(examples) for examples in senses.values()])
    data[word] = sentences, labels

# %%
# How well do the senses separate?
# --------------------------------
# Leave-one-out nearest-centroid accuracy: each sentence in turn is held out,
# the mean vector of each sense is computed from the other fifteen, and the
# held-out vector is given the sense of the nearer mean. 0.5 is chance. On
# layer 0 all sixteen vectors of a word are the same, so both means are the
# same too and this layer cannot do better than chance; the LSTM layers, and
# their mix, can.


def nearest_centroid_accuracy(vectors, labels):
    """Leave-one-out accuracy of the nearest sense mean; a tie counts as half right."""
    vectors = np.asarray(vectors, dtype=np.float64)
    senses = np.unique(labels)
    score = 0.0
    for i, vector in enumerate(vectors):
        others = np.arange(len(vectors)) != i
        distances = np.array([np.linalg.norm(vector - vectors[others & (labels == sense)]
                                              .mean(axis=0)) for sense in senses])
        # Equal up to rounding is a tie.
        tolerance = 1e-6 * np.linalg.norm(vector)
        nearest = np.flatnonzero(distances <= distances.min() + tolerance)
        score += np.mean(senses[nearest] == labels[i])
    return score / len(vectors)


layers = [0, 1, 2, "mix"]
print(f"{'word':<6}" + "".join(f"{'layer ' + str(layer) if layer != 'mix' else 'mix':>10}"
                               for layer in layers))
for word, (sentences, labels) in data.items():
    row = [nearest_centroid_accuracy(word_vectors(word, sentences, layer), labels)
           for layer in layers]
    print(f"{word:<6}" + "".join(f"{accuracy:>10.2f}" for accuracy in row))

for word, (sentences, _) in data.items():
    distinct = np.unique(word_vectors(word, sentences, 0), axis=0)
    print(f'distinct layer-0 vectors of "{word}" in {len(sentences)} sentences: {len(distinct)}')

# %%
# A picture of the contextual vectors
# -----------------------------------
# The vectors of the mix of all layers, projected on their first two
# principal components.
fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained")
for ax, (word, (sentences, labels)) in zip(axes, data.items()):
    points = PCA(n_components=2).fit_transform(word_vectors(word, sentences, "mix"))
    for sense, marker in zip(SENTENCES[word], ["o", "s"]):
        chosen = labels == sense
        ax.scatter(points[chosen, 0], points[chosen, 1], marker=marker, s=50,
                   label=f"{word} ({sense})")
    ax.set_title(f'"{word}" in 16 sentences')
    ax.set_xlabel("first principal component")
    ax.set_ylabel("second principal component")
    ax.legend()
fig.suptitle("Contextual vectors of one word (mix of all layers), coloured by sense")
plt.show()
