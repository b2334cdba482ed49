"""
Text and numbers in one DataFrame
=================================

Real tables rarely hold text alone. This example puts
:class:`~skelmo.ElmoVectorizer` in a
:class:`~sklearn.compose.ColumnTransformer` next to a
:class:`~sklearn.preprocessing.StandardScaler`, so that one pipeline learns
from a text column and from numeric columns of the same DataFrame.

The table is built from movie-review sentences labelled positive or negative
(:func:`skelmo.datasets.fetch_movie_reviews`), with three numbers measured on
each sentence: its length in words and its counts of exclamation and question
marks. A random sample of 1,000 sentences keeps the example quick.
"""

# %%
# A DataFrame with a text column and numeric columns
# --------------------------------------------------
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skelmo import ElmoVectorizer
from skelmo.datasets import fetch_movie_reviews

reviews = fetch_movie_reviews(as_frame=True).frame.sample(n=1000, random_state=0)
text = reviews["text"]
df = pd.DataFrame({
    "text": text,
    "n_words": text.str.split().str.len(),
    "n_exclamations": text.str.count("!"),
    "n_questions": text.str.count(r"\?"),
})
y = reviews["target"]
numeric = ["n_words", "n_exclamations", "n_questions"]
print(df.head().to_string(max_colwidth=45))

# %%
# One transformer per kind of column
# ----------------------------------
# The text column goes to the vectorizer, the numeric columns to a scaler, and
# the classifier sees both side by side. With ``set_output(transform="pandas")``
# the features come out as a DataFrame whose column names say where each
# column comes from: ``text__elmovectorizer0`` to ``text__elmovectorizer255``
# from the 256-wide ELMo vectors, and the scaled numeric columns.
preprocess = ColumnTransformer([
    ("text", ElmoVectorizer(), "text"),
    ("num", StandardScaler(), numeric),
]).set_output(transform="pandas")

features = preprocess.fit_transform(df)
print(features.shape)
print(features.iloc[:3, [0, 1, 2, -3, -2, -1]].round(3).to_string())

# %%
# How much does each part contribute?
# -----------------------------------
# The same logistic regression, cross-validated on the numbers alone, on the
# text alone and on both. The language model reads each sentence once: the
# other fits reuse its activations.
models = {
    "numbers only": Pipeline([("num", ColumnTransformer([("num", StandardScaler(), numeric)])),
                              ("clf", LogisticRegression(max_iter=2000))]),
    "text only": Pipeline([("text", ColumnTransformer([("text", ElmoVectorizer(), "text")])),
                           ("clf", LogisticRegression(max_iter=2000))]),
    "text and numbers": Pipeline([("both", preprocess),
                                  ("clf", LogisticRegression(max_iter=2000))]),
}
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
print(f"{'features':<18} accuracy (5-fold)")
for name, model in models.items():
    scores = cross_val_score(model, df, y, cv=cv)
    print(f"{name:<18} {scores.mean():.3f} ± {scores.std():.3f}")
