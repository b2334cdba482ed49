"""
Learning how much each layer counts
===================================

ELMo's usual output is a weighted sum of the model's layers, ``gamma *
sum_k softmax(w)_k * layer_k`` (``layer="mix"``). With equal weights, the
default, every layer counts the same. With ``learn_mix=True``,
:class:`~skelmo.ElmoVectorizer` learns the weights ``w`` in ``fit`` from the
labels, with a linear probe, and sets ``gamma`` so that the mixed features
have unit average variance; ``mix_weights_`` and ``gamma_`` hold the result.

This example learns the mix for the polarity of movie-review sentences
(2,000 of them, a random sample with the same share of positive ones; see
:func:`skelmo.datasets.fetch_movie_reviews`), shows the weights it finds, and
compares the cross-validated accuracy of the learned mix with that of equal
weights.
"""

# %%
# Equal weights against learned weights
# -------------------------------------
# In a pipeline the mix is learned again in every fold, from that fold's
# training part only, so the cross-validated accuracy stays honest.
import matplotlib.pyplot as plt
import numpy as np
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.utils import resample

from skelmo import ElmoVectorizer
from skelmo.datasets import fetch_movie_reviews

reviews = fetch_movie_reviews()
texts, y = resample(reviews.data, reviews.target, n_samples=2000, replace=False,
                    stratify=reviews.target, random_state=0)

cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
mixes = {
    "equal weights": ElmoVectorizer(),
    "learned weights": ElmoVectorizer(learn_mix=True, random_state=0),
}
results = {}
for name, vectorizer in mixes.items():
    pipeline = Pipeline([("elmo", vectorizer), ("clf", LogisticRegression(max_iter=2000))])
    results[name] = cross_validate(pipeline, texts, y, cv=cv, return_estimator=True)
    scores = results[name]["test_score"]
    print(f"{name:<16} accuracy {scores.mean():.3f} ± {scores.std():.3f} (5-fold)")

# %%
# The learned weights
# -------------------
# Each fold learned its own mix; the spread across folds shows how firmly the
# data decide the weights.
fold_weights = np.array([softmax(fitted["elmo"].mix_weights_)
                         for fitted in results["learned weights"]["estimator"]])
fold_gammas = [fitted["elmo"].gamma_ for fitted in results["learned weights"]["estimator"]]
n_layers = fold_weights.shape[1]
print("softmax weights per fold (layer 0 first):")
print(np.array2string(fold_weights, precision=3, suppress_small=True))
print("gamma per fold:", "  ".join(f"{gamma:.2f}" for gamma in fold_gammas))

# %%
layer_names = ["0 (token)"] + [f"{k} (LSTM {k})" for k in range(1, n_layers)]
mean = fold_weights.mean(axis=0)
fig, ax = plt.subplots(figsize=(6.4, 4))
ax.bar(layer_names, mean, color="tab:blue", label="learned (mean of 5 folds)")
ax.errorbar(layer_names, mean,
            yerr=[mean - fold_weights.min(axis=0), fold_weights.max(axis=0) - mean],
            fmt="none", ecolor="black", capsize=4, label="range over folds")
ax.axhline(1 / n_layers, color="tab:orange", linestyle="--", label="equal weights")
ax.set_xlabel("layer")
ax.set_ylabel("softmax weight")
ax.set_ylim(0, 1)
ax.set_title(f"Learned layer mix for movie-review polarity "
             f"(mean gamma {np.mean(fold_gammas):.1f})")
ax.legend(loc="upper right")
fig.tight_layout()
plt.show()
