"""
Part-of-speech tagging with token vectors
=========================================

:class:`~skelmo.ElmoTokenVectorizer` gives one vector per token. With
``output="flat"`` the vectors of all the sentences come one after another,
one row per token, so any scikit-learn classifier can learn to label tokens:
here, with their part of speech.

The data are sentences of the Brown corpus tagged with the twelve universal
part-of-speech tags (:func:`skelmo.datasets.fetch_brown_pos`). The tagger is
a logistic regression on ELMo vectors, compared with two baselines:

- the most frequent tag of each word in the training sentences (the most
  frequent tag overall for words never seen in training);
- the same logistic regression on layer 0 of the model only, which
  represents each word from its characters, without its context.

The logistic regressions see standardized features, which makes their
training converge in fewer iterations.

To keep the example quick it trains on 2,000 random sentences and tests on
500 others, out of the 57,340 of the corpus.
"""

# %%
# The data
# --------
from collections import Counter, defaultdict

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skelmo import ElmoTokenVectorizer
from skelmo.datasets import fetch_brown_pos

brown = fetch_brown_pos(tagset="universal")
order = np.random.RandomState(0).permutation(len(brown.data))
train, test = order[:2000], order[2000:2500]
train_sentences = [brown.data[i] for i in train]
test_sentences = [brown.data[i] for i in test]
# One label per token, in the order of the rows of output="flat".
train_tags = np.array([tag for i in train for tag in brown.target[i]])
test_tags = np.array([tag for i in test for tag in brown.target[i]])
print(f"{len(train_sentences):,} training sentences ({len(train_tags):,} tokens), "
      f"{len(test_sentences):,} test sentences ({len(test_tags):,} tokens)")
print(" ".join(f"{word}/{tag}" for word, tag in zip(test_sentences[0], brown.target[test[0]])))

# %%
# The most-frequent-tag baseline
# ------------------------------
train_words = [word for sentence in train_sentences for word in sentence]
test_words = [word for sentence in test_sentences for word in sentence]
counts = defaultdict(Counter)
for word, tag in zip(train_words, train_tags):
    counts[word][tag] += 1
fallback = Counter(train_tags).most_common(1)[0][0]
predictions = {
    "most frequent tag per word": np.array([counts[word].most_common(1)[0][0] if word in counts
                                   else fallback for word in test_words]),
}

# %%
# Taggers on ELMo vectors
# -----------------------
# The vectorizer turns sentences into token rows and the classifier labels
# them, so a pipeline fitted on sentences and token labels tags sentences.
# Sentences given as lists of tokens are used as they are.
for name, layer in [("ELMo, layer 0 (no context)", 0), ("ELMo, mix of all layers", "mix")]:
    tagger = make_pipeline(ElmoTokenVectorizer(layer=layer, output="flat"), StandardScaler(),
                           LogisticRegression(C=0.1, max_iter=1000))
    tagger.fit(train_sentences, train_tags)
    predictions[name] = tagger.predict(test_sentences)

# %%
# Accuracy
# --------
# Overall, and on the test tokens whose word never occurs in the training
# sentences, where the baseline can only guess.
unseen = np.array([word not in counts for word in test_words])
print(f"{'tagger':<28} {'accuracy':>9} {f'unseen words ({unseen.sum()})':>20}")
for name, predicted in predictions.items():
    correct = predicted == test_tags
    print(f"{name:<28} {correct.mean():>9.3f} {correct[unseen].mean():>20.3f}")

# %%
# Accuracy per tag
# ----------------
tags = [tag for tag, _ in Counter(test_tags).most_common()]
support = Counter(test_tags)
height = 0.27
fig, ax = plt.subplots(figsize=(7, 6.5), layout="constrained")
for i, (name, predicted) in enumerate(predictions.items()):
    per_tag = [np.mean(predicted[test_tags == tag] == tag) for tag in tags]
    ax.barh(np.arange(len(tags)) + (i - 1) * height, per_tag, height, label=name)
ax.set_yticks(np.arange(len(tags)), [f"{tag} ({support[tag]})" for tag in tags])
ax.invert_yaxis()
ax.set_xlim(0, 1)
ax.set_xlabel("accuracy on the test tokens of the tag")
ax.set_ylabel("universal tag (test tokens)")
ax.set_title("Part-of-speech tagging, Brown corpus: accuracy per tag")
fig.legend(loc="outside lower center", ncols=2)
plt.show()
