"""ElmoVectorizer inside scikit-learn: pipelines, searches, pickling, threads."""

from __future__ import annotations

import pickle
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skelmo
from skelmo import ElmoTokenVectorizer, ElmoVectorizer
from tests._labelled import labelled_documents

pytestmark = pytest.mark.usefixtures("one_torch_thread", "fresh_activation_cache")


@pytest.fixture(scope="module")
def model_dir(small_model_files):
    return str(small_model_files[0].parent)


def pipeline(model_dir: str, **elmo) -> Pipeline:
    return Pipeline([("elmo", ElmoVectorizer(model=model_dir, **elmo)),
                     ("clf", LogisticRegression(max_iter=1000))])


def test_pipeline_fit_predict(model_dir):
    docs, y = labelled_documents()
    model = pipeline(model_dir).fit(docs[:40], y[:40])
    predicted = model.predict(docs[40:])
    assert predicted.shape == (20,) and set(predicted) <= {0, 1}
    # The features carry the label: well above chance on held-out documents.
    assert (predicted == y[40:]).mean() >= 0.7
    np.testing.assert_array_equal(model.predict(docs[40:]), predicted)


def test_grid_search_serial_and_parallel_agree(model_dir):
    docs, y = labelled_documents()
    grid = {"elmo__layer": [0, 1, 2, "mix"]}
    results = []
    for n_jobs in (1, 2):
        search = GridSearchCV(pipeline(model_dir), grid, cv=3, n_jobs=n_jobs).fit(docs, y)
        results.append(search)
        assert search.best_params_["elmo__layer"] in grid["elmo__layer"]
        assert len(search.cv_results_["mean_test_score"]) == 4
    serial, parallel = results
    assert serial.best_params_ == parallel.best_params_
    np.testing.assert_array_equal(serial.cv_results_["mean_test_score"],
                                  parallel.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(serial.predict(docs), parallel.predict(docs))


def test_column_transformer_with_numeric_columns(model_dir):
    docs, y = labelled_documents()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"text": docs, "share": rng.uniform(size=len(docs)),
                          "noise": rng.standard_normal(len(docs))},
                         index=range(100, 100 + len(docs)))
    for scaler in ("passthrough", StandardScaler()):
        columns = ColumnTransformer([
            ("elmo", ElmoVectorizer(model=model_dir, layer=0), "text"),
            ("numbers", scaler, ["share", "noise"]),
        ])
        model = Pipeline([("features", columns), ("clf", LogisticRegression(max_iter=1000))])
        model.fit(frame.iloc[:40], y[:40])
        assert (model.predict(frame.iloc[40:]) == y[40:]).mean() >= 0.7
        features = columns.transform(frame)
        assert features.shape == (len(docs), 32 + 2)
        np.testing.assert_array_equal(features[:, :32],
                                      ElmoVectorizer(model=model_dir, layer=0).transform(docs))
        names = columns.get_feature_names_out()
        assert names[0] == "elmo__elmovectorizer0" and names[-1] == "numbers__noise"
    # A one-column DataFrame selection works as well as a Series.
    as_frame = ColumnTransformer([("elmo", ElmoVectorizer(model=model_dir, layer=0), ["text"])])
    np.testing.assert_array_equal(as_frame.fit_transform(frame), features[:, :32])


def test_cross_val_score(model_dir):
    docs, y = labelled_documents()
    scores = cross_val_score(pipeline(model_dir, layer=0), docs, y, cv=3)
    assert scores.shape == (3,)
    assert scores.mean() >= 0.75  # chance is 0.5


def test_clone(model_dir):
    vectorizer = ElmoVectorizer(model=model_dir, layer=1, mix_weights=[1.0, 2.0, 3.0])
    docs, y = labelled_documents(10)
    vectorizer.fit(docs)
    copy = clone(vectorizer)
    assert copy.get_params() == {**vectorizer.get_params(), "mix_weights": [1.0, 2.0, 3.0]}
    assert not hasattr(copy, "mix_weights_")
    np.testing.assert_array_equal(copy.transform(docs), vectorizer.transform(docs))


@pytest.mark.parametrize("estimator", [
    lambda m: ElmoVectorizer(model=m, layer="all"),
    lambda m: ElmoTokenVectorizer(model=m, output="flat"),
])
def test_pickle_round_trip_leaves_the_weights_out(model_dir, estimator):
    docs, _ = labelled_documents(10)
    original = estimator(model_dir).fit(docs)
    expected = original.transform(docs)  # loads the model into the process cache
    data = pickle.dumps(original)
    assert len(data) < 10_000
    restored = pickle.loads(data)
    assert restored.get_params() == original.get_params()
    np.testing.assert_array_equal(restored.transform(docs), expected)


def test_pickle_after_learn_mix(model_dir):
    docs, y = labelled_documents(20)
    original = ElmoVectorizer(model=model_dir, learn_mix=True, random_state=0).fit(docs, y)
    data = pickle.dumps(original)
    assert len(data) < 10_000
    restored = pickle.loads(data)
    np.testing.assert_array_equal(restored.mix_weights_, original.mix_weights_)
    np.testing.assert_array_equal(restored.transform(docs), original.transform(docs))


@pytest.mark.parametrize("cache", [False, True])
def test_threads_share_one_model(model_dir, cache):
    docs, _ = labelled_documents(48, seed=3)
    vectorizer = ElmoVectorizer(model=model_dir, layer="all", batch_size=5, cache=cache)
    expected = ElmoVectorizer(model=model_dir, layer="all", cache=False).transform(docs)
    skelmo.activation_cache.clear()
    # Each thread embeds an overlapping, differently ordered slice of the corpus.
    orders = [random.Random(k).sample(range(len(docs)), 30) for k in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outputs = list(pool.map(lambda order: vectorizer.transform([docs[i] for i in order]),
                                orders))
    for order, got in zip(orders, outputs):
        np.testing.assert_array_equal(got, expected[order])
