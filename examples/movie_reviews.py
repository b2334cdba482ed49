"""
Sentiment of movie reviews: ELMo features against TF-IDF
=========================================================

The job skelmo is made for: an :class:`~skelmo.ElmoVectorizer` in front of a
linear classifier, cross-validated like any scikit-learn pipeline.

The data are sentences from movie reviews, each rated by a crowd of readers
(:func:`skelmo.datasets.fetch_movie_reviews`); the task is to tell the
positive ones from the negative ones. The vectorizer uses the model that
ships with skelmo (``model=None``, "skelmo-en-small", 256 numbers per
sentence). The baseline is the same classifier on TF-IDF features of words
and word pairs, a strong and cheap baseline for text classification. The
third pipeline joins the two: TF-IDF and the ELMo vectors side by side (the
ELMo vectors standardised, then scaled to unit length like the TF-IDF rows),
into one classifier, to show what ELMo adds to a bag of words.

It uses all 10,568 sentences, as the :doc:`model card <../model_card>` does;
set ``N_SENTENCES`` to a number to run on a random sample with the same share
of positive sentences. The first run downloads the data (2.5 MB) into the
data home; later runs are offline.
"""

# %%
# The data
# --------
from time import perf_counter

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
from sklearn.preprocessing import Normalizer, StandardScaler
from sklearn.utils import resample

import skelmo
from skelmo import ElmoVectorizer
from skelmo.datasets import fetch_movie_reviews

N_SENTENCES = None

reviews = fetch_movie_reviews()
texts, y = reviews.data, reviews.target
if N_SENTENCES is not None:
    texts, y = resample(texts, y, n_samples=N_SENTENCES, replace=False, stratify=y,
                        random_state=0)
print(f"{len(texts):,} sentences, {y.mean():.0%} positive. For example:")
for text, label in zip(texts[:3], y[:3]):
    print(f"  {reviews.target_names[label]:>8}: {text}")

# %%
# Three pipelines, one protocol
# -----------------------------
# All pipelines end in the same logistic regression and are scored with the
# same five stratified folds.
def tfidf():
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)


pipelines = {
    "ELMo (skelmo-en-small)": Pipeline([
        ("elmo", ElmoVectorizer()),
        ("clf", LogisticRegression(max_iter=2000)),
    ]),
    "TF-IDF (words, word pairs)": Pipeline([
        ("tfidf", tfidf()),
        ("clf", LogisticRegression(max_iter=2000)),
    ]),
    "TF-IDF + ELMo (union)": Pipeline([
        ("features", FeatureUnion([
            ("tfidf", tfidf()),
            ("elmo", make_pipeline(ElmoVectorizer(), StandardScaler(), Normalizer())),
        ])),
        ("clf", LogisticRegression(max_iter=2000)),
    ]),
}
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

# skelmo keeps the activations of every sentence it has embedded in this process,
# and another example may already have embedded these: empty that cache so that
# the time below includes running the language model.
skelmo.activation_cache.clear()

results = {}
for name, pipeline in pipelines.items():
    start = perf_counter()
    scores = cross_validate(pipeline, texts, y, cv=cv)
    results[name] = (scores, perf_counter() - start)

# %%
# Results
# -------
print(f"{'features':<28} {'accuracy (5-fold)':>19} {'time (s)':>9}")
for name, (scores, seconds) in results.items():
    accuracy = scores["test_score"]
    print(f"{name:<28} {accuracy.mean():>11.3f} ± {accuracy.std():.3f} {seconds:>9.1f}")
print(f"{'always the majority class':<28} {max(y.mean(), 1 - y.mean()):>11.3f}")

# %%
# The bundled model is small and was trained briefly; the :doc:`model card
# <../model_card>` reports how it compares with TF-IDF on this task. For
# accuracy, pass ``model="original"`` to use the published ELMo model, which is
# downloaded and verified on first use.
#
# Almost all of ELMo's time is the language model reading each sentence once.
# The first fold embeds every sentence (its training part during ``fit``, its
# test part during ``score``); the later folds find their vectors in the
# activation cache and only train the classifier:
scores, _ = results["ELMo (skelmo-en-small)"]
fold_times = scores["fit_time"] + scores["score_time"]
print("ELMo, seconds per fold:", "  ".join(f"{t:.1f}" for t in fold_times))

# %%
# Using the fitted pipeline
# -------------------------
# Fit on every sentence, then classify new ones.
elmo_pipeline = pipelines["ELMo (skelmo-en-small)"].fit(texts, y)
new_reviews = [
    "A warm, funny and beautifully acted film.",
    "The plot is a mess and the jokes fall flat.",
    "I expected to be bored, but it kept me on the edge of my seat.",
]
for text, proba in zip(new_reviews, elmo_pipeline.predict_proba(new_reviews)[:, 1]):
    print(f"P(positive) = {proba:.2f}  {text}")
