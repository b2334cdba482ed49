"""
Choosing the layer and the pooling with a grid search
=====================================================

An ELMo model has several layers: layer 0 represents each word on its own,
from its characters, and the LSTM layers above it represent each word in its
sentence. Which layer, or which mix of layers, works best depends on the task,
and so does the way token vectors are pooled into one vector per document.
:class:`~sklearn.model_selection.GridSearchCV` answers both questions.

A search like this one is cheap with skelmo. ``layer`` and ``pooling`` are
applied to activations that skelmo keeps per document (the activation
cache), so the language model reads each document once per kind of
activation the search needs, rather than once per candidate and fold. The
example measures that: the time of the whole search against the time of one
transform of the same documents.

The data are 2,000 movie-review sentences labelled positive or negative
(:func:`skelmo.datasets.fetch_movie_reviews`), a random sample with the same
share of both classes.
"""

# %%
# One transform
# -------------
# First the cost of embedding the documents once. ``cache=False`` keeps this
# transform from filling the activation cache, so that the search below starts
# from nothing, as it would in a fresh process.
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import resample

import skelmo
from skelmo import ElmoVectorizer
from skelmo.datasets import fetch_movie_reviews

reviews = fetch_movie_reviews()
texts, y = resample(reviews.data, reviews.target, n_samples=2000, replace=False,
                    stratify=reviews.target, random_state=0)

skelmo.activation_cache.clear()  # other examples may have embedded these sentences
start = perf_counter()
ElmoVectorizer(cache=False).transform(texts)
one_transform = perf_counter() - start
print(f"one transform of {len(texts):,} sentences: {one_transform:.1f} s")

# %%
# The search
# ----------
# Four layer choices (the model's three layers and their equal-weight mix) times
# two poolings, each scored by 5-fold cross-validation, then refitted on all the
# data: 41 fits of the pipeline.
pipeline = Pipeline([
    ("elmo", ElmoVectorizer()),
    ("clf", LogisticRegression(max_iter=2000)),
])
param_grid = {"elmo__layer": [0, 1, 2, "mix"], "elmo__pooling": ["mean", "max"]}
search = GridSearchCV(pipeline, param_grid,
                      cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0))
start = perf_counter()
search.fit(texts, y)
search_time = perf_counter() - start

n_fits = len(search.cv_results_["params"]) * search.n_splits_ + 1
print(f"the whole search, {n_fits} fits: {search_time:.1f} s, "
      f"{search_time / one_transform:.1f} times one transform")
print(f"without the activation cache every fit would embed its documents again: "
      f"about {n_fits} transforms, {n_fits * one_transform:.0f} s")
print(f"documents run through the language model: {skelmo.activation_cache.misses:,}; "
      f"found in the activation cache: {skelmo.activation_cache.hits:,}")
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# Every fit after the first finds its documents' activations in the cache, so
# the search costs about as much as the language model reading each document
# once per kind of activation it needs: the per-layer means and maxima for
# most candidates, and the token vectors for ``layer="mix"`` with
# ``pooling="max"``, whose maximum is taken over mixed tokens. The rest is
# training the logistic regressions.
#
# The scores
# ----------
results = pd.DataFrame(search.cv_results_)
table = results.pivot_table(index="param_elmo__layer", columns="param_elmo__pooling",
                            values="mean_test_score", sort=False)
print(table.round(3).to_string())

# %%
layers = [str(layer) for layer in param_grid["elmo__layer"]]
poolings = param_grid["elmo__pooling"]
width = 0.38
fig, ax = plt.subplots(figsize=(6.4, 4))
for i, pooling in enumerate(poolings):
    rows = results[results["param_elmo__pooling"] == pooling]
    ax.bar(np.arange(len(layers)) + (i - 0.5) * width, rows["mean_test_score"], width,
           yerr=rows["std_test_score"], capsize=3, label=f"{pooling} pooling")
ax.axhline(max(y.mean(), 1 - y.mean()), color="0.3", linestyle="--", linewidth=1,
           label="majority class")
ax.set_xticks(np.arange(len(layers)), ["0 (token)", "1 (LSTM 1)", "2 (LSTM 2)", "mix"])
ax.set_xlabel("layer")
ax.set_ylabel("accuracy (mean of 5 folds)")
ax.set_ylim(0.4, 1.0)
ax.set_title("Movie-review polarity: accuracy by layer and pooling")
ax.legend(loc="upper left", ncols=3)
fig.tight_layout()
plt.show()
